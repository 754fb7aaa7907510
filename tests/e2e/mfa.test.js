// 2-step verification in a real browser, as a new member of staff would meet it: set up an
// authenticator app from its QR code's secret, sign out, sign in with a code; use a recovery
// code; register a passkey with Chromium's virtual authenticator and sign in with it alone;
// and reach a service marked mfa_required, which takes them through set-up before it gets a
// token whose amr shows the second factor. Every new page passes axe-core's WCAG 2.2 AA rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { startServer, launchBrowser, seriousViolations, totp, nextCode } from './harness.js';

const PASSWORD = 'marble kettle orbit saxophone';

let server;
let chrome;
let service;
let secret;
const callbacks = [];

before(async () => {
  // WebAuthn needs a domain name, so this server's issuer is http://localhost:PORT.
  server = await startServer({ localhost: true });
  await server.createUser('amira.khan@school100000.example.org', 'Amira', 'Khan', PASSWORD);
  await server.createUser('ben.osei@school100000.example.org', 'Ben', 'Osei', PASSWORD);
  await server.createUser('cara.lund@school100000.example.org', 'Cara', 'Lund', PASSWORD);
  service = await new Promise((resolve) => {
    const http = createServer((req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (url.pathname === '/callback') callbacks.push(url);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html lang="en"><title>Service</title><h1>Back at the service</h1></html>');
    });
    http.listen(0, '127.0.0.1', () => resolve({ http, base: `http://127.0.0.1:${http.address().port}` }));
  });
  const created = await server.createClient(['--client-id', 'school-census', '--name', 'School Census',
    '--redirect-uri', `${service.base}/callback`, '--scope', 'openid profile email',
    '--first-party', '--mfa-required']);
  secret = created.client_secret;
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

async function signIn(page, email) {
  await page.goto(server.url + '/sign-in');
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function signOut(page) {
  await page.goto(server.url + '/account');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(server.url + '/signed-out');
}

/** On the set-up page: reads the secret shown as text, names the app, enters a code. */
async function setUpApp(page) {
  assert.equal(await page.locator('h1').innerText(), 'Set up an authenticator app');
  assert.equal(await page.locator('svg[role="img"]').count(), 1, 'a QR code');
  await assertAccessible(page, 'the authenticator-app set-up page');
  const key = (await page.locator('.secret code').innerText()).replace(/\s/g, '');
  assert.equal(key.length, 32);
  await page.getByLabel('Name this authenticator app').fill('Work phone');
  await page.getByLabel('Security code').fill(totp(key));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('h1:has-text("Save your recovery codes")');
  const codes = await page.locator('.recovery-codes code').allInnerTexts();
  assert.equal(codes.length, 10);
  await assertAccessible(page, 'the recovery codes page');
  return { key, codes };
}

test('set up an authenticator app, then sign in with a code and with a recovery code', async () => {
  const email = 'amira.khan@school100000.example.org';
  const { context, page } = await newPage();
  await signIn(page, email);
  await page.waitForURL(server.url + '/account');
  await page.getByRole('link', { name: 'Set up 2-step verification' }).click();
  assert.equal(await page.locator('h1').innerText(), 'How you sign in');
  await assertAccessible(page, 'the sign-in methods page');
  await page.getByRole('link', { name: 'Add an authenticator app' }).click();
  const { key, codes } = await setUpApp(page);
  await page.getByRole('link', { name: 'Continue' }).click();
  assert.match(await page.locator('main').innerText(), /Work phone/);
  await assertAccessible(page, 'the sign-in methods page with an app');

  await signOut(page);
  await signIn(page, email);
  await page.waitForURL(/\/sign-in\/verify/);
  assert.equal(await page.locator('h1').innerText(), 'Check it’s you');
  await assertAccessible(page, 'the second step');
  // Nothing else is reachable until the second step is done.
  await page.goto(server.url + '/account');
  assert.equal(await page.locator('h1').innerText(), 'Sign in');
  await page.goBack();
  await page.getByLabel('Security code').fill('12345');
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.match(await page.locator('.error-summary').innerText(), /must be 6 digits/);
  await assertAccessible(page, 'the second step with an error');
  await page.getByLabel('Security code').fill(await nextCode(key));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(server.url + '/account');

  await signOut(page);
  await signIn(page, email);
  await page.waitForURL(/\/sign-in\/verify/);
  await page.getByRole('link', { name: 'Use a recovery code' }).click();
  await assertAccessible(page, 'the recovery code step');
  await page.getByLabel('Recovery code').fill(codes[0]);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(server.url + '/account');
  await context.close();
});

test('register a passkey, then sign in with it alone', async () => {
  const email = 'ben.osei@school100000.example.org';
  const { context, page } = await newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  await signIn(page, email);
  await page.waitForURL(server.url + '/account');
  await page.goto(server.url + '/account/security');
  await page.getByRole('link', { name: 'Add a passkey' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Add a passkey');
  await assertAccessible(page, 'the add-a-passkey page');
  await page.getByLabel('Name this passkey').fill('Office laptop');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('h1:has-text("Save your recovery codes")');
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true, 'a discoverable credential');
  await page.getByRole('link', { name: 'Continue' }).click();
  assert.match(await page.locator('main').innerText(), /Office laptop/);

  // Confirming the password, as a change of methods after five minutes would ask.
  await page.goto(server.url + '/account/security/confirm');
  assert.equal(await page.locator('h1').innerText(), 'Confirm your password');
  await assertAccessible(page, 'the confirm-your-password page');

  // After a password the passkey also serves as the second step.
  await signOut(page);
  await signIn(page, email);
  await page.waitForURL(/\/sign-in\/verify/);
  assert.match(await page.locator('main').innerText(), /use your security key or passkey/);
  await assertAccessible(page, 'the security key step');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(server.url + '/account');

  await signOut(page);
  await page.goto(server.url + '/sign-in');
  const button = page.getByRole('button', { name: 'Sign in with a passkey' });
  assert.equal(await button.isVisible(), true, 'the script reveals the passkey button');
  await assertAccessible(page, 'the sign-in page with a passkey button');
  await button.click();
  await page.waitForURL(server.url + '/account');
  assert.match(await page.locator('main').innerText(), /Ben Osei/);
  await context.close();
});

test('a service that needs 2-step verification gets a token only after set-up', async () => {
  const email = 'cara.lund@school100000.example.org';
  const { context, page } = await newPage();
  const verifier = randomBytes(32).toString('base64url');
  const params = new URLSearchParams({
    client_id: 'school-census', redirect_uri: `${service.base}/callback`, response_type: 'code',
    scope: 'openid profile email', state: 'st', nonce: 'nn',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  await page.goto(`${server.url}/authorize?${params}`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForSelector('h1:has-text("Set up 2-step verification")');
  assert.equal(callbacks.length, 0, 'no code before set-up');
  await assertAccessible(page, 'the set-up-required page');
  await page.getByRole('link', { name: 'Use an authenticator app on your phone' }).click();
  await setUpApp(page);
  await page.getByRole('link', { name: 'Continue' }).click();
  await page.waitForURL(/\/callback\?/);
  const code = callbacks.at(-1).searchParams.get('code');
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`school-census:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: `${service.base}/callback`,
      code_verifier: verifier,
    }),
  });
  assert.equal(response.status, 200);
  const { id_token: idToken } = await response.json();
  const claims = JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString());
  assert.equal(claims.acr, 'urn:gatehouse:acr:mfa');
  assert.ok(claims.amr.includes('otp') && claims.amr.includes('mfa'), JSON.stringify(claims.amr));
  await context.close();
});
