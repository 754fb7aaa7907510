// "Forgotten your password?", the reset form and accepting an invitation, as people meet them
// in a browser: labels and buttons as PRODUCT.md words them, errors beside the fields, no
// serious accessibility violations, and the whole journey with the emailed link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, seriousViolations } from './harness.js';

const EMAIL = 'ioana.roberts@school.example';
const OLD = 'correct horse battery staple';
const NEW = 'violet kettle marathon lighthouse';

let server;
let chrome;

before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
  await server.createUser(EMAIL, 'Ioana', 'Roberts', OLD);
});

after(async () => {
  await chrome?.close();
  await server?.stop();
});

const pathOf = (link) => new URL(link).pathname;

test('a forgotten password is reset from the sign-in page with the emailed link', async () => {
  const context = await chrome.browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${server.url}/sign-in`);
  await page.getByRole('link', { name: 'Forgotten your password?' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Reset your password');
  assert.deepEqual(await seriousViolations(page), []);

  await page.getByRole('button', { name: 'Send reset link' }).click();
  assert.equal(await page.locator('#email-error').isVisible(), true, 'an empty address is a field error');
  assert.deepEqual(await seriousViolations(page), []);

  const asked = Date.now() - 1000;
  await page.getByLabel('Email address').fill(EMAIL);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Check your email');
  assert.deepEqual(await seriousViolations(page), []);

  const link = await server.linkFromMail('/reset-password/', asked);
  const opened = await page.goto(server.url + pathOf(link));
  assert.equal(new URL(page.url()).pathname, '/reset-password', 'the secret leaves the address bar');
  assert.equal(opened.headers()['referrer-policy'], 'no-referrer');
  assert.equal(await page.locator('h1').innerText(), 'Choose a new password');
  assert.deepEqual(await seriousViolations(page), []);

  await page.getByLabel('New password', { exact: true }).fill('too short');
  await page.getByLabel('Confirm new password').fill('too short');
  await page.getByRole('button', { name: 'Save password' }).click();
  assert.equal(await page.locator('.error-summary').isVisible(), true);
  assert.equal(await page.locator('#new_password-error').isVisible(), true);
  assert.deepEqual(await seriousViolations(page), []);

  await page.getByLabel('New password', { exact: true }).fill(NEW);
  await page.getByLabel('Confirm new password').fill(NEW);
  await page.getByRole('button', { name: 'Save password' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Your password has been saved');

  await page.getByRole('link', { name: 'Sign in' }).last().click();
  await page.getByLabel('Email address').fill(EMAIL);
  await page.getByLabel('Password').fill(NEW);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  assert.equal(new URL(page.url()).pathname, '/account');

  await page.goto(server.url + pathOf(link));
  assert.equal(await page.locator('h1').innerText(), 'This link has expired', 'the link worked once');
  assert.deepEqual(await seriousViolations(page), []);
  await context.close();
});

test('an invitation is accepted by choosing a password, without JavaScript, at 320px', async () => {
  const invited = Date.now() - 1000;
  await server.inviteUser('sam.okafor@school.example', 'Sam', 'Okafor');
  const link = await server.linkFromMail('/activate/', invited);
  const context = await chrome.browser.newContext({
    javaScriptEnabled: false,
    viewport: { width: 320, height: 640 },
  });
  const page = await context.newPage();
  await page.goto(server.url + pathOf(link));
  assert.equal(await page.locator('h1').innerText(), 'Create your password');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 320, `page is ${width}px wide at a 320px viewport`);
  await page.getByLabel('New password', { exact: true }).fill(NEW);
  await page.getByLabel('Confirm new password').fill(NEW);
  await page.getByRole('button', { name: 'Save password' }).click();
  assert.equal(new URL(page.url()).pathname, '/account');
  assert.match(await page.locator('.notification__body').innerText(), /Your account is ready/);
  await context.close();
});

test('the activation page and the expired-link page pass the accessibility checks', async () => {
  const invited = Date.now() - 1000;
  await server.inviteUser('amira.haddad@school.example', 'Amira', 'Haddad');
  const link = await server.linkFromMail('/activate/', invited);
  const context = await chrome.browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(server.url + pathOf(link));
  assert.equal(await page.locator('h1').innerText(), 'Create your password');
  assert.deepEqual(await seriousViolations(page), []);
  const expired = await page.goto(`${server.url}/reset-password/${'0'.repeat(64)}`);
  assert.equal(expired.status(), 410);
  assert.equal(await page.locator('h1').innerText(), 'This link has expired');
  assert.deepEqual(await seriousViolations(page), []);
  await context.close();
});
