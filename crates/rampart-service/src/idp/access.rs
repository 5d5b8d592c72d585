//! What relying parties do with tokens: userinfo, introspection (RFC 7662), revocation
//! (RFC 7009), and RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use rampart_core::{AuditContext, Error, UserId};
use rampart_idp::grant;
use rampart_idp::jwt::{self, TokenError, ACCESS_TOKEN_TYP, ID_TOKEN_TYP};
use rampart_store::IdpClient;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::token::{profile, user_of};
use super::{keys, refused, OAuthError};
use crate::state::AppState;

/// A valid access token's claims: signed by a published key, `typ: at+jwt`, for this
/// issuer, unexpired, and neither its family nor its id revoked.
async fn access_claims(
    state: &AppState,
    issuer: &str,
    token: &str,
) -> Result<Result<Map<String, Value>, &'static str>, Error> {
    let keys = keys::current(state).await?;
    let now = state.clock.now().unix_timestamp();
    let claims = match jwt::verify(token, ACCESS_TOKEN_TYP, &keys.published)
        .and_then(|c| jwt::check_claims(&c, issuer, Some(issuer), now).map(|()| c))
    {
        Ok(c) => c,
        Err(e) => return Ok(Err(e.describe())),
    };
    let live = match claims.get("gid").and_then(Value::as_str) {
        Some(family) => state.store.idp_family_live(family).await?,
        None => match claims.get("jti").and_then(Value::as_str) {
            Some(jti) => !state.store.idp_token_id_revoked(jti).await?,
            None => false,
        },
    };
    Ok(if live {
        Ok(claims)
    } else {
        Err("the token was revoked")
    })
}

/// `GET /oauth2/userinfo`: the claims about the token's user its scopes release.
pub async fn userinfo(
    state: &AppState,
    issuer: &str,
    ctx: &AuditContext,
    bearer: Option<&str>,
) -> Result<Value, OAuthError> {
    let Some(token) = bearer else {
        refused(
            state,
            ctx,
            "idp.userinfo",
            None,
            json!({ "reason": "no access token" }),
        )
        .await;
        return Err(OAuthError::token("an access token is required"));
    };
    let claims = match access_claims(state, issuer, token).await? {
        Ok(c) => c,
        Err(why) => {
            refused(state, ctx, "idp.userinfo", None, json!({ "reason": why })).await;
            return Err(OAuthError::token(why));
        }
    };
    let client = claims.get("client_id").and_then(Value::as_str);
    let user = match claims.get("sub").and_then(Value::as_str).and_then(user_of) {
        Some(id) => state.store.user(id).await?.filter(|u| !u.disabled),
        None => None,
    };
    let Some(user) = user else {
        let why = "the token speaks of no active user";
        refused(state, ctx, "idp.userinfo", client, json!({ "reason": why })).await;
        return Err(OAuthError::token(why));
    };
    let mut scopes =
        rampart_idp::parse_scope(claims.get("scope").and_then(Value::as_str).unwrap_or(""));
    // A token issued before its client's scopes were narrowed releases only what the
    // client may still ask for.
    match client {
        Some(id) => match super::clients::find(state, id).await? {
            Some(c) => scopes.retain(|s| c.scopes.contains(s)),
            None => scopes.clear(),
        },
        None => scopes.clear(),
    }
    let owned = profile(&user);
    Ok(Value::Object(grant::user_claims(&owned.view(), &scopes)))
}

/// What a token presented for introspection or revocation turned out to be.
enum Found {
    Access(Map<String, Value>),
    Refresh(Box<rampart_store::RefreshRow>),
    Nothing(&'static str),
}

async fn find(state: &AppState, issuer: &str, token: &str) -> Result<Found, Error> {
    if token.starts_with("rpr_") {
        let now = state.clock.now();
        return Ok(
            match state.store.idp_refresh_token(&grant::hash(token)).await? {
                Some(r) if r.revoked => Found::Nothing("the token was revoked"),
                Some(r) if r.generation != r.current => {
                    Found::Nothing("the token was rotated away")
                }
                Some(r) if r.expires_at <= now => Found::Nothing("the token has expired"),
                Some(r) => Found::Refresh(Box::new(r)),
                None => Found::Nothing("unknown token"),
            },
        );
    }
    Ok(match access_claims(state, issuer, token).await? {
        Ok(c) => Found::Access(c),
        Err(why) => Found::Nothing(why),
    })
}

/// `POST /oauth2/introspect` by an authenticated confidential `client` (a public client
/// is refused): `{"active": false}` for a token that is not valid or was issued to another
/// client.
pub async fn introspect(
    state: &AppState,
    issuer: &str,
    ctx: &AuditContext,
    client: &IdpClient,
    token: Option<&str>,
) -> Result<Value, OAuthError> {
    if client.secret_hash.is_none() {
        let why = "introspection is for confidential clients";
        refused(
            state,
            ctx,
            "idp.introspect",
            Some(&client.client_id),
            json!({ "reason": why }),
        )
        .await;
        return Err(OAuthError::client(why));
    }
    let Some(token) = token else {
        return Err(OAuthError::bad("invalid_request", "token is required"));
    };
    let inactive = |why: &'static str| async move {
        refused(
            state,
            ctx,
            "idp.introspect",
            Some(&client.client_id),
            json!({ "reason": why }),
        )
        .await;
        Ok(json!({ "active": false }))
    };
    match find(state, issuer, token).await? {
        Found::Nothing(why) => inactive(why).await,
        Found::Access(c) => {
            if c.get("client_id").and_then(Value::as_str) != Some(client.client_id.as_str()) {
                return inactive("the token was issued to another client").await;
            }
            // A user's token (every one belongs to a grant's family, `gid`) is active only
            // while the user is, as `userinfo` answers; a client-credentials token has no
            // family, and its subject is its client (whose id may look like a user's).
            if c.get("gid").is_some() {
                let user = c.get("sub").and_then(Value::as_str).and_then(user_of);
                let active = match user {
                    Some(id) => state.store.user(id).await?.is_some_and(|u| !u.disabled),
                    None => false,
                };
                if !active {
                    return inactive("the token speaks of no active user").await;
                }
            }
            // A token issued before its client's scopes were narrowed is reported with only
            // what the client may still ask for, as `userinfo` releases only those.
            let mut scope =
                rampart_idp::parse_scope(c.get("scope").and_then(Value::as_str).unwrap_or(""));
            scope.retain(|s| client.scopes.contains(s));
            Ok(json!({
                "active": true,
                "token_type": "Bearer",
                "scope": scope.join(" "),
                "client_id": c.get("client_id"),
                "sub": c.get("sub"),
                "exp": c.get("exp"),
                "iat": c.get("iat"),
                "iss": c.get("iss"),
                "aud": c.get("aud"),
                "jti": c.get("jti"),
            }))
        }
        Found::Refresh(r) => {
            if r.client_id != client.client_id {
                return inactive("the token was issued to another client").await;
            }
            if r.user.disabled {
                return inactive("the token speaks of no active user").await;
            }
            Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": r.scopes.join(" "),
                "client_id": r.client_id,
                "sub": r.user.id.to_string(),
                "exp": r.expires_at.unix_timestamp(),
                "iss": issuer,
            }))
        }
    }
}

/// `POST /oauth2/revoke` by an authenticated `client` (RFC 7009): revokes the token's
/// grant (the family of a refresh or access token; a client-credentials token by its id).
/// Unknown, invalid or another client's tokens change nothing, and the answer is the same.
pub async fn revoke(
    state: &AppState,
    issuer: &str,
    ctx: &AuditContext,
    client: &IdpClient,
    token: Option<&str>,
) -> Result<(), OAuthError> {
    let Some(token) = token else {
        return Err(OAuthError::bad("invalid_request", "token is required"));
    };
    let now = state.clock.now();
    let (owner, family, jti_exp) = match find(state, issuer, token).await? {
        Found::Nothing(why) => {
            refused(
                state,
                ctx,
                "idp.revoke",
                Some(&client.client_id),
                json!({ "reason": why }),
            )
            .await;
            return Ok(());
        }
        Found::Refresh(r) => (r.client_id.clone(), Some(r.family_id.clone()), None),
        Found::Access(c) => {
            let owner = c
                .get("client_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let family = c.get("gid").and_then(Value::as_str).map(str::to_owned);
            let jti = c.get("jti").and_then(Value::as_str).map(str::to_owned);
            let exp = c.get("exp").and_then(Value::as_i64).unwrap_or(0);
            (owner, family, jti.map(|j| (j, exp)))
        }
    };
    if owner != client.client_id {
        refused(
            state,
            ctx,
            "idp.revoke",
            Some(&client.client_id),
            json!({ "reason": "the token was issued to another client" }),
        )
        .await;
        return Ok(());
    }
    if let Some(family) = family {
        state
            .store
            .idp_revoke_family(&family, "revoked by the client", now, ctx)
            .await?;
    } else if let Some((jti, exp)) = jti_exp {
        let exp =
            OffsetDateTime::from_unix_timestamp(exp).map_err(|e| Error::Internal(e.to_string()))?;
        state
            .store
            .idp_revoke_token_id(&jti, &client.client_id, exp, now, ctx)
            .await?;
    }
    Ok(())
}

/// An RP-initiated logout request, checked: the client and user its `id_token_hint` names,
/// and where to send the browser afterwards.
#[derive(Debug)]
pub struct Logout {
    /// The client that signed the user in.
    pub client_id: String,
    /// The user the hint names.
    pub user: UserId,
    /// The registered post-logout URI, with `state`, if one was asked.
    pub redirect: Option<String>,
}

/// An RP-initiated logout request's parameters as sent, and who is signed in where it
/// arrived.
#[derive(Debug, Clone, Copy)]
pub struct LogoutRequest<'a> {
    /// `id_token_hint`.
    pub hint: Option<&'a str>,
    /// `client_id`.
    pub client_id: Option<&'a str>,
    /// `post_logout_redirect_uri`.
    pub post_logout_redirect_uri: Option<&'a str>,
    /// `state`, returned as sent.
    pub state: Option<&'a str>,
    /// The user signed in in the browser that sent it, if anyone.
    pub signed_in: Option<UserId>,
}

/// Checks an RP-initiated logout request: `id_token_hint` must be an ID token this
/// provider signed (it may have expired), `client_id` (when sent) its audience, and
/// `post_logout_redirect_uri` (when sent) one the client registered, exactly, and the
/// user it names the one `signed_in` here, if anyone is. A refusal is recorded and says
/// why (the browser sees a page, never a redirect).
pub async fn check_logout(
    state: &AppState,
    issuer: &str,
    ctx: &AuditContext,
    request: &LogoutRequest<'_>,
) -> Result<Result<Logout, String>, Error> {
    let LogoutRequest {
        hint,
        client_id,
        post_logout_redirect_uri,
        state: st,
        signed_in,
    } = *request;
    let refuse = |why: String| async move {
        refused(
            state,
            ctx,
            "idp.logout",
            client_id,
            json!({ "reason": why }),
        )
        .await;
        Ok(Err(why))
    };
    let Some(hint) = hint else {
        return refuse("id_token_hint is required".into()).await;
    };
    let keys = keys::current(state).await?;
    let claims = match jwt::verify(hint, ID_TOKEN_TYP, &keys.published)
        // An expired hint still names who signed in where.
        .and_then(|c| jwt::check_claims(&c, issuer, None, i64::MIN).map(|()| c))
    {
        Ok(c) => c,
        Err(
            e @ (TokenError::Malformed
            | TokenError::UnknownKey
            | TokenError::BadSignature
            | TokenError::WrongIssuer
            | TokenError::WrongAudience
            | TokenError::Expired),
        ) => {
            return refuse(format!("id_token_hint: {}", e.describe())).await;
        }
    };
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or("");
    if client_id.is_some_and(|c| c != aud) {
        return refuse("client_id is not the id_token_hint's audience".into()).await;
    }
    let Some(client) = super::clients::find(state, aud).await? else {
        return refuse("the id_token_hint's client is not registered".into()).await;
    };
    let Some(user) = claims.get("sub").and_then(Value::as_str).and_then(user_of) else {
        return refuse("the id_token_hint names no user".into()).await;
    };
    // Someone else is signed in here: their session is not the application's to end, and
    // sending the browser back would tell the application its user was signed out.
    if signed_in.is_some_and(|here| here != user) {
        return refuse(
            "the id_token_hint names another account than the one signed in here, which \
             stays signed in"
                .into(),
        )
        .await;
    }
    let redirect = match post_logout_redirect_uri {
        None => None,
        Some(uri) if client.post_logout_redirect_uris.iter().any(|u| u == uri) => {
            let mut pairs = Vec::new();
            if let Some(s) = st {
                pairs.push(("state", s));
            }
            Some(rampart_idp::authorize::redirect_with(uri, &pairs))
        }
        Some(_) => {
            return refuse(
                "post_logout_redirect_uri is not one the client registered (exact match)".into(),
            )
            .await;
        }
    };
    Ok(Ok(Logout {
        client_id: client.client_id,
        user,
        redirect,
    }))
}

/// Records a logout the adapter carried out (the session itself is ended by
/// `identity::logout`, which records `auth.logout`). When it ended the user's session (the
/// browser was signed in as the user the hint names), the refresh tokens the client holds
/// for that user without `offline_access` end with it.
pub async fn logged_out(
    state: &AppState,
    ctx: &AuditContext,
    logout: &Logout,
    ended: bool,
) -> Result<(), Error> {
    let revoked = if ended {
        state
            .store
            .idp_revoke_sign_in_families(
                logout.user,
                Some(&logout.client_id),
                "the user signed out",
                state.clock.now(),
                ctx,
            )
            .await?
    } else {
        0
    };
    super::recorded(
        state,
        ctx,
        "idp.logout",
        &logout.client_id,
        json!({ "client_id": logout.client_id, "user": logout.user.to_string(),
                "session_ended": ended, "grants_revoked": revoked }),
    )
    .await
}
