// A throw-away OpenID Provider for Rampart's user-provider tests: panva's oidc-provider (an
// OpenID Certified implementation) over HTTPS on loopback, with seeded password accounts, a
// login page that plain HTTP requests can drive, and an admin API for the cases the tests
// provoke (key rotation, changed groups, other audiences, short lifetimes, a skewed clock).
// Started by scripts/peers/oidc.sh; docs/peers.md describes the requests.
//
// Configuration (environment; files hold secrets so that no secret is in argv or env):
//   OIDC_DIR            working directory: tls/{cert,key}.pem, secrets/, passwords/ (required)
//   OIDC_READY_FILE     written with {"port": N, "issuer": …} once listening (required)
//   OIDC_PORT           port to listen on (default 0: any free port)
//   OIDC_CLIENT_ID      the static client's id (default "rampart")
//   OIDC_REDIRECT_URIS  its redirect URIs, space-separated (default a placeholder; the tests
//                       set theirs with PUT /admin/clients/ID once their server has a port)
//   OIDC_OTHER_CLIENT_ID  a second client, for tokens with another audience (default
//                       "rampart-other")
//   OIDC_MALLORY_EMAIL  the unverified address mallory claims (default alice's)
//   OIDC_EXIT_ON_STDIN_EOF  exit when standard input ends (the script holds it open)
// Secrets, read from files under OIDC_DIR: secrets/client-<client id> (made when missing),
// secrets/admin-token, passwords/<user>.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const dir = must('OIDC_DIR');
const readyFile = must('OIDC_READY_FILE');
const read = (...p) => readFileSync(join(dir, ...p), 'utf8').replace(/\n$/, '');

function must(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`oidc: ${name} must be set`);
    process.exit(2);
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// The clock. PUT /admin/clock shifts the provider's idea of now (every iat, exp, auth_time
// and expiry check), as a provider whose clock is off would; the adapter's expiry keeps real
// time.
const realNow = Date.now.bind(Date);
let clockOffsetMs = 0;
Date.now = () => realNow() + clockOffsetMs;

// ---------------------------------------------------------------------------------------
// Accounts. Subjects are fixed opaque identifiers, not the user names: a relying party must
// key on (iss, sub), and a test can tell it did.
const accounts = new Map([
  ['alice', {
    sub: '3f6c1f5e-alice-4d1b-9a4e-0b7c2d1e5a01',
    email: 'alice@rampart.test',
    email_verified: true,
    name: 'Alice Example',
    given_name: 'Alice',
    family_name: 'Example',
    groups: ['rampart-admins'],
  }],
  ['bob', {
    sub: '8b2d4a7c-bob0-4e6f-8c1d-2f3a4b5c6d02',
    email: 'bob@rampart.test',
    email_verified: true,
    name: 'Bob Builder',
    given_name: 'Bob',
    family_name: 'Builder',
    groups: ['sales'],
  }],
  // Claims an address she has not verified: the same as a local user's (OIDC_MALLORY_EMAIL,
  // default alice's), so a relying party that links accounts by email must refuse her.
  ['mallory', {
    sub: 'c7e9f0a1-mall-4b2c-8d3e-4f5a6b7c8d03',
    email: process.env.OIDC_MALLORY_EMAIL || 'alice@rampart.test',
    email_verified: false,
    name: 'Mallory Mallet',
    given_name: 'Mallory',
    family_name: 'Mallet',
    groups: [],
  }],
]);
const bySub = () => new Map([...accounts].map(([user, a]) => [a.sub, { user, ...a }]));
const password = (user) => read('passwords', user);

function claimsOf(a) {
  const { sub, email, email_verified, name, given_name, family_name, groups } = a;
  return {
    sub, email, email_verified, name, given_name, family_name, groups,
    preferred_username: a.user,
  };
}

// ---------------------------------------------------------------------------------------
// Storage shared by every Provider instance this process builds (keys and clients are
// changed by building a new instance; sessions, interactions, codes and grants survive it).
const store = new Map();
const grantIndex = new Map();
const uidIndex = new Map();
// The models that revoking a grant removes (what the grant issued; not the session or the
// interaction, which merely name it).
const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'ClientCredentials']);

class Adapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? realNow() + expiresIn * 1000 : Infinity;
    store.set(this.key(id), { payload, expiresAt });
    if (payload.grantId && grantable.has(this.model)) {
      const keys = grantIndex.get(payload.grantId) ?? new Set();
      keys.add(this.key(id));
      grantIndex.set(payload.grantId, keys);
    }
    if (payload.uid) uidIndex.set(payload.uid, id);
  }

  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt <= realNow()) {
      store.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    const id = uidIndex.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantIndex.get(grantId) ?? []) store.delete(key);
    grantIndex.delete(grantId);
  }
}

// ---------------------------------------------------------------------------------------
// Signing keys: RSA (RS256, the default for ID tokens) and P-256 (ES256), newest first in
// each list. The provider signs with the first key of the algorithm's type and publishes all.
const keys = { RSA: [], EC: [] };

async function newKey(kty) {
  const alg = kty === 'RSA' ? 'RS256' : 'ES256';
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const jwk = await jose.exportJWK(privateKey);
  jwk.kid = `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}`;
  jwk.alg = alg;
  jwk.use = 'sig';
  return jwk;
}

// Keys that were never published: ID tokens signed with one must be refused.
const foreignKeys = {};

// ---------------------------------------------------------------------------------------
// Clients. All are confidential, code flow only, PKCE required, redirect URIs matched exactly
// (application_type web). First-party clients (all but those registered with
// "first_party": false) are granted consent without asking.
const clients = new Map();
const thirdParty = new Set();

function secretOf(id) {
  try {
    return read('secrets', `client-${id}`);
  } catch {
    return undefined;
  }
}

function setSecret(id, secret) {
  const path = join(dir, 'secrets', `client-${id}`);
  writeFileSync(`${path}.tmp`, secret, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

function defineClient(id, metadata = {}) {
  const previous = clients.get(id) ?? {};
  let secret = metadata.client_secret ?? previous.client_secret ?? secretOf(id);
  if (!secret) secret = randomBytes(24).toString('base64url');
  setSecret(id, secret);
  const { first_party: firstParty, ...rest } = metadata;
  const client = {
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    ...previous,
    ...rest,
    client_id: id,
    client_secret: secret,
    application_type: 'web',
    grant_types: rest.grant_types ?? previous.grant_types ?? ['authorization_code'],
    response_types: ['code'],
  };
  if (firstParty === false) thirdParty.add(id);
  else if (firstParty === true) thirdParty.delete(id);
  clients.set(id, client);
  return client;
}

const clientId = process.env.OIDC_CLIENT_ID || 'rampart';
const otherClientId = process.env.OIDC_OTHER_CLIENT_ID || 'rampart-other';
const defaultRedirects = (process.env.OIDC_REDIRECT_URIS || 'https://127.0.0.1/unset/callback')
  .split(/\s+/).filter(Boolean);
defineClient(clientId, { redirect_uris: defaultRedirects });
defineClient(otherClientId, { redirect_uris: defaultRedirects });

// ---------------------------------------------------------------------------------------
// Lifetimes (seconds), changed by PUT /admin/ttl.
const ttl = {
  IdToken: 3600,
  AccessToken: 3600,
  AuthorizationCode: 60,
  Interaction: 3600,
  Session: 86400,
  Grant: 86400,
};

// ---------------------------------------------------------------------------------------
let issuer;
let provider;
const cookieKeys = [randomBytes(32).toString('base64url')];

function buildProvider() {
  const p = new Provider(issuer, {
    adapter: Adapter,
    clients: [...clients.values()],
    jwks: { keys: [...keys.RSA, ...keys.EC] },
    cookies: { keys: cookieKeys },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      groups: ['groups'],
    },
    // The scopes' claims go in the ID token too (not only from userinfo), as most providers
    // that send groups do.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    clientBasedCORS: () => false,
    responseTypes: ['code'],
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      claimsParameter: { enabled: true },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      IdToken: () => ttl.IdToken,
      AccessToken: () => ttl.AccessToken,
      AuthorizationCode: () => ttl.AuthorizationCode,
      Interaction: () => ttl.Interaction,
      Session: () => ttl.Session,
      Grant: () => ttl.Grant,
    },
    async findAccount(ctx, sub) {
      const a = bySub().get(sub);
      if (!a) return undefined;
      return { accountId: sub, claims: async () => claimsOf(a) };
    },
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (thirdParty.has(oidc.client.clientId)) return grant;
      // First party: whatever it asks for now is granted.
      grant ??= new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      grant.addOIDCClaims([...oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
    renderError(ctx, out, error) {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>${esc(out.error)}</h1><p id="error_description">${esc(out.error_description)}</p>`);
      if (process.env.OIDC_DEBUG) console.error(error);
    },
  });
  p.on('server_error', (ctx, err) => console.error('oidc: server_error', err));
  return p;
}

// ---------------------------------------------------------------------------------------
// Pages.
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body>${body}</body></html>\n`;

function loginPage(uid, clientName, error) {
  return page('Sign in', `<h1>Sign in to ${esc(clientName)}</h1>
${error ? `<p id="error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>Username <input name="username" autocomplete="username" autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

function consentPage(uid, clientName, details) {
  const scopes = (details.missingOIDCScope ?? []).join(' ');
  return page('Consent', `<h1>${esc(clientName)} asks for: <span id="scopes">${esc(scopes)}</span></h1>
<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Deny</button></form>`);
}

function send(res, status, body, type = 'text/html; charset=utf-8', headers = {}) {
  res.writeHead(status, {
    'Content-Type': type, 'Cache-Control': 'no-store', ...headers,
  });
  res.end(body);
}
const json = (res, status, value) => send(res, status, `${JSON.stringify(value, null, 1)}\n`, 'application/json');

async function body(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1 << 20) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// ---------------------------------------------------------------------------------------
// The interaction (login, and consent for third-party clients).
async function interaction(req, res, uid, action) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    return send(res, 400, page('Error', `<h1>${esc(err.name)}</h1><p>${esc(err.message)}</p>`));
  }
  if (details.uid !== uid) return send(res, 400, page('Error', '<h1>interaction mismatch</h1>'));
  const client = await provider.Client.find(details.params.client_id);
  const clientName = client?.clientName ?? details.params.client_id;
  const { prompt } = details;

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') return send(res, 200, loginPage(uid, clientName));
    return send(res, 200, consentPage(uid, clientName, prompt.details));
  }
  if (req.method !== 'POST') return send(res, 405, page('Error', '<h1>method not allowed</h1>'));
  const form = new URLSearchParams(await body(req));

  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  if (action === 'login' && prompt.name === 'login') {
    const user = form.get('username') ?? '';
    const given = Buffer.from(form.get('password') ?? '');
    const a = accounts.get(user);
    const expected = a ? Buffer.from(password(user)) : randomBytes(16);
    const ok = a && given.length === expected.length && timingSafeEqual(given, expected);
    if (!ok) return send(res, 401, loginPage(uid, clientName, 'Invalid username or password.'));
    return provider.interactionFinished(req, res, {
      login: { accountId: a.sub, amr: ['pwd'], acr: 'urn:rampart:test:password' },
    }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return send(res, 400, page('Error', `<h1>unexpected ${esc(action)} during ${esc(prompt.name)}</h1>`));
}

// ---------------------------------------------------------------------------------------
// The admin API: loopback callers with the bearer token of secrets/admin-token.
function authorized(req) {
  const addr = req.socket.remoteAddress ?? '';
  if (!(addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1')) return false;
  const want = Buffer.from(`Bearer ${read('secrets', 'admin-token')}`);
  const got = Buffer.from(req.headers.authorization ?? '');
  return got.length === want.length && timingSafeEqual(got, want);
}

function publicState() {
  return {
    issuer,
    clock_offset_seconds: clockOffsetMs / 1000,
    ttl,
    keys: { RS256: keys.RSA.map((k) => k.kid), ES256: keys.EC.map((k) => k.kid) },
    clients: [...clients.values()].map(({ client_secret: _, ...c }) => ({
      ...c, first_party: !thirdParty.has(c.client_id),
    })),
    users: Object.fromEntries([...accounts].map(([u, a]) => [u, claimsOf({ user: u, ...a })])),
  };
}

async function mintIdToken(spec) {
  const user = spec.user ?? 'alice';
  const a = accounts.get(user);
  if (!a) throw new Error(`no user ${user}`);
  const alg = spec.alg ?? 'RS256';
  const now = Math.floor(Date.now() / 1000) + (spec.iat_offset ?? 0);
  const aud = spec.aud ?? clientId;
  const payload = {
    ...claimsOf({ user, ...a }),
    auth_time: now,
    ...(spec.nonce !== undefined ? { nonce: spec.nonce } : {}),
    ...(spec.azp !== undefined ? { azp: spec.azp } : {}),
    ...(spec.claims ?? {}),
  };
  for (const c of spec.omit ?? []) delete payload[c];
  const iss = spec.iss ?? issuer;
  const exp = now + (spec.lifetime ?? ttl.IdToken);
  if (alg === 'none') {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const claims = { ...payload, iss, aud, iat: now, exp };
    return { token: `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.` };
  }
  let key;
  let kid;
  if (alg === 'HS256') {
    key = new TextEncoder().encode(spec.secret ?? secretOf(Array.isArray(aud) ? aud[0] : aud) ?? '');
  } else {
    const kty = alg === 'ES256' ? 'EC' : 'RSA';
    let jwk;
    if (spec.key === 'foreign') {
      foreignKeys[kty] ??= await newKey(kty);
      jwk = foreignKeys[kty];
    } else if (spec.key === 'old') {
      jwk = keys[kty][keys[kty].length - 1];
    } else if (typeof spec.key === 'string' && spec.key !== 'current') {
      jwk = keys[kty].find((k) => k.kid === spec.key);
      if (!jwk) throw new Error(`no key ${spec.key}`);
    } else {
      [jwk] = keys[kty];
    }
    key = await jose.importJWK(jwk, alg);
    kid = jwk.kid;
  }
  const header = { alg, typ: 'JWT', ...(kid && spec.kid !== null ? { kid: spec.kid ?? kid } : {}) };
  const token = await new jose.SignJWT(payload).setProtectedHeader(header)
    .setIssuer(iss).setAudience(aud).setSubject(payload.sub).setIssuedAt(now).setExpirationTime(exp)
    .sign(key);
  return { token, kid, iat: now, exp };
}

async function admin(req, res, path) {
  if (!authorized(req)) return json(res, 401, { error: 'unauthorized' });
  const text = req.method === 'GET' ? '' : await body(req);
  let input = {};
  if (text) {
    try {
      input = JSON.parse(text);
    } catch {
      return json(res, 400, { error: 'body must be JSON' });
    }
  }
  const route = `${req.method} ${path}`;
  let m;
  if (route === 'GET /admin/state') return json(res, 200, publicState());
  if (route === 'POST /admin/keys/rotate') {
    keys.RSA.unshift(await newKey('RSA'));
    keys.EC.unshift(await newKey('EC'));
    provider = buildProvider();
    return json(res, 200, publicState().keys);
  }
  if (route === 'POST /admin/keys/retire') {
    keys.RSA.splice(1);
    keys.EC.splice(1);
    provider = buildProvider();
    return json(res, 200, publicState().keys);
  }
  if ((m = route.match(/^PUT \/admin\/clients\/([\w.:-]+)$/))) {
    const before = clients.get(m[1]);
    const wasThirdParty = thirdParty.has(m[1]);
    try {
      defineClient(m[1], input);
      provider = buildProvider();
      await provider.Client.find(m[1]);
    } catch (err) {
      // Invalid metadata changes nothing: the client as it was (or none).
      if (before) clients.set(m[1], before);
      else clients.delete(m[1]);
      if (wasThirdParty) thirdParty.add(m[1]);
      else thirdParty.delete(m[1]);
      if (before) setSecret(m[1], before.client_secret);
      provider = buildProvider();
      return json(res, 400, { error: 'invalid_client_metadata', error_description: err.error_description ?? err.message });
    }
    const { client_secret: _, ...c } = clients.get(m[1]);
    return json(res, 200, { ...c, client_secret_file: join(dir, 'secrets', `client-${m[1]}`) });
  }
  if ((m = route.match(/^PATCH \/admin\/users\/(\w+)$/))) {
    const a = accounts.get(m[1]);
    if (!a) return json(res, 404, { error: 'no such user' });
    for (const k of ['email', 'email_verified', 'name', 'given_name', 'family_name', 'groups']) {
      if (k in input) a[k] = input[k];
    }
    return json(res, 200, claimsOf({ user: m[1], ...a }));
  }
  if (route === 'PUT /admin/ttl') {
    for (const [k, v] of Object.entries(input)) {
      if (!(k in ttl) || !Number.isInteger(v) || v < 1) return json(res, 400, { error: `bad ttl ${k}` });
    }
    Object.assign(ttl, input);
    return json(res, 200, ttl);
  }
  if (route === 'PUT /admin/clock') {
    const s = input.offset_seconds;
    if (typeof s !== 'number') return json(res, 400, { error: 'offset_seconds must be a number' });
    clockOffsetMs = s * 1000;
    return json(res, 200, { offset_seconds: s });
  }
  if (route === 'POST /admin/id-token') {
    try {
      return json(res, 200, await mintIdToken(input));
    } catch (err) {
      return json(res, 400, { error: err.message });
    }
  }
  return json(res, 404, { error: `no route ${route}` });
}

// ---------------------------------------------------------------------------------------
const server = createServer({
  cert: read('tls', 'cert.pem'),
  key: read('tls', 'key.pem'),
}, async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname.startsWith('/admin/')) return await admin(req, res, url.pathname);
    const m = url.pathname.match(/^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/);
    if (m) return await interaction(req, res, m[1], m[2]);
    return provider.callback()(req, res);
  } catch (err) {
    console.error('oidc:', err);
    if (!res.headersSent) send(res, 500, page('Error', '<h1>server error</h1>'));
    else res.end();
  }
});

keys.RSA.push(await newKey('RSA'));
keys.EC.push(await newKey('EC'));

server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `https://127.0.0.1:${port}`;
  provider = buildProvider();
  writeFileSync(`${readyFile}.tmp`, `${JSON.stringify({ port, issuer, pid: process.pid })}\n`);
  renameSync(`${readyFile}.tmp`, readyFile);
  console.error(`oidc: listening on ${issuer}`);
});

// Gone with the script: it holds our standard input open, and its end is our end.
if (process.env.OIDC_EXIT_ON_STDIN_EOF) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
