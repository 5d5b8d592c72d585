//! The discovery documents (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes` and
//! `/Schemas`, saying what this service provider does: PATCH, filters (at most
//! [`MAX_RESULTS`] a page), sorting and ETags, no bulk operations, no password changes,
//! and OAuth-style bearer tokens.

use serde_json::{json, Value};

use crate::schema::Schema;

/// The most resources one page answers.
pub const MAX_RESULTS: usize = 1000;

/// `/ServiceProviderConfig`.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "The user provider's SCIM token (rsc_…), made by an administrator",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

/// The `/ResourceTypes` document of one resource type.
pub fn resource_type(base: &str, schema: Schema) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": schema.name(),
        "name": schema.name(),
        "endpoint": format!("/{}s", schema.name()),
        "description": format!("{}s of this user provider", schema.name()),
        "schema": schema.urn(),
        "schemaExtensions": [],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", schema.name()),
        },
    })
}

/// A list response (§3.4.2) of `resources`, the whole set counting `total`.
pub fn list(resources: Vec<Value>, total: usize, start_index: usize) -> Value {
    json!({
        "schemas": [crate::LIST_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
