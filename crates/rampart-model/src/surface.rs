//! A module's public surface: its public elements with their names, signatures and
//! descriptions and nothing else. It is all an IT user with `reference` sees of a module
//! (never the source, never a diff), what other modules may depend on, and what publishing
//! compares to find breaking changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::format::{AttributeType, Module, ModuleKind, Parameter, ScreenKind};
use crate::validate::Kind;

/// The public elements of one module version.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct Surface {
    /// The module.
    pub module: String,
    /// What the module is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `application` or `library`.
    pub kind: Option<ModuleKind>,
    /// Public roles.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleSignature>,
    /// Public entities.
    #[serde(default)]
    pub entities: BTreeMap<String, EntitySignature>,
    /// Public queries.
    #[serde(default)]
    pub queries: BTreeMap<String, CallableSignature>,
    /// Public screens.
    #[serde(default)]
    pub screens: BTreeMap<String, CallableSignature>,
    /// Public actions.
    #[serde(default)]
    pub actions: BTreeMap<String, CallableSignature>,
}

/// A public role.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct RoleSignature {
    /// What holding it allows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// A public entity: its attributes' names and types.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct EntitySignature {
    /// What a record is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The attributes.
    pub attributes: Vec<Field>,
}

/// A named, typed value: an attribute or a parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: AttributeType,
    /// For references: the entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Must be given.
    pub required: bool,
}

/// A public query, screen or action: what it takes and gives.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct CallableSignature {
    /// What it does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Its parameters.
    #[serde(default)]
    pub parameters: Vec<Field>,
    /// The entity it returns (queries and actions), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<String>,
    /// For screens: `list`, `detail` or `form`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen: Option<ScreenKind>,
}

fn fields(params: &[Parameter]) -> Vec<Field> {
    params
        .iter()
        .map(|p| Field {
            name: p.name.clone(),
            ty: p.ty,
            entity: p.entity.clone(),
            required: p.required,
        })
        .collect()
}

impl Surface {
    /// The public surface of `m`.
    pub fn of(m: &Module) -> Surface {
        Surface {
            module: m.module.clone(),
            description: m.description.clone(),
            kind: Some(m.kind),
            roles: m
                .roles
                .iter()
                .filter(|r| r.public)
                .map(|r| {
                    (
                        r.name.clone(),
                        RoleSignature {
                            description: r.description.clone(),
                        },
                    )
                })
                .collect(),
            entities: m
                .entities
                .iter()
                .filter(|e| e.public)
                .map(|e| {
                    let attributes = e
                        .attributes
                        .iter()
                        .map(|a| Field {
                            name: a.name.clone(),
                            ty: a.ty,
                            entity: a.entity.clone(),
                            required: a.required,
                        })
                        .collect();
                    (
                        e.name.clone(),
                        EntitySignature {
                            description: e.description.clone(),
                            attributes,
                        },
                    )
                })
                .collect(),
            queries: m
                .queries
                .iter()
                .filter(|q| q.public)
                .map(|q| {
                    (
                        q.name.clone(),
                        CallableSignature {
                            description: q.description.clone(),
                            parameters: fields(&q.parameters),
                            returns: Some(q.entity.clone()),
                            screen: None,
                        },
                    )
                })
                .collect(),
            screens: m
                .screens
                .iter()
                .filter(|s| s.public)
                .map(|s| {
                    (
                        s.name.clone(),
                        CallableSignature {
                            description: s.description.clone(),
                            parameters: fields(&s.parameters),
                            returns: None,
                            screen: Some(s.kind),
                        },
                    )
                })
                .collect(),
            actions: m
                .actions
                .iter()
                .filter(|a| a.public)
                .map(|a| {
                    (
                        a.name.clone(),
                        CallableSignature {
                            description: a.description.clone(),
                            parameters: fields(&a.parameters),
                            returns: a.returns.clone(),
                            screen: None,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Is there a public element of `kind` named `name`?
    pub fn has(&self, kind: Kind, name: &str) -> bool {
        match kind {
            Kind::Role => self.roles.contains_key(name),
            Kind::Entity => self.entities.contains_key(name),
            Kind::Query => self.queries.contains_key(name),
            Kind::Screen => self.screens.contains_key(name),
            Kind::Action => self.actions.contains_key(name),
        }
    }

    /// Why a module built against `self` may fail with `new` in place of it, for the
    /// elements of `kind` named `used`: each element removed or changed incompatibly, with
    /// the reason. Compatible changes (a description, a new optional attribute or parameter)
    /// are not reported.
    pub fn breaks(&self, new: &Surface, kind: Kind, used: &[String]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for name in used {
            let reason = match kind {
                Kind::Role => (!new.roles.contains_key(name))
                    .then(|| "removed or no longer public".to_owned()),
                Kind::Entity => match (self.entities.get(name), new.entities.get(name)) {
                    (_, None) => Some("removed or no longer public".to_owned()),
                    (Some(old), Some(new)) => {
                        fields_break(&old.attributes, &new.attributes, "attribute")
                    }
                    (None, Some(_)) => None,
                },
                Kind::Query | Kind::Screen | Kind::Action => {
                    let (old, new) = match kind {
                        Kind::Query => (self.queries.get(name), new.queries.get(name)),
                        Kind::Screen => (self.screens.get(name), new.screens.get(name)),
                        _ => (self.actions.get(name), new.actions.get(name)),
                    };
                    match (old, new) {
                        (_, None) => Some("removed or no longer public".to_owned()),
                        (Some(old), Some(new)) => {
                            if old.returns != new.returns {
                                Some(format!(
                                    "now returns {} instead of {}",
                                    new.returns.as_deref().unwrap_or("nothing"),
                                    old.returns.as_deref().unwrap_or("nothing")
                                ))
                            } else if old.screen != new.screen {
                                Some("the screen's kind changed".to_owned())
                            } else {
                                fields_break(&old.parameters, &new.parameters, "parameter")
                            }
                        }
                        (None, Some(_)) => None,
                    }
                }
            };
            if let Some(reason) = reason {
                out.push((name.clone(), reason));
            }
        }
        out
    }
}

/// The first incompatible change from `old` to `new` fields: one removed, retyped, or newly
/// required (a new required field breaks callers that do not pass it).
fn fields_break(old: &[Field], new: &[Field], what: &str) -> Option<String> {
    for o in old {
        match new.iter().find(|n| n.name == o.name) {
            None => return Some(format!("{what} `{}` removed", o.name)),
            Some(n) if n.ty != o.ty || n.entity != o.entity => {
                let show = |f: &Field| match &f.entity {
                    Some(e) => format!("{} {e}", f.ty),
                    None => f.ty.to_string(),
                };
                return Some(format!(
                    "{what} `{}` changed from {} to {}",
                    o.name,
                    show(o),
                    show(n)
                ));
            }
            Some(n) if n.required && !o.required => {
                return Some(format!("{what} `{}` became required", o.name))
            }
            Some(_) => {}
        }
    }
    new.iter()
        .find(|n| n.required && !old.iter().any(|o| o.name == n.name))
        .map(|n| format!("new required {what} `{}`", n.name))
}
