// The page behind an e-mailed decision link in headless Chromium: a customer company's
// administrator, an end user, opens the Authorize link from the message the mail server
// received while signed out, is sent to sign in, takes the support desk's sign-in page,
// comes back to the link's page, reads the case and the question, and decides with its
// button; her navigation holds the support desk and her account only; the link works
// once. Started by `cargo test -p rampart-server --test console support_link`, which
// checks afterwards, through the API, that the case opened and how it was decided.
// Prints one `ok`/`not ok` line per scenario; every page is checked by axe-core.
//
// Environment: CONSOLE_BASE, CONSOLE_CHROMIUM, CONSOLE_USER_PASSWORD, CONSOLE_LINK (the
// link's path, as the message gives it), CONSOLE_SCREENSHOTS (a directory: write the
// screenshots there).

'use strict';

const assert = require('assert');
const { shot, accessible, scenario, newPage, run } = require('./harness');

const BASE = process.env.CONSOLE_BASE;
const USER_PASSWORD = process.env.CONSOLE_USER_PASSWORD;
const LINK = process.env.CONSOLE_LINK;

async function main() {
  const { page } = await newPage();

  await scenario('the link sends a signed-out administrator to sign in, then back to it', async () => {
    await page.goto(`${BASE}${LINK}`);
    assert.strictEqual(new URL(page.url()).pathname, '/console/login');
    await accessible(page, 'the sign-in page');
    await Promise.all([page.waitForNavigation(), page.click('#other-kind')]);
    await page.waitForSelector('h1:has-text("Sign in to the support desk")');
    await accessible(page, "the support desk's sign-in page");
    await shot(page, 'support-sign-in');
    await page.fill('#username', 'erin');
    await page.fill('#password', USER_PASSWORD);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]:has-text("Sign in")')]);
    assert.strictEqual(new URL(page.url()).pathname, LINK);
  });

  await scenario('the page shows the case and the question, and decides nothing yet', async () => {
    await page.waitForSelector('h1:has-text("Authorize end:rob for acme?")');
    assert.strictEqual(await page.textContent('#link-subject'), 'Invoices <b>vanish</b> after export');
    await accessible(page, "the link's page");
    await shot(page, 'support-link');
    const nav = await page.$$eval('nav[aria-label=Console] a', (as) => as.map((a) => a.textContent.trim()));
    assert.deepStrictEqual(nav, ['Support', 'My account']);
  });

  await scenario('the button authorizes the requester; the case page says so', async () => {
    await Promise.all([page.waitForNavigation(), page.click('#confirm')]);
    assert.match(new URL(page.url()).pathname, /^\/console\/support\/cases\//);
    await page.waitForSelector('p.notice:has-text("The requester is authorized")');
    assert.strictEqual((await page.textContent('#case-status')).trim(), 'open');
    await accessible(page, 'the case after the decision');
  });

  await scenario('the link works once', async () => {
    const response = await page.goto(`${BASE}${LINK}`);
    assert.strictEqual(response.status(), 409);
    await page.waitForSelector('text=used already');
  });
}

run(main);
