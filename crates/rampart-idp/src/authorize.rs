//! An authorization request (OpenID Connect Core §3.1.2) checked against its client.
//!
//! The rule, in order:
//! 1. The client must exist and the `redirect_uri` must equal one of its registered URIs,
//!    byte for byte: no prefix, no normalisation, no default. Until it does, nothing is sent
//!    to the URI: the refusal is a page of the provider's own ([`Refusal::Page`]).
//! 2. Then every other fault goes back to that URI as `error` and `error_description`, with
//!    the request's `state` ([`Refusal::Redirect`]): request objects (`request`,
//!    `request_uri`) are refused, `response_mode` must be `query` if given, and
//!    `response_type` must be `code`; the
//!    scope must name `openid` and only scopes the client is registered for; PKCE is
//!    required, with `S256`; `prompt` is `none`, `login`, `consent` or `select_account`
//!    (`none` alone); `max_age` is a non-negative number of seconds.
//! 3. A user signs in first when there is no session, when `prompt=login`, or when the
//!    session's sign-in is older than `max_age` ([`must_sign_in`]); with `prompt=none` that
//!    is `login_required` instead.
//! 4. A third-party client needs the user's consent to scopes the user has not yet granted
//!    it (or always, with `prompt=consent`); a first-party client never asks
//!    ([`must_consent`]); with `prompt=none` that is `consent_required`.

use crate::{covered, parse_scope, pkce, SCOPES};

/// What the provider knows of the client a request names.
#[derive(Debug, Clone)]
pub struct ClientRules<'a> {
    /// The registered redirect URIs, each matched exactly.
    pub redirect_uris: &'a [String],
    /// The scopes the client may ask for.
    pub scopes: &'a [String],
}

/// The request's parameters as sent (absent ones `None`).
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `response_type`.
    pub response_type: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `state`, returned as sent.
    pub state: Option<String>,
    /// `nonce`, put in the ID token.
    pub nonce: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub code_challenge_method: Option<String>,
    /// `prompt`.
    pub prompt: Option<String>,
    /// `max_age`.
    pub max_age: Option<String>,
    /// `response_mode`: only `query` is served.
    pub response_mode: Option<String>,
    /// `request`: request objects are not supported.
    pub request: Option<String>,
    /// `request_uri`: request objects are not supported.
    pub request_uri: Option<String>,
}

impl Params {
    /// The parameters from decoded query or form pairs; a parameter sent twice is refused
    /// (RFC 6749 §3.1), as `Err(name)`.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Params, String> {
        let mut p = Params::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "client_id" => &mut p.client_id,
                "redirect_uri" => &mut p.redirect_uri,
                "response_type" => &mut p.response_type,
                "scope" => &mut p.scope,
                "state" => &mut p.state,
                "nonce" => &mut p.nonce,
                "code_challenge" => &mut p.code_challenge,
                "code_challenge_method" => &mut p.code_challenge_method,
                "prompt" => &mut p.prompt,
                "max_age" => &mut p.max_age,
                "response_mode" => &mut p.response_mode,
                "request" => &mut p.request,
                "request_uri" => &mut p.request_uri,
                _ => continue,
            };
            if slot.is_some() {
                return Err(k.clone());
            }
            *slot = Some(v.clone());
        }
        Ok(p)
    }
}

/// What `prompt` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompt {
    /// `none`: no page may be shown.
    pub none: bool,
    /// `login`: sign in again.
    pub login: bool,
    /// `consent`: ask for consent again.
    pub consent: bool,
}

/// An accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The client.
    pub client_id: String,
    /// The registered redirect URI it named.
    pub redirect_uri: String,
    /// The scopes asked, sorted.
    pub scopes: Vec<String>,
    /// `state`, to return.
    pub state: Option<String>,
    /// `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// The `S256` code challenge.
    pub challenge: String,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age`, seconds.
    pub max_age: Option<i64>,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client or redirect URI cannot be trusted: say why on a page, redirect nowhere.
    Page(String),
    /// Send the error back to the client's redirect URI.
    Redirect {
        /// The registered redirect URI.
        redirect_uri: String,
        /// The OAuth error code.
        error: &'static str,
        /// Why, for the developer.
        description: String,
        /// The request's `state`.
        state: Option<String>,
    },
}

/// Checks `params` against `client` (`None`: no such client). See the module's rule.
pub fn check(params: &Params, client: Option<&ClientRules<'_>>) -> Result<Accepted, Refusal> {
    let Some(client_id) = params.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Err(Refusal::Page("the request names no client_id".into()));
    };
    let Some(client) = client else {
        return Err(Refusal::Page(
            "no client is registered with this client_id".into(),
        ));
    };
    let Some(redirect_uri) = params.redirect_uri.as_deref() else {
        return Err(Refusal::Page("the request names no redirect_uri".into()));
    };
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(Refusal::Page(
            "the redirect_uri is not one the client registered (they must match exactly)".into(),
        ));
    }
    let refuse = |error: &'static str, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        error,
        description: description.to_owned(),
        state: params.state.clone(),
    };
    // Asked for and not served is an error, never silently ignored (OIDC Core §6.1, §6.2).
    if params.request.is_some() {
        return Err(refuse(
            "request_not_supported",
            "request objects (request) are not supported",
        ));
    }
    if params.request_uri.is_some() {
        return Err(refuse(
            "request_uri_not_supported",
            "request objects (request_uri) are not supported",
        ));
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|m| m != "query")
    {
        return Err(refuse(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is required")),
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
    }
    let scopes = parse_scope(params.scope.as_deref().unwrap_or(""));
    if !scopes.iter().any(|s| s == "openid") {
        return Err(refuse("invalid_scope", "the scope must include openid"));
    }
    if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(refuse(
            "invalid_scope",
            &format!("unknown scope {unknown}; known: {}", SCOPES.join(" ")),
        ));
    }
    if !covered(&scopes, client.scopes) {
        return Err(refuse(
            "invalid_scope",
            "the client is not registered for every scope asked",
        ));
    }
    let challenge = match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (Some(c), Some("S256")) if pkce::challenge_is_well_formed(c) => c.to_owned(),
        (Some(_), Some("S256")) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge must be 43 base64url characters",
            ))
        }
        (None, _) => {
            return Err(refuse(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ))
        }
        (Some(_), _) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not supported)",
            ))
        }
    };
    let mut prompt = Prompt::default();
    for value in params.prompt.as_deref().unwrap_or("").split(' ') {
        match value {
            "" | "select_account" => {}
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            _ => return Err(refuse("invalid_request", "unknown prompt value")),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(refuse(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Err(refuse(
                    "invalid_request",
                    "max_age must be a non-negative integer",
                ))
            }
        },
    };
    Ok(Accepted {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        challenge,
        prompt,
        max_age,
    })
}

/// Whether the user must sign in (again) before the request goes on: no session
/// (`signed_in_at` is `None`), `prompt=login`, or a sign-in older than `max_age`.
pub fn must_sign_in(request: &Accepted, signed_in_at: Option<i64>, now: i64) -> bool {
    match signed_in_at {
        None => true,
        Some(at) => request.prompt.login || request.max_age.is_some_and(|max| now - at > max),
    }
}

/// Whether the user must consent: never for a first-party client; otherwise with
/// `prompt=consent`, or when the scopes asked are not all among those the user granted the
/// client before (`remembered`).
pub fn must_consent(request: &Accepted, first_party: bool, remembered: Option<&[String]>) -> bool {
    if first_party {
        return false;
    }
    request.prompt.consent || !remembered.is_some_and(|granted| covered(&request.scopes, granted))
}

/// The query string of a redirect back to the client: `pairs` form-encoded, appended to
/// `redirect_uri` with `?` or `&`.
pub fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = redirect_uri.to_owned();
    let mut first = !redirect_uri.contains('?');
    for (k, v) in pairs {
        out.push(if first { '?' } else { '&' });
        first = false;
        out.push_str(k);
        out.push('=');
        out.push_str(&form_encode(v));
    }
    out
}

/// `text` encoded as an `application/x-www-form-urlencoded` value.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn good() -> Params {
        Params {
            client_id: Some("wiki".into()),
            redirect_uri: Some("https://wiki.example/cb".into()),
            response_type: Some("code".into()),
            scope: Some("openid profile".into()),
            state: Some("s1".into()),
            nonce: Some("n1".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            prompt: None,
            max_age: None,
            response_mode: None,
            request: None,
            request_uri: None,
        }
    }

    fn run(change: impl FnOnce(&mut Params)) -> Result<Accepted, Refusal> {
        let uris = vec!["https://wiki.example/cb".to_owned()];
        let scopes: Vec<String> = ["openid", "profile", "email"].map(String::from).to_vec();
        let mut p = good();
        change(&mut p);
        check(
            &p,
            Some(&ClientRules {
                redirect_uris: &uris,
                scopes: &scopes,
            }),
        )
    }

    fn page(r: Result<Accepted, Refusal>) -> bool {
        matches!(r, Err(Refusal::Page(_)))
    }

    fn error(r: Result<Accepted, Refusal>) -> &'static str {
        match r {
            Err(Refusal::Redirect { error, state, .. }) => {
                assert_eq!(state.as_deref(), Some("s1"));
                error
            }
            other => panic!("expected a redirect refusal, got {other:?}"),
        }
    }

    #[test]
    fn redirect_uris_match_exactly_or_nothing_is_sent_to_them() {
        assert!(run(|_| {}).is_ok());
        for bad in [
            "https://wiki.example/cb/",
            "https://wiki.example/cb/../evil",
            "https://wiki.example/cbx",
            "https://wiki.example/c",
            "https://wiki.example/cb?x=1",
            "https://wiki.example/cb#f",
            "HTTPS://wiki.example/cb",
            "https://wiki.example.evil/cb",
            "",
        ] {
            assert!(page(run(|p| p.redirect_uri = Some(bad.into()))), "{bad}");
        }
        assert!(page(run(|p| p.redirect_uri = None)));
        assert!(page(run(|p| p.client_id = None)));
        assert!(page(check(&good(), None)));
    }

    #[test]
    fn every_other_fault_goes_back_to_the_client_with_its_code() {
        type Change = Box<dyn Fn(&mut Params)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "unsupported_response_type",
                Box::new(|p| p.response_type = Some("token".into())),
            ),
            (
                "unsupported_response_type",
                Box::new(|p| p.response_type = Some("code id_token".into())),
            ),
            ("invalid_request", Box::new(|p| p.response_type = None)),
            (
                "invalid_scope",
                Box::new(|p| p.scope = Some("profile".into())),
            ),
            (
                "invalid_scope",
                Box::new(|p| p.scope = Some("openid admin".into())),
            ),
            (
                "invalid_scope",
                Box::new(|p| p.scope = Some("openid offline_access".into())),
            ),
            ("invalid_request", Box::new(|p| p.code_challenge = None)),
            (
                "invalid_request",
                Box::new(|p| p.code_challenge_method = Some("plain".into())),
            ),
            (
                "invalid_request",
                Box::new(|p| p.code_challenge_method = None),
            ),
            (
                "invalid_request",
                Box::new(|p| p.code_challenge = Some("short".into())),
            ),
            (
                "invalid_request",
                Box::new(|p| p.prompt = Some("none login".into())),
            ),
            (
                "invalid_request",
                Box::new(|p| p.prompt = Some("sometimes".into())),
            ),
            (
                "invalid_request",
                Box::new(|p| p.max_age = Some("-1".into())),
            ),
            (
                "invalid_request",
                Box::new(|p| p.max_age = Some("soon".into())),
            ),
            (
                "invalid_request",
                Box::new(|p| p.response_mode = Some("fragment".into())),
            ),
            (
                "invalid_request",
                Box::new(|p| p.response_mode = Some("form_post".into())),
            ),
            (
                "request_not_supported",
                Box::new(|p| p.request = Some("eyJhbGciOiJub25lIn0.e30.".into())),
            ),
            (
                "request_uri_not_supported",
                Box::new(|p| p.request_uri = Some("https://rp.example/r".into())),
            ),
        ];
        assert!(run(|p| p.response_mode = Some("query".into())).is_ok());
        for (expected, change) in cases {
            assert_eq!(error(run(|p| change(p))), expected);
        }
    }

    #[test]
    fn sign_in_and_consent_follow_prompt_max_age_and_what_was_granted() {
        let ok = run(|_| {}).unwrap();
        assert!(must_sign_in(&ok, None, 1000));
        assert!(!must_sign_in(&ok, Some(0), 1000));
        let login = run(|p| p.prompt = Some("login".into())).unwrap();
        assert!(must_sign_in(&login, Some(999), 1000));
        let aged = run(|p| p.max_age = Some("60".into())).unwrap();
        assert!(!must_sign_in(&aged, Some(940), 1000));
        assert!(must_sign_in(&aged, Some(939), 1000));

        let granted = vec!["openid".to_owned(), "profile".to_owned()];
        let less = vec!["openid".to_owned()];
        assert!(!must_consent(&ok, true, None));
        assert!(must_consent(&ok, false, None));
        assert!(!must_consent(&ok, false, Some(&granted)));
        assert!(must_consent(&ok, false, Some(&less)));
        let again = run(|p| p.prompt = Some("consent".into())).unwrap();
        assert!(must_consent(&again, false, Some(&granted)));
        assert!(!must_consent(&again, true, Some(&granted)));
    }

    #[test]
    fn parameters_sent_twice_are_refused_and_redirects_encode_their_values() {
        let pairs = vec![
            ("client_id".to_owned(), "a".to_owned()),
            ("client_id".to_owned(), "b".to_owned()),
        ];
        assert_eq!(Params::from_pairs(&pairs).unwrap_err(), "client_id");
        assert_eq!(
            redirect_with(
                "https://c.example/cb",
                &[("code", "x y"), ("state", "a&b=c")]
            ),
            "https://c.example/cb?code=x%20y&state=a%26b%3Dc"
        );
        assert_eq!(
            redirect_with("https://c.example/cb?k=1", &[("code", "x")]),
            "https://c.example/cb?k=1&code=x"
        );
    }
}
