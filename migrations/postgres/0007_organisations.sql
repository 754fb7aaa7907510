-- Organisations: schools (from GIAS extracts, keyed by URN) and local authorities (keyed by
-- their three-digit LA code), and any an administrator adds by hand.
--
-- Dates from GIAS are kept as ISO `YYYY-MM-DD` text; `*_at` columns are Unix milliseconds.
CREATE TABLE organisations (
    id                   TEXT    PRIMARY KEY,
    kind                 TEXT    NOT NULL CHECK (kind IN ('school', 'local_authority', 'other')),
    name                 TEXT    NOT NULL,
    -- Lower-cased name, for searching.
    name_normalised      TEXT    NOT NULL,
    urn                  TEXT,
    ukprn                TEXT,
    -- A school's local authority, or a local authority's own code.
    la_code              TEXT,
    establishment_number TEXT,
    type_code            TEXT,
    type_name            TEXT,
    phase_code           TEXT,
    phase_name           TEXT,
    status               TEXT    NOT NULL
        CHECK (status IN ('open', 'closed', 'proposed_to_close', 'proposed_to_open')),
    street               TEXT,
    town                 TEXT,
    postcode             TEXT,
    opened_on            TEXT,
    closed_on            TEXT,
    -- 'gias' (kept in step with extracts) or 'manual' (an administrator's).
    source               TEXT    NOT NULL CHECK (source IN ('gias', 'manual')),
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);

CREATE UNIQUE INDEX organisations_urn ON organisations (urn) WHERE urn IS NOT NULL;
CREATE UNIQUE INDEX organisations_la ON organisations (la_code) WHERE kind = 'local_authority';
CREATE INDEX organisations_ukprn ON organisations (ukprn);
CREATE INDEX organisations_name ON organisations (name_normalised);
