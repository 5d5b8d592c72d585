// A relying party of Rampart's own OpenID provider, driven by openid-client (panva's
// certified relying-party library): discovery → authorization code with PKCE → token →
// userinfo → refresh (rotation) → a replay of the rotated refresh token → RP-initiated
// logout. Started by the API tests (crates/rampart-server/tests/api/idp.rs) through
// scripts/peers/oidc-rp.sh, over HTTPS on loopback with the server's certificate in
// NODE_EXTRA_CA_CERTS. The browser is fetch() with the Rampart session cookie the test
// signed in with. Prints one JSON object: what each step saw.
//
// Environment (secrets in files, never in argv):
//   RP_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET_FILE, RP_REDIRECT_URI, RP_LOGOUT_URI,
//   RP_COOKIE_FILE (the `name=value` of the session cookie)

import { readFileSync } from 'node:fs';
import * as client from 'openid-client';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const issuer = env('RP_ISSUER');
const redirectUri = env('RP_REDIRECT_URI');
const logoutUri = env('RP_LOGOUT_URI');
const secret = readFileSync(env('RP_CLIENT_SECRET_FILE'), 'utf8').trim();
const cookie = readFileSync(env('RP_COOKIE_FILE'), 'utf8').trim();
const out = {};

// The browser's leg: follow nothing, answer the Location.
async function browse(url) {
  const r = await fetch(url, { headers: { cookie }, redirect: 'manual' });
  return { status: r.status, location: r.headers.get('location') };
}

async function errorOf(promise) {
  try {
    await promise;
    return null;
  } catch (e) {
    return e.error ?? e.code ?? String(e);
  }
}

try {
  // No algorithm named: the library expects OpenID Connect's default, RS256.
  const config = await client.discovery(new URL(issuer), env('RP_CLIENT_ID'),
    undefined, client.ClientSecretBasic(secret));
  const meta = config.serverMetadata();
  out.discovery = {
    issuer: meta.issuer,
    pkce: meta.code_challenge_methods_supported,
    algs: meta.id_token_signing_alg_values_supported,
    end_session: meta.end_session_endpoint,
  };

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const back = await browse(url);
  out.authorize = { status: back.status, to_redirect_uri: (back.location ?? '').startsWith(redirectUri) };

  const tokens = await client.authorizationCodeGrant(config, new URL(back.location), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  });
  const claims = tokens.claims();
  const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString());
  out.id_token = { alg: header.alg, sub: claims.sub, aud: claims.aud, iss: claims.iss, nonce_ok: claims.nonce === nonce,
                   preferred_username: claims.preferred_username };
  out.secrets = [tokens.access_token, tokens.refresh_token, tokens.id_token];

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  out.userinfo = info;

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  out.refreshed = {
    rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    sub: refreshed.claims()?.sub,
  };
  out.secrets.push(refreshed.access_token, refreshed.refresh_token);

  // The first refresh token again: a replay after rotation, which revokes the family…
  out.replay = await errorOf(client.refreshTokenGrant(config, tokens.refresh_token));
  // …so the rotated one is refused too, and the access token it came with.
  out.after_replay = await errorOf(client.refreshTokenGrant(config, refreshed.refresh_token));
  out.userinfo_after_replay = await errorOf(client.fetchUserInfo(config, refreshed.access_token, claims.sub));

  const end = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: logoutUri,
    state: 'bye',
  });
  out.logout = await browse(end);
} catch (e) {
  out.failed = `${e.name}: ${e.message} ${e.error ?? ''} ${e.cause ? JSON.stringify(e.cause) : ''}`;
}
console.log(JSON.stringify(out));
