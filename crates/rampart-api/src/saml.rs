//! SAML 2.0 sign-in through a user provider of kind `saml`: the start link's query and the
//! assertion consumer service's form (the HTTP-POST binding's fields).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Query of `GET /api/v1/providers/{name}/saml/login`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SamlLoginQuery {
    /// Who is signing in, `it` or `end`: needed when the provider vouches for both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Where to go once signed in: a path on this site (`/…`); `/` when absent.
    #[serde(default, rename = "return", skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

/// Body of `POST /api/v1/providers/{name}/saml/acs` (`application/x-www-form-urlencoded`), as
/// the identity provider's page posts it through the browser.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SamlAcsForm {
    /// The identity provider's `samlp:Response`, base64.
    #[serde(
        default,
        rename = "SAMLResponse",
        skip_serializing_if = "Option::is_none"
    )]
    pub saml_response: Option<String>,
    /// The return address the sign-in started with, unchanged.
    #[serde(
        default,
        rename = "RelayState",
        skip_serializing_if = "Option::is_none"
    )]
    pub relay_state: Option<String>,
}
