//! SCIM 2.0 (RFC 7643, RFC 7644) as pure functions over JSON values: what a SCIM service
//! provider decides without touching storage or the network.
//!
//! - [`schema`]: the User and Group schemas as data (names, types, mutability, case rules),
//!   [`schema::validate`] that turns a client's resource into its canonical form or refuses
//!   it, and the `/Schemas` documents drawn from the same table.
//! - [`filter`]: the §3.4.2.2 filter grammar (`eq ne co sw ew pr gt ge lt le`, `and`, `or`,
//!   `not`, grouping, value paths such as `emails[type eq "work"]`) parsed into a
//!   [`filter::Filter`] and evaluated against a resource with the schema's case rules.
//! - [`lookup`]: the equality on an indexed column (`id`, `userName`, a group's
//!   `displayName` or `externalId`) that every resource a filter matches satisfies, so a
//!   list reads only those.
//! - [`patch`]: §3.5.2 PATCH operations (`add`, `replace`, `remove`, with or without a path,
//!   value-selection filters), applied all or none.
//! - [`project`]: `attributes` and `excludedAttributes` (§3.9).
//! - [`bulk`]: bulk requests (§3.7): their operations, the `bulkId:` references between
//!   them and the order they run in.
//!
//! Every refusal is a [`ScimError`]: the HTTP status and the `scimType` of §3.12 the
//! adapter renders, and a sentence for people.
//!
//! # Decisions recorded
//! - Attribute names are matched ignoring case and answered in the schema's spelling.
//! - `ne` is the negation of `eq`: an absent attribute is "not equal" to any value.
//! - A comparison on a multi-valued attribute holds when it holds for one of its values; a
//!   complex multi-valued attribute without a sub-attribute compares its `value`s.
//! - `gt ge lt le` on booleans, and `co sw ew` on anything but strings, are `invalidFilter`.
//! - `pr` holds for a value that is not null, not an empty string, array or object.

pub mod bulk;
pub mod discovery;
pub mod filter;
pub mod lookup;
pub mod patch;
pub mod path;
pub mod project;
pub mod schema;

#[cfg(test)]
mod tests;

/// The `schemas` URN of a SCIM error response.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The `schemas` URN of a list response.
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The `schemas` URN of a PATCH request.
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A refusal: the status, the `scimType` (§3.12) when one applies, and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    /// The HTTP status.
    pub status: u16,
    /// `invalidFilter`, `invalidSyntax`, `invalidValue`, `mutability`, `noTarget`,
    /// `invalidPath`, `uniqueness`, `tooMany`, `invalidVers`, `sensitive`.
    pub scim_type: Option<&'static str>,
    /// What was wrong, for people.
    pub detail: String,
}

impl ScimError {
    /// A 404 saying what is missing.
    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError {
            status: 404,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// A 400 with `scim_type`.
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        ScimError {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// `400 invalidFilter`.
    pub fn filter(detail: impl Into<String>) -> ScimError {
        ScimError::bad("invalidFilter", detail)
    }

    /// `400 invalidValue`.
    pub fn value(detail: impl Into<String>) -> ScimError {
        ScimError::bad("invalidValue", detail)
    }

    /// `400 invalidSyntax`.
    pub fn syntax(detail: impl Into<String>) -> ScimError {
        ScimError::bad("invalidSyntax", detail)
    }

    /// `400 mutability`.
    pub fn mutability(detail: impl Into<String>) -> ScimError {
        ScimError::bad("mutability", detail)
    }

    /// `400 invalidPath`.
    pub fn path(detail: impl Into<String>) -> ScimError {
        ScimError::bad("invalidPath", detail)
    }

    /// `400 noTarget`.
    pub fn no_target(detail: impl Into<String>) -> ScimError {
        ScimError::bad("noTarget", detail)
    }

    /// The error response body of §3.12.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), t.into());
        }
        body
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for ScimError {}
