// Starts a real Gatehouse (the release binary) on a random port with a fresh SQLite database,
// and Debian's Chromium through playwright-core. Never downloads a browser.
import { spawn, execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { createServer as createNetServer } from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const require = createRequire(import.meta.url);

export const BINARY = process.env.GATEHOUSE_BIN ?? join(repo, 'target', 'release', 'gatehouse');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * With E2E_ENGINE=postgres, each server gets a new schema in TEST_DATABASE_URL's database
 * (made with psql); otherwise a fresh SQLite file in its temporary folder.
 */
function databaseUrl() {
  if (process.env.E2E_ENGINE !== 'postgres') return null;
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('E2E_ENGINE=postgres needs TEST_DATABASE_URL');
  const schema = `e2e_${randomBytes(8).toString('hex')}`;
  execFileSync('psql', [base, '-q', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE SCHEMA ${schema}`]);
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

function environment(dir, dbUrl) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('GATEHOUSE_')) delete env[key];
  if (dbUrl) env.GATEHOUSE_DATABASE_URL = dbUrl;
  Object.assign(env, {
    GATEHOUSE_LISTEN: '127.0.0.1:0',
    GATEHOUSE_DATA_DIR: join(dir, 'data'),
    GATEHOUSE_KEYS_DIR: join(dir, 'keys'),
    GATEHOUSE_LOG_LEVEL: 'warn',
  });
  return env;
}

/** Runs `gatehouse ARGS` against the server's database, with `input` on standard input. */
function cli(dir, dbUrl, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, { cwd: dir, env: environment(dir, dbUrl), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`gatehouse ${args.join(' ')}: ${err}`))));
    child.stdin.end(input ?? '');
  });
}

/** A port nobody is listening on right now. */
async function freePort() {
  return new Promise((resolve) => {
    const probe = createNetServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts `gatehouse serve` and resolves once it prints its URL. With `localhost: true` the
 * issuer is `http://localhost:PORT`, as WebAuthn needs (browsers refuse it on bare IPs).
 */
export async function startServer({ localhost = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  const dbUrl = databaseUrl();
  const env = environment(dir, dbUrl);
  if (localhost) {
    const port = await freePort();
    env.GATEHOUSE_LISTEN = `127.0.0.1:${port}`;
    env.GATEHOUSE_ISSUER = `http://localhost:${port}`;
  }
  const child = spawn(BINARY, ['serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const match = seen.match(/http:\/\/127\.0\.0\.1:(\d+)/);
      if (match) resolve(localhost ? `http://localhost:${match[1]}` : match[0]);
    });
    child.on('exit', (code) => reject(new Error(`gatehouse exited with ${code} before listening`)));
  });
  return {
    url,
    /** Creates an active account, as an operator would with `gatehouse user create`. */
    createUser(email, givenName, familyName, password) {
      return cli(dir, dbUrl, ['user', 'create', '--email', email, '--given-name', givenName,
        '--family-name', familyName, '--password-stdin'], `${password}\n`);
    },
    /** Invites someone, as an operator would with `gatehouse user invite`. */
    inviteUser(email, givenName, familyName) {
      return cli(dir, dbUrl, ['user', 'invite', '--email', email, '--given-name', givenName,
        '--family-name', familyName]);
    },
    /**
     * Waits for the newest development-mail file (no SMTP relay is configured, so each message
     * is an .eml file in the data folder) holding a link to `path`, and returns that link.
     */
    async linkFromMail(path, after = 0) {
      const folder = join(dir, 'data', 'mail');
      for (let i = 0; i < 200; i += 1) {
        if (existsSync(folder)) {
          const files = readdirSync(folder)
            .map((f) => join(folder, f))
            .filter((f) => statSync(f).mtimeMs >= after)
            .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
          for (const file of files) {
            const text = readFileSync(file, 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
            const match = text.match(new RegExp(`http://[^\\s"<>]+${path}[0-9a-f]{64}`));
            if (match) return match[0];
          }
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no email with a ${path} link arrived`);
    },
    /** Runs any `gatehouse` command against this server's database; resolves to its output. */
    gatehouse(args) {
      return cli(dir, dbUrl, args);
    },
    /** Registers a service with `gatehouse client create … --json`; returns its JSON. */
    async createClient(args) {
      return JSON.parse(await cli(dir, dbUrl, ['client', 'create', ...args, '--json']));
    },
    async stop() {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Launches headless Chromium with the flags this closed network needs. playwright-core gives
 * every launch a new, empty profile folder of its own and removes it on close.
 */
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core on the page (WCAG 2.0, 2.1 and 2.2, levels A and AA) and returns the serious
 * and critical violations. The context must have `bypassCSP: true`, since our CSP rightly
 * forbids the inline script axe is injected as.
 */
export async function seriousViolations(page) {
  await page.addScriptTag({ content: AXE_SOURCE });
  const results = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    }),
  );
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** RFC 6238 with SHA-1, 6 digits, 30-second steps: what an authenticator app computes. */
export function totp(base32, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const c of base32.replace(/\s/g, '')) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const h = createHmac('sha1', Buffer.from(bytes)).update(counter).digest();
  const o = h[19] & 15;
  const n = (((h[o] & 127) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) % 1e6;
  return String(n).padStart(6, '0');
}

/** Each code works once: wait for the app to show the next one. */
export async function nextCode(base32) {
  await new Promise((r) => setTimeout(r, 30000 - (Date.now() % 30000) + 300));
  return totp(base32);
}
