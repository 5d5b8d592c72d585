// The support desk in headless Chromium: rhea, who is in no company, opens a case for acme
// and is told why it is suspended (and a second one whose subject is a `<script>` element,
// shown as text); boss, acme's administrator, finds them in the case list, opens the case
// page and authorizes her, which opens both; rhea comments; boss removes her from acme's
// members after a confirmation, and at once her case list is empty and the case's address
// is the console's 404, worded as for a missing case. Started by
// `cargo test -p rampart-server --test console support` against a server seeded with acme,
// boss and rhea. Prints one `ok`/`not ok` line per scenario; axe-core checks every page.
//
// Environment: CONSOLE_BASE, CONSOLE_CHROMIUM, CONSOLE_USER_PASSWORD, and
// CONSOLE_SCREENSHOTS (a directory: write the screenshots there).

'use strict';

const fs = require('fs');
const path = require('path');
const assert = require('assert');
const { chromium } = require('playwright-core');

const BASE = process.env.CONSOLE_BASE;
const PASSWORD = process.env.CONSOLE_USER_PASSWORD;
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const XSS = '<script>window.__owned = 1</script> export is blank';

const SHOTS = process.env.CONSOLE_SCREENSHOTS || '';
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

async function scenario(name, body) {
  try {
    await body();
    results.push(`ok - ${name}`);
  } catch (e) {
    results.push(`not ok - ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

async function signIn(page, username) {
  await page.goto(`${BASE}/console/login`);
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]:has-text("Sign in")')]);
}

async function submit(page, selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

async function openCase(page, subject, file) {
  await page.goto(`${BASE}/console/support`);
  await submit(page, 'nav[aria-label="Support desk"] a:has-text("Open a case")');
  await page.fill('#company', 'acme');
  await page.fill('#subject', subject);
  await page.fill('#description', 'Since this morning the CSV export of the orders screen is empty.\nSteps: open Orders, press Export.');
  await page.selectOption('#severity', 'high');
  if (file) await page.setInputFiles('#file', file);
  await submit(page, 'button:has-text("Open the case")');
  return new URL(page.url()).pathname;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CONSOLE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const options = { ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } };
  const rheaContext = await browser.newContext(options);
  const bossContext = await browser.newContext(options);
  rheaContext.setDefaultTimeout(10000);
  bossContext.setDefaultTimeout(10000);
  const rhea = await rheaContext.newPage();
  const boss = await bossContext.newPage();
  let casePath = '';
  let xssPath = '';

  await scenario('a requester who is not a member opens a case and is told why it is suspended', async () => {
    await signIn(rhea, 'rhea');
    // The navigation leads to the support desk; rhea manages no company, so no link to them.
    assert.strictEqual(await rhea.locator('nav[aria-label="Console"] a:has-text("Support")').count(), 1);
    casePath = await openCase(rhea, 'The export stops at 10,000 rows', {
      name: 'orders.csv', mimeType: 'text/csv', buffer: Buffer.from('id,total\n1,10\n'),
    });
    assert.match(casePath, /^\/console\/support\/cases\/[0-9a-f-]{36}$/);
    assert.strictEqual((await rhea.textContent('h1')).trim(), 'The export stops at 10,000 rows');
    assert.strictEqual((await rhea.textContent('#case-status')).trim(), 'suspended');
    assert.match(await rhea.textContent('#suspension'), /not an authorized contact of acme/);
    assert.match(await rhea.textContent('#suspension'), /administrators/);
    assert.strictEqual(await rhea.locator('button:has-text("Authorize")').count(), 0);
    assert.strictEqual(await rhea.locator('nav[aria-label="Support desk"] a:has-text("Companies")').count(), 0);
    // The file sent with the case is listed, and downloads from the API as an attachment.
    const link = rhea.locator('a:has-text("orders.csv")');
    assert.strictEqual(await link.count(), 1);
    const download = await rheaContext.request.get(`${BASE}${await link.getAttribute('href')}`);
    assert.strictEqual(download.status(), 200);
    assert.match(download.headers()['content-disposition'], /^attachment/);
    assert.strictEqual(download.headers()['x-content-type-options'], 'nosniff');
    assert.strictEqual(await download.text(), 'id,total\n1,10\n');
    await accessible(rhea, 'a suspended case, as its requester sees it');
    await shot(rhea, 'support-suspended');
    // A subject with markup is shown as the text it is, and nothing of it runs.
    xssPath = await openCase(rhea, XSS);
    assert.strictEqual((await rhea.textContent('h1')).trim(), XSS);
    assert.strictEqual(await rhea.evaluate(() => window.__owned), undefined);
    assert.strictEqual(await rhea.locator('main script').count(), 0);
    await rhea.goto(`${BASE}/console/support`);
    assert.strictEqual(await rhea.locator(`td a:has-text("${XSS}")`).count(), 1);
    assert.strictEqual(await rhea.evaluate(() => window.__owned), undefined);
    await accessible(rhea, 'the case list');
  });

  await scenario("the company's administrator finds the case and authorizes the requester from its page", async () => {
    await signIn(boss, 'boss');
    await boss.goto(`${BASE}/console/support`);
    await boss.selectOption('#status', 'suspended');
    await submit(boss, 'button:has-text("Show")');
    const rows = boss.locator('tbody tr');
    assert.strictEqual(await rows.count(), 2);
    assert.strictEqual(await boss.locator('button:has-text("Authorize")').count(), 2);
    await accessible(boss, 'the suspended cases, as an administrator sees them');
    await shot(boss, 'support-cases');
    await submit(boss, 'td a:has-text("The export stops at 10,000 rows")');
    assert.strictEqual(new URL(boss.url()).pathname, casePath);
    assert.match(await boss.textContent('main'), /it:rhea/);
    assert.match(await boss.textContent('main'), /Since this morning the CSV export/);
    await accessible(boss, 'a suspended case, as an administrator sees it');
    await submit(boss, '#decide ~ .actions button:has-text("Authorize")');
    assert.match(await boss.textContent('.notice'), /authorized/);
    assert.strictEqual((await boss.textContent('#case-status')).trim(), 'open');
    assert.strictEqual(await boss.locator('button:has-text("Authorize")').count(), 0);
    // Her other suspended case for acme opened with it.
    await boss.goto(`${BASE}${xssPath}`);
    assert.strictEqual((await boss.textContent('#case-status')).trim(), 'open');
    assert.strictEqual(await boss.evaluate(() => window.__owned), undefined);
  });

  await scenario('the requester comments on her open case', async () => {
    await rhea.goto(`${BASE}${casePath}`);
    assert.strictEqual((await rhea.textContent('#case-status')).trim(), 'open');
    assert.strictEqual(await rhea.locator('#suspension').count(), 0);
    await rhea.fill('#body', 'It also happens with 9,000 rows. <b>Not bold.</b>');
    await submit(rhea, 'button:has-text("Comment")');
    assert.match(await rhea.textContent('.notice'), /comment is added/);
    const comments = rhea.locator('ol.comments li');
    assert.strictEqual(await comments.count(), 1);
    assert.match(await comments.first().textContent(), /it:rhea/);
    assert.match(await comments.first().textContent(), /<b>Not bold\.<\/b>/);
    assert.strictEqual(await rhea.locator('ol.comments b').count(), 0);
    // A file that is not what its type says is refused beside the field; a good one is
    // attached.
    await rhea.setInputFiles('#file', { name: 'screen.png', mimeType: 'image/png', buffer: Buffer.from('not a picture') });
    await submit(rhea, 'button:has-text("Attach")');
    assert.match(await rhea.textContent('#file-problem'), /file/);
    await accessible(rhea, 'a refused attachment');
    await rhea.setInputFiles('#file', { name: 'trace.txt', mimeType: 'text/plain', buffer: Buffer.from('GET /orders/export 200\n') });
    await submit(rhea, 'button:has-text("Attach")');
    assert.match(await rhea.textContent('.notice'), /attached/);
    assert.strictEqual(await rhea.locator('a:has-text("trace.txt")').count(), 1);
    await accessible(rhea, 'an open case with a comment');
  });

  await scenario("removing the member hides the company's cases from her at once", async () => {
    await boss.goto(`${BASE}/console/support`);
    await submit(boss, 'nav[aria-label="Support desk"] a:has-text("Companies")');
    await accessible(boss, 'the companies');
    await submit(boss, 'a:has-text("acme")');
    assert.match(await boss.textContent('h1'), /acme/);
    assert.strictEqual(await boss.locator('tbody tr:has-text("rhea")').count(), 1);
    await accessible(boss, "a company's people");
    await shot(boss, 'support-company');
    await submit(boss, 'tbody tr:has-text("rhea") a:has-text("Remove")');
    assert.match(await boss.textContent('h1'), /Remove rhea from the members of acme\?/);
    await accessible(boss, 'the confirmation of a removal');
    await submit(boss, 'button:has-text("Remove")');
    assert.match(await boss.textContent('.notice'), /member is removed/);
    assert.strictEqual(await boss.locator('tbody tr:has-text("rhea")').count(), 0);
    // Her list is empty now, and her case's page is the page of a missing case.
    await rhea.goto(`${BASE}/console/support`);
    assert.strictEqual(await rhea.locator('tbody tr').count(), 0);
    assert.match(await rhea.textContent('.empty'), /No case here/);
    const hidden = await rhea.goto(`${BASE}${casePath}`);
    assert.strictEqual(hidden.status(), 404);
    const hiddenText = await rhea.textContent('main');
    assert.doesNotMatch(hiddenText, /export stops/);
    const missing = await rhea.goto(`${BASE}/console/support/cases/6f1c2a5e-0000-4000-8000-000000000000`);
    assert.strictEqual(missing.status(), 404);
    assert.strictEqual(await rhea.textContent('main'), hiddenText);
    await accessible(rhea, 'a case she may no longer see');
  });

  await scenario('the case pages work at a phone-sized viewport', async () => {
    await boss.setViewportSize({ width: 390, height: 844 });
    await boss.goto(`${BASE}${casePath}`);
    assert.strictEqual((await boss.textContent('#case-status')).trim(), 'open');
    await accessible(boss, 'a case at a phone-sized viewport');
    await boss.goto(`${BASE}/console/support/new`);
    await accessible(boss, 'the open-a-case form at a phone-sized viewport');
  });

  await browser.close();
  for (const line of results) console.log(line);
  if (results.some((l) => l.startsWith('not ok'))) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
