// The alert outbox's console page in headless Chromium: an administrator reads the waiting
// and the given-up deliveries (the webhook's address never shown), the page checked by
// axe-core and fitting 1280 px and a phone's width, then clicks Retry on the waiting one and
// reads the notice that it is due now. Started by `cargo test -p rampart-server --test
// console alerts`, which seeds the outbox through the store and checks afterwards, in the
// audit log, that the request to deliver again was the administrator's. Prints one
// `ok`/`not ok` line per scenario.
//
// Environment: CONSOLE_BASE, CONSOLE_CHROMIUM, CONSOLE_ADMIN_PASSWORD, CONSOLE_WAITING and
// CONSOLE_GAVE_UP (the alerts' sequence numbers), CONSOLE_SCREENSHOTS (a directory: write
// the screenshots there).

'use strict';

const assert = require('assert');
const { shot, accessible, fitsWidth, scenario, newPage, run, PHONE } = require('./harness');

const BASE = process.env.CONSOLE_BASE;
const ADMIN_PASSWORD = process.env.CONSOLE_ADMIN_PASSWORD;
const WAITING = process.env.CONSOLE_WAITING;
const GAVE_UP = process.env.CONSOLE_GAVE_UP;

async function signIn(page) {
  await page.goto(`${BASE}/console/login`);
  await page.fill('#username', 'admin');
  await page.fill('#password', ADMIN_PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]:has-text("Sign in")')]);
}

async function main() {
  const { page } = await newPage();

  await scenario('an administrator reads the waiting and the given-up deliveries', async () => {
    await signIn(page);
    await page.click('nav[aria-label=Console] a[href="/console/alerts"]');
    await page.waitForSelector('h1:has-text("Alert deliveries")');
    assert.ok(await page.isVisible(`#pending-${WAITING}-webhook`), 'the waiting delivery');
    assert.ok(await page.isVisible(`#failed-${GAVE_UP}-webhook`), 'the delivery that gave up');
    const failed = await page.textContent(`#failed-${GAVE_UP}-webhook`);
    assert.ok(failed.includes('the webhook did not answer: <alerts.webhook_url>'), failed);
    assert.ok(!(await page.textContent('main')).includes('capability-path'), 'the address is shown');
    await accessible(page, 'the alerts page');
    await fitsWidth(page, 'the alerts page at 1280 px');
  });

  await scenario('Retry on the waiting delivery makes it due now, said on the page', async () => {
    await Promise.all([
      page.waitForNavigation(),
      page.click(`#pending-${WAITING}-webhook button:has-text("Retry")`),
    ]);
    assert.strictEqual(new URL(page.url()).pathname, '/console/alerts');
    await page.waitForSelector(`p.notice:has-text("Alert ${WAITING} is due now for the webhook sink")`);
    assert.ok(await page.isVisible(`#pending-${WAITING}-webhook`), 'still listed, due now');
    await accessible(page, 'the alerts page after a retry');
    await fitsWidth(page, 'the alerts page after a retry at 1280 px');
    await shot(page, 'alerts');
  });

  await scenario('at phone width the page still fits', async () => {
    const phone = await newPage(PHONE);
    await signIn(phone.page);
    await phone.page.goto(`${BASE}/console/alerts`);
    await phone.page.waitForSelector(`#failed-${GAVE_UP}-webhook`);
    const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `no sideways scrolling: ${width}px`);
    await accessible(phone.page, 'the alerts page at phone width');
    await phone.context.close();
  });
}

run(main);
