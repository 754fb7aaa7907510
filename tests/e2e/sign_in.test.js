// A member of staff in a real browser: signs in (by keyboard alone, too), sees their account,
// changes their password, ends their other sessions and signs out. Every page and every
// error state passes axe-core's WCAG 2.2 AA rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, seriousViolations } from './harness.js';

const EMAIL = 'ioana.roberts00@school100000.example.org';
const PASSWORD = 'marble kettle orbit saxophone';
const NEW_PASSWORD = 'violet tractor meadow spoon';

let server;
let chrome;

before(async () => {
  server = await startServer();
  await server.createUser(EMAIL, 'Ioana', 'Roberts', PASSWORD);
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await server?.stop();
});

async function newPage(options = {}) {
  const context = await chrome.browser.newContext({ bypassCSP: true, ...options });
  return { context, page: await context.newPage() };
}

async function assertAccessible(page, what) {
  assert.deepEqual(await seriousViolations(page), [], `${what} has accessibility violations`);
}

test('sign in with the keyboard alone, then see the account page', async () => {
  const { context, page } = await newPage();
  await page.goto(server.url + '/');
  await page.getByRole('link', { name: 'Sign in' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Sign in');
  await assertAccessible(page, 'the sign-in page');

  // Tab past the skip link and header to the email field, then type and press Enter.
  await page.keyboard.press('Tab'); // skip link
  await page.keyboard.press('Tab'); // service name in the header
  await page.keyboard.press('Tab'); // email address
  assert.equal(await page.evaluate(() => document.activeElement.id), 'email');
  await page.keyboard.type(EMAIL);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');

  await page.waitForURL(server.url + '/account');
  assert.equal(await page.locator('h1').innerText(), 'Your account');
  assert.match(await page.locator('main').innerText(), /Ioana Roberts/);
  assert.match(await page.locator('table').innerText(), /This device/);
  await assertAccessible(page, 'the account page');
  await context.close();
});

test('a wrong password shows the error summary and the field error, accessibly', async () => {
  const { context, page } = await newPage();
  await page.goto(server.url + '/sign-in');
  await page.getByLabel('Email address').fill(EMAIL);
  await page.getByLabel('Password').fill('not the right password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  assert.equal(await page.locator('.error-summary__title').innerText(), 'There is a problem');
  assert.match(await page.title(), /^Error: Sign in/);
  const summaryLink = page.locator('.error-summary a');
  assert.equal(await summaryLink.innerText(), 'Enter the correct email address and password for your account');
  await summaryLink.click();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'email', 'the summary link moves focus to the field');
  await assertAccessible(page, 'the sign-in page with errors');
  await context.close();
});

test('the sign-in form works with JavaScript switched off', async () => {
  const { context, page } = await newPage({ javaScriptEnabled: false });
  await page.goto(server.url + '/sign-in');
  await page.getByLabel('Email address').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(server.url + '/account');
  assert.equal(await page.locator('h1').innerText(), 'Your account');
  await context.close();
});

test('change the password, end other sessions, sign out', async () => {
  const elsewhere = await newPage();
  await elsewhere.page.goto(server.url + '/sign-in');
  await elsewhere.page.getByLabel('Email address').fill(EMAIL);
  await elsewhere.page.getByLabel('Password').fill(PASSWORD);
  await elsewhere.page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await elsewhere.page.waitForURL(server.url + '/account');

  const { context, page } = await newPage();
  await page.goto(server.url + '/account');
  await page.waitForURL(/\/sign-in\?return_to=%2Faccount$/);
  await page.getByLabel('Email address').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(server.url + '/account');
  const rows = await page.locator('tbody tr').count();
  assert.ok(rows >= 2, `at least two sessions listed, saw ${rows}`);

  await page.getByRole('link', { name: 'Change your password' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Change your password');
  await assertAccessible(page, 'the change-password page');
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password', { exact: true }).fill('short');
  await page.getByLabel('Confirm new password').fill('short');
  await page.getByRole('button', { name: 'Save password' }).click();
  assert.match(await page.locator('#new_password-error').innerText(), /Password must be 15 characters or more/);
  await assertAccessible(page, 'the change-password page with errors');

  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('Confirm new password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Save password' }).click();
  await page.waitForURL(server.url + '/account?notice=password-changed');
  assert.match(await page.locator('.notification').innerText(), /Your password has been changed/);
  assert.equal(await page.locator('tbody tr').count(), 1, 'the other session was ended');

  await elsewhere.page.reload();
  assert.match(elsewhere.page.url(), /\/sign-in/, 'the other browser is signed out');
  await elsewhere.context.close();

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL(server.url + '/signed-out');
  assert.equal(await page.locator('h1').innerText(), 'You have signed out');
  await assertAccessible(page, 'the signed-out page');
  await page.goto(server.url + '/account');
  assert.match(page.url(), /\/sign-in/, 'signed out means signed out');
  await context.close();
});

test('pages reflow at 320px wide', async () => {
  const { context, page } = await newPage({ viewport: { width: 320, height: 640 } });
  await page.goto(server.url + '/sign-in');
  await page.getByLabel('Email address').fill(EMAIL);
  await page.getByLabel('Password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(server.url + '/account');
  for (const path of ['/account', '/account/password', '/account/security', '/account/security/app',
    '/account/security/key?kind=passkey', '/account/security/confirm', '/account/security/required']) {
    await page.goto(server.url + path);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 320, `${path} is ${width}px wide at a 320px viewport`);
  }
  await context.close();
});
