//! The application runtime's data API: records of deployed entities, as end users read and
//! write them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A record of an entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    /// The record's id (a UUIDv7: ids sort in creation order).
    pub id: String,
    /// Incremented by every change; send it back as `If-Match` to change the record only
    /// if nobody changed it since (otherwise 409).
    pub version: i64,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When it last changed, RFC 3339.
    pub updated_at: String,
    /// The attributes by name: numbers for integers, strings for decimals (no digit lost),
    /// dates (`YYYY-MM-DD`), points in time (RFC 3339 UTC), references (ids) and text;
    /// null when unset. Sensitive attributes are decrypted for readers allowed to see the
    /// record.
    #[schema(value_type = Object)]
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// A page of records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordPage {
    /// The records, in the requested order.
    pub items: Vec<RecordView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// For an advanced SQL query: its rows, each an object keyed by the statement's column
    /// names (`items` is then empty). Columns that read an attribute directly show its
    /// values as `items` do; computed columns are numbers, strings or booleans as the
    /// database typed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub rows: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
}

/// Answer of `GET …/{Entity}/{id}/grants`: who holds grants on the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordGrants {
    /// One entry per principal granted something, by principal.
    pub grants: Vec<RecordGrant>,
}

/// What one principal holds on a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordGrant {
    /// The principal: `user:<id>`, `group:<name>` or `node:<hierarchy>/<node>`.
    pub principal: String,
    /// `read` and/or `write`.
    pub actions: Vec<String>,
}

/// Body of `PUT …/{Entity}/{id}/grants`: what one principal may do with the record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// The user, group or unit granted.
    pub principal: crate::PrincipalWire,
    /// `read` and/or `write`; empty removes the grant.
    pub actions: Vec<String>,
}
