// Every page so far, as a person using a browser meets it: readable, accessible (axe-core,
// WCAG 2.2 AA), usable by keyboard, at 320px wide, and without JavaScript.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, seriousViolations } from './harness.js';

const PAGES = [
  { path: '/', heading: 'Sign in to Department for Education services' },
  { path: '/accessibility', heading: 'Accessibility statement' },
  { path: '/privacy', heading: 'Privacy notice' },
  { path: '/no-such-page', heading: 'Page not found', status: 404 },
];

let server;
let chrome;

before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await server?.stop();
});

for (const { path, heading, status = 200 } of PAGES) {
  test(`${path} has no serious or critical accessibility violations`, async () => {
    const context = await chrome.browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const response = await page.goto(server.url + path);
    assert.equal(response.status(), status);
    assert.equal(await page.locator('h1').innerText(), heading);
    assert.deepEqual(await seriousViolations(page), []);
    await context.close();
  });

  test(`${path} reflows at 320px and works without JavaScript`, async () => {
    const context = await chrome.browser.newContext({
      javaScriptEnabled: false,
      viewport: { width: 320, height: 640 },
    });
    const page = await context.newPage();
    await page.goto(server.url + path);
    assert.equal(await page.locator('h1').innerText(), heading);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 320, `page is ${width}px wide at a 320px viewport`);
    await context.close();
  });
}

test('the stylesheet loads under the Content-Security-Policy', async () => {
  const context = await chrome.browser.newContext();
  const page = await context.newPage();
  const blocked = [];
  page.on('console', (m) => { if (m.type() === 'error') blocked.push(m.text()); });
  await page.goto(server.url + '/');
  const headerColour = await page.locator('.header').evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.equal(headerColour, 'rgb(11, 12, 12)', 'the header is styled by our CSS');
  assert.deepEqual(blocked, []);
  await context.close();
});

test('keyboard users can skip straight to the main content', async () => {
  const context = await chrome.browser.newContext();
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.textContent?.trim());
  assert.equal(focused, 'Skip to main content');
  const box = await page.locator('.skip-link').boundingBox();
  assert.ok(box && box.x >= 0 && box.y >= 0, `the focused skip link is on screen: ${JSON.stringify(box)}`);
  await page.keyboard.press('Enter');
  const target = await page.evaluate(() => document.activeElement?.id);
  assert.equal(target, 'main-content');
  await context.close();
});
