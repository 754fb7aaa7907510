#!/usr/bin/env bash
# Imports a generated national estate — a GIAS extract, then the Authentix contact export,
# sending no email — on SQLite and on PostgreSQL, and prints each import's wall time and peak
# RSS. Uses the release binary (built if missing) and ../shared/tools/gen_estate.py.
#
#   bench/import_estate.sh                 # 25,000 schools, 8 contacts each (~200k rows)
#   SCHOOLS=2000 bench/import_estate.sh    # a quick run
#   PG_URL=postgres://postgres@127.0.0.1:5432 bench/import_estate.sh   # PostgreSQL too
set -euo pipefail
cd "$(dirname "$0")/.."
SCHOOLS=${SCHOOLS:-25000}
PER_SCHOOL=${PER_SCHOOL:-8}
GEN=${GEN_ESTATE:-../shared/tools/gen_estate.py}
PG_URL=${PG_URL:-}
BIN=target/release/gatehouse
[ -x "$BIN" ] || cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$GEN" --schools "$SCHOOLS" --contacts-per-school "$PER_SCHOOL" --out "$work/estate" >/dev/null
gias="$work/estate/gias_establishments.csv"
contacts="$work/estate/authentix_contacts.csv"
printf 'estate: %s schools, %s contact rows (%s MB)\n' "$SCHOOLS" \
  "$(($(wc -l <"$contacts") - 1))" "$(($(stat -c %s "$contacts") / 1048576))"

# Runs gatehouse with the engine's environment; prints "seconds peak-MiB" of the run.
measure() {
  local out
  out=$(/usr/bin/time -f '%e %M' "$BIN" "$@" 2>&1 >/dev/null | tail -1)
  awk '{ printf "%8.1f s %8.0f MiB", $1, $2 / 1024 }' <<<"$out"
}

run_engine() {
  local name=$1
  export GATEHOUSE_DATABASE_URL=$2
  export GATEHOUSE_DATA_DIR="$work/$name/data" GATEHOUSE_KEYS_DIR="$work/$name/keys"
  mkdir -p "$GATEHOUSE_DATA_DIR" "$GATEHOUSE_KEYS_DIR"
  "$BIN" migrate >/dev/null
  for id in sdt edubase collect nca-tools kts workforce; do
    "$BIN" client create --client-id "$id" --name "$id" \
      --redirect-uri "https://$id.example.gov.uk/callback" >/dev/null
  done
  printf '%-10s GIAS first import       %s\n' "$name" "$(measure import gias "$gias")"
  printf '%-10s GIAS re-import          %s\n' "$name" "$(measure import gias "$gias")"
  printf '%-10s Authentix import        %s\n' "$name" "$(measure import authentix "$contacts" \
    --service key-to-success=kts --service school-workforce=workforce)"
}

run_engine sqlite "sqlite://$work/sqlite.db?mode=rwc"
if [ -n "$PG_URL" ]; then
  db=gatehouse_import_bench
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  run_engine postgres "$PG_URL/$db"
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null
fi
