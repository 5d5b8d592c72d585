//! Client authentication and the token endpoint: `authorization_code` (with PKCE),
//! `refresh_token` (rotation, replay revokes the family) and `client_credentials`.

use rampart_api::idp::TokenResponse;
use rampart_core::{AuditContext, Error, UserId};
use rampart_idp::grant::{
    self, judge_code, judge_refresh, CodeFacts, CodeRequest, CodeVerdict, Kind, Profile,
    RefreshFacts, RefreshVerdict, Secret,
};
use rampart_idp::jwt::{
    Alg, ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP, DEFAULT_ID_TOKEN_ALG, ID_TOKEN_TYP,
};
use rampart_store::{IdpClient, NewFamily};
use serde_json::json;
use time::Duration;

use super::{keys, recorded, refused, OAuthError, FAMILY_LIFETIME, TOKEN_LIFETIME};
use crate::state::AppState;

/// The credentials a request presents: from `Authorization: Basic` or the form.
#[derive(Debug, Default, Clone)]
pub struct ClientCredentials {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret` (never logged).
    pub secret: Option<String>,
    /// Both came in the `Authorization` header.
    pub basic: bool,
}

/// The authenticated client: a confidential client with its secret, or a public client
/// by its id alone. Every failure is `invalid_client` and recorded.
pub async fn authenticate(
    state: &AppState,
    ctx: &AuditContext,
    presented: &ClientCredentials,
) -> Result<IdpClient, OAuthError> {
    let Some(id) = presented.client_id.as_deref().filter(|c| !c.is_empty()) else {
        refused(
            state,
            ctx,
            "idp.client.auth",
            None,
            json!({ "reason": "no client_id" }),
        )
        .await;
        return Err(OAuthError::client("client authentication is required"));
    };
    let client = super::clients::find(state, id).await?;
    let ok = match (&client, &presented.secret) {
        (Some(c), Some(secret)) => c
            .secret_hash
            .as_deref()
            .is_some_and(|h| Secret::matches(secret, h)),
        (Some(c), None) => c.secret_hash.is_none(),
        (None, secret) => {
            // Unknown clients cost the same hash as known ones.
            let _ = secret.as_deref().map(grant::hash);
            false
        }
    };
    match client {
        Some(c) if ok => Ok(c),
        c => {
            let known = c.as_ref().map(|c| c.client_id.as_str());
            let reason = match (known, &presented.secret) {
                (None, _) => "unknown client",
                (Some(_), None) => "a confidential client sent no secret",
                (Some(_), Some(_)) => "wrong client secret",
            };
            refused(
                state,
                ctx,
                "idp.client.auth",
                known,
                json!({ "reason": reason }),
            )
            .await;
            Err(OAuthError::client("client authentication failed"))
        }
    }
}

/// A token request's form fields, by name.
pub struct Form<'a>(pub &'a [(String, String)]);

impl Form<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field sent more than once, if any (refused by RFC 6749 §3.2).
    pub fn repeated(&self) -> Option<&str> {
        self.0.iter().enumerate().find_map(|(i, (k, _))| {
            self.0[..i]
                .iter()
                .any(|(j, _)| j == k)
                .then_some(k.as_str())
        })
    }
}

/// The token endpoint: `form` from an authenticated `client`.
pub async fn token(
    state: &AppState,
    issuer: &str,
    ctx: &AuditContext,
    client: &IdpClient,
    form: &Form<'_>,
) -> Result<TokenResponse, OAuthError> {
    let grant_type = form.get("grant_type").unwrap_or("");
    if !client.grant_types.iter().any(|g| g == grant_type) {
        let why = if grant_type.is_empty() {
            "grant_type is required".to_owned()
        } else {
            format!("the client may not use the grant type {grant_type:?}")
        };
        refused(
            state,
            ctx,
            "idp.token",
            Some(&client.client_id),
            json!({ "reason": why }),
        )
        .await;
        return Err(
            if matches!(
                grant_type,
                "authorization_code" | "refresh_token" | "client_credentials"
            ) {
                OAuthError::bad("unauthorized_client", why)
            } else if grant_type.is_empty() {
                OAuthError::bad("invalid_request", why)
            } else {
                OAuthError::bad("unsupported_grant_type", why)
            },
        );
    }
    match grant_type {
        "authorization_code" => code_grant(state, issuer, ctx, client, form).await,
        "refresh_token" => refresh_grant(state, issuer, ctx, client, form).await,
        _ => client_credentials(state, issuer, ctx, client, form).await,
    }
}

async fn invalid_grant(
    state: &AppState,
    ctx: &AuditContext,
    client: &IdpClient,
    grant_type: &str,
    why: &str,
) -> OAuthError {
    refused(
        state,
        ctx,
        "idp.token",
        Some(&client.client_id),
        json!({ "grant_type": grant_type, "reason": why }),
    )
    .await;
    OAuthError::bad("invalid_grant", why)
}

async fn code_grant(
    state: &AppState,
    issuer: &str,
    ctx: &AuditContext,
    client: &IdpClient,
    form: &Form<'_>,
) -> Result<TokenResponse, OAuthError> {
    const GRANT: &str = "authorization_code";
    let Some(code) = form.get("code") else {
        return Err(invalid_grant(state, ctx, client, GRANT, "code is required").await);
    };
    let now = state.clock.now();
    let code_hash = grant::hash(code);
    let Some(taken) = state.store.idp_take_code(&code_hash, now).await? else {
        return Err(invalid_grant(state, ctx, client, GRANT, "unknown authorization code").await);
    };
    let verdict = judge_code(
        &CodeFacts {
            used: taken.used,
            expires_at: taken.expires_at.unix_timestamp(),
            client_id: &taken.client_id,
            redirect_uri: &taken.redirect_uri,
            challenge: &taken.challenge,
        },
        &CodeRequest {
            client_id: &client.client_id,
            redirect_uri: form.get("redirect_uri"),
            verifier: form.get("code_verifier"),
            registered: &client.redirect_uris,
        },
        now.unix_timestamp(),
    );
    match verdict {
        CodeVerdict::Grant => {}
        CodeVerdict::Replayed => {
            if let Some(family) = &taken.family_id {
                state
                    .store
                    .idp_revoke_family(family, "authorization code replayed", now, ctx)
                    .await?;
            }
            return Err(invalid_grant(
                state,
                ctx,
                client,
                GRANT,
                "the authorization code was already used",
            )
            .await);
        }
        CodeVerdict::Refused(why) => {
            return Err(invalid_grant(state, ctx, client, GRANT, why).await)
        }
    }
    let Some(user) = state
        .store
        .user(taken.user_id)
        .await?
        .filter(|u| !u.disabled)
    else {
        return Err(invalid_grant(state, ctx, client, GRANT, "the user is disabled or gone").await);
    };
    if user.provider.as_str() != client.users {
        let why = "the client no longer signs in this user's kind of user";
        return Err(invalid_grant(state, ctx, client, GRANT, why).await);
    }
    // The client's registration now, which an update may have narrowed since the code.
    let Some(scopes) = grant::narrowed(&taken.scopes, &client.scopes) else {
        let why = "the client may no longer ask for openid";
        return Err(invalid_grant(state, ctx, client, GRANT, why).await);
    };
    let family_id = random()?;
    let refresh = Secret::generate(Kind::RefreshToken)
        .ok_or_else(|| Error::Internal("the random generator failed".into()))?;
    let profile = profile(&user);
    let tokens = sign(
        state,
        issuer,
        client,
        &profile,
        &scopes,
        taken.nonce.as_deref(),
        taken.auth_time.unix_timestamp(),
        Some(&family_id),
    )
    .await?;
    state
        .store
        .idp_start_family(
            &code_hash,
            &NewFamily {
                family_id,
                client_id: client.client_id.clone(),
                user_id: user.id,
                scopes,
                auth_time: taken.auth_time,
                expires_at: now + Duration::seconds(FAMILY_LIFETIME),
                refresh_hash: refresh.hash(),
            },
            now,
            ctx,
        )
        .await?;
    Ok(TokenResponse {
        refresh_token: Some(refresh.text().to_owned()),
        ..tokens
    })
}

async fn refresh_grant(
    state: &AppState,
    issuer: &str,
    ctx: &AuditContext,
    client: &IdpClient,
    form: &Form<'_>,
) -> Result<TokenResponse, OAuthError> {
    const GRANT: &str = "refresh_token";
    let Some(presented) = form.get("refresh_token") else {
        return Err(invalid_grant(state, ctx, client, GRANT, "refresh_token is required").await);
    };
    let now = state.clock.now();
    let Some(row) = state
        .store
        .idp_refresh_token(&grant::hash(presented))
        .await?
    else {
        return Err(invalid_grant(state, ctx, client, GRANT, "unknown refresh token").await);
    };
    let verdict = judge_refresh(
        &RefreshFacts {
            generation: row.generation,
            current: row.current,
            revoked: row.revoked,
            expires_at: row.expires_at.unix_timestamp(),
            client_id: &row.client_id,
        },
        &client.client_id,
        now.unix_timestamp(),
    );
    let replayed =
        "the refresh token was replayed after rotation; every token of its grant is revoked";
    match verdict {
        RefreshVerdict::Rotate => {}
        RefreshVerdict::Replayed => {
            state
                .store
                .idp_revoke_family(&row.family_id, "refresh token replayed", now, ctx)
                .await?;
            return Err(invalid_grant(state, ctx, client, GRANT, replayed).await);
        }
        RefreshVerdict::Refused(why) => {
            return Err(invalid_grant(state, ctx, client, GRANT, why).await)
        }
    }
    if row.user.disabled {
        return Err(invalid_grant(state, ctx, client, GRANT, "the user is disabled or gone").await);
    }
    let user = &row.user;
    // The client's registration now: an update that removed a scope narrowed the family in
    // its transaction; one that committed since this token was read is applied here.
    let scopes = match grant::narrowed(&row.scopes, &client.scopes) {
        Some(scopes) if user.provider.as_str() == client.users => scopes,
        _ => {
            let why = "the client's registration no longer allows this grant";
            state
                .store
                .idp_revoke_family(&row.family_id, why, now, ctx)
                .await?;
            return Err(invalid_grant(state, ctx, client, GRANT, why).await);
        }
    };
    // A `scope` may narrow what this refresh issues, never widen it (RFC 6749 §6); the
    // family keeps what was granted, so a later refresh may ask for all of it again.
    // Refused before the rotation: the presented token stays the current one.
    let scopes = match form.get("scope") {
        None => scopes,
        Some(asked) => {
            let asked = rampart_idp::parse_scope(asked);
            if asked.is_empty() || !rampart_idp::covered(&asked, &scopes) {
                let why = "a refresh may ask only for scopes of the original grant";
                refused(
                    state,
                    ctx,
                    "idp.token",
                    Some(&client.client_id),
                    json!({ "grant_type": GRANT, "reason": why }),
                )
                .await;
                return Err(OAuthError::bad("invalid_scope", why));
            }
            asked
        }
    };
    let next = Secret::generate(Kind::RefreshToken)
        .ok_or_else(|| Error::Internal("the random generator failed".into()))?;
    if !state
        .store
        .idp_rotate(
            &row.family_id,
            &client.client_id,
            row.generation,
            &next.hash(),
            now,
            ctx,
        )
        .await?
    {
        // Another presentation of the same token won the race: this one is the replay.
        state
            .store
            .idp_revoke_family(&row.family_id, "refresh token replayed", now, ctx)
            .await?;
        return Err(invalid_grant(state, ctx, client, GRANT, replayed).await);
    }
    let tokens = sign(
        state,
        issuer,
        client,
        &profile(user),
        &scopes,
        None,
        row.auth_time.unix_timestamp(),
        Some(&row.family_id),
    )
    .await?;
    Ok(TokenResponse {
        refresh_token: Some(next.text().to_owned()),
        ..tokens
    })
}

async fn client_credentials(
    state: &AppState,
    issuer: &str,
    ctx: &AuditContext,
    client: &IdpClient,
    form: &Form<'_>,
) -> Result<TokenResponse, OAuthError> {
    // A service acts as itself: no user, so no `openid` and no ID token.
    let allowed: Vec<String> = client
        .scopes
        .iter()
        .filter(|s| *s != "openid")
        .cloned()
        .collect();
    let scopes = match form.get("scope") {
        None => Vec::new(),
        Some(s) => rampart_idp::parse_scope(s),
    };
    if !rampart_idp::covered(&scopes, &allowed) {
        let why = "the client is not registered for every scope asked";
        refused(
            state,
            ctx,
            "idp.token",
            Some(&client.client_id),
            json!({ "grant_type": "client_credentials", "reason": why }),
        )
        .await;
        return Err(OAuthError::bad("invalid_scope", why));
    }
    let now = state.clock.now().unix_timestamp();
    let jti = random()?;
    let keys = keys::current(state).await?;
    let claims = grant::access_token_claims(
        issuer,
        &client.client_id,
        &client.client_id,
        &scopes,
        &jti,
        None,
        now,
        TOKEN_LIFETIME,
    );
    let access_token = keys
        .signer(ACCESS_TOKEN_ALG)?
        .sign(ACCESS_TOKEN_TYP, &claims)
        .map_err(|e| Error::Internal(format!("signing: {e}")))?;
    recorded(
        state,
        ctx,
        "idp.token",
        &client.client_id,
        json!({ "client_id": client.client_id, "grant_type": "client_credentials", "token": jti, "scopes": scopes }),
    )
    .await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: TOKEN_LIFETIME,
        scope: scopes.join(" "),
        id_token: None,
        refresh_token: None,
    })
}

fn random() -> Result<String, Error> {
    grant::random_id().ok_or_else(|| Error::Internal("the random generator failed".into()))
}

/// The profile tokens speak of.
pub fn profile(user: &rampart_core::User) -> OwnedProfile {
    OwnedProfile {
        sub: user.id.to_string(),
        username: user.username.clone(),
        name: user.display_name.clone(),
        email: user.email.clone(),
    }
}

/// A user's claims, owned.
pub struct OwnedProfile {
    sub: String,
    username: String,
    name: Option<String>,
    email: Option<String>,
}

impl OwnedProfile {
    /// Borrowed, as `rampart_idp` takes it.
    pub fn view(&self) -> Profile<'_> {
        Profile {
            sub: &self.sub,
            username: &self.username,
            name: self.name.as_deref(),
            email: self.email.as_deref(),
        }
    }
}

/// Signs the ID and access tokens of a grant about a user.
#[allow(clippy::too_many_arguments)]
async fn sign(
    state: &AppState,
    issuer: &str,
    client: &IdpClient,
    profile: &OwnedProfile,
    scopes: &[String],
    nonce: Option<&str>,
    auth_time: i64,
    family: Option<&str>,
) -> Result<TokenResponse, Error> {
    let client_id = client.client_id.as_str();
    // The algorithm the client was registered with; a stored name this provider no longer
    // signs with falls back to OpenID Connect's default.
    let id_alg = Alg::parse(&client.id_token_alg).unwrap_or(DEFAULT_ID_TOKEN_ALG);
    let now = state.clock.now().unix_timestamp();
    let keys = keys::current(state).await?;
    let view = profile.view();
    let id = grant::id_token_claims(
        issuer,
        client_id,
        &view,
        scopes,
        nonce,
        auth_time,
        now,
        TOKEN_LIFETIME,
    );
    let jti = random()?;
    let access = grant::access_token_claims(
        issuer,
        client_id,
        view.sub,
        scopes,
        &jti,
        family,
        now,
        TOKEN_LIFETIME,
    );
    let fail = |e: rampart_idp::jwt::KeyError| Error::Internal(format!("signing: {e}"));
    Ok(TokenResponse {
        access_token: keys
            .signer(ACCESS_TOKEN_ALG)?
            .sign(ACCESS_TOKEN_TYP, &access)
            .map_err(fail)?,
        token_type: "Bearer".into(),
        expires_in: TOKEN_LIFETIME,
        scope: scopes.join(" "),
        id_token: Some(keys.signer(id_alg)?.sign(ID_TOKEN_TYP, &id).map_err(fail)?),
        refresh_token: None,
    })
}

/// The user id of a token's `sub`, when it names a user.
pub fn user_of(sub: &str) -> Option<UserId> {
    UserId::parse(sub, "sub").ok()
}
