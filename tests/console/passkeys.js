// Passkeys in the console, in headless Chromium with its virtual authenticator (CDP
// `WebAuthn.enable` and `WebAuthn.addVirtualAuthenticator` through playwright-core's
// CDPSession): an administrator registers a passkey on "my account → passkeys" (a
// discoverable one), signs out, signs in with the password and then the passkey (the second
// step offers it), signs out and in again with the passkey alone (no username, no
// password), and removes it (the sign-in just verified a second factor, so no step-up is
// asked); then creates an account with no password and its enrolment link, whose holder
// registers a passkey on the link's page and signs in with it alone. The browser
// talks to the server as `http://localhost:<port>`, the server's `public_origin`: WebAuthn
// binds the passkey to that origin. Started by `cargo test -p rampart-server --test console
// passkeys`. Prints one `ok`/`not ok` line per scenario; every page is checked by axe-core.
//
// Environment: CONSOLE_BASE, CONSOLE_CHROMIUM, CONSOLE_ADMIN_PASSWORD.

'use strict';

const fs = require('fs');
const assert = require('assert');
const { chromium } = require('playwright-core');

const BASE = process.env.CONSOLE_BASE;
const ADMIN_PASSWORD = process.env.CONSOLE_ADMIN_PASSWORD;
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let browser;
const results = [];

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
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  await scenario('a passkey is registered on my account', async () => {
    await password(page);
    assert.strictEqual(new URL(page.url()).pathname, '/console/');
    await page.goto(`${BASE}/console/account`);
    await Promise.all([page.waitForNavigation(), page.click('a:has-text("Passkeys")')]);
    assert.match(await page.textContent('h1'), /Passkeys/);
    assert.ok(await page.locator('#no-passkeys').isVisible());
    await accessible(page, 'passkeys, none yet');
    await page.fill('#name', 'laptop');
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Register a passkey")')]);
    assert.strictEqual(new URL(page.url()).pathname, '/console/account/passkeys');
    assert.deepStrictEqual(
      (await page.locator('#passkeys .passkey-name').allTextContents()).map((t) => t.trim()),
      ['laptop'],
    );
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.strictEqual(credentials.length, 1);
    assert.strictEqual(credentials[0].isResidentCredential, true, 'a discoverable passkey');
    await accessible(page, 'passkeys, one');
    await signOut(page);
  });

  await scenario('signing in asks for the passkey after the password, and takes it', async () => {
    await password(page);
    assert.strictEqual(new URL(page.url()).pathname, '/console/login');
    assert.match(await page.textContent('h1'), /Two-factor sign-in/);
    // No session yet.
    const probe = await context.request.get(`${BASE}/api/v1/auth/me`);
    assert.strictEqual(probe.status(), 401);
    // Only the passkey is offered: no TOTP app, no recovery codes.
    assert.strictEqual(await page.locator('#code').count(), 0);
    await accessible(page, 'second step with a passkey');
    const before = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0].signCount;
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in with a passkey")')]);
    assert.strictEqual(new URL(page.url()).pathname, '/console/');
    const after = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0].signCount;
    assert.ok(after > before, `the counter moved: ${before} → ${after}`);
    const me = await context.request.get(`${BASE}/api/v1/auth/mfa`);
    assert.strictEqual(me.status(), 200);
    const status = await me.json();
    assert.strictEqual(status.passkeys, 1);
    assert.ok(status.second_factor_at, 'the session verified a second factor');
  });

  await scenario('the passkey alone signs in, with no username or password', async () => {
    await signOut(page);
    await page.goto(`${BASE}/console/login`);
    await accessible(page, 'sign-in page offering a passkey');
    const before = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0].signCount;
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in with a passkey")')]);
    assert.strictEqual(new URL(page.url()).pathname, '/console/');
    const after = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0].signCount;
    assert.ok(after > before, `the counter moved: ${before} → ${after}`);
    const me = await context.request.get(`${BASE}/api/v1/auth/me`);
    assert.strictEqual(me.status(), 200);
    assert.strictEqual((await me.json()).user.username, 'root');
    const mfa = await (await context.request.get(`${BASE}/api/v1/auth/mfa`)).json();
    assert.ok(mfa.second_factor_at, 'a passkey alone is both factors');
  });

  await scenario('a passkey is removed with a fresh second factor', async () => {
    await page.goto(`${BASE}/console/account/passkeys`);
    await Promise.all([page.waitForNavigation(), page.click('button[aria-label="Remove passkey laptop"]')]);
    assert.strictEqual(new URL(page.url()).pathname, '/console/account/passkeys');
    assert.ok(await page.locator('#no-passkeys').isVisible());
    await signOut(page);
    // With no factor left, the password alone signs in again.
    await password(page);
    assert.strictEqual(new URL(page.url()).pathname, '/console/');
  });

  await scenario('an account with no password enrols by link and signs in with its passkey alone', async () => {
    // The administrator (signed in with the password above) creates the account and its link.
    await page.goto(`${BASE}/console/users/new`);
    await page.fill('#username', 'nia');
    await page.fill('#email', process.env.CONSOLE_NIA_EMAIL);
    await page.check('#no_password');
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Create user")')]);
    assert.match(new URL(page.url()).pathname, /^\/console\/users\/[0-9a-f-]+$/);
    // A link mailed to her address: the administrator sees where it went, never the link.
    await Promise.all([page.waitForNavigation(), page.click('a:has-text("Mail an enrolment link")')]);
    await accessible(page, 'mailing an enrolment link');
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Mail link")')]);
    assert.match(await page.textContent('main'), /Enrolment link mailed to their address/);
    assert.ok(!(await page.content()).includes('rpe_'), 'the mailed link is not shown');
    // And one to hand over, which replaces it.
    await Promise.all([page.waitForNavigation(), page.click('a:has-text("Enrolment link")')]);
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Issue link")')]);
    const link = await page.inputValue('#link');
    assert.ok(link.startsWith(`${BASE}/enrol#rpe_`), link);
    await accessible(page, 'the enrolment link, shown once');
    await signOut(page);
    // The holder opens the link; the authenticator holds nothing for this site yet.
    await cdp.send('WebAuthn.clearCredentials', { authenticatorId });
    await page.goto(link);
    assert.match(await page.textContent('h1'), /Set up your passkey/);
    assert.strictEqual(new URL(page.url()).hash, '', 'the token left the address bar');
    await accessible(page, 'the enrolment page');
    await page.fill('#name', 'phone');
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Create my passkey")')]);
    assert.match(await page.textContent('h1'), /Your passkey is ready/);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.strictEqual(credentials.length, 1);
    assert.strictEqual(credentials[0].isResidentCredential, true, 'a discoverable passkey');
    // The link is spent: opening it again registers nothing (from another page: the link
    // differs from this page's address only by its fragment).
    await page.goto(`${BASE}/console/login`);
    await page.goto(link);
    await page.fill('#name', 'again');
    await page.click('button:has-text("Create my passkey")');
    await page.waitForSelector('[data-passkey-problem]:not([hidden])');
    assert.match(await page.textContent('[data-passkey-problem]'), /unknown, used, replaced or expired/);
    // The passkey alone signs in.
    await page.goto(`${BASE}/console/login`);
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in with a passkey")')]);
    const me = await context.request.get(`${BASE}/api/v1/auth/me`);
    assert.strictEqual(me.status(), 200);
    assert.strictEqual((await me.json()).user.username, 'nia');
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
