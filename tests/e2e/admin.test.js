// The administrator's console in a real browser: an administrator signs in with a passkey
// (Chromium's virtual authenticator), registers a service and sees its secret once, adds a
// role, creates the next signing key, adds an organisation, grants a colleague the helpdesk role and changes a policy
// setting. Every page passes axe-core's WCAG 2.2 AA rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, seriousViolations } from './harness.js';

const PASSWORD = 'marble kettle orbit saxophone';
const ADA = 'ada.admin@dfe.example.org';
const HAL = 'hal.help@dfe.example.org';

let server;
let chrome;

before(async () => {
  // WebAuthn needs a domain name, so this server's issuer is http://localhost:PORT.
  server = await startServer({ localhost: true });
  await server.createUser(ADA, 'Ada', 'Admin', PASSWORD);
  await server.createUser(HAL, 'Hal', 'Help', PASSWORD);
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await server?.stop();
});

async function assertAccessible(page, what) {
  assert.deepEqual(await seriousViolations(page), [], `${what} has accessibility violations`);
}

test('an administrator registers a service and grants a staff role', async () => {
  const context = await chrome.browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  await page.goto(server.url + '/sign-in');
  await page.getByLabel('Email address').fill(ADA);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(server.url + '/account');
  await page.goto(server.url + '/account/security');
  await page.getByRole('link', { name: 'Add a passkey' }).click();
  await page.getByLabel('Name this passkey').fill('Office laptop');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('h1:has-text("Save your recovery codes")');
  await page.getByRole('link', { name: 'Continue' }).click();
  await server.gatehouse(['staff', 'grant', ADA, 'admin']);

  await page.goto(server.url + '/account');
  await page.getByRole('link', { name: 'Services' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Services');
  await assertAccessible(page, 'the services page');
  await page.getByRole('button', { name: 'Register service' }).click();
  assert.match(await page.locator('.error-summary').innerText(), /There is a problem/);
  await assertAccessible(page, 'the services page with errors');
  await page.getByLabel('Client id').fill('census');
  await page.getByLabel('Name', { exact: true }).fill('School Census');
  await page.getByLabel(/Confidential/).check();
  await page.getByLabel('Redirect URIs', { exact: true }).fill('https://census.example.gov.uk/callback');
  await page.getByRole('button', { name: 'Register service' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Service registered');
  assert.match(await page.locator('.secret').innerText(), /^[0-9a-f]{64}$/);
  await assertAccessible(page, 'the secret page');
  await page.getByRole('link', { name: 'I have stored the secret' }).click();
  assert.equal(await page.locator('h1').innerText(), 'School Census');
  await assertAccessible(page, 'a service page');
  await page.getByLabel('Role code').fill('submitter');
  await page.getByLabel('Role name').fill('Submits returns');
  await page.getByRole('button', { name: 'Add role' }).click();
  assert.match(await page.locator('.notification').innerText(), /role was saved/);
  assert.match(await page.locator('table').innerText(), /Submits returns/);

  await page.goto(server.url + '/account');
  await page.getByRole('link', { name: 'Signing keys' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Signing keys');
  await assertAccessible(page, 'the signing keys page');
  await page.getByLabel('Algorithm').selectOption('ES256');
  await page.getByLabel('Minutes published before it signs').fill('0');
  await page.getByRole('button', { name: 'Create key' }).click();
  assert.match(await page.locator('.notification').innerText(), /new key is published/);
  await assertAccessible(page, 'the signing keys page after a rotation');

  await page.goto(server.url + '/account');
  await page.getByRole('link', { name: 'Organisations' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Organisations');
  await assertAccessible(page, 'the organisations page');
  await page.getByRole('button', { name: 'Add organisation' }).click();
  assert.match(await page.locator('.error-summary').innerText(), /Enter the organisation/);
  await assertAccessible(page, 'the organisations page with errors');
  await page.getByLabel('Name', { exact: true }).fill('Regional Schools Trust');
  await page.getByRole('button', { name: 'Add organisation' }).click();
  assert.match(await page.locator('.notification').innerText(), /organisation was added/);
  await assertAccessible(page, 'an organisation page');

  await page.goto(server.url + '/account');
  await page.getByRole('link', { name: 'Gatehouse staff' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Gatehouse staff');
  await assertAccessible(page, 'the staff page');
  await page.getByLabel('Email address').fill(HAL);
  await page.getByLabel('Role').selectOption('helpdesk');
  await page.getByRole('button', { name: 'Grant role' }).click();
  assert.match(await page.locator('.notification').innerText(), /role was granted/);
  assert.match(await page.locator('table').innerText(), /hal\.help@dfe\.example\.org/);
  await assertAccessible(page, 'the staff page after a grant');
  await page.goto(server.url + '/account');
  await page.getByRole('link', { name: 'Gatehouse console' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Gatehouse console');
  assert.match(await page.locator('main').innerText(), /Signing keys/);
  await assertAccessible(page, 'the console start page');

  await page.getByRole('link', { name: 'Policy settings' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Policy settings');
  await assertAccessible(page, 'the policy settings page');
  await page.getByLabel(/Lock an account after/).fill('5');
  await page.getByRole('button', { name: 'Save policy settings' }).click();
  assert.match(await page.locator('.error-summary').innerText(), /Enter a whole number from 10 to 100/);
  await assertAccessible(page, 'the policy settings page with errors');
  await page.getByLabel(/Lock an account after/).fill('50');
  await page.getByRole('button', { name: 'Save policy settings' }).click();
  assert.match(await page.locator('.notification').innerText(), /policy settings were saved/);
  assert.equal(await page.getByLabel(/Lock an account after/).inputValue(), '50');
  await context.close();
});
