// The console's browser scenarios: Debian's headless Chromium driven by playwright-core,
// every page checked by axe-core. Started by `cargo test -p rampart-server --test console`
// against a server it seeded (see crates/rampart-server/tests/console/main.rs); prints one
// `ok`/`not ok` line per scenario and exits non-zero when any failed.
//
// Environment: CONSOLE_BASE (https://127.0.0.1:port), CONSOLE_CHROMIUM (the executable),
// CONSOLE_ADMIN_PASSWORD, CONSOLE_USER_PASSWORD, CONSOLE_STORE (for messages), and
// CONSOLE_SCREENSHOTS (a directory: write the screenshots there), CONSOLE_DEBUG (print the
// first page's requests, responses and cookies).

'use strict';

const fs = require('fs');
const path = require('path');
const assert = require('assert');
const { chromium } = require('playwright-core');

const BASE = process.env.CONSOLE_BASE;
const ADMIN_PASSWORD = process.env.CONSOLE_ADMIN_PASSWORD;
const USER_PASSWORD = process.env.CONSOLE_USER_PASSWORD;
const SHOTS = process.env.CONSOLE_SCREENSHOTS || '';
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const NEW_PASSWORD = 'cobalt-harbour-meadow-52';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let browser;
const results = [];
const checked = new Set();

async function newPage(viewport = DESKTOP) {
  // A context of its own per user: its own cookies, like separate browsers. The TLS
  // certificate is the server's self-signed one.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  // Pages answer in milliseconds; a missing element fails fast rather than after 30 s.
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  return { context, page };
}

/// axe-core on the page as it is now: no `serious` or `critical` violation.
async function accessible(page, label) {
  // Runtime evaluation is not subject to the page's CSP (which allows no script at all).
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepStrictEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `accessibility of ${label}`,
  );
  checked.add(label);
}

async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

async function signIn(page, username, password) {
  await page.goto(`${BASE}/console/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]:has-text("Sign in")')]);
}

/// The CSRF token a page's forms carry.
async function csrf(page) {
  return page.getAttribute('input[name=_csrf]', 'value');
}

async function scenario(name, body) {
  try {
    await body();
    results.push(`ok - ${name}`);
  } catch (e) {
    results.push(`not ok - ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CONSOLE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // playwright-core starts Chromium with a fresh temporary user-data-dir of its own.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const admin = await newPage();
  const a = admin.page;
  if (process.env.CONSOLE_DEBUG) {
    a.on('response', (r) => console.log('# response', r.status(), r.url(), JSON.stringify(r.headers()['set-cookie'] || '')));
    a.on('request', (r) => console.log('# request', r.method(), r.url(), JSON.stringify(r.headers())));
    await a.goto(`${BASE}/console/users`);
    console.log('# cookies', JSON.stringify(await admin.context.cookies()));
  }

  await scenario('a visitor is sent to sign in, and comes back where they were going', async () => {
    const response = await a.goto(`${BASE}/console/users`);
    assert.strictEqual(new URL(a.url()).pathname, '/console/login');
    assert.strictEqual(new URL(a.url()).searchParams.get('return'), '/console/users');
    const csp = response.headers()['content-security-policy'];
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|script-src/);
    await accessible(a, 'sign-in');
    await shot(a, 'sign-in');
    await a.fill('#username', 'admin');
    await a.fill('#password', 'not-the-password');
    await a.click('button:has-text("Sign in")');
    assert.match(await a.textContent('.error'), /invalid username or password/i);
    assert.strictEqual(new URL(a.url()).pathname, '/console/login');
    await a.fill('#password', ADMIN_PASSWORD);
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Sign in")')]);
    assert.strictEqual(new URL(a.url()).pathname, '/console/users');
  });

  await scenario('the return address never leaves the console', async () => {
    for (const evil of ['https://evil.example/', '//evil.example/x', '/console/../api/v1/users']) {
      await a.goto(`${BASE}/console/login?return=${encodeURIComponent(evil)}`);
      assert.strictEqual(a.url(), `${BASE}/console/`, evil);
    }
    await accessible(a, 'overview');
    await shot(a, 'overview');
  });

  let frank = '';
  await scenario('an administrator creates a user and finds it in the search', async () => {
    await a.goto(`${BASE}/console/users`);
    await accessible(a, 'users');
    await shot(a, 'users');
    await a.click('a:has-text("New user")');
    await accessible(a, 'new user');
    await a.selectOption('#provider', 'end');
    await a.fill('#username', 'frank');
    await a.fill('#display_name', 'Frank Ocean');
    await a.fill('#password', 'short');
    await a.click('button:has-text("Create user")');
    // The password policy's answer, next to the field, the form kept as filled.
    assert.match(await a.textContent('#password-problem'), /password/i);
    assert.strictEqual(await a.getAttribute('#password', 'aria-invalid'), 'true');
    assert.strictEqual(await a.inputValue('#username'), 'frank');
    await accessible(a, 'new user with an error');
    await a.fill('#password', USER_PASSWORD);
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Create user")')]);
    assert.match(await a.textContent('.notice'), /User created/);
    frank = new URL(a.url()).pathname.split('/').pop();
    await a.goto(`${BASE}/console/users`);
    await a.fill('#q', 'fra');
    await a.selectOption('#provider', 'end');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Search")')]);
    const rows = await a.locator('tbody tr').allTextContents();
    assert.strictEqual(rows.length, 1, rows.join('|'));
    assert.match(rows[0], /frank/);
    assert.match(rows[0], /Frank Ocean/);
    await a.goto(`${BASE}/console/users?q=nobody-by-this-name`);
    assert.match(await a.textContent('.empty'), /No user matches/);
  });

  await scenario('disabling asks first, then the user can be enabled again', async () => {
    await a.goto(`${BASE}/console/users/${frank}`);
    await accessible(a, 'user');
    await shot(a, 'user');
    await a.click('a:has-text("Disable")');
    assert.strictEqual(new URL(a.url()).pathname, `/console/users/${frank}/disable`);
    assert.match(await a.textContent('h1'), /Disable frank\?/);
    await accessible(a, 'confirmation');
    await shot(a, 'confirm-disable');
    // Cancel changes nothing.
    await a.click('a:has-text("Cancel")');
    assert.match(await a.textContent('.badge.on'), /active/);
    await a.click('a:has-text("Disable")');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Disable")')]);
    assert.match(await a.textContent('.notice'), /User disabled/);
    assert.match(await a.textContent('dd .badge'), /disabled/);
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Enable")')]);
    assert.match(await a.textContent('.notice'), /User enabled/);
    assert.match(await a.textContent('dd .badge'), /active/);
  });

  await scenario('reset password (policy errors on the field), unlock, end sessions', async () => {
    await a.goto(`${BASE}/console/users/${frank}/reset-password`);
    await a.fill('#password', 'frank');
    await a.click('button:has-text("Set password")');
    assert.match(await a.textContent('#password-problem'), /password/i);
    await a.fill('#password', NEW_PASSWORD);
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Set password")')]);
    assert.match(await a.textContent('.notice'), /Password set/);
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Unlock")')]);
    assert.match(await a.textContent('.notice'), /lock lifted/);
    await a.click('a:has-text("End sessions")');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("End sessions")')]);
    assert.match(await a.textContent('.notice'), /Every session of theirs has ended/);
  });

  await scenario('my sessions: the other session of mine can be ended', async () => {
    await a.goto(`${BASE}/console/account`);
    await accessible(a, 'my account');
    await shot(a, 'account');
    const before = await a.locator('tbody tr').count();
    assert.ok(before >= 2, `two sessions (the API's and this one), saw ${before}`);
    assert.strictEqual(await a.locator('.badge.on:has-text("this session")').count(), 1);
    const other = a.locator('tbody tr', { hasNot: a.locator('.badge.on') }).first();
    await Promise.all([a.waitForNavigation(), other.locator('button').click()]);
    assert.match(await a.textContent('.notice'), /session has ended/);
    assert.strictEqual(await a.locator('tbody tr').count(), before - 1);
  });

  await scenario('unknown console pages are a 404 page, forms without the token are refused', async () => {
    const response = await a.goto(`${BASE}/console/no-such-page`);
    assert.strictEqual(response.status(), 404);
    assert.match(await a.textContent('h1'), /Page not found/);
    await accessible(a, 'not found');
    const forged = await admin.context.request.post(`${BASE}/console/users/${frank}/disable`, {
      form: { _csrf: 'not-the-token' },
      headers: { Origin: BASE },
      maxRedirects: 0,
    });
    assert.strictEqual(forged.status(), 403);
    assert.match(await forged.text(), /Form refused/);
    const crossSite = await admin.context.request.post(`${BASE}/console/users/${frank}/disable`, {
      form: { _csrf: await csrf(a) },
      headers: { Origin: 'https://evil.example' },
      maxRedirects: 0,
    });
    assert.strictEqual(crossSite.status(), 403);
  });

  await scenario('at phone width the pages still work', async () => {
    const phone = await newPage(PHONE);
    await signIn(phone.page, 'admin', ADMIN_PASSWORD);
    await phone.page.goto(`${BASE}/console/users`);
    assert.ok(await phone.page.isVisible('a:has-text("New user")'));
    const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `no sideways scrolling: ${width}px`);
    await accessible(phone.page, 'users at phone width');
    await shot(phone.page, 'users-phone');
    await phone.context.close();
  });

  await scenario('change my password: errors next to the fields, then sign in with the new one', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'carol', USER_PASSWORD);
    await page.goto(`${BASE}/console/account`);
    await page.fill('#current_password', USER_PASSWORD);
    await page.fill('#password', NEW_PASSWORD);
    await page.fill('#confirm', 'something-else-entirely-93');
    await page.click('button:has-text("Change password")');
    assert.match(await page.textContent('#confirm-problem'), /differ/);
    await page.fill('#current_password', 'wrong-current-password-1');
    await page.fill('#password', NEW_PASSWORD);
    await page.fill('#confirm', NEW_PASSWORD);
    await page.click('button:has-text("Change password")');
    assert.match(await page.textContent('#current-problem'), /invalid username or password/i);
    await page.fill('#current_password', USER_PASSWORD);
    await page.fill('#password', 'carol');
    await page.fill('#confirm', 'carol');
    await page.click('button:has-text("Change password")');
    assert.match(await page.textContent('#password-problem'), /password/i);
    await accessible(page, 'my account with errors');
    await page.fill('#current_password', USER_PASSWORD);
    await page.fill('#password', NEW_PASSWORD);
    await page.fill('#confirm', NEW_PASSWORD);
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Change password")')]);
    assert.strictEqual(new URL(page.url()).pathname, '/console/login');
    assert.match(await page.textContent('.notice'), /password has been changed/);
    await signIn(page, 'carol', NEW_PASSWORD);
    assert.strictEqual(new URL(page.url()).pathname, '/console/');
    await context.close();
  });

  await scenario('an IT user without user rights sees no Users and is refused them', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'carol', NEW_PASSWORD);
    assert.strictEqual(await page.locator('nav a:has-text("Users")').count(), 0);
    const response = await page.goto(`${BASE}/console/users`);
    assert.strictEqual(response.status(), 403);
    assert.match(await page.textContent('.error'), /only IT administrators and auditors may read users/);
    await accessible(page, 'refusal');
    assert.strictEqual((await page.goto(`${BASE}/console/audit`)).status(), 403);
    const forged = await context.request.post(`${BASE}/console/users/new`, {
      form: { _csrf: await csrf(page), provider: 'end', username: 'mallory', password: NEW_PASSWORD },
      headers: { Origin: BASE },
      maxRedirects: 0,
    });
    assert.strictEqual(forged.status(), 403);
    await context.close();
  });

  await scenario('an auditor reads users, and their buttons are absent and refused', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'audrey', USER_PASSWORD);
    await page.goto(`${BASE}/console/users?q=dana`);
    assert.strictEqual(await page.locator('a:has-text("New user")').count(), 0);
    await Promise.all([page.waitForNavigation(), page.click('a:has-text("dana")')]);
    const dana = new URL(page.url()).pathname.split('/').pop();
    assert.strictEqual(await page.locator('#manage').count(), 0);
    assert.strictEqual(await page.locator('form[action*="/enable"], a[href$="/disable"]').count(), 0);
    await accessible(page, 'user, read-only');
    await shot(page, 'user-auditor');
    const confirm = await page.goto(`${BASE}/console/users/${dana}/disable`);
    assert.strictEqual(confirm.status(), 403);
    await page.goto(`${BASE}/console/users/${dana}`);
    const forged = await context.request.post(`${BASE}/console/users/${dana}/disable`, {
      form: { _csrf: await csrf(page) },
      headers: { Origin: BASE },
      maxRedirects: 0,
    });
    assert.strictEqual(forged.status(), 403);
    assert.match(await forged.text(), /only IT administrators may manage users/);
    await page.reload();
    assert.match(await page.textContent('dd .badge'), /active/);
    // Auditors read the audit log too.
    assert.strictEqual((await page.goto(`${BASE}/console/audit`)).status(), 200);
    await context.close();
  });

  await scenario('an auditor reads the security posture; an IT user without audit rights is refused it', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'audrey', USER_PASSWORD);
    await Promise.all([page.waitForNavigation(), page.click('nav a:has-text("Posture")')]);
    assert.match(await page.textContent('h1'), /Security posture/);
    assert.match(await page.textContent('main'), /The platform.s controls/);
    assert.match(await page.textContent('#control-identity\\.admin-mfa'), /mfa available: yes/);
    await accessible(page, 'posture');
    await shot(page, 'posture');
    await context.close();
    const carol = await newPage();
    await signIn(carol.page, 'carol', NEW_PASSWORD);
    assert.strictEqual(await carol.page.locator('nav a:has-text("Posture")').count(), 0);
    assert.strictEqual((await carol.page.goto(`${BASE}/console/posture`)).status(), 403);
    await carol.context.close();
  });

  await scenario("an end user gets the support desk and their account, and nothing else", async () => {
    const { context, page } = await newPage();
    // The console's sign-in for IT users does not take an end user's password.
    await page.goto(`${BASE}/console/login`);
    await page.fill('#username', 'erin');
    await page.fill('#password', USER_PASSWORD);
    await page.click('button:has-text("Sign in")');
    assert.strictEqual(new URL(page.url()).pathname, '/console/login');
    assert.match(await page.textContent('.error'), /invalid username or password/i);
    // With an end user's session, the overview is the support desk, the account page
    // opens, and every other page refuses.
    const login = await context.request.post(`${BASE}/api/v1/auth/login`, {
      data: { provider: 'end', username: 'erin', password: USER_PASSWORD },
    });
    assert.strictEqual(login.status(), 200);
    const home = await page.goto(`${BASE}/console/`);
    assert.strictEqual(home.status(), 200);
    assert.strictEqual(new URL(page.url()).pathname, '/console/support');
    const nav = await page.$$eval('nav[aria-label=Console] a', (as) => as.map((x) => x.textContent.trim()));
    assert.deepStrictEqual(nav, ['Support', 'My account']);
    assert.strictEqual((await page.goto(`${BASE}/console/account`)).status(), 200);
    for (const at of ['/console/users', '/console/audit', '/console/deployments']) {
      const response = await page.goto(`${BASE}${at}`);
      assert.strictEqual(response.status(), 403, at);
      assert.match(await page.textContent('.error'), /This part of the console is for IT users/, at);
      assert.strictEqual(await page.locator('nav').count(), 0, at);
    }
    await accessible(page, 'end user refused');
    await context.close();
  });

  await scenario('the audit log: filters, a chart of events by stream, an event', async () => {
    await a.goto(`${BASE}/console/audit`);
    assert.ok((await a.locator('svg.chart rect').count()) > 0, 'the chart has bars');
    assert.match(await a.textContent('svg.chart desc'), /system/);
    await accessible(a, 'audit');
    await shot(a, 'audit');
    await a.selectOption('#stream', 'system');
    await a.fill('#action', 'user.create');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Search")')]);
    const rows = await a.locator('tbody tr').allTextContents();
    assert.ok(rows.length >= 4, rows.join('|'));
    assert.ok(rows.every((r) => /user\.create/.test(r)), rows.join('|'));
    await Promise.all([a.waitForNavigation(), a.locator('tbody tr a').first().click()]);
    assert.match(await a.textContent('h1'), /Event \d+/);
    assert.match(await a.textContent('h2#facts'), /user\.create/);
    await accessible(a, 'audit event');
    const bad = await a.goto(`${BASE}/console/audit?since=yesterday`);
    assert.strictEqual(bad.status(), 422);
    assert.match(await a.textContent('.error'), /RFC 3339/);
    const missing = await a.goto(`${BASE}/console/audit/999999`);
    assert.strictEqual(missing.status(), 404);
  });

  await scenario('the audit log: a chart of failed sign-ins and denials over time', async () => {
    await a.goto(`${BASE}/console/audit`);
    const chart = a.locator('section[aria-labelledby="chart-failures"]');
    assert.match(await chart.locator('h2').textContent(), /Failed sign-ins and denials/);
    assert.ok((await chart.locator('rect.s-failed-login').count()) > 0, 'failed sign-ins are plotted');
    assert.ok((await chart.locator('rect.s-denial').count()) > 0, 'denials are plotted');
    const desc = await chart.locator('desc').textContent();
    // The seed mistyped dana's password twice; the totals are those of the log.
    const failed = Number(/failed-login: (\d+)/.exec(desc)[1]);
    assert.ok(failed >= 2, desc);
    const response = await a.context().request.get(`${BASE}/api/v1/audit/events?action=auth.login&outcome=failure&limit=500`);
    assert.strictEqual((await response.json()).items.length, failed, desc);
    await accessible(a, 'audit with both charts');
  });

  let proved = 0;
  await scenario("an event's inclusion proof verifies against the newest signed checkpoint, and its bundle downloads", async () => {
    await a.goto(`${BASE}/console/audit?stream=system&action=user.create`);
    await Promise.all([a.waitForNavigation(), a.locator('tbody tr a').first().click()]);
    proved = Number(new URL(a.url()).pathname.split('/').pop());
    if ((await a.locator('button:has-text("Sign a checkpoint now")').count()) > 0) {
      assert.match(await a.textContent('#proof ~ p'), /No signed checkpoint covers this event yet/);
      await Promise.all([a.waitForNavigation(), a.click('button:has-text("Sign a checkpoint now")')]);
    }
    assert.strictEqual(new URL(a.url()).pathname, `/console/audit/${proved}`);
    assert.match(await a.textContent('#proof-result'), new RegExp(`^Verified: event ${proved} is leaf ${proved - 1} of the tree of \\d+ events`));
    assert.ok((await a.locator('ol.proof-path li').count()) > 0);
    assert.match(await a.textContent('pre.details >> nth=1'), /\n\n\u2014 /);
    await accessible(a, 'audit event with its proof');
    await a.locator('#proof').scrollIntoViewIfNeeded();
    await shot(a, 'audit-proof');
    const [download] = await Promise.all([
      a.waitForEvent('download'),
      a.click('a:has-text("Download the proof bundle")'),
    ]);
    assert.strictEqual(download.suggestedFilename(), `event-${proved}-proof.json`);
    const bundle = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
    assert.strictEqual(bundle.format, 'rampart-audit-proof/1');
    assert.strictEqual(bundle.seq, proved);
    if (process.env.CONSOLE_OUT) {
      fs.writeFileSync(path.join(process.env.CONSOLE_OUT, 'proof.json'), JSON.stringify(bundle));
    }
    // Not covered yet, a bad number: the page says so and nothing else.
    assert.strictEqual((await a.goto(`${BASE}/console/audit/0/proof.json`)).status(), 404);
    assert.strictEqual((await a.goto(`${BASE}/console/audit/999999/proof.json`)).status(), 404);
  });

  await scenario("export: the search's matches as CSV and JSON lines, attachments with the search's content", async () => {
    const filters = 'stream=system&action=user.create';
    await a.goto(`${BASE}/console/audit?${filters}`);
    const shown = (await a.locator('tbody tr td:first-child').allTextContents()).map(Number);
    assert.ok(shown.length >= 4);
    const href = await a.getAttribute('a:has-text("Export as CSV")', 'href');
    assert.strictEqual(href, `/console/audit/export?format=csv&${filters}`);
    const csv = await a.context().request.get(`${BASE}${href}`);
    assert.strictEqual(csv.status(), 200);
    assert.match(csv.headers()['content-disposition'], /^attachment; filename="audit.csv"/);
    assert.match(csv.headers()['content-type'], /text\/csv/);
    const lines = (await csv.text()).trim().split('\n');
    assert.match(lines[0], /^seq,time,stream,actor,action/);
    assert.deepStrictEqual(lines.slice(1).map((l) => Number(l.split(',')[0])), [...shown].reverse());
    const jsonl = await a.context().request.get(`${BASE}/console/audit/export?format=jsonl&${filters}`);
    assert.match(jsonl.headers()['content-disposition'], /^attachment; filename="audit.jsonl"/);
    const events = (await jsonl.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepStrictEqual(events.map((e) => e.seq), [...shown].reverse());
    assert.ok(events.every((e) => e.stream === 'system' && e.action === 'user.create'));
    // The API's export of the same filters is the same file.
    const api = await a.context().request.get(`${BASE}/api/v1/audit/events?format=jsonl&${filters}`);
    assert.strictEqual(await api.text(), await jsonl.text());
    for (const [at, says] of [
      ['/console/audit/export?format=xml', /format/],
      ['/console/audit/export?format=csv&since=yesterday', /RFC 3339/],
    ]) {
      const bad = await a.goto(`${BASE}${at}`);
      assert.strictEqual(bad.status(), 422, at);
      assert.match(await a.textContent('main'), says, at);
    }
  });

  await scenario('an auditor reads the charts, proofs and exports, and changes nothing', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'audrey', USER_PASSWORD);
    await page.goto(`${BASE}/console/audit`);
    assert.strictEqual(await page.locator('svg.chart').count(), 2);
    assert.strictEqual(await changingForms(page), 0);
    await page.goto(`${BASE}/console/audit/${proved}`);
    assert.match(await page.textContent('#proof-result'), /^Verified/);
    assert.strictEqual(await changingForms(page), 0);
    await accessible(page, 'audit event, auditor');
    const csv = await context.request.get(`${BASE}/console/audit/export?format=csv&stream=system`);
    assert.strictEqual(csv.status(), 200);
    // Someone who may not read the audit log is refused the export and the proof.
    const other = await newPage();
    await signIn(other.page, 'carol', NEW_PASSWORD);
    for (const at of ['/console/audit/export?format=csv', `/console/audit/${proved}/proof.json`]) {
      const refused = await other.context.request.get(`${BASE}${at}`);
      assert.strictEqual(refused.status(), 403, at);
      assert.doesNotMatch(await refused.text(), /seq,time|rampart-audit-proof/, at);
    }
    await other.context.close();
    await context.close();
  });

  await scenario('an end user signs in to an application, records a sale through its form, and another rep never sees it', async () => {
    const app = `${BASE}/apps/development/shop`;
    const erin = await newPage();
    const e = erin.page;
    await e.goto(`${app}/Sales`);
    assert.strictEqual(new URL(e.url()).pathname, '/apps/development/shop/login');
    await accessible(e, 'application sign-in');
    await e.fill('#username', 'erin');
    await e.fill('#password', USER_PASSWORD);
    await Promise.all([e.waitForNavigation(), e.click('button:has-text("Sign in")')]);
    assert.strictEqual(new URL(e.url()).pathname, '/apps/development/shop/Sales');
    await accessible(e, 'application list');
    await Promise.all([e.waitForNavigation(), e.click('a:has-text("New sale")')]);
    await accessible(e, 'application form');
    await e.fill('#f-amount', '12.50');
    await e.fill('#f-note', '<b>from the browser</b>');
    await Promise.all([e.waitForNavigation(), e.click('button:has-text("Save")')]);
    const detail = new URL(e.url());
    assert.strictEqual(detail.pathname, '/apps/development/shop/SaleDetail');
    assert.ok(detail.searchParams.get('sale'), e.url());
    // The note is text, not markup.
    assert.match(await e.textContent('main'), /<b>from the browser<\/b>/);
    assert.strictEqual(await e.locator('main b').count(), 0);
    await accessible(e, 'application detail');
    await e.goto(`${app}/Sales`);
    const mine = await e.locator('tbody tr').allTextContents();
    assert.ok(mine.some((r) => /^12\.5\b/.test(r.trim()) && /from the browser/.test(r)), mine.join('|'));
    await shot(e, 'app-sales');

    const dana = await newPage();
    const d = dana.page;
    await d.goto(`${app}/login`);
    await d.fill('#username', 'dana');
    await d.fill('#password', USER_PASSWORD);
    await Promise.all([d.waitForNavigation(), d.click('button:has-text("Sign in")')]);
    await d.goto(`${app}/Sales`);
    const hers = await d.locator('tbody tr').allTextContents();
    assert.ok(!hers.some((r) => /from the browser/.test(r)), hers.join('|'));
    const other = await d.goto(detail.href);
    assert.strictEqual(other.status(), 404);
    await erin.context.close();
    await dana.context.close();
  });

  /// The forms of the current page that change something (every page has the sign-out form).
  async function changingForms(page) {
    return page.locator('form[method=post]:not([action="/console/logout"])').count();
  }

  let carol = '';
  await scenario('the permission matrix: a grant in a cell takes effect, and the deciding grant shows on focus', async () => {
    // Before: carol holds no level on crm, which she may not even know exists.
    const c = await newPage();
    await signIn(c.page, 'carol', NEW_PASSWORD);
    assert.strictEqual((await c.page.goto(`${BASE}/console/modules/crm`)).status(), 404);
    assert.strictEqual(await c.page.locator('nav a:has-text("Permissions")').count(), 0);
    assert.strictEqual((await c.page.goto(`${BASE}/console/permissions`)).status(), 403);

    await a.goto(`${BASE}/console/permissions?q=carol`);
    await accessible(a, 'permissions');
    const rows = await a.locator('table.matrix tbody tr').allTextContents();
    assert.strictEqual(rows.length, 1, rows.join('|'));
    const cell = a.locator('table.matrix tbody tr a[href*="module=crm"][href*="environment=development"]');
    carol = new URL(await cell.getAttribute('href'), BASE).searchParams.get('user');
    assert.match(await cell.textContent(), /development\s+none/);
    // The deciding grant: hidden until the level is focused from the keyboard.
    const why = a.locator(`#${await cell.getAttribute('aria-describedby')}`);
    assert.strictEqual(await why.isVisible(), false);
    await cell.focus();
    assert.ok(await why.isVisible(), 'the reason shows on focus');
    assert.match(await why.textContent(), /holds no IT permissions|no grant applies/);
    assert.strictEqual(await cell.getAttribute('title'), await why.textContent());

    await Promise.all([a.waitForNavigation(), a.keyboard.press('Enter')]);
    assert.match(await a.textContent('h1'), /carol on crm in development/);
    await accessible(a, 'permission cell');
    await a.selectOption('#level', 'open');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Save override")')]);
    assert.match(await a.textContent('.notice'), /Override saved/);
    assert.match(await a.textContent('#decided'), /override on module crm in development/);
    await shot(a, 'permission-cell');
    await a.goto(`${BASE}/console/permissions?q=carol&application=shop`);
    const after = a.locator('table.matrix tbody tr a[href*="module=crm"][href*="environment=development"]');
    assert.match(await after.textContent(), /development\s+open/);
    assert.strictEqual(await after.getAttribute('title'), 'override on module crm in development');
    await after.focus();
    await shot(a, 'permissions');
    // A form per row: only the cells chosen change, all in one write.
    await Promise.all([a.waitForNavigation(), a.click('a:has-text("Edit row")')]);
    await accessible(a, 'permission row being edited');
    await a.selectOption('select[aria-label="carol on crm in quality"]', 'reference');
    await shot(a, 'permissions-row');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Save row")')]);
    assert.match(await a.textContent('.notice'), /Saved 1 override/);
    const quality = a.locator('table.matrix tbody tr a[href*="module=crm"][href*="environment=quality"]');
    assert.match(await quality.textContent(), /quality\s+reference/);
    assert.strictEqual(await quality.getAttribute('title'), 'override on module crm in quality');
    assert.match(await after.textContent(), /development\s+open/);
    assert.strictEqual(await a.locator('select[form=row-form]').count(), 0);

    // After: carol knows crm now and reads its source (open), in development only.
    assert.strictEqual((await c.page.goto(`${BASE}/console/modules/crm`)).status(), 200);
    assert.strictEqual((await c.page.goto(`${BASE}/console/modules/crm/versions/1`)).status(), 200);
    assert.match(await c.page.textContent('pre'), /module: crm/);
    await c.context.close();

    // A level that does not exist is refused with the API's words, and nothing changes.
    const bad = await admin.context.request.post(`${BASE}/console/permissions/cell`, {
      form: { _csrf: await csrf(a), user: carol, module: 'crm', environment: 'development', level: 'root' },
      headers: { Origin: BASE },
      maxRedirects: 0,
    });
    assert.strictEqual(bad.status(), 422);
    assert.match(await bad.text(), /must be one of none, reference, open, change, deploy, full/);
  });

  await scenario('application roles: members with their end, grant until a time, revoke after confirming', async () => {
    await a.goto(`${BASE}/console/permissions/roles?application=shop`);
    const members = await a.locator('tbody tr').allTextContents();
    assert.ok(members.some((m) => /Rep/.test(m) && /dana/.test(m)), members.join('|'));
    await a.selectOption('#role', 'Rep');
    await a.fill('#name', 'nobody-by-this-name');
    await a.click('button:has-text("Grant")');
    assert.match(await a.textContent('.error'), /no user named `nobody-by-this-name`/);
    await a.fill('#name', 'frank');
    await a.fill('#until', '2031-03-31T18:00');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Grant")')]);
    assert.match(await a.textContent('.notice'), /Role granted/);
    const row = a.locator('tbody tr', { hasText: 'frank' });
    assert.match(await row.textContent(), /2031-03-31 18:00/);
    await accessible(a, 'application roles');
    await shot(a, 'roles');
    await Promise.all([a.waitForNavigation(), row.locator('a:has-text("Revoke")').click()]);
    assert.match(await a.textContent('h1'), /Revoke Rep from user:/);
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Revoke")')]);
    assert.match(await a.textContent('.notice'), /Grant revoked/);
    assert.strictEqual(await a.locator('tbody tr', { hasText: 'frank' }).count(), 0);
  });

  await scenario('modules: versions, public elements, and a side-by-side diff of two versions', async () => {
    await a.goto(`${BASE}/console/modules`);
    await accessible(a, 'modules');
    await Promise.all([a.waitForNavigation(), a.click('a:has-text("crm")')]);
    const versions = await a.locator('section[aria-labelledby=versions] tbody tr').allTextContents();
    assert.strictEqual(versions.length, 2, versions.join('|'));
    assert.match(versions[0], /longer notes, a sales channel/);
    assert.match(await a.textContent('#surface'), /Public elements of v2/);
    await accessible(a, 'module');
    await shot(a, 'module');
    await a.selectOption('#from', '1');
    await a.selectOption('#to', '2');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Compare")')]);
    assert.strictEqual(new URL(a.url()).pathname, '/console/modules/crm/diff');
    // The structured change and the line diff, old on the left, new on the right.
    assert.match(await a.textContent('section[aria-labelledby=structured]'), /max_length/);
    const removed = await a.locator('table.sbs td.del').allTextContents();
    const added = await a.locator('table.sbs td.add').allTextContents();
    assert.ok(removed.some((l) => /max_length: 200/.test(l)), removed.join('|'));
    assert.ok(added.some((l) => /max_length: 300/.test(l)), added.join('|'));
    assert.ok(added.some((l) => /name: channel/.test(l)), added.join('|'));
    await accessible(a, 'diff');
    await shot(a, 'diff');
    const bad = await a.goto(`${BASE}/console/modules/crm/diff?from=1&to=9`);
    assert.strictEqual(bad.status(), 404);
    assert.strictEqual((await a.goto(`${BASE}/console/modules/no-such-module`)).status(), 404);
  });

  await scenario('a contractor with reference sees the public surface only; source and diff refuse', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'connie', USER_PASSWORD);
    await page.goto(`${BASE}/console/modules/crm`);
    const surface = await page.textContent('section[aria-labelledby=surface]');
    assert.match(surface, /entity\s*Sale/);
    assert.match(surface, /amount: decimal/);
    assert.match(await page.textContent('main'), /public elements only/);
    assert.strictEqual(await page.locator('a[href*="/versions/"], form[action$="/diff"]').count(), 0);
    await accessible(page, 'module, reference only');
    await shot(page, 'module-reference');
    for (const at of ['/console/modules/crm/versions/1', '/console/modules/crm/diff?from=1&to=2']) {
      const response = await page.goto(`${BASE}${at}`);
      assert.strictEqual(response.status(), 403, at);
      assert.match(await page.textContent('.error'), /needs `open` on module `crm` in development; you hold `reference`/, at);
    }
    await context.close();
  });

  await scenario('deploy, stage with the plan first, and a second operator approves', async () => {
    const o = await newPage();
    const op = o.page;
    await signIn(op, 'olga', USER_PASSWORD);
    await op.goto(`${BASE}/console/deployments`);
    await accessible(op, 'deployments');
    await op.selectOption('#d-module', 'crm');
    await op.fill('#d-version', '2');
    await op.selectOption('#d-env', 'quality');
    await Promise.all([op.waitForNavigation(), op.click('button:has-text("Preview deployment")')]);
    assert.match(await op.textContent('h1'), /Deploy crm v2 to quality\?/);
    const plan = await op.locator('tbody tr').allTextContents();
    assert.strictEqual(plan.length, 1, plan.join('|'));
    assert.match(plan[0], /crm\s*nothing\s*v2/);
    await accessible(op, 'deployment plan');
    await Promise.all([op.waitForNavigation(), op.click('button:has-text("Run it")')]);
    assert.match(await op.textContent('.notice'), /Deployed/);
    const crm = op.locator('section[aria-labelledby=board] tbody tr', { hasText: 'crm' });
    assert.deepStrictEqual(await crm.locator('td').allTextContents(), ['v1', 'v2', 'not deployed']);
    // Production needs a second approver: staging there makes a request.
    await op.selectOption('#s-env', 'production');
    await Promise.all([op.waitForNavigation(), op.click('button:has-text("Preview stage")')]);
    assert.match(await op.textContent('h1'), /Stage everything into production/);
    await shot(op, 'plan');
    await Promise.all([op.waitForNavigation(), op.click('button:has-text("Request approval")')]);
    assert.match(await op.textContent('.notice'), /Waiting for a second approver: request (\d+)/);
    const id = (await op.textContent('.notice')).match(/request (\d+)/)[1];
    // The requester cannot approve her own request.
    const own = await o.context.request.post(`${BASE}/console/deployments/production/requests/${id}/approve`, {
      form: { _csrf: await csrf(op) },
      headers: { Origin: BASE },
      maxRedirects: 0,
    });
    assert.strictEqual(own.status(), 403);
    await o.context.close();

    const s = await newPage();
    const second = s.page;
    await signIn(second, 'oscar', USER_PASSWORD);
    await second.goto(`${BASE}/console/deployments`);
    const pending = second.locator('section[aria-labelledby=pending] tbody tr', { hasText: `#${id}` });
    assert.match(await pending.textContent(), /olga/);
    await shot(second, 'deployments');
    await Promise.all([second.waitForNavigation(), pending.locator('button:has-text("Approve")').click()]);
    assert.match(await second.textContent('.notice'), new RegExp(`Request ${id} approved and deployed`));
    const row = second.locator('section[aria-labelledby=board] tbody tr', { hasText: 'crm' });
    assert.deepStrictEqual(await row.locator('td').allTextContents(), ['v1', 'v2', 'v2']);
    assert.match(await second.textContent('section[aria-labelledby=pending]'), /Nothing waits for approval/);
    assert.match(await second.textContent('section[aria-labelledby=history]'), /production\s*crm\s*none → v2/);
    await s.context.close();
  });

  await scenario('hierarchies: why mia sees a record, move a subtree with a preview, and the answer changes', async () => {
    const explain = async (user) => {
      await a.goto(`${BASE}/console/hierarchies`);
      await a.fill('#user', user);
      await a.selectOption('#entity', 'Deal');
      await a.fill('#record', 'd-1');
      await Promise.all([a.waitForNavigation(), a.click('button:has-text("Explain")')]);
      return a.textContent('.answer');
    };
    const before = await explain('mia');
    assert.match(before, /^\s*Allowed \(owner\)/);
    assert.deepStrictEqual(await a.locator('ol.path li').allTextContents(), ['mia', 'dana', 'erin']);
    await accessible(a, 'hierarchies');
    await shot(a, 'hierarchies');
    await a.goto(`${BASE}/console/hierarchies?user=nobody-by-this-name&entity=Deal&record=d-1`);
    assert.match(await a.textContent('.error'), /no user named `nobody-by-this-name`/);

    await a.goto(`${BASE}/console/hierarchies/reports`);
    await Promise.all([a.waitForNavigation(), a.click('td a:has-text("mia")')]);
    const dana = a.locator('tbody tr', { hasText: 'dana' });
    assert.match(await dana.textContent(), /dana\s*1\s*2/);
    await accessible(a, 'hierarchy');
    await Promise.all([a.waitForNavigation(), dana.locator('a:has-text("Move")').click()]);
    // A cycle is refused with its reason and nothing changes.
    await a.fill('#parent', 'erin');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Preview")')]);
    assert.match(await a.textContent('.error'), /cannot move there/);
    await a.fill('#parent', 'nick');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Preview")')]);
    assert.deepStrictEqual(await a.locator('#leaves li').allTextContents(), ['mia']);
    assert.deepStrictEqual(await a.locator('#joins li').allTextContents(), ['nick']);
    await accessible(a, 'move preview');
    await shot(a, 'move-preview');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Move dana")')]);
    assert.match(await a.textContent('.notice'), /Moved/);
    assert.match(await a.textContent('nav.crumbs'), /nick/);
    assert.ok((await a.locator('tbody tr', { hasText: 'dana' }).count()) === 1);

    assert.match(await explain('mia'), /^\s*Not allowed/);
    assert.match(await explain('nick'), /^\s*Allowed \(owner\)/);
    assert.deepStrictEqual(await a.locator('ol.path li').allTextContents(), ['nick', 'dana', 'erin']);

    // Rebuilding the index: the page says what it does, the button starts it, and the page
    // follows it (its script, with the page's nonce) until it is done with the result.
    await a.goto(`${BASE}/console/hierarchies`);
    await Promise.all([a.waitForNavigation(), a.click('a:has-text("Rebuild the index")')]);
    await accessible(a, 'rebuild');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Rebuild now")')]);
    await a.waitForSelector('#rebuild-progress[data-state="ended"]');
    assert.match(await a.textContent('#rebuild-progress .notice'), /Done: 1 hierarchy rebuilt, 5 nodes checked, 0 paths repaired, 0 cycles broken/);
    await accessible(a, 'rebuild done');
  });

  await scenario('an auditor reads permissions, roles, modules and deployments, with no form that changes anything', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'audrey', USER_PASSWORD);
    const pages = [
      '/console/permissions',
      `/console/permissions/cell?user=${carol}&module=crm&environment=development`,
      '/console/permissions/roles?application=shop',
      '/console/modules/crm',
      '/console/deployments',
      '/console/hierarchies?user=nick&entity=Deal&record=d-1',
      '/console/hierarchies/reports',
    ];
    for (const at of pages) {
      const response = await page.goto(`${BASE}${at}`);
      assert.strictEqual(response.status(), 200, at);
      assert.strictEqual(await changingForms(page), 0, at);
      assert.strictEqual(await page.locator('form[action="/console/deployments/plan"], a:has-text("Revoke")').count(), 0, at);
    }
    await accessible(page, 'deployments, read-only');
    assert.strictEqual(await page.locator('a:has-text("Move")').count(), 0);
    assert.strictEqual((await page.goto(`${BASE}/console/hierarchies/reports/move?node=x`)).status(), 403);
    // An auditor holds `reference` on modules: the source and diffs refuse them as the API does.
    assert.strictEqual((await page.goto(`${BASE}/console/modules/crm/diff?from=1&to=2`)).status(), 403);
    await page.goto(`${BASE}${pages[1]}`);
    assert.match(await page.textContent('#decided'), /override on module crm in development/);
    // Forged changes are refused with the API's words.
    const forged = await context.request.post(`${BASE}/console/permissions/cell`, {
      form: { _csrf: await csrf(page), user: carol, module: 'crm', environment: 'development', level: 'full' },
      headers: { Origin: BASE },
      maxRedirects: 0,
    });
    assert.strictEqual(forged.status(), 403);
    assert.match(await forged.text(), /you need `full` on/);
    const grant = await context.request.post(`${BASE}/console/permissions/roles/grant`, {
      form: { _csrf: await csrf(page), application: 'shop', role: 'Rep', kind: 'user', name: 'frank' },
      headers: { Origin: BASE },
      maxRedirects: 0,
    });
    assert.strictEqual(grant.status(), 403);
    assert.match(await grant.text(), /only IT administrators may manage users/);
    await context.close();
  });

  await scenario('bad input on the new pages is a clear error that says what is wrong', async () => {
    // (address, status, what the page says)
    const cases = [
      ['/console/permissions?application=nope', 422, /no application named `nope`/],
      ['/console/permissions?environment=moon', 422, /no environment `moon`/],
      ['/console/permissions/cell?user=not-an-id&module=crm&environment=development', 422, /user/],
      [`/console/permissions/cell?user=${carol}&module=nope&environment=development`, 404, /not found|no such|does not exist/i],
      [`/console/permissions/cell?user=${carol}&module=crm&environment=moon`, 422, /no environment `moon`/],
      ['/console/permissions/roles?application=nope', 422, /no application named `nope`/],
      ['/console/permissions/roles/revoke?application=shop&role=Rep&principal=nobody', 422, /`user:<id>` or `group:<name>`/],
      ['/console/modules?page=0', 422, /a page number/],
      ['/console/modules?page=x', 422, /a page number/],
      ['/console/modules?page=9', 200, /No module on this page of 1/],
      ['/console/modules/crm?version=abc', 422, /a version number/],
      ['/console/modules/crm?version=99', 404, /version/],
      ['/console/modules/crm/versions/0', 422, /a version number/],
      ['/console/modules/crm/diff', 422, /give `from` and `to`/],
      ['/console/modules/%ff', 404, /no console page at this address/],
      ['/console/deployments/plan?kind=deploy&module=crm&version=x&environment=quality', 422, /a version number/],
      ['/console/deployments?history=0', 422, /from 1 to 1000/],
      ['/console/deployments?history=many', 422, /from 1 to 1000/],
      ['/console/deployments?history=1', 200, /Show older history/],
      ['/console/deployments/plan?kind=explode', 422, /deploy, stage or rollback/],
      ['/console/deployments/plan?kind=deploy&module=crm&version=1&environment=moon', 422, /no environment `moon`/],
      ['/console/deployments/plan?kind=rollback&module=crm&environment=development', 409, /roll back|before/i],
      ['/console/deployments/production/requests/abc/reject', 422, /a request number/],
      ['/console/hierarchies/nope', 422, /no hierarchy named `nope`/],
      ['/console/hierarchies/reports?at=not-an-id', 422, /at/],
      ['/console/hierarchies/reports/move?node=not-an-id', 422, /node/],
    ];
    for (const [at, status, says] of cases) {
      const response = await a.goto(`${BASE}${at}`);
      assert.strictEqual(response.status(), status, at);
      const text = await a.textContent('main');
      assert.match(text, says, at);
      assert.doesNotMatch(text, /panicked|stack backtrace|internal/i, at);
    }
  });

  await scenario('the new pages at phone width', async () => {
    const phone = await newPage(PHONE);
    await signIn(phone.page, 'admin', ADMIN_PASSWORD);
    for (const at of ['/console/deployments', '/console/modules/crm', '/console/permissions/roles?application=shop']) {
      await phone.page.goto(`${BASE}${at}`);
      const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `${at}: no sideways scrolling: ${width}px`);
    }
    await accessible(phone.page, 'roles at phone width');
    await shot(phone.page, 'roles-phone');
    await phone.context.close();
  });

  await scenario('environments: order and policies edited by an administrator, settings shown, bad input explained', async () => {
    await a.goto(`${BASE}/console/environments`);
    const names = await a.locator('input[name^="name."]:not([name="name.new"])').evaluateAll((xs) => xs.map((x) => x.value));
    assert.deepStrictEqual(names, ['development', 'quality', 'production']);
    await accessible(a, 'environments');
    await shot(a, 'environments');
    // A new environment at the end, with both policies.
    await a.fill('#name-new', 'sandbox');
    await a.check('#sod-new');
    await a.check('#approver-new');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Save the order and policies")')]);
    assert.match(await a.textContent('.notice'), /Saved/);
    const api = await (await a.context().request.get(`${BASE}/api/v1/environments`)).json();
    assert.deepStrictEqual(api.map((e) => e.name), ['development', 'quality', 'production', 'sandbox']);
    assert.ok(api[3].separation_of_duties && api[3].second_approver);
    assert.match(await a.textContent('#env-sandbox'), /Settings in sandbox/);
    // Emptying its name removes it again, after a confirmation that names it.
    await a.fill('#name-3', '');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Save the order and policies")')]);
    assert.match(await a.textContent('h1'), /Remove sandbox\?/);
    await accessible(a, 'environment removal');
    const asked = await (await a.context().request.get(`${BASE}/api/v1/environments`)).json();
    assert.strictEqual(asked.length, 4, 'nothing removed before the confirmation');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Remove and save")')]);
    assert.match(await a.textContent('.notice'), /Saved/);
    const after = await (await a.context().request.get(`${BASE}/api/v1/environments`)).json();
    assert.deepStrictEqual(after.map((e) => e.name), ['development', 'quality', 'production']);
    // Bad input: the problem's detail on the page, nothing changed.
    await a.fill('#position-0', 'first');
    await a.click('button:has-text("Save the order and policies")');
    assert.match(await a.textContent('.error'), /must be a whole number/);
    await a.goto(`${BASE}/console/environments`);
    await a.fill('#name-new', 'not a name!');
    const bad = await Promise.all([a.waitForNavigation(), a.click('button:has-text("Save the order and policies")')]);
    assert.strictEqual(bad[0].status(), 422);
    assert.match(await a.textContent('.error'), /name/i);
    // A setting that names nothing in the module is refused before a plan exists.
    await a.goto(`${BASE}/console/environments`);
    await a.fill('#app-development', 'shop');
    await a.fill('#tag-development', 'no-such-tag');
    await a.fill('#key-development', 'crm.Nothing');
    await a.fill('#value-development', 'env:NOTHING');
    await a.selectOption('#kind-development', 'secret');
    const refused = await Promise.all([a.waitForNavigation(), a.click('button:has-text("Plan this setting")')]);
    assert.strictEqual(refused[0].status(), 422);
    assert.doesNotMatch(await a.textContent('main'), /panicked|internal/i);
    const unchanged = await (await a.context().request.get(`${BASE}/api/v1/environments`)).json();
    assert.strictEqual(unchanged.length, 3);
    // A site property set through a plan: previewed, run, then in force.
    const post = (at, data) => a.context().request.post(`${BASE}${at}`, { data, headers: { Origin: BASE } });
    assert.strictEqual((await post('/api/v1/authz/write', { operations: [{ op: 'create_application', name: 'kiosk' }] })).status(), 200);
    const kiosk = 'module: kiosk\napplication: kiosk\nproperties:\n  - name: Greeting\n    type: text\n    default: hello\nentities:\n  - name: Visit\n    attributes:\n      - {name: note, type: text}\n';
    const published = await post('/api/v1/modules/kiosk/versions', { source: kiosk, message: 'a kiosk' });
    assert.ok(published.status() < 300, await published.text());
    const tagged = await post('/api/v1/applications/kiosk/tags', { tag: '1.0' });
    assert.ok(tagged.status() < 300, await tagged.text());
    await a.goto(`${BASE}/console/environments`);
    await a.fill('#app-development', 'kiosk');
    await a.fill('#tag-development', '1.0');
    await a.selectOption('#kind-development', 'property');
    await a.fill('#key-development', 'kiosk.Greeting');
    await a.fill('#value-development', 'Welcome');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Plan this setting")')]);
    assert.match(new URL(a.url()).pathname, /^\/console\/environments\/plans\/\d+$/);
    assert.match(await a.textContent('main table'), /Greeting[\s\S]*Welcome/);
    assert.match(await a.textContent('main ul'), /kiosk: nothing → v1/);
    await accessible(a, 'settings plan');
    await shot(a, 'settings-plan');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Run the plan")')]);
    assert.match(await a.textContent('.notice'), /Saved/);
    assert.match(await a.textContent('section[aria-labelledby="env-development"]'), /kiosk[\s\S]*Greeting[\s\S]*Welcome/);
    const settings = await (await a.context().request.get(`${BASE}/api/v1/environments/development/settings`)).json();
    assert.ok(settings.some((x) => x.module === 'kiosk' && x.name === 'Greeting' && x.value === 'Welcome'), JSON.stringify(settings));
  });

  await scenario('an auditor reads the environments and changes nothing', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'audrey', USER_PASSWORD);
    const response = await page.goto(`${BASE}/console/environments`);
    assert.strictEqual(response.status(), 200);
    assert.strictEqual(await changingForms(page), 0);
    assert.match(await page.textContent('#order ~ p.hint'), /Only IT administrators change the environments/);
    await accessible(page, 'environments, read-only');
    const forged = await context.request.post(`${BASE}/console/environments`, {
      form: { _csrf: await csrf(page), 'name.0': 'development', 'position.0': '1' },
      headers: { Origin: BASE },
      maxRedirects: 0,
    });
    assert.strictEqual(forged.status(), 403);
    const confirmed = await context.request.post(`${BASE}/console/environments`, {
      form: { _csrf: await csrf(page), 'name.0': 'development', 'position.0': '1', confirm: 'remove' },
      headers: { Origin: BASE },
      maxRedirects: 0,
    });
    assert.strictEqual(confirmed.status(), 403);
    const api = await (await context.request.get(`${BASE}/api/v1/environments`)).json();
    assert.strictEqual(api.length, 3);
    await context.close();
  });

  await scenario('deployment plans: listed newest first from the board, filtered, each linked to its page', async () => {
    await a.goto(`${BASE}/console/deployments`);
    await Promise.all([a.waitForNavigation(), a.click('main a:has-text("Deployment plans")')]);
    assert.strictEqual(new URL(a.url()).pathname, '/console/deployments/plans');
    const rows = a.locator('tbody tr[id^="plan-"]');
    assert.ok((await rows.count()) >= 1);
    assert.match(await rows.first().textContent(), /development[\s\S]*kiosk at 1\.0[\s\S]*Run[\s\S]*admin/);
    await accessible(a, 'deployment plans');
    await shot(a, 'plans');
    // Filtered by environment and status through the labelled fields.
    await a.selectOption('#environment', 'development');
    await a.selectOption('#status', 'finished');
    await Promise.all([a.waitForNavigation(), a.click('form[role=search] button:has-text("Show")')]);
    assert.strictEqual(new URL(a.url()).searchParams.get('status'), 'finished');
    assert.ok((await rows.count()) >= 1);
    for (const badge of await a.locator('tbody [data-status]').all()) assert.strictEqual(await badge.getAttribute('data-status'), 'finished');
    await a.selectOption('#status', 'waiting');
    await Promise.all([a.waitForNavigation(), a.click('form[role=search] button:has-text("Show")')]);
    assert.match(await a.textContent('.empty'), /No plan you may see matches these filters/);
    await accessible(a, 'deployment plans, none matching');
    // A row leads to the plan's page, which leads back.
    await a.goto(`${BASE}/console/deployments/plans`);
    const id = (await rows.first().getAttribute('id')).replace('plan-', '');
    await Promise.all([a.waitForNavigation(), a.click(`#plan-${id} a`)]);
    assert.strictEqual(new URL(a.url()).pathname, `/console/environments/plans/${id}`);
    await Promise.all([a.waitForNavigation(), a.click('a:has-text("All deployment plans")')]);
    assert.strictEqual(new URL(a.url()).pathname, '/console/deployments/plans');
  });

  await scenario('signing out ends the session', async () => {
    await a.goto(`${BASE}/console/`);
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Sign out")')]);
    assert.strictEqual(new URL(a.url()).pathname, '/console/login');
    await a.goto(`${BASE}/console/account`);
    assert.strictEqual(new URL(a.url()).pathname, '/console/login');
  });

  await admin.context.close();
  await browser.close();
  for (const line of results) console.log(line);
  console.log(`# pages checked by axe-core: ${[...checked].join(', ')}`);
  process.exit(results.some((r) => r.startsWith('not ok')) ? 1 : 0);
}

main().catch(async (e) => {
  for (const line of results) console.log(line);
  console.log(`not ok - the harness itself: ${e && e.stack ? e.stack : e}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
});
