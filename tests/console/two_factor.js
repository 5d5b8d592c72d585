// The console's second factor in headless Chromium: an administrator the policy requires to
// use a two-factor app is sent to enrol it at sign-in (the QR code drawn on the page, the
// secret beside it), signs in with its code, gets the recovery codes once; a later sign-in
// asks for a code, refuses a wrong one, takes the next one, and a recovery code once.
// Started by `cargo test -p rampart-server --test console two_factor` against a server whose
// clock stands still at CONSOLE_NOW (Unix seconds); the codes are computed here from the
// secret the page shows (RFC 6238 with Node's own HMAC-SHA-1). Prints one `ok`/`not ok`
// line per scenario; every page is checked by axe-core.
//
// Environment: CONSOLE_BASE, CONSOLE_CHROMIUM, CONSOLE_ADMIN_PASSWORD, CONSOLE_NOW, and
// CONSOLE_SCREENSHOTS (a directory: write the screenshots there).

'use strict';

const fs = require('fs');
const path = require('path');
const assert = require('assert');
const crypto = require('crypto');
const { chromium } = require('playwright-core');

const BASE = process.env.CONSOLE_BASE;
const ADMIN_PASSWORD = process.env.CONSOLE_ADMIN_PASSWORD;
const NOW = Number(process.env.CONSOLE_NOW);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.CONSOLE_SCREENSHOTS || '';

async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

let browser;
const results = [];

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    assert.ok(v >= 0, `base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/// The code of `secret` (base32) at time step ⌊NOW / 30⌋ + `steps`.
function totp(secret, steps = 0) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(NOW / 30) + steps));
  const mac = crypto.createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[19] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(value).padStart(6, '0');
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

async function password(page) {
  await page.goto(`${BASE}/console/login`);
  await page.fill('#username', 'root');
  await page.fill('#password', ADMIN_PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in")')]);
}

async function signOut(page) {
  await page.goto(`${BASE}/console/`);
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign out")')]);
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CONSOLE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  let secret = '';
  let codes = [];

  await scenario('the policy sends an administrator to enrol a two-factor app before any session', async () => {
    await password(page);
    assert.strictEqual(new URL(page.url()).pathname, '/console/login');
    assert.match(await page.textContent('h1'), /Two-factor sign-in/);
    // The QR code is drawn on the page, inline, by the server; no script runs.
    assert.ok((await page.locator('.qr svg path').count()) >= 1);
    secret = (await page.textContent('#totp-secret')).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await accessible(page, 'two-factor enrolment at sign-in');
    await shot(page, 'two-factor-enrol');
    // Nothing of the console opens meanwhile: there is no session.
    const probe = await context.request.get(`${BASE}/api/v1/auth/me`);
    assert.strictEqual(probe.status(), 401);
    await page.fill('#code', totp(secret));
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in")')]);
    assert.match(await page.textContent('h1'), /recovery codes/i);
    codes = (await page.locator('#recovery-codes code').allTextContents()).map((c) => c.trim());
    assert.strictEqual(codes.length, 10);
    for (const c of codes) assert.match(c, /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
    await accessible(page, 'recovery codes');
    await shot(page, 'two-factor-recovery-codes');
    await Promise.all([page.waitForNavigation(), page.click('a:has-text("Continue")')]);
    assert.strictEqual(new URL(page.url()).pathname, '/console/');
    await page.goto(`${BASE}/console/account/two-factor`);
    assert.match(await page.textContent('h2#state'), /set up/);
    assert.strictEqual((await page.textContent('#recovery-left')).trim(), '10');
    await accessible(page, 'my two-factor app');
    await signOut(page);
  });

  await scenario('signing in asks for a code, refuses a wrong or used one, and takes the next', async () => {
    await password(page);
    assert.match(await page.textContent('h1'), /Two-factor sign-in/);
    assert.strictEqual(await page.locator('.qr').count(), 0);
    await accessible(page, 'two-factor code at sign-in');
    await shot(page, 'two-factor-sign-in');
    // The code that enrolled the app is spent.
    await page.fill('#code', totp(secret));
    await page.click('button:has-text("Sign in")');
    assert.match(await page.textContent('.error'), /wrong or was already used/);
    await page.fill('#code', totp(secret, 1));
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in")')]);
    assert.strictEqual(new URL(page.url()).pathname, '/console/');
    await signOut(page);
  });

  await scenario('a recovery code signs in once', async () => {
    await password(page);
    await page.click('summary:has-text("recovery code")');
    await page.fill('#recovery_code', codes[0]);
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in with a recovery code")')]);
    assert.strictEqual(new URL(page.url()).pathname, '/console/');
    await page.goto(`${BASE}/console/account/two-factor`);
    assert.strictEqual((await page.textContent('#recovery-left')).trim(), '9');
    await signOut(page);
    await password(page);
    await page.click('summary:has-text("recovery code")');
    await page.fill('#recovery_code', codes[0]);
    await page.click('button:has-text("Sign in with a recovery code")');
    assert.match(await page.textContent('.error'), /wrong or was already used/);
    assert.strictEqual(new URL(page.url()).pathname, '/console/login/code');
  });

  await context.close();
  await browser.close();
  for (const line of results) console.log(line);
  process.exit(results.some((r) => r.startsWith('not ok')) ? 1 : 0);
}

main().catch(async (e) => {
  for (const line of results) console.log(line);
  console.log(`not ok - the harness itself: ${e && e.stack ? e.stack : e}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
});
