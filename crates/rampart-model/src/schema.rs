//! The JSON Schema (draft 2020-12) of the module format, generated from the types in
//! [`crate::format`] so it cannot drift from what the parser accepts. Editors use it for
//! completion and checking; `rampart model schema` prints it.

use serde_json::{json, Map, Value};
use utoipa::{PartialSchema, ToSchema};

use crate::format::Module;

/// The schema's `$id`.
pub const SCHEMA_ID: &str = "https://rampart.dev/schemas/rampart-module-1.json";

/// The JSON Schema of a module file.
pub fn json_schema() -> Value {
    let mut parts = Vec::new();
    <Module as ToSchema>::schemas(&mut parts);
    let mut defs = Map::new();
    for (name, schema) in parts {
        defs.insert(name, serde_json::to_value(schema).unwrap_or(Value::Null));
    }
    let root = serde_json::to_value(<Module as PartialSchema>::schema()).unwrap_or(Value::Null);
    let mut doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Rampart module (rampart-module/1)",
    });
    if let (Some(doc), Value::Object(root)) = (doc.as_object_mut(), root) {
        doc.extend(root);
        doc.insert("$defs".to_owned(), Value::Object(defs));
    }
    rewrite_refs(&mut doc);
    doc
}

/// utoipa writes OpenAPI references; a standalone schema keeps its parts under `$defs`.
fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "$ref" {
                    if let Value::String(s) = child {
                        if let Some(name) = s.strip_prefix("#/components/schemas/") {
                            *s = format!("#/$defs/{name}");
                        }
                    }
                } else {
                    rewrite_refs(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reference resolves inside the document, and the root describes the module.
    #[test]
    fn the_schema_is_self_contained() {
        let schema = json_schema();
        let text = schema.to_string();
        assert!(!text.contains("#/components/"), "{text}");
        let defs = schema["$defs"].as_object().cloned().unwrap_or_default();
        for name in [
            "Entity",
            "Attribute",
            "Screen",
            "Step",
            "Integration",
            "Dependency",
            "Acl",
        ] {
            assert!(defs.contains_key(name), "{name} missing from $defs");
        }
        let mut refs = Vec::new();
        collect_refs(&schema, &mut refs);
        assert!(refs.len() > 10);
        for r in refs {
            let name = r.strip_prefix("#/$defs/").unwrap_or(&r);
            assert!(defs.contains_key(name), "dangling reference {r}");
        }
        assert_eq!(schema["properties"]["module"]["type"], "string");
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(required, ["module", "application"]);
        assert_eq!(schema["additionalProperties"], false);
    }

    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    match (k.as_str(), child) {
                        ("$ref", Value::String(s)) => out.push(s.clone()),
                        _ => collect_refs(child, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
            _ => {}
        }
    }
}
