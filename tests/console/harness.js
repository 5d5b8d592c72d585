// What the console's browser scripts share: Chromium started headless, one `ok`/`not ok`
// line per scenario, axe-core on a page, a check that nothing scrolls sideways, screenshots when CONSOLE_SCREENSHOTS names a
// directory, and the exit status. `run(body)` starts the browser, runs `body` (which calls
// `scenario` for each case) and ends the process with the lines printed.

'use strict';

const fs = require('fs');
const path = require('path');
const assert = require('assert');
const { chromium } = require('playwright-core');

const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.CONSOLE_SCREENSHOTS || '';

let browser;
const results = [];

async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

async function accessible(page, label) {
  await page.evaluate(AXE);
  // eslint-disable-next-line no-undef
  const result = await page.evaluate(async () => axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepStrictEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], label);
}

// Nothing on the page needs sideways scrolling: neither the page itself nor any of its
// scrolling table containers (`.table-wrap`, which would otherwise hide columns behind a
// scroll bar at this width).
async function fitsWidth(page, label) {
  const wide = await page.evaluate(() => {
    const out = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) out.push(`the page: ${root.scrollWidth}px in ${root.clientWidth}px`);
    document.querySelectorAll('.table-wrap').forEach((w, i) => {
      if (w.scrollWidth > w.clientWidth) out.push(`table ${i + 1}: ${w.scrollWidth}px in ${w.clientWidth}px`);
    });
    return out;
  });
  assert.deepStrictEqual(wide, [], `${label}: no sideways scrolling`);
}

async function scenario(name, body) {
  try {
    await body();
    results.push(`ok - ${name}`);
  } catch (e) {
    results.push(`not ok - ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function newPage(viewport = DESKTOP) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  context.setDefaultTimeout(10000);
  return { context, page: await context.newPage() };
}

function run(body) {
  (async () => {
    browser = await chromium.launch({
      executablePath: process.env.CONSOLE_CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    await body();
    await browser.close();
    for (const line of results) console.log(line);
    process.exit(results.some((r) => r.startsWith('not ok')) ? 1 : 0);
  })().catch(async (e) => {
    for (const line of results) console.log(line);
    console.log(`not ok - the harness itself: ${e && e.stack ? e.stack : e}`);
    if (browser) await browser.close().catch(() => {});
    process.exit(1);
  });
}

module.exports = { shot, accessible, fitsWidth, scenario, newPage, run, DESKTOP, PHONE };
