//! The authorization endpoint: a request checked against its client
//! (`rampart_idp::authorize`), the user's session and consent, and the code.

use rampart_core::{AuditContext, Error, Provider, Session, User};
use rampart_idp::authorize::{self, Accepted, ClientRules, Params, Refusal};
use rampart_idp::grant::{Kind, Secret};
use rampart_store::{IdpClient, IssuedCode};
use serde_json::json;
use time::Duration;

use super::{refused, CODE_LIFETIME};
use crate::state::AppState;

/// What the authorization endpoint does next.
#[derive(Debug)]
pub enum Step {
    /// Show an error page, redirecting nowhere (the client or redirect URI is not trusted).
    Page(String),
    /// Send the browser to this URI (the client's, with a code or an error).
    Redirect(String),
    /// Send the user to sign in as one of the client's users (`it`: the console's sign-in
    /// page; `end`: the provider's own), then back to the request.
    SignIn(Provider),
    /// Ask the user's consent.
    Consent {
        /// The client's name.
        client_name: String,
        /// The scopes asked.
        scopes: Vec<String>,
    },
}

/// The signed-in user and their session, if any.
pub struct Visit<'a> {
    /// The user and session.
    pub session: Option<(&'a User, &'a Session)>,
    /// The request's audit context (the user as actor when signed in).
    pub audit: &'a AuditContext,
}

/// The consent decision posted from the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No decision: the request as it came.
    None,
    /// The user allowed.
    Allow,
    /// The user refused.
    Deny,
}

async fn judge(
    state: &AppState,
    issuer: &str,
    pairs: &[(String, String)],
    audit: &AuditContext,
) -> Result<Result<(Accepted, IdpClient), Step>, Error> {
    let params = match Params::from_pairs(pairs) {
        Ok(p) => p,
        Err(name) => {
            let why = format!("the parameter {name} was sent more than once");
            refused(
                state,
                audit,
                "idp.authorize",
                None,
                json!({ "reason": why }),
            )
            .await;
            return Ok(Err(Step::Page(why)));
        }
    };
    let client = match params.client_id.as_deref() {
        Some(id) => super::clients::find(state, id).await?,
        None => None,
    };
    let rules = client.as_ref().map(|c| ClientRules {
        redirect_uris: &c.redirect_uris,
        scopes: &c.scopes,
    });
    let client_id = client.as_ref().map(|c| c.client_id.as_str());
    match authorize::check(&params, rules.as_ref()) {
        Ok(accepted) => match client {
            Some(c) if c.grant_types.iter().any(|g| g == "authorization_code") => {
                Ok(Ok((accepted, c)))
            }
            _ => {
                let why = "the client may not use the authorization code flow";
                refused(
                    state,
                    audit,
                    "idp.authorize",
                    client_id,
                    json!({ "reason": why }),
                )
                .await;
                Ok(Err(Step::Redirect(error_uri(
                    &accepted.redirect_uri,
                    "unauthorized_client",
                    why,
                    accepted.state.as_deref(),
                    issuer,
                ))))
            }
        },
        Err(Refusal::Page(why)) => {
            refused(
                state,
                audit,
                "idp.authorize",
                client_id,
                json!({ "reason": why }),
            )
            .await;
            Ok(Err(Step::Page(why)))
        }
        Err(Refusal::Redirect {
            redirect_uri,
            error,
            description,
            state: st,
        }) => {
            refused(
                state,
                audit,
                "idp.authorize",
                client_id,
                json!({ "reason": description, "error": error }),
            )
            .await;
            Ok(Err(Step::Redirect(error_uri(
                &redirect_uri,
                error,
                &description,
                st.as_deref(),
                issuer,
            ))))
        }
    }
}

/// An error answered at the client's redirect URI, with the issuer (RFC 9207: on errors
/// too, so a client talking to several providers can tell which answered).
fn error_uri(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> String {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", issuer));
    authorize::redirect_with(redirect_uri, &pairs)
}

/// The authorization request `pairs` (query or form) for `visit`; with a consent
/// `decision` when the consent page posted it.
pub async fn authorize(
    state: &AppState,
    issuer: &str,
    pairs: &[(String, String)],
    visit: &Visit<'_>,
    decision: Decision,
) -> Result<Step, Error> {
    let (request, client) = match judge(state, issuer, pairs, visit.audit).await? {
        Ok(ok) => ok,
        Err(step) => return Ok(step),
    };
    let now = state.clock.now();
    let back = |error: &str, why: &str| {
        Step::Redirect(error_uri(
            &request.redirect_uri,
            error,
            why,
            request.state.as_deref(),
            issuer,
        ))
    };
    // Only a session of the client's users counts: an end user's session never obtains a
    // code for a client of IT users, nor the reverse; they sign in as one of its users.
    let users = Provider::parse(&client.users)?;
    let session = visit.session.filter(|(user, _)| user.provider == users);
    let signed_in = session.map(|(_, s)| s.created_at.unix_timestamp());
    // A posted decision comes from a page shown to this session: no second sign-in.
    let must_sign_in = match decision {
        Decision::None => authorize::must_sign_in(&request, signed_in, now.unix_timestamp()),
        _ => signed_in.is_none(),
    };
    let Some((user, session)) = session.filter(|_| !must_sign_in) else {
        if request.prompt.none {
            let why = "the user is not signed in (prompt=none)";
            refused(
                state,
                visit.audit,
                "idp.authorize",
                Some(&client.client_id),
                json!({ "reason": why }),
            )
            .await;
            return Ok(back("login_required", why));
        }
        return Ok(Step::SignIn(users));
    };
    match decision {
        Decision::Deny => {
            let why = "the user refused consent";
            refused(
                state,
                visit.audit,
                "idp.consent",
                Some(&client.client_id),
                json!({ "reason": why, "scopes": request.scopes }),
            )
            .await;
            return Ok(back("access_denied", why));
        }
        Decision::Allow if !client.first_party => {
            state
                .store
                .idp_grant_consent(
                    user.id,
                    &client.client_id,
                    &request.scopes,
                    now,
                    visit.audit,
                )
                .await?;
        }
        Decision::Allow => {}
        Decision::None => {
            let remembered = state.store.idp_consent(user.id, &client.client_id).await?;
            if authorize::must_consent(&request, client.first_party, remembered.as_deref()) {
                if request.prompt.none {
                    let why = "the user has not consented (prompt=none)";
                    refused(
                        state,
                        visit.audit,
                        "idp.authorize",
                        Some(&client.client_id),
                        json!({ "reason": why }),
                    )
                    .await;
                    return Ok(back("consent_required", why));
                }
                return Ok(Step::Consent {
                    client_name: client.name.clone(),
                    scopes: request.scopes.clone(),
                });
            }
        }
    }
    let code = Secret::generate(Kind::Code)
        .ok_or_else(|| Error::Internal("the random generator failed".into()))?;
    state
        .store
        .idp_issue_code(
            &IssuedCode {
                code_hash: code.hash(),
                client_id: client.client_id.clone(),
                user_id: user.id,
                redirect_uri: request.redirect_uri.clone(),
                scopes: request.scopes.clone(),
                nonce: request.nonce.clone(),
                challenge: request.challenge.clone(),
                auth_time: session.created_at,
                expires_at: now + Duration::seconds(CODE_LIFETIME),
            },
            now,
            visit.audit,
        )
        .await?;
    let mut pairs = vec![("code", code.text())];
    if let Some(s) = request.state.as_deref() {
        pairs.push(("state", s));
    }
    pairs.push(("iss", issuer));
    Ok(Step::Redirect(authorize::redirect_with(
        &request.redirect_uri,
        &pairs,
    )))
}

/// Whether `path_and_query` is an authorization request on this site, the only place the
/// sign-in page sends a user back to for the provider.
pub fn is_return_address(path_and_query: &str) -> bool {
    path_and_query.starts_with("/oauth2/authorize?")
        && path_and_query.chars().all(|c| c.is_ascii_graphic())
        && !path_and_query.contains('\\')
}

/// The client an authorization request on this site names, as its sign-in page needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnClient {
    /// The client's name.
    pub name: String,
    /// Who signs in to it.
    pub users: Provider,
    /// The origin (`scheme://host[:port]`) of the redirect URI the request names, when it is
    /// one of the client's own: where the browser goes after signing in. A browser applies
    /// the sign-in page's CSP `form-action` to the redirects that follow its form, so the
    /// page allows this origin besides its own.
    pub redirect_origin: Option<String>,
}

/// The origin of `uri` when it is one of `registered`, written as a CSP source (nothing but
/// a scheme, a host and a port).
fn registered_origin(uri: &str, registered: &[String]) -> Option<String> {
    if !registered.iter().any(|r| r == uri) {
        return None;
    }
    let origin = url::Url::parse(uri).ok()?.origin();
    if !origin.is_tuple() {
        return None;
    }
    let text = origin.ascii_serialization();
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'.' | b'-' | b'[' | b']'))
        .then_some(text)
}

/// The client an authorization request on this site (`return_to`, a return address of the
/// provider's sign-in page) names; `None` when the address is not such a request or names
/// no registered client of the code flow.
pub async fn client_of_return(
    state: &AppState,
    return_to: &str,
) -> Result<Option<ReturnClient>, Error> {
    if !is_return_address(return_to) {
        return Ok(None);
    }
    let query = return_to.split_once('?').map_or("", |(_, q)| q);
    let one = |name: &str| {
        let mut values = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned());
        match (values.next(), values.next()) {
            (Some(v), None) => Some(v),
            _ => None,
        }
    };
    let Some(id) = one("client_id") else {
        return Ok(None);
    };
    let Some(client) = super::clients::find(state, &id).await? else {
        return Ok(None);
    };
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Ok(None);
    }
    let redirect_origin =
        one("redirect_uri").and_then(|uri| registered_origin(&uri, &client.redirect_uris));
    Ok(Some(ReturnClient {
        users: Provider::parse(&client.users)?,
        name: client.name,
        redirect_origin,
    }))
}

#[cfg(test)]
mod tests {
    use super::registered_origin;

    #[test]
    fn only_a_registered_redirect_uri_gives_its_origin() {
        let registered = [
            "https://shop.example/callback".to_owned(),
            "http://127.0.0.1:8123/cb".to_owned(),
            "https://[::1]:9443/cb".to_owned(),
        ];
        let check = |uri: &str, expected: Option<&str>| {
            assert_eq!(
                registered_origin(uri, &registered).as_deref(),
                expected,
                "{uri}"
            );
        };
        check(
            "https://shop.example/callback",
            Some("https://shop.example"),
        );
        check("http://127.0.0.1:8123/cb", Some("http://127.0.0.1:8123"));
        check("https://[::1]:9443/cb", Some("https://[::1]:9443"));
        check("https://shop.example/other", None);
        check("https://evil.example/callback", None);
        check("", None);
    }
}
