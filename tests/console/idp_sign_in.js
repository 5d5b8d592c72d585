// Rampart's OpenID provider in headless Chromium: the browser opens a client's
// authorization request (PKCE), is sent to the provider's sign-in page, where a wrong
// password is refused on the page, and the right one sends the browser on to the client's
// redirect URI, a loopback receiver the test started, with the code. A client of IT users
// sends the browser to the console's sign-in page instead, and on to the client the same
// way. Started by
// `cargo test -p rampart-server --test console idp_sign_in`, which checks what the receiver
// was sent and redeems the code with its verifier. Prints one `ok`/`not ok` line per
// scenario; every page of the provider is checked by axe-core.
//
// Environment: CONSOLE_BASE, CONSOLE_CHROMIUM, CONSOLE_USER_PASSWORD, CONSOLE_RECEIVER (the
// redirect URI), CONSOLE_AUTHORIZE_REFUSED and CONSOLE_AUTHORIZE (two authorization
// requests of the end users' client, differing in `state`), CONSOLE_AUTHORIZE_IT (one of
// the IT users' client, for the IT user `ivan`), CONSOLE_SCREENSHOTS (a directory: write the screenshots
// there), CONSOLE_DEBUG (print the browser's console messages and failed requests).

'use strict';

const assert = require('assert');
const { shot, accessible, scenario, newPage, run } = require('./harness');

const BASE = process.env.CONSOLE_BASE;
const USER_PASSWORD = process.env.CONSOLE_USER_PASSWORD;
const RECEIVER = process.env.CONSOLE_RECEIVER;

/// Opens the authorization request: the browser lands on the provider's sign-in page.
async function toSignIn(page, request) {
  const response = await page.goto(request);
  assert.strictEqual(response.status(), 200);
  const at = new URL(page.url());
  assert.strictEqual(at.origin, BASE);
  assert.strictEqual(at.pathname, '/oauth2/login');
  assert.ok(at.searchParams.get('return').startsWith('/oauth2/authorize?'), page.url());
  assert.match(await page.textContent('main'), /Sign in to continue to Shop/);
  // Its form may lead on to the client's redirect URI (browsers hold the redirects after
  // a form to `form-action`), and nowhere else.
  const csp = response.headers()['content-security-policy'];
  assert.ok(csp.includes(`form-action 'self' ${new URL(RECEIVER).origin};`), csp);
}

async function fill(page, username, password) {
  await page.fill('#username', username);
  await page.fill('#password', password);
}

async function main() {

  await scenario('a wrong password is refused on the sign-in page, and the browser goes nowhere', async () => {
    const { context, page } = await newPage();
    await toSignIn(page, process.env.CONSOLE_AUTHORIZE_REFUSED);
    await accessible(page, 'provider sign-in');
    await shot(page, 'idp-sign-in');
    await fill(page, 'erin', 'not-her-password');
    const [response] = await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in")')]);
    assert.strictEqual(response.status(), 401);
    const at = new URL(page.url());
    assert.strictEqual(`${at.origin}${at.pathname}`, `${BASE}/oauth2/login`);
    assert.match(await page.textContent('[role=alert]'), /\S/);
    await accessible(page, 'provider sign-in refused');
    // No session: the sign-in page is still what the request leads to.
    const cookies = await context.cookies();
    assert.ok(!cookies.some((c) => c.name === '__Host-rampart_session' && c.value), JSON.stringify(cookies));
    await context.close();
  });

  await scenario('the end user signs in and the browser arrives at the redirect URI with a code', async () => {
    const { context, page } = await newPage();
    if (process.env.CONSOLE_DEBUG) {
      // A blocked redirect shows here (a CSP `form-action` refusal is a console message).
      page.on('console', (m) => console.log('# console', m.text()));
      page.on('requestfailed', (r) => console.log('# failed', r.url(), r.failure() && r.failure().errorText));
    }
    await toSignIn(page, process.env.CONSOLE_AUTHORIZE);
    await fill(page, 'erin', USER_PASSWORD);
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(`${RECEIVER}?`), { waitUntil: 'load' }),
      page.click('button:has-text("Sign in")'),
    ]);
    const landed = new URL(page.url());
    assert.strictEqual(`${landed.origin}${landed.pathname}`, RECEIVER);
    assert.strictEqual(landed.searchParams.get('state'), 'granted-1');
    assert.ok(landed.searchParams.get('code'), page.url());
    // The receiver answered the browser: it is a real page, not an error of Chromium's.
    assert.match(await page.textContent('body'), /received/);
    await context.close();
  });

  await scenario('an IT user signs in on the console\'s page and the browser arrives at the redirect URI', async () => {
    const { context, page } = await newPage();
    const response = await page.goto(process.env.CONSOLE_AUTHORIZE_IT);
    assert.strictEqual(response.status(), 200);
    const at = new URL(page.url());
    assert.strictEqual(`${at.origin}${at.pathname}`, `${BASE}/console/login`);
    assert.ok(at.searchParams.get('return').startsWith('/oauth2/authorize?'), page.url());
    const csp = response.headers()['content-security-policy'];
    assert.ok(csp.includes(`form-action 'self' ${new URL(RECEIVER).origin};`), csp);
    await accessible(page, 'console sign-in for a client');
    await fill(page, 'ivan', USER_PASSWORD);
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(`${RECEIVER}?`), { waitUntil: 'load' }),
      page.click('button:has-text("Sign in")'),
    ]);
    const landed = new URL(page.url());
    assert.strictEqual(landed.searchParams.get('state'), 'it-1');
    assert.ok(landed.searchParams.get('code'), page.url());
    assert.match(await page.textContent('body'), /received/);
    await context.close();
  });

}

run(main);
