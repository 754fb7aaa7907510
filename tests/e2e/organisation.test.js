// Signing in to a service for an organisation, in a real browser: someone with access at two
// schools chooses one (and the service is told which); someone with no access is told who
// their approvers are instead. Both pages pass axe-core's WCAG 2.2 AA rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, seriousViolations } from './harness.js';

const PASSWORD = 'marble kettle orbit saxophone';
const ANA = 'ana.lopez@school100000.example.org';
const BEN = 'ben.osei@school100000.example.org';
const CARA = 'cara.lund@school100000.example.org';
const EXTRACT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'gias_establishments.csv');

let server;
let chrome;
let service;
let secret;
const callbacks = [];

before(async () => {
  server = await startServer();
  await server.gatehouse(['import', 'gias', EXTRACT]);
  for (const [email, given] of [[ANA, 'Ana'], [BEN, 'Ben'], [CARA, 'Cara']]) {
    await server.createUser(email, given, 'Example', PASSWORD);
  }
  service = await new Promise((resolve) => {
    const http = createServer((req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (url.pathname === '/callback') callbacks.push(url);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html lang="en"><title>Service</title><h1>Back at the service</h1></html>');
    });
    http.listen(0, '127.0.0.1', () => resolve({ http, base: `http://127.0.0.1:${http.address().port}` }));
  });
  const created = await server.createClient(['--client-id', 'census', '--name', 'School Census',
    '--redirect-uri', `${service.base}/callback`, '--scope', 'openid profile organisation', '--first-party']);
  secret = created.client_secret;
  await server.gatehouse(['role', 'define', 'census', 'submitter', '--name', 'Submits returns']);
  await server.gatehouse(['member', 'add', ANA, '100000']);
  await server.gatehouse(['member', 'add', ANA, '100011']);
  await server.gatehouse(['access', 'grant', ANA, '100000', 'census', '--role', 'submitter']);
  await server.gatehouse(['access', 'grant', ANA, '100011', 'census']);
  await server.gatehouse(['member', 'add', BEN, '100000', '--approver']);
  await server.gatehouse(['member', 'add', CARA, '100000']);
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await server?.stop();
  service?.http.close();
});

async function newPage() {
  const context = await chrome.browser.newContext({ bypassCSP: true });
  return { context, page: await context.newPage() };
}

function authorize() {
  const verifier = randomBytes(32).toString('base64url');
  const params = new URLSearchParams({
    client_id: 'census', redirect_uri: `${service.base}/callback`, response_type: 'code',
    scope: 'openid profile organisation', state: 'st', nonce: 'nn',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  });
  return { url: `${server.url}/authorize?${params}`, verifier };
}

async function signIn(page, email) {
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

test('someone with access at two schools chooses one, and the service is told which', async () => {
  const { context, page } = await newPage();
  const first = authorize();
  await page.goto(first.url);
  await signIn(page, ANA);
  await page.waitForSelector('h1:has-text("Which organisation are you signing in for?")');
  assert.deepEqual(await seriousViolations(page), [], 'the organisation choice page');
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.match(await page.locator('.error-summary').innerText(), /Select the organisation/);
  assert.deepEqual(await seriousViolations(page), [], 'the organisation choice page with an error');
  await page.getByLabel(/St Th.r.se/).check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(/\/callback\?/);
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`census:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: callbacks.at(-1).searchParams.get('code'),
      redirect_uri: `${service.base}/callback`, code_verifier: first.verifier,
    }),
  });
  const { id_token: idToken } = await response.json();
  const claims = JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString());
  assert.equal(claims.organisation.urn, '100000');
  assert.deepEqual(claims.roles, ['submitter']);
  await page.goto(`${server.url}/account`);
  assert.match(await page.locator('main').innerText(), /Organisations[\s\S]*St Bede/);
  assert.deepEqual(await seriousViolations(page), [], 'the account page with organisations');
  await context.close();
});

test('someone with no access is told who their approver is, and the service gets nothing', async () => {
  const { context, page } = await newPage();
  const before = callbacks.length;
  await page.goto(authorize().url);
  await signIn(page, CARA);
  await page.waitForSelector('h1:has-text("You cannot use School Census yet")');
  assert.match(await page.locator('main').innerText(), new RegExp(`Ben Example \\(${BEN}\\)`));
  assert.deepEqual(await seriousViolations(page), [], 'the no-access page');
  assert.equal(callbacks.length, before);
  await context.close();
});
