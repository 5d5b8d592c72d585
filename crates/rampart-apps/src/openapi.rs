//! The OpenAPI 3.1 document of one application as it runs in one environment, as one caller
//! may use it: each entity's data API with its records' real shape, each structured query
//! with its parameters, and each exposed action at its declared method and path, each only
//! if the caller holds a role that opens it (what the caller may not use is not described,
//! so the document tells nobody what they could not learn by using the API).
//!
//! The platform's own document (`rampart openapi`) describes the data API generically
//! (`{module}/{entity}`, bodies as objects); this one is what an integrator of one
//! application needs: concrete paths, attribute types and lengths, required values.

use std::collections::BTreeSet;

use rampart_model::format::{Attribute, AttributeType, HttpMethod, Parameter};
use rampart_model::Module;
use serde_json::{json, Map, Value as Json};

use crate::access::{data_roles, query_roles, Verb};

/// An application as it runs in an environment.
#[derive(Debug, Clone)]
pub struct Running<'a> {
    /// The environment.
    pub environment: &'a str,
    /// The application.
    pub application: &'a str,
    /// The environment's deployment this describes (its revision).
    pub deployment: i64,
    /// The application's running modules.
    pub modules: Vec<&'a Module>,
}

/// The document for a caller who holds a role of `holds`'s sets (anonymous actions are
/// described to everyone who may read the document).
pub fn document(app: &Running<'_>, holds: &dyn Fn(&BTreeSet<String>) -> bool) -> Json {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert("Problem".into(), problem_schema());
    for module in &app.modules {
        let m = &module.module;
        for e in &module.entities {
            let may = |verb| holds(&data_roles(module, &e.name, verb));
            let (read, create, update, delete) = (
                may(Verb::Read),
                may(Verb::Create),
                may(Verb::Update),
                may(Verb::Delete),
            );
            if !(read || create || update || delete) {
                continue;
            }
            let record = format!("{m}.{}", e.name);
            schemas.insert(record.clone(), record_schema(&e.attributes, &e.description));
            schemas.insert(format!("{record}.Page"), page_schema(&record));
            schemas.insert(
                format!("{record}.Values"),
                values_schema(&e.attributes, create, e.acl.owner.as_deref()),
            );
            let mut list = Map::new();
            if read {
                list.insert(
                    "get".into(),
                    list_operation(m, &e.name, &e.attributes, &record),
                );
            }
            if create {
                list.insert(
                    "post".into(),
                    record_operation(m, &e.name, &record, &CREATE),
                );
            }
            if !list.is_empty() {
                paths.insert(format!("/{m}/{}", e.name), Json::Object(list));
            }
            let mut one = Map::new();
            if read {
                one.insert("get".into(), record_operation(m, &e.name, &record, &GET));
            }
            if update {
                one.insert(
                    "patch".into(),
                    record_operation(m, &e.name, &record, &UPDATE),
                );
            }
            if delete {
                one.insert(
                    "delete".into(),
                    record_operation(m, &e.name, &record, &DELETE),
                );
            }
            if !one.is_empty() {
                let mut item = one;
                item.insert("parameters".into(), json!([id_parameter()]));
                paths.insert(format!("/{m}/{}/{{id}}", e.name), Json::Object(item));
            }
        }
        for q in &module.queries {
            if !holds(&query_roles(module, &q.name)) {
                continue;
            }
            let entity = q
                .entity
                .split_once('.')
                .map_or(format!("{m}.{}", q.entity), |(em, en)| format!("{em}.{en}"));
            let mut op = operation(
                &format!("{m}.queries.{}", q.name),
                &summary(&q.description, &format!("Query {}", q.name)),
                m,
            );
            op.insert(
                "parameters".into(),
                Json::Array(q.parameters.iter().map(query_parameter).collect()),
            );
            op.insert(
                "responses".into(),
                responses(
                    "200",
                    "A page of what the query finds among the records the caller may read \
                     (`items`; `rows` for advanced SQL)",
                    Some(&format!("{entity}.Page")),
                    &["403", "404", "422"],
                ),
            );
            if !schemas.contains_key(&format!("{entity}.Page")) {
                // The query's entity is not one the caller reads directly: its page as
                // records of any shape.
                schemas.insert(format!("{entity}.Page"), page_schema_open());
            }
            paths.insert(
                format!("/{m}/queries/{}", q.name),
                json!({ "get": Json::Object(op) }),
            );
        }
        for a in &module.actions {
            let Some(x) = &a.expose else { continue };
            let roles: BTreeSet<String> = a
                .roles
                .iter()
                .map(|r| r.rsplit_once('.').map_or(r.as_str(), |(_, n)| n).to_owned())
                .collect();
            if !a.anonymous && !holds(&roles) {
                continue;
            }
            let path = format!("/{m}{}", x.path);
            let in_path: BTreeSet<&str> = x
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let mut op = operation(
                &format!("{m}.actions.{}", a.name),
                &summary(&a.description, &format!("Action {}", a.name)),
                m,
            );
            let (path_params, rest): (Vec<&Parameter>, Vec<&Parameter>) = a
                .parameters
                .iter()
                .partition(|p| in_path.contains(p.name.as_str()));
            let mut parameters: Vec<Json> = path_params
                .iter()
                .map(|p| {
                    json!({
                        "name": p.name, "in": "path", "required": true,
                        "schema": { "type": "string", "pattern": "^[A-Za-z0-9._~-]+$" },
                        "description": p.description,
                    })
                })
                .collect();
            let body_allowed = !matches!(x.method, HttpMethod::Get | HttpMethod::Delete);
            if body_allowed {
                if !rest.is_empty() {
                    op.insert(
                        "requestBody".into(),
                        json!({
                            "required": rest.iter().any(|p| p.required),
                            "content": { "application/json": { "schema": params_schema(&rest) } },
                        }),
                    );
                }
            } else {
                parameters.extend(rest.iter().map(|p| query_parameter(p)));
            }
            if !parameters.is_empty() {
                op.insert("parameters".into(), Json::Array(parameters));
            }
            if a.anonymous {
                op.insert("security".into(), json!([{}]));
            }
            let returns = a.returns.as_ref().map(|r| {
                r.split_once('.')
                    .map_or(format!("{m}.{r}"), |(rm, rn)| format!("{rm}.{rn}"))
            });
            let mut answers = match &returns {
                Some(r) => {
                    schemas
                        .entry(format!("{r}.Returned"))
                        .or_insert_with(|| json!({ "type": "object", "description": format!("The `{r}` record the action read or wrote last: its values with `id` and `version`") }));
                    responses(
                        "200",
                        &format!("The `{r}` record the action wrote or read last"),
                        Some(&format!("{r}.Returned")),
                        &["403", "404", "409", "422"],
                    )
                }
                None => responses("204", "The action ran", None, &["403", "404", "409", "422"]),
            };
            if let (Some(_), Json::Object(r)) = (&returns, &mut answers) {
                r.insert(
                    "204".into(),
                    json!({ "description": "The action ran and read or wrote no such record" }),
                );
            }
            op.insert("responses".into(), answers);
            let method = match x.method {
                HttpMethod::Get => "get",
                HttpMethod::Post => "post",
                HttpMethod::Put => "put",
                HttpMethod::Patch => "patch",
                HttpMethod::Delete => "delete",
            };
            match paths.get_mut(&path) {
                Some(Json::Object(item)) => {
                    item.insert(method.into(), Json::Object(op));
                }
                _ => {
                    paths.insert(path, json!({ method: Json::Object(op) }));
                }
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("{} in {}", app.application, app.environment),
            "version": format!("deployment {}", app.deployment),
            "description": format!(
                "The data API, queries and endpoints of application `{}` as it runs in `{}`, \
                 as far as the caller may use them. Records are read under the row-level rule: \
                 a record the caller may not read answers 404. Errors are RFC 9457 problems.",
                app.application, app.environment
            ),
        },
        "servers": [{ "url": format!("/apps/{}/{}/api", app.environment, app.application) }],
        "security": [{ "session": [] }, { "cookie": [] }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": { "type": "http", "scheme": "bearer", "description": "An end user's session token (`POST /api/v1/auth/login` with `provider: end`)" },
                "cookie": { "type": "apiKey", "in": "cookie", "name": "__Host-rampart_session" },
            },
        },
    })
}

fn summary(description: &str, fallback: &str) -> String {
    match description.trim() {
        "" => fallback.to_owned(),
        d => d.to_owned(),
    }
}

fn operation(id: &str, summary: &str, tag: &str) -> Map<String, Json> {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(id));
    op.insert("summary".into(), json!(summary));
    op.insert("tags".into(), json!([tag]));
    op
}

/// `ok` with its description and schema, and the problems of `errors`.
fn responses(ok: &str, description: &str, schema: Option<&str>, errors: &[&str]) -> Json {
    let mut r = Map::new();
    r.insert(
        ok.into(),
        match schema {
            Some(s) => json!({
                "description": description,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{s}") } } },
            }),
            None => json!({ "description": description }),
        },
    );
    for code in errors {
        let why = match *code {
            "403" => "The caller holds none of the roles this needs",
            "404" => "No such record, or one the caller may not read (indistinguishable)",
            "409" => "Changed since the `If-Match` version, or a unique value taken",
            _ => "A value missing, unknown or of the wrong type, each named",
        };
        r.insert(
            (*code).into(),
            json!({
                "description": why,
                "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
            }),
        );
    }
    Json::Object(r)
}

fn list_operation(m: &str, entity: &str, attributes: &[Attribute], record: &str) -> Json {
    let mut op = operation(
        &format!("{m}.{entity}.list"),
        &format!("A page of {entity} records"),
        m,
    );
    let mut parameters = vec![
        json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": crate::list::MAX_LIMIT, "default": crate::list::DEFAULT_LIMIT } }),
        json!({ "name": "cursor", "in": "query", "description": "The `next_cursor` of the previous page", "schema": { "type": "string" } }),
    ];
    let sortable: Vec<Json> = std::iter::once("id")
        .chain(
            attributes
                .iter()
                .filter(|a| !a.sensitive)
                .map(|a| a.name.as_str()),
        )
        .flat_map(|a| [json!(a), json!(format!("-{a}"))])
        .collect();
    parameters.push(json!({ "name": "sort", "in": "query", "description": "An attribute, `-` first for descending", "schema": { "type": "string", "enum": sortable } }));
    for a in attributes {
        if a.sensitive && !a.unique {
            continue;
        }
        parameters.push(json!({
            "name": a.name, "in": "query",
            "description": if a.sensitive {
                "Equal to (encrypted: equality only)".to_owned()
            } else {
                format!("Equal to; also `{0}.ne`, `{0}.lt`, `{0}.le`, `{0}.gt`, `{0}.ge`, `{0}.contains`, `{0}.starts_with`, `{0}.is_null`", a.name)
            },
            "schema": attribute_type(a.ty),
        }));
    }
    op.insert("parameters".into(), Json::Array(parameters));
    op.insert(
        "responses".into(),
        responses(
            "200",
            "A page of records, filtered by the row-level rule inside the query",
            Some(&format!("{record}.Page")),
            &["403", "422"],
        ),
    );
    Json::Object(op)
}

/// A record operation of the data API: its id and summary, whether it takes `If-Match`
/// and the record's values, and its answers.
struct RecordOp {
    id: &'static str,
    summary: &'static str,
    if_match: bool,
    body: bool,
    ok: (&'static str, &'static str),
    returns_record: bool,
    errors: &'static [&'static str],
}

const CREATE: RecordOp = RecordOp {
    id: "create",
    summary: "Create a record",
    if_match: false,
    body: true,
    ok: (
        "201",
        "Created; `Location` names it and `ETag` is its version",
    ),
    returns_record: true,
    errors: &["403", "409", "422"],
};
const GET: RecordOp = RecordOp {
    id: "get",
    summary: "One record",
    if_match: false,
    body: false,
    ok: ("200", "The record; `ETag` is its version"),
    returns_record: true,
    errors: &["403", "404"],
};
const UPDATE: RecordOp = RecordOp {
    id: "update",
    summary: "Change a record",
    if_match: true,
    body: true,
    ok: ("200", "The changed record; `ETag` is its new version"),
    returns_record: true,
    errors: &["403", "404", "409", "422"],
};
const DELETE: RecordOp = RecordOp {
    id: "delete",
    summary: "Delete a record",
    if_match: true,
    body: false,
    ok: ("204", "Deleted"),
    returns_record: false,
    errors: &["403", "404", "409"],
};

fn record_operation(m: &str, entity: &str, record: &str, what: &RecordOp) -> Json {
    let mut op = operation(
        &format!("{m}.{entity}.{}", what.id),
        &format!("{} ({entity})", what.summary),
        m,
    );
    if what.if_match {
        op.insert(
            "parameters".into(),
            json!([{ "name": "If-Match", "in": "header", "description": "The ETag read: only if nobody changed the record since", "schema": { "type": "string" } }]),
        );
    }
    if what.body {
        op.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{record}.Values") } } } }),
        );
    }
    op.insert(
        "responses".into(),
        responses(
            what.ok.0,
            what.ok.1,
            what.returns_record.then_some(record),
            what.errors,
        ),
    );
    Json::Object(op)
}

fn id_parameter() -> Json {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } })
}

fn query_parameter(p: &Parameter) -> Json {
    let mut schema = attribute_type(p.ty);
    if !p.choices.is_empty() {
        schema = json!({ "type": "string", "enum": p.choices });
    }
    json!({ "name": p.name, "in": "query", "required": p.required, "description": p.description, "schema": schema })
}

/// An attribute or parameter type as a JSON Schema (decimals travel as their text, so no
/// digit is lost).
fn attribute_type(ty: AttributeType) -> Json {
    match ty {
        AttributeType::Text => json!({ "type": "string" }),
        AttributeType::Integer => json!({ "type": "integer", "format": "int64" }),
        AttributeType::Decimal => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "description": "A decimal number, as text" })
        }
        AttributeType::Boolean => json!({ "type": "boolean" }),
        AttributeType::Date => json!({ "type": "string", "format": "date" }),
        AttributeType::Datetime => json!({ "type": "string", "format": "date-time" }),
        AttributeType::Email => json!({ "type": "string", "format": "email" }),
        AttributeType::Reference => json!({ "type": "string", "format": "uuid" }),
    }
}

fn attribute_schema(a: &Attribute) -> Json {
    let mut schema = attribute_type(a.ty);
    if let (Some(max), Json::Object(s)) = (a.max_length, &mut schema) {
        s.insert("maxLength".into(), json!(max));
    }
    if let Json::Object(s) = &mut schema {
        let mut notes = Vec::new();
        if !a.description.is_empty() {
            notes.push(a.description.clone());
        }
        if a.sensitive {
            notes.push("Encrypted at rest".into());
        }
        if a.unique {
            notes.push("Unique".into());
        }
        if let Some(e) = &a.entity {
            notes.push(format!("The id of a `{e}`"));
        }
        if !notes.is_empty() {
            s.insert("description".into(), json!(notes.join(". ")));
        }
        if !a.required {
            if let Some(Json::String(t)) = s.get("type").cloned() {
                s.insert("type".into(), json!([t, "null"]));
            }
        }
    }
    schema
}

/// The values a write sends: every attribute, unknown ones refused; `required` lists those a
/// create must give (when `create`): not the ACL's owner, which defaults to the caller.
fn values_schema(attributes: &[Attribute], create: bool, owner: Option<&str>) -> Json {
    let properties: Map<String, Json> = attributes
        .iter()
        .map(|a| (a.name.clone(), attribute_schema(a)))
        .collect();
    let required: Vec<&str> = attributes
        .iter()
        .filter(|a| create && a.required && owner != Some(a.name.as_str()))
        .map(|a| a.name.as_str())
        .collect();
    json!({
        "type": "object",
        "description": "The attributes by name (a change sends only those it changes)",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn record_schema(attributes: &[Attribute], description: &str) -> Json {
    let properties: Map<String, Json> = attributes
        .iter()
        .map(|a| (a.name.clone(), attribute_schema(a)))
        .collect();
    json!({
        "type": "object",
        "description": description,
        "required": ["id", "version", "created_at", "updated_at", "values"],
        "properties": {
            "id": { "type": "string", "format": "uuid" },
            "version": { "type": "integer", "format": "int64" },
            "created_at": { "type": "string", "format": "date-time" },
            "updated_at": { "type": "string", "format": "date-time" },
            "values": { "type": "object", "properties": properties },
        },
    })
}

fn page_schema(record: &str) -> Json {
    json!({
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": { "type": "array", "items": { "$ref": format!("#/components/schemas/{record}") } },
            "next_cursor": { "type": "string", "description": "Pass as `cursor` for the next page; absent on the last" },
            "rows": { "type": "array", "items": { "type": "object" }, "description": "Advanced SQL queries: their rows" },
        },
    })
}

fn page_schema_open() -> Json {
    json!({
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": { "type": "array", "items": { "type": "object" } },
            "next_cursor": { "type": "string" },
            "rows": { "type": "array", "items": { "type": "object" } },
        },
    })
}

fn params_schema(parameters: &[&Parameter]) -> Json {
    let properties: Map<String, Json> = parameters
        .iter()
        .map(|p| {
            let mut schema = attribute_type(p.ty);
            if let Json::Object(s) = &mut schema {
                if !p.description.is_empty() {
                    s.insert("description".into(), json!(p.description));
                }
            }
            (p.name.clone(), schema)
        })
        .collect();
    let required: Vec<&str> = parameters
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name.as_str())
        .collect();
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

fn problem_schema() -> Json {
    json!({
        "type": "object",
        "description": "An RFC 9457 problem",
        "required": ["type", "title", "status"],
        "properties": {
            "type": { "type": "string" },
            "title": { "type": "string" },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "field": { "type": "string" },
        },
    })
}

#[cfg(test)]
mod tests;
