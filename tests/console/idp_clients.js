// The console's OpenID clients page in headless Chromium: an administrator registers a
// client (a bad redirect URI first: the message on the page, nothing registered), sees its
// secret once, rotates it (a new one, once), edits another client (a bad redirect URI
// first: explained at its field, nothing changed) and removes it after confirming; an
// auditor reads the list without the controls and is refused the edit form; an IT user without user rights sees no link
// and is refused the page and its forms. Started by
// `cargo test -p rampart-server --test console idp_clients`, which checks afterwards,
// through the OAuth endpoints, that the secrets the browser saw are the ones that work.
// Prints one `ok`/`not ok` line per scenario; every page is checked by axe-core.
//
// Environment: CONSOLE_BASE, CONSOLE_CHROMIUM, CONSOLE_ADMIN_PASSWORD,
// CONSOLE_USER_PASSWORD, CONSOLE_OUT (a directory: `secrets.json` is written there),
// CONSOLE_SCREENSHOTS (a directory: write the screenshots there).

'use strict';

const fs = require('fs');
const path = require('path');
const assert = require('assert');
const { shot, accessible, fitsWidth, scenario, newPage, run } = require('./harness');

const BASE = process.env.CONSOLE_BASE;
const ADMIN_PASSWORD = process.env.CONSOLE_ADMIN_PASSWORD;
const USER_PASSWORD = process.env.CONSOLE_USER_PASSWORD;
const OUT = process.env.CONSOLE_OUT;
const PORTAL = 'https://portal.example/callback';

async function signIn(page, username, password) {
  await page.goto(`${BASE}/console/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]:has-text("Sign in")')]);
  assert.strictEqual(new URL(page.url()).pathname, '/console/');
}

async function csrf(page) {
  return page.getAttribute('input[name=_csrf]', 'value');
}

/// Fills the registration form and sends it; the answer's status.
async function register(page, { id, name, redirect, users = 'end', kind = 'confidential', alg = 'RS256' }) {
  await page.goto(`${BASE}/console/idp-clients/new`);
  await page.fill('#client_id', id);
  await page.fill('#name', name);
  await page.selectOption('#users', users);
  await page.selectOption('#kind', kind);
  await page.fill('#redirect_uris', redirect);
  await page.selectOption('#alg', alg);
  const [response] = await Promise.all([page.waitForNavigation(), page.click('button:has-text("Register")')]);
  return response.status();
}

async function main() {
  const secrets = {};
  const admin = await newPage();
  const a = admin.page;

  await scenario('an administrator finds the page in the navigation, empty at first', async () => {
    await signIn(a, 'root', ADMIN_PASSWORD);
    await Promise.all([a.waitForNavigation(), a.click('nav a:has-text("OpenID clients")')]);
    assert.strictEqual(new URL(a.url()).pathname, '/console/idp-clients');
    assert.strictEqual(await a.getAttribute('nav a:has-text("OpenID clients")', 'aria-current'), 'page');
    assert.match(await a.textContent('.empty'), /No client is registered/);
    await accessible(a, 'OpenID clients, empty');
  });

  await scenario('a bad redirect URI is explained at its field and registers nothing', async () => {
    const status = await register(a, { id: 'portal', name: 'Customer portal', redirect: 'http://portal.example/callback' });
    assert.strictEqual(status, 422);
    assert.strictEqual(await a.getAttribute('#redirect_uris', 'aria-invalid'), 'true');
    assert.match(await a.textContent('#redirect_uris-problem'), /must be https:\/\//);
    // What was typed is still there, to correct.
    assert.strictEqual(await a.inputValue('#client_id'), 'portal');
    assert.strictEqual(await a.inputValue('#redirect_uris'), 'http://portal.example/callback');
    await accessible(a, 'registration refused');
    await a.locator('#redirect_uris-problem').scrollIntoViewIfNeeded();
    await shot(a, 'idp-client-refused');
    await a.goto(`${BASE}/console/idp-clients`);
    assert.strictEqual(await a.locator('#client-portal').count(), 0);
    assert.match(await a.textContent('.empty'), /No client is registered/);
  });

  await scenario('an administrator registers a client and sees its secret once', async () => {
    const status = await register(a, { id: 'portal', name: 'Customer portal', redirect: PORTAL, alg: 'ES256' });
    assert.strictEqual(status, 201);
    assert.strictEqual((await a.textContent('#client-id')).trim(), 'portal');
    const secret = (await a.textContent('#client-secret')).trim();
    assert.ok(secret.length >= 32, secret);
    assert.match(await a.textContent('.notice'), /shown only this once/);
    await accessible(a, 'client registered');
    secrets.first = secret;
    // The list shows the client as registered, and never its secret.
    await Promise.all([a.waitForNavigation(), a.click('a:has-text("Back to the clients")')]);
    const row = a.locator('#client-portal');
    assert.match(await row.textContent(), /Customer portal/);
    assert.match(await row.textContent(), /end users/);
    assert.match(await row.textContent(), /confidential/);
    assert.match(await row.textContent(), /https:\/\/portal\.example\/callback/);
    assert.match(await row.textContent(), /authorization_code refresh_token/);
    assert.match(await row.textContent(), /email offline_access openid profile/);
    assert.match(await row.textContent(), /third-party/);
    assert.match(await row.textContent(), /ES256/);
    assert.ok(!(await a.content()).includes(secret), 'the list shows no secret');
    await accessible(a, 'OpenID clients');
    // At 1280 px the whole table shows, the administrator's buttons included.
    await fitsWidth(a, 'OpenID clients at 1280 px');
    await shot(a, 'idp-clients');
    // The same id again: refused on the form, the first client untouched.
    const again = await register(a, { id: 'portal', name: 'Another', redirect: PORTAL });
    assert.strictEqual(again, 409);
    assert.match(await a.textContent('.error'), /exists|already/);
    // The longest client id, without a hyphen to break at, wraps in its cell: the table
    // still fits at 1280 px.
    const long = `${'customerportal'.repeat(4)}01234567`;
    assert.strictEqual(await register(a, { id: long, name: 'Long', redirect: 'https://long.example/cb', kind: 'public' }), 201);
    await a.goto(`${BASE}/console/idp-clients`);
    assert.strictEqual(await a.locator(`#client-${long}`).count(), 1);
    await fitsWidth(a, 'OpenID clients with a 64-character client id at 1280 px');
  });

  await scenario('rotating asks first, then shows a new secret once', async () => {
    await a.goto(`${BASE}/console/idp-clients`);
    await Promise.all([a.waitForNavigation(), a.click('a[aria-label="Rotate secret of portal"]')]);
    assert.match(await a.textContent('h1'), /new secret/);
    await accessible(a, 'rotation confirmation');
    // Cancelling changes nothing.
    await Promise.all([a.waitForNavigation(), a.click('a:has-text("Cancel")')]);
    assert.strictEqual(new URL(a.url()).pathname, '/console/idp-clients');
    await Promise.all([a.waitForNavigation(), a.click('a[aria-label="Rotate secret of portal"]')]);
    const [response] = await Promise.all([a.waitForNavigation(), a.click('button:has-text("Rotate the secret")')]);
    assert.strictEqual(response.status(), 200);
    const secret = (await a.textContent('#client-secret')).trim();
    assert.ok(secret.length >= 32);
    assert.notStrictEqual(secret, secrets.first);
    secrets.rotated = secret;
    await a.goto(`${BASE}/console/idp-clients`);
    assert.ok(!(await a.content()).includes(secret), 'the list shows no secret');
  });

  await scenario('removing asks first, then the client is gone', async () => {
    assert.strictEqual(await register(a, { id: 'old-wiki', name: 'Old wiki', redirect: 'https://wiki.example/cb', kind: 'public' }), 201);
    assert.strictEqual(await a.locator('#client-secret').count(), 0);
    assert.match(await a.textContent('.notice'), /no secret/);
    await a.goto(`${BASE}/console/idp-clients`);
    // A public client has no secret to rotate.
    assert.strictEqual(await a.locator('a[aria-label="Rotate secret of old-wiki"]').count(), 0);
    // Editing: a bad redirect URI is explained at its field and changes nothing; then a
    // good change.
    await Promise.all([a.waitForNavigation(), a.click('a[aria-label="Edit old-wiki"]')]);
    assert.match(await a.textContent('h1'), /Edit old-wiki/);
    assert.strictEqual(await a.inputValue('#name'), 'Old wiki');
    assert.strictEqual(await a.inputValue('#redirect_uris'), 'https://wiki.example/cb');
    await accessible(a, 'edit form');
    await a.fill('#name', 'Older wiki');
    await a.fill('#redirect_uris', 'http://wiki.example/cb');
    const [refused] = await Promise.all([a.waitForNavigation(), a.click('button:has-text("Save changes")')]);
    assert.strictEqual(refused.status(), 422);
    assert.strictEqual(await a.getAttribute('#redirect_uris', 'aria-invalid'), 'true');
    assert.match(await a.textContent('#redirect_uris-problem'), /must be https:\/\//);
    assert.strictEqual(await a.inputValue('#name'), 'Older wiki');
    await accessible(a, 'edit refused');
    await a.goto(`${BASE}/console/idp-clients`);
    assert.match(await a.locator('#client-old-wiki').textContent(), /Old wiki/);
    await Promise.all([a.waitForNavigation(), a.click('a[aria-label="Edit old-wiki"]')]);
    await a.fill('#name', 'Older wiki');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Save changes")')]);
    assert.strictEqual(new URL(a.url()).pathname, '/console/idp-clients');
    assert.match(await a.textContent('.notice'), /changed/);
    assert.match(await a.locator('#client-old-wiki').textContent(), /Older wiki/);
    await Promise.all([a.waitForNavigation(), a.click('a[aria-label="Remove old-wiki"]')]);
    assert.match(await a.textContent('h1'), /Remove Older wiki/);
    await accessible(a, 'removal confirmation');
    await Promise.all([a.waitForNavigation(), a.click('button:has-text("Remove the client")')]);
    assert.strictEqual(new URL(a.url()).pathname, '/console/idp-clients');
    assert.match(await a.textContent('.notice'), /removed/);
    assert.strictEqual(await a.locator('#client-old-wiki').count(), 0);
    assert.strictEqual(await a.locator('#client-portal').count(), 1);
    // Its confirmation page is a 404 now.
    assert.strictEqual((await a.goto(`${BASE}/console/idp-clients/old-wiki/delete`)).status(), 404);
    // A form without the page's token changes nothing.
    const forged = await admin.context.request.post(`${BASE}/console/idp-clients/portal/delete`, {
      form: {}, headers: { Origin: BASE }, maxRedirects: 0,
    });
    assert.strictEqual(forged.status(), 403);
    await a.goto(`${BASE}/console/idp-clients`);
    assert.strictEqual(await a.locator('#client-portal').count(), 1);
  });

  await scenario('an auditor reads the clients without the controls, and is refused them', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'audrey', USER_PASSWORD);
    await Promise.all([page.waitForNavigation(), page.click('nav a:has-text("OpenID clients")')]);
    assert.strictEqual(await page.locator('#client-portal').count(), 1);
    assert.strictEqual(await page.locator('a:has-text("Register a client"), a:has-text("Rotate secret"), a:has-text("Remove"), a:has-text("Edit")').count(), 0);
    await accessible(page, 'OpenID clients, read-only');
    assert.strictEqual((await page.goto(`${BASE}/console/idp-clients/portal/edit`)).status(), 403);
    assert.strictEqual((await page.goto(`${BASE}/console/idp-clients/new`)).status(), 403);
    assert.strictEqual((await page.goto(`${BASE}/console/idp-clients/portal/rotate-secret`)).status(), 403);
    await page.goto(`${BASE}/console/idp-clients`);
    const forged = await context.request.post(`${BASE}/console/idp-clients/portal/rotate-secret`, {
      form: { _csrf: await csrf(page) }, headers: { Origin: BASE }, maxRedirects: 0,
    });
    assert.strictEqual(forged.status(), 403);
    assert.match(await forged.text(), /only IT administrators may change user providers and OpenID clients/);
    assert.doesNotMatch(await forged.text(), /client-secret/);
    await context.close();
  });

  await scenario('an IT user without user rights sees no link and is refused the page and its forms', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'olga', USER_PASSWORD);
    assert.strictEqual(await page.locator('nav a:has-text("OpenID clients")').count(), 0);
    const response = await page.goto(`${BASE}/console/idp-clients`);
    assert.strictEqual(response.status(), 403);
    assert.match(await page.textContent('.error'), /only IT administrators and auditors may read user providers/);
    assert.strictEqual(await page.locator('#client-portal').count(), 0);
    await accessible(page, 'OpenID clients refused');
    const forged = await context.request.post(`${BASE}/console/idp-clients/new`, {
      form: { _csrf: await csrf(page), client_id: 'mallory', name: 'Mallory', kind: 'confidential', users: 'end', redirect_uris: PORTAL, alg: 'RS256' },
      headers: { Origin: BASE },
      maxRedirects: 0,
    });
    assert.strictEqual(forged.status(), 403);
    const remove = await context.request.post(`${BASE}/console/idp-clients/portal/delete`, {
      form: { _csrf: await csrf(page) }, headers: { Origin: BASE }, maxRedirects: 0,
    });
    assert.strictEqual(remove.status(), 403);
    await context.close();
  });

  fs.writeFileSync(path.join(OUT, 'secrets.json'), JSON.stringify(secrets));
  await admin.context.close();
}

run(main);
