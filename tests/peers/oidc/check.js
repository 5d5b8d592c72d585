// The relying-party half of `scripts/peers/oidc.sh --check`: openid-client (panva's OpenID
// Certified relying party) against the running provider, driving the login page with plain
// HTTP requests, validating every ID token (signature included: enableNonRepudiationChecks),
// then each admin hook. Reads the RAMPART_TEST_OIDC_* variables; trusts the test CA through
// NODE_EXTRA_CA_CERTS. Prints "  ok    …" / "  FAIL  …" lines, then "# done".

import { readFileSync } from 'node:fs';

import * as jose from 'jose';
import * as client from 'openid-client';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const issuer = env('RAMPART_TEST_OIDC_ISSUER');
const adminUrl = env('RAMPART_TEST_OIDC_ADMIN_URL');
const adminToken = readFileSync(env('RAMPART_TEST_OIDC_ADMIN_TOKEN_FILE'), 'utf8');
const passwordOf = (user) => readFileSync(`${env('RAMPART_TEST_OIDC_PASSWORD_DIR')}/${user}`, 'utf8');
const mainId = env('RAMPART_TEST_OIDC_CLIENT_ID');
const otherId = env('RAMPART_TEST_OIDC_OTHER_CLIENT_ID');
const secretOf = (file) => readFileSync(file, 'utf8');
const redirectUri = 'https://127.0.0.1:8443/oidc/callback';

let failures = 0;
const ok = (name) => console.log(`  ok    ${name}`);
const bad = (name, detail) => {
  failures += 1;
  console.log(`  FAIL  ${name}`);
  if (detail !== undefined) console.log(String(detail?.stack ?? JSON.stringify(detail)).replace(/^/gm, '        '));
};
const expect = (name, cond, detail) => (cond ? ok(name) : bad(name, detail));
async function expectThrows(name, fn, pattern) {
  try {
    const v = await fn();
    bad(`${name} (did not fail)`, v);
  } catch (err) {
    const text = `${err.code ?? ''} ${err.error ?? ''} ${err.message}`;
    expect(`${name}: ${text.trim().slice(0, 110)}`, !pattern || pattern.test(text), err);
  }
}

async function admin(method, path, body) {
  const res = await fetch(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

// A browser's worth of HTTP: a cookie jar (name → value, path) and manual redirects.
class Agent {
  constructor() {
    this.jar = new Map();
  }

  async request(url, init = {}) {
    const u = new URL(url);
    const cookie = [...this.jar].filter(([, c]) => u.pathname.startsWith(c.path))
      .map(([n, c]) => `${n}=${c.value}`).join('; ');
    const res = await fetch(u, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers ?? {}), ...(cookie ? { cookie } : {}) },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      const path = attrs.find((a) => /^path=/i.test(a))?.slice(5) ?? '/';
      const gone = attrs.some((a) => /^expires=Thu, 01 Jan 1970/i.test(a) || /^max-age=0$/i.test(a));
      if (gone) this.jar.delete(name);
      else this.jar.set(name, { value: pair.slice(i + 1), path });
    }
    const location = res.headers.get('location');
    return {
      status: res.status, location: location && new URL(location, u).href, text: await res.text(),
    };
  }

  // GET authorize → interaction page → POST login (→ consent when asked) → … → redirect_uri.
  async login(authorizationUrl, user, password = passwordOf(user)) {
    let r = await this.request(authorizationUrl);
    const steps = [];
    for (let i = 0; i < 10; i += 1) {
      steps.push(`${r.status} ${r.location ?? ''}`);
      if (r.status === 200 && r.text.includes('name="password"')) {
        const action = new URL(r.text.match(/action="([^"]*\/login)"/)[1], issuer);
        r = await this.request(action, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ username: user, password }).toString(),
        });
      } else if (r.status === 200 && /action="[^"]*\/interaction\/[^"/]+\/confirm"/.test(r.text)) {
        this.consented = true;
        const action = new URL(r.text.match(/action="([^"]*\/confirm)"/)[1], issuer);
        r = await this.request(action, { method: 'POST' });
      } else if (r.status === 200 && /<form[^>]*method="post"/i.test(r.text)) {
        // The provider's own auto-submitted forms (signing in as someone else over an
        // existing session first posts a logout confirmation): their hidden fields, posted.
        const action = new URL(r.text.match(/<form[^>]*action="([^"]*)"/i)[1], issuer);
        const fields = new URLSearchParams();
        for (const [, name, value] of r.text.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"/g)) {
          fields.append(name, value);
        }
        r = await this.request(action, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: fields.toString(),
        });
      } else if (r.status >= 300 && r.status < 400 && r.location.startsWith(issuer)) {
        r = await this.request(r.location);
      } else {
        break;
      }
    }
    if (!(r.status >= 300 && r.status < 400)) throw new Error(`flow ended with ${r.status}: ${steps.join(' → ')}\n${r.text}`);
    return new URL(r.location);
  }
}

async function rp(id, secretFile, alg) {
  return client.discovery(new URL(issuer), id, alg ? { id_token_signed_response_alg: alg } : undefined,
    client.ClientSecretBasic(secretOf(secretFile)), { execute: [client.enableNonRepudiationChecks] });
}

// One complete authorization code flow with PKCE; the tokens as openid-client validated them.
async function signIn(config, user, { agent = new Agent(), extra = {}, password } = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile groups',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  const back = await agent.login(url, user, password);
  const tokens = await client.authorizationCodeGrant(config, back, {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  });
  return { tokens, claims: tokens.claims(), header: jose.decodeProtectedHeader(tokens.id_token), agent, back };
}

const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/jwks`), { cooldownDuration: 0, cacheMaxAge: 0 });
const verify = (token, audience, options = {}) => jose.jwtVerify(token, jwks, { issuer, audience, ...options });
const jwksNow = async () => (await (await fetch(`${issuer}/jwks`)).json()).keys;

try {
  for (const id of [mainId, otherId]) {
    await admin('PUT', `/clients/${id}`, { redirect_uris: [redirectUri] });
  }
  let main = await rp(mainId, env('RAMPART_TEST_OIDC_CLIENT_SECRET_FILE'));
  const meta = main.serverMetadata();
  expect('discovery: issuer, code only, S256 only, RS256 and ES256, groups scope',
    meta.issuer === issuer
    && JSON.stringify(meta.response_types_supported) === '["code"]'
    && JSON.stringify(meta.code_challenge_methods_supported) === '["S256"]'
    && ['RS256', 'ES256'].every((a) => meta.id_token_signing_alg_values_supported.includes(a))
    && meta.scopes_supported.includes('groups') && meta.claims_supported.includes('groups'), meta);

  const alice = await signIn(main, 'alice');
  const keys1 = await jwksNow();
  expect('alice: code flow with PKCE, ID token validated by openid-client (signature, iss, aud, nonce, exp)',
    alice.claims.email === 'alice@rampart.test' && alice.claims.email_verified === true
    && JSON.stringify(alice.claims.groups) === '["rampart-admins"]' && alice.claims.aud === mainId,
    alice.claims);
  expect(`… signed RS256 with the first RSA key of the JWKS (${alice.header.kid})`,
    alice.header.alg === 'RS256' && alice.header.kid === keys1.find((k) => k.kty === 'RSA').kid, { header: alice.header, keys1 });
  expect('… sub is an opaque identifier, preferred_username is alice',
    alice.claims.sub !== 'alice' && alice.claims.preferred_username === 'alice', alice.claims);
  const info = await client.fetchUserInfo(main, alice.tokens.access_token, alice.claims.sub);
  expect('userinfo with the access token: the same email and groups',
    info.email === 'alice@rampart.test' && JSON.stringify(info.groups) === '["rampart-admins"]', info);

  const again = await signIn(main, 'alice', { agent: alice.agent });
  expect('a second sign-in with the same cookies needs no password (provider session)',
    again.claims.sub === alice.claims.sub, again.claims);
  const forced = await signIn(main, 'bob', { agent: alice.agent, extra: { prompt: 'login' } });
  expect('prompt=login asks again (bob signs in over alice\'s session)', forced.claims.preferred_username === 'bob', forced.claims);

  await expectThrows('a wrong password does not get through',
    () => signIn(main, 'alice', { password: 'wrong' }), /401/);

  const bob = await signIn(main, 'bob');
  expect('bob: groups ["sales"]', JSON.stringify(bob.claims.groups) === '["sales"]', bob.claims);
  await admin('PATCH', '/users/bob', { groups: ['sales', 'support'] });
  const bob2 = await signIn(main, 'bob');
  expect('PATCH /admin/users/bob: the next ID token has groups ["sales","support"]',
    JSON.stringify(bob2.claims.groups) === '["sales","support"]', bob2.claims);
  await admin('PATCH', '/users/bob', { groups: ['sales'] });

  const mallory = await signIn(main, 'mallory');
  expect('mallory: email alice@rampart.test, email_verified false',
    mallory.claims.email === 'alice@rampart.test' && mallory.claims.email_verified === false, mallory.claims);

  // Key rotation: the new key first, the old one still published, then removed.
  const rotated = await admin('POST', '/keys/rotate');
  const keys2 = await jwksNow();
  const rsa2 = keys2.filter((k) => k.kty === 'RSA').map((k) => k.kid);
  expect(`rotate: the JWKS has the new RSA key first (${rotated.RS256[0]}), the old one after`,
    rsa2.length === 2 && rsa2[0] === rotated.RS256[0] && rsa2[1] === alice.header.kid, { rsa2, rotated });
  // openid-client keeps the JWKS it fetched and fetches it again for an unknown kid only
  // once the copy is a minute old: a fresh configuration sees the new key at once.
  main = await rp(mainId, env('RAMPART_TEST_OIDC_CLIENT_SECRET_FILE'));
  const carol = await signIn(main, 'alice');
  expect('… the next ID token is signed with the new key and validates',
    carol.header.kid === rotated.RS256[0], carol.header);
  await verify(alice.tokens.id_token, mainId).then(
    () => ok('… the token signed before the rotation still verifies (old key kept)'),
    (err) => bad('old token after rotation', err),
  );
  await admin('POST', '/keys/retire');
  const keys3 = await jwksNow();
  expect('retire: only the new keys are published',
    keys3.filter((k) => k.kty === 'RSA').map((k) => k.kid).join() === rotated.RS256[0], keys3);
  await expectThrows('… the token signed with the retired key no longer verifies',
    () => verify(alice.tokens.id_token, mainId), /ERR_JWKS_NO_MATCHING_KEY/);

  // Another audience: the second client's token is not the first client's.
  const other = await rp(otherId, env('RAMPART_TEST_OIDC_OTHER_CLIENT_SECRET_FILE'));
  const o = await signIn(other, 'alice');
  expect(`the other client (${otherId}) gets an ID token with aud ${otherId}`, o.claims.aud === otherId, o.claims);
  await expectThrows(`… which a verifier expecting aud ${mainId} refuses`,
    () => verify(o.tokens.id_token, mainId), /ERR_JWT_CLAIM_VALIDATION_FAILED|aud/);

  // ES256: a client registered for it.
  await admin('PUT', '/clients/rampart-es256', { redirect_uris: [redirectUri], id_token_signed_response_alg: 'ES256' });
  const state = await admin('GET', '/state');
  const es = await signIn(await rp('rampart-es256', `${env('RAMPART_TEST_OIDC_PASSWORD_DIR')}/../secrets/client-rampart-es256`, 'ES256'), 'alice');
  expect('PUT /admin/clients/rampart-es256: ID tokens signed ES256 with the EC key',
    es.header.alg === 'ES256' && es.header.kid === state.keys.ES256[0], es.header);

  // Consent for a third-party client.
  await admin('PUT', '/clients/third', { redirect_uris: [redirectUri], first_party: false });
  const thirdAgent = new Agent();
  const t = await signIn(await rp('third', `${env('RAMPART_TEST_OIDC_PASSWORD_DIR')}/../secrets/client-third`), 'bob', { agent: thirdAgent });
  expect('a third-party client (first_party false) gets a consent page; Allow completes the flow',
    thirdAgent.consented === true && t.claims.preferred_username === 'bob', t.claims);

  // Short lifetimes.
  await admin('PUT', '/ttl', { IdToken: 2 });
  const short = await signIn(main, 'alice');
  expect('PUT /admin/ttl {"IdToken": 2}: exp - iat = 2', short.claims.exp - short.claims.iat === 2, short.claims);
  await new Promise((r) => { setTimeout(r, 3100); });
  await expectThrows('… 3 s later it is expired', () => verify(short.tokens.id_token, mainId), /ERR_JWT_EXPIRED/);
  await admin('PUT', '/ttl', { IdToken: 3600 });

  // A provider clock 10 minutes fast.
  await admin('PUT', '/clock', { offset_seconds: 600 });
  const fast = await signIn(main, 'alice');
  const skew = fast.claims.iat - Math.floor(Date.now() / 1000);
  expect(`PUT /admin/clock {"offset_seconds": 600}: iat is ${skew} s ahead (openid-client takes it: it checks exp, not iat)`,
    skew >= 595 && skew <= 605, fast.claims);
  await expectThrows('… jose\'s jwtVerify with maxTokenAge refuses an iat in the future',
    () => verify(fast.tokens.id_token, mainId, { maxTokenAge: 3600 }), /iat/);
  await admin('PUT', '/clock', { offset_seconds: 0 });

  // Minted ID tokens.
  const now = Math.floor(Date.now() / 1000);
  const m1 = await admin('POST', '/id-token', { user: 'bob', aud: mainId, nonce: 'n-1' });
  const v1 = await verify(m1.token, mainId);
  expect('POST /admin/id-token: a valid token for bob, signed with the current key',
    v1.payload.preferred_username === 'bob' && v1.payload.nonce === 'n-1' && m1.kid === rotated.RS256[0], v1);
  const m2 = await admin('POST', '/id-token', { aud: 'somebody-else' });
  await expectThrows('… aud somebody-else: refused for our audience', () => verify(m2.token, mainId), /aud/);
  const m3 = await admin('POST', '/id-token', { iat_offset: -7200, lifetime: 3600 });
  await expectThrows('… issued two hours ago for one hour: expired', () => verify(m3.token, mainId), /ERR_JWT_EXPIRED/);
  const m4 = await admin('POST', '/id-token', { iat_offset: 30, lifetime: 300 });
  await verify(m4.token, mainId, { clockTolerance: 60, currentDate: new Date(now * 1000) }).then(
    () => ok('… iat 30 s ahead: accepted within a 60 s tolerance'),
    (err) => bad('iat 30 s ahead with tolerance', err),
  );
  const m5 = await admin('POST', '/id-token', { key: 'foreign' });
  await expectThrows('… signed by a key never published: no matching key', () => verify(m5.token, mainId), /ERR_JWKS_NO_MATCHING_KEY/);
  const m6 = await admin('POST', '/id-token', { alg: 'HS256' });
  await expectThrows('… HS256 with the client secret: refused by an RS256 verifier', () => verify(m6.token, mainId), /ERR_JOSE_ALG_NOT_ALLOWED|ERR_JWKS|alg/);
  const m7 = await admin('POST', '/id-token', { alg: 'none' });
  expect('… alg none: an unsecured JWT with an empty signature', m7.token.endsWith('.') && jose.decodeProtectedHeader(m7.token).alg === 'none', m7);

  const unauth = await fetch(`${adminUrl}/state`, { headers: { authorization: 'Bearer nope' } });
  expect('the admin API refuses a wrong token (401)', unauth.status === 401, unauth.status);
} catch (err) {
  bad('unexpected error', err);
}
console.log(`# done, ${failures} failed`);
process.exitCode = failures ? 1 : 0;
