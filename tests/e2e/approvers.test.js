// The approver pages in a real browser, as a head teacher would use them on her first day:
// sign in, set up 2-step verification (approvers must), invite a colleague with a service and
// a role, give another colleague a service, and answer a colleague's request for access;
// then the helpdesk's migration dashboard and queue, and finding an account and sending its
// owner a reset link from the console. Every page passes axe-core's WCAG 2.2 AA rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, seriousViolations, totp, nextCode } from './harness.js';

const PASSWORD = 'marble kettle orbit saxophone';
const ANA = 'ana.lopez@oakhurst.example.org';
const BEN = 'ben.osei@oakhurst.example.org';
const CARA = 'cara.lund@oakhurst.example.org';
const SCHOOL = 'Oakhurst CofE Primary School';
const EXTRACT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'gias_establishments.csv');

let server;
let chrome;

before(async () => {
  server = await startServer();
  await server.gatehouse(['import', 'gias', EXTRACT]);
  for (const [email, given, family] of [[ANA, 'Ana', 'Lopez'], [BEN, 'Ben', 'Osei'], [CARA, 'Cara', 'Lund']]) {
    await server.createUser(email, given, family, PASSWORD);
  }
  await server.createClient(['--client-id', 'census', '--name', 'School Census',
    '--redirect-uri', 'https://census.example.gov.uk/callback', '--scope', 'openid profile organisation']);
  await server.gatehouse(['role', 'define', 'census', 'submitter', '--name', 'Submits returns']);
  await server.gatehouse(['member', 'add', ANA, '100019', '--approver']);
  await server.gatehouse(['member', 'add', BEN, '100019']);
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await server?.stop();
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

/** Ana signs in, sets up an app as approvers must, and reaches her organisation's page. */
async function approverArrives(page) {
  await signIn(page, ANA);
  await page.waitForURL(/\/account\/security\/required/);
  await page.getByRole('link', { name: 'Use an authenticator app on your phone' }).click();
  const key = (await page.locator('.secret code').innerText()).replace(/\s/g, '');
  await page.getByLabel('Name this authenticator app').fill('Work phone');
  await page.getByLabel('Security code').fill(totp(key));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('h1:has-text("Save your recovery codes")');
  await page.getByRole('link', { name: 'Continue' }).click();
  await page.goto(server.url + '/account');
  await page.getByRole('link', { name: "Manage your organisation's people and access" }).click();
  if (page.url().includes('/sign-in/verify')) {
    await page.getByLabel('Security code').fill(await nextCode(key));
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await page.waitForURL(/\/organisation\/[0-9a-f]{32}$/);
  return key;
}

test('an approver invites a colleague, grants a service and answers a request', async () => {
  // Cara asks to join Oakhurst and use the census before Ana signs in.
  const cara = await newPage();
  await signIn(cara.page, CARA);
  await cara.page.waitForURL(server.url + '/account');
  await cara.page.getByRole('link', { name: 'Ask to join an organisation or to use a service' }).click();
  assert.equal(await cara.page.locator('h1').innerText(), 'Ask for access');
  await assertAccessible(cara.page, 'the request-access page');
  await cara.page.getByRole('button', { name: 'Send request' }).click();
  assert.match(await cara.page.locator('.error-summary').innerText(), /Enter why you need access/);
  await assertAccessible(cara.page, 'the request-access page with errors');
  await cara.page.getByLabel('School URN or local authority code').fill('100019');
  await cara.page.getByLabel('What do you need?').selectOption({ label: 'To use School Census' });
  await cara.page.getByLabel('Why do you need it?').fill('I am the new school business manager');
  await cara.page.getByRole('button', { name: 'Send request' }).click();
  await cara.page.waitForURL(/notice=request-sent/);
  // And to join Longridge, which has no approver: that goes to the helpdesk.
  await cara.page.goto(server.url + '/account/request-access');
  await cara.page.getByLabel('School URN or local authority code').fill('100021');
  await cara.page.getByLabel('Why do you need it?').fill('I also cover Longridge');
  await cara.page.getByRole('button', { name: 'Send request' }).click();
  await cara.page.waitForURL(/notice=request-sent/);
  await cara.context.close();

  const { context, page } = await newPage();
  await approverArrives(page);
  assert.equal(await page.locator('h1').innerText(), SCHOOL);
  assert.match(await page.locator('main').innerText(), /Ben Osei/);
  await assertAccessible(page, 'the organisation page');

  // Invite Dan with the census, as a submitter.
  await page.getByRole('link', { name: 'Invite a colleague' }).click();
  await assertAccessible(page, 'the invite page');
  await page.getByRole('button', { name: 'Send invitation' }).click();
  assert.match(await page.locator('.error-summary').innerText(), /Enter their email address/);
  await assertAccessible(page, 'the invite page with errors');
  await page.getByLabel('Email address').fill('dan.moss@oakhurst.example.org');
  await page.getByLabel('First name').fill('Dan');
  await page.getByLabel('Last name').fill('Moss');
  await page.getByLabel('School Census').check();
  await page.getByLabel('Submits returns').check();
  await page.getByRole('button', { name: 'Send invitation' }).click();
  assert.match(await page.locator('.notification').innerText(), /has been invited/);
  assert.match(await server.linkFromMail('/activate/'), /\/activate\//);
  assert.match(await server.gatehouse(['access', 'show', 'dan.moss@oakhurst.example.org', 'census']),
    /100019\tOakhurst CofE Primary School\tsubmitter/);

  // Give Ben the census.
  await page.getByRole('link', { name: 'Ben Osei' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Ben Osei');
  await assertAccessible(page, 'a person page');
  await page.getByLabel('School Census').check();
  await page.getByRole('button', { name: 'Save services' }).click();
  assert.match(await page.locator('.notification').innerText(), /services have been saved/);
  assert.match(await page.locator('main').innerText(), /School Census/);
  await assertAccessible(page, 'a person page after saving');
  await page.getByRole('link', { name: 'Remove Ben Osei from' }).click();
  await assertAccessible(page, 'the remove page');
  await page.getByRole('link', { name: 'Back' }).click();

  // Answer Cara's request.
  await page.goto(page.url().replace(/\/people\/.*$/, ''));
  await page.getByRole('link', { name: /Review/ }).click();
  assert.equal(await page.locator('h1').innerText(), 'Request from Cara Lund');
  await assertAccessible(page, 'the request page');
  await page.getByLabel('Reject', { exact: true }).check();
  await page.getByRole('button', { name: 'Send answer' }).click();
  assert.match(await page.locator('.error-summary').innerText(), /Enter a reason/);
  await assertAccessible(page, 'the request page with errors');
  await page.getByLabel('Approve', { exact: true }).check();
  await page.getByLabel('Submits returns').check();
  await page.getByLabel('Reason').fill('Welcome to Oakhurst');
  await page.getByRole('button', { name: 'Send answer' }).click();
  assert.match(await page.locator('.notification').innerText(), /request has been answered/);
  assert.match(await page.locator('main').innerText(), /Cara Lund/);
  const shown = await server.gatehouse(['access', 'show', CARA, 'census']);
  assert.match(shown, /Oakhurst/);
  assert.match(shown, /submitter/);

  // Ana is also helpdesk staff: the migration dashboard and the queue.
  await server.gatehouse(['staff', 'grant', ANA, 'helpdesk']);
  await page.goto(server.url + '/account');
  await page.getByRole('link', { name: 'Authentix migration dashboard' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Authentix migration');
  await assertAccessible(page, 'the migration dashboard');
  await page.goto(server.url + '/manage/requests');
  assert.equal(await page.locator('h1').innerText(), 'Access requests for the helpdesk');
  assert.match(await page.locator('main').innerText(), /I also cover Longridge/);
  await assertAccessible(page, 'the helpdesk queue');
  await page.getByRole('link', { name: /Answer/ }).click();
  assert.equal(await page.locator('h1').innerText(), 'Request from Cara Lund');
  await assertAccessible(page, 'the helpdesk request page');
  await page.getByLabel('Approve', { exact: true }).check();
  await page.getByLabel(/also make Cara Lund its approver/).check();
  await page.getByLabel('Reason').fill('Confirmed by phone with the school office');
  await page.getByRole('button', { name: 'Send answer' }).click();
  assert.match(await page.locator('.notification').innerText(), /request has been answered/);
  await assertAccessible(page, 'the helpdesk queue after an answer');
  // Find Ben, see his account whole, and send him a reset link with a reason.
  await page.goto(server.url + '/account');
  await page.getByRole('link', { name: 'Find an account' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Find an account');
  await assertAccessible(page, 'the account search');
  await page.getByLabel('Email address or name').fill('ben');
  await page.getByLabel('Account status').selectOption({ label: 'Active' });
  await page.getByRole('button', { name: 'Search' }).click();
  assert.match(await page.locator('table').innerText(), /Ben Osei\s+ben\.osei@oakhurst\.example\.org\s+Active\s+Oakhurst/);
  await assertAccessible(page, 'the account search results');
  await page.getByRole('link', { name: 'Ben Osei' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Ben Osei');
  assert.match(await page.locator('main').innerText(), /School Census/);
  await assertAccessible(page, 'an account page');
  await page.getByRole('link', { name: 'Send a password reset link' }).click();
  await assertAccessible(page, 'a helpdesk action form');
  await page.getByRole('button', { name: 'Send a password reset link' }).click();
  assert.match(await page.locator('.error-summary').innerText(), /Select a reason/);
  await assertAccessible(page, 'a helpdesk action form with errors');
  await page.getByLabel('The account holder asked').check();
  await page.getByLabel('Note').fill('Ben rang from the school office');
  await page.getByRole('button', { name: 'Send a password reset link' }).click();
  assert.match(await page.locator('.notification').innerText(), /reset link was sent/);
  assert.match(await page.locator('main').innerText(), /password_reset\.requested/);
  await assertAccessible(page, 'an account page after a change');
  // Change which services he has there.
  await page.getByRole('link', { name: `Change services at ${SCHOOL}` }).click();
  assert.equal(await page.locator('h1').innerText(), 'Change their services');
  await assertAccessible(page, 'the helpdesk services form');
  await page.getByLabel('School Census', { exact: true }).check();
  const role = page.getByLabel('Submits returns');
  await role.setChecked(!(await role.isChecked()));
  await page.getByLabel('The account holder asked').check();
  await page.getByLabel('Note').fill('Ben moved to the data team');
  await page.getByRole('button', { name: 'Change their services' }).click();
  assert.match(await page.locator('.notification').innerText(), /services were saved/);
  await server.gatehouse(['staff', 'grant', ANA, 'auditor']);
  await page.goto(server.url + '/manage/audit');
  assert.match(await page.locator('main').innerText(), /The audit trail is intact/);
  await assertAccessible(page, 'the audit trail check');
  await context.close();
});
