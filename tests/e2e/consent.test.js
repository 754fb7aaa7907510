// A member of staff reaches a service that is not run by the Department: after signing in,
// they see in plain English what it will learn, allow it (or cancel), find it on their
// account page and can remove it. The consent page, the sign-out confirmation and the account
// page with a service listed all pass axe-core's WCAG 2.2 AA rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { startServer, launchBrowser, seriousViolations } from './harness.js';

const EMAIL = 'dev.patel00@school100000.example.org';
const PASSWORD = 'marble kettle orbit saxophone';

let server;
let chrome;
let service;
const callbacks = [];

before(async () => {
  server = await startServer();
  await server.createUser(EMAIL, 'Dev', 'Patel', PASSWORD);
  service = await new Promise((resolve) => {
    const http = createServer((req, res) => {
      // Only the redirects back to the service count (not the browser's favicon request).
      const url = new URL(req.url, 'http://127.0.0.1');
      if (url.pathname === '/callback') callbacks.push(url);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html lang="en"><title>Service</title><h1>Back at the service</h1></html>');
    });
    http.listen(0, '127.0.0.1', () => resolve({ http, base: `http://127.0.0.1:${http.address().port}` }));
  });
  await server.createClient(['--client-id', 'lesson-planner', '--name', 'Lesson Planner',
    '--redirect-uri', `${service.base}/callback`, '--post-logout-redirect-uri', `${service.base}/bye`,
    '--scope', 'openid profile email']);
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

async function assertAccessible(page, what) {
  assert.deepEqual(await seriousViolations(page), [], `${what} has accessibility violations`);
}

function authorizeUrl(extra = '') {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(8).toString('hex');
  const params = new URLSearchParams({
    client_id: 'lesson-planner', redirect_uri: `${service.base}/callback`, response_type: 'code',
    scope: 'openid profile email', state, code_challenge: challenge, code_challenge_method: 'S256',
  });
  return { url: `${server.url}/authorize?${params}${extra}`, state };
}

test('consent: see what the service asks for, allow it, then remove it from the account', async () => {
  const { context, page } = await newPage();
  const first = authorizeUrl();
  await page.goto(first.url);
  assert.equal(await page.locator('h1').innerText(), 'Sign in');
  await page.getByLabel('Email address').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();

  await page.waitForSelector('h1:has-text("Allow Lesson Planner")');
  const text = await page.locator('main').innerText();
  assert.match(text, /see your name/);
  assert.match(text, /see your email address/);
  assert.match(text, new RegExp(EMAIL));
  await assertAccessible(page, 'the consent page');

  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/\/callback\?/);
  const back = callbacks.at(-1);
  assert.equal(back.searchParams.get('state'), first.state);
  assert.equal(back.searchParams.get('code').length, 64);

  // Asked again with prompt=consent, and cancelled: the service hears access_denied.
  const second = authorizeUrl('&prompt=consent');
  await page.goto(second.url);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.waitForURL(/error=access_denied/);
  assert.equal(callbacks.at(-1).searchParams.get('state'), second.state);

  await page.goto(server.url + '/account');
  assert.match(await page.locator('main').innerText(), /Lesson Planner/);
  await assertAccessible(page, 'the account page with a service');
  await page.getByRole('button', { name: 'Remove access for Lesson Planner' }).click();
  await page.waitForURL(/notice=service-removed/);
  assert.match(await page.locator('main').innerText(), /You have not allowed any services/);
  await context.close();
});

test('sign-out asked for by a service is confirmed first', async () => {
  const { context, page } = await newPage();
  await page.goto(server.url + '/sign-in');
  await page.getByLabel('Email address').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(server.url + '/account');

  const params = new URLSearchParams({ client_id: 'lesson-planner', post_logout_redirect_uri: `${service.base}/bye` });
  await page.goto(`${server.url}/end_session?${params}`);
  assert.equal(await page.locator('h1').innerText(), 'Do you want to sign out?');
  assert.match(await page.locator('main').innerText(), /Lesson Planner asked to sign you out/);
  await assertAccessible(page, 'the sign-out confirmation');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${service.base}/bye`);
  await page.goto(server.url + '/account');
  assert.equal(await page.locator('h1').innerText(), 'Sign in');
  await context.close();
});
