//! The discovery documents (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes` and
//! `/Schemas`, saying what this service provider does: PATCH, bulk requests (at most
//! [`bulk::MAX_OPERATIONS`](crate::bulk::MAX_OPERATIONS) operations, a body no larger than
//! the node's request limit), filters (at most [`MAX_RESULTS`] a page), sorting and ETags,
//! the enterprise User extension, no password changes, and OAuth-style bearer tokens.

use serde_json::{json, Value};

use crate::schema::Schema;

/// The most resources one page answers.
pub const MAX_RESULTS: usize = 1000;

/// `/ServiceProviderConfig`; `max_payload` is the largest request body the node accepts.
pub fn service_provider_config(base: &str, max_payload: u64) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": crate::bulk::MAX_OPERATIONS,
            "maxPayloadSize": max_payload,
        },
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
        "endpoint": format!("/{}", schema.endpoint()),
        "description": format!("{}s of this user provider", schema.name()),
        "schema": schema.urn(),
        "schemaExtensions": schema
            .extensions()
            .iter()
            .map(|e| json!({"schema": e.urn, "required": false}))
            .collect::<Vec<_>>(),
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", schema.name()),
        },
    })
}

/// Every `/Schemas` document: the resource types' schemas, then their extensions'.
pub fn schemas(base: &str) -> Vec<Value> {
    let mut all: Vec<Value> = Schema::ALL.iter().map(|s| s.document(base)).collect();
    for s in Schema::ALL {
        all.extend(s.extensions().iter().map(|e| e.document(base)));
    }
    all
}

/// The `/Schemas` document whose id is `id`.
pub fn schema(base: &str, id: &str) -> Option<Value> {
    if let Some(s) = Schema::ALL.into_iter().find(|s| s.urn() == id) {
        return Some(s.document(base));
    }
    Schema::ALL
        .iter()
        .flat_map(|s| s.extensions())
        .find(|e| e.urn == id)
        .map(|e| e.document(base))
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
