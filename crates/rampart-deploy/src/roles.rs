//! The roles of an application: each of its modules declares some (`roles:` in the module
//! format), and together they are the roles the application's users are granted.
//!
//! - **One declaration per role.** A role belongs to the application, not to the module
//!   that declares it, so two modules of one application may not declare the same role
//!   name, compared ignoring ASCII case as the model compares its own names. A module that
//!   needs another module's role uses it as `module.Role`. Publishing holds a new version to
//!   this against the newest version of every other module of its application
//!   ([`clashes`]); a module's own earlier versions do not count.
//! - **Deploying creates what is missing.** The roles the deployed versions declare that
//!   the application does not have are created, each once, under the name the module
//!   declares ([`missing`]). The authorization data names roles exactly (grants and checks
//!   compare names as written), so a role counts as present only under its exact name: the
//!   declared role is then always grantable by the name the module uses. Roles that exist
//!   are left as they are, grants included, and nothing is ever removed: a role of a version
//!   rolled back or of a module no longer deployed stays, with its grants, until an
//!   administrator deletes it.

use rampart_core::Error;
use rampart_model::format::Role;

/// The roles one module declares, as the rules here see them.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    /// The module.
    pub module: String,
    /// Its roles, in the order it declares them.
    pub roles: Vec<Role>,
}

/// A role of a new version that another module of the application declares already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    /// The role as the new version spells it.
    pub role: String,
    /// The module declaring it already.
    pub module: String,
    /// The role as that module spells it.
    pub declared: String,
    /// Whether that module makes it public, so other modules may use it.
    pub public: bool,
}

/// The roles of `module`'s new version (`roles`) that another module of the same
/// application declares already, compared ignoring ASCII case; `others` are the newest
/// versions of the application's modules (an entry for `module` itself is ignored). In the
/// order of `roles`, then of `others`.
pub fn clashes(module: &str, roles: &[Role], others: &[Declared]) -> Vec<Clash> {
    let mut out = Vec::new();
    for role in roles {
        for other in others.iter().filter(|o| o.module != module) {
            if let Some(d) = other
                .roles
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(&role.name))
            {
                out.push(Clash {
                    role: role.name.clone(),
                    module: other.module.clone(),
                    declared: d.name.clone(),
                    public: d.public,
                });
            }
        }
    }
    out
}

/// The refusal of a publish whose roles `clashes` with other modules of `application`:
/// a conflict naming each role, and the module declaring it where `may_know` says the
/// caller may know that module exists (otherwise "another module of the application"),
/// with how to use that role instead when it is public. `None` when there is no clash.
pub fn refusal(
    application: &str,
    clashes: &[Clash],
    may_know: impl Fn(&str) -> bool,
) -> Option<Error> {
    if clashes.is_empty() {
        return None;
    }
    let each: Vec<String> = clashes
        .iter()
        .map(|c| {
            let spelled = if c.declared == c.role {
                String::new()
            } else {
                format!(" as `{}`", c.declared)
            };
            if !may_know(&c.module) {
                format!(
                    "role `{}` is declared{spelled} by another module of the application: choose another name",
                    c.role
                )
            } else if c.public {
                format!(
                    "role `{}` is declared{spelled} by module `{}`: use it as `{}.{}` (listed under its `dependencies`) or choose another name",
                    c.role, c.module, c.module, c.declared
                )
            } else {
                format!(
                    "role `{}` is declared{spelled} by module `{}`, which keeps it to itself: choose another name",
                    c.role, c.module
                )
            }
        })
        .collect();
    Some(Error::Conflict(format!(
        "the roles of application `{application}` are declared once, by one of its modules \
         (names compared ignoring case): {}",
        each.join("; ")
    )))
}

/// A role a deployment creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole {
    /// Its name, as the module declares it.
    pub name: String,
    /// The model's description, if it has one.
    pub description: Option<String>,
}

/// The roles that `declared` (the deployed versions of one application's modules, in the
/// deployment's order) declare and the application does not have among `existing`
/// (compared exactly): each once, with the description of its first declaration.
pub fn missing(declared: &[Declared], existing: &[String]) -> Vec<NewRole> {
    let mut out: Vec<NewRole> = Vec::new();
    for role in declared.iter().flat_map(|d| &d.roles) {
        if existing.contains(&role.name) || out.iter().any(|n| n.name == role.name) {
            continue;
        }
        out.push(NewRole {
            name: role.name.clone(),
            description: (!role.description.is_empty()).then(|| role.description.clone()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A role, public when its name starts with `Sales`.
    fn role(name: &str) -> Role {
        Role {
            name: name.into(),
            description: format!("{name} does things"),
            public: name.starts_with("Sales"),
        }
    }

    fn module(name: &str, roles: &[&str]) -> Declared {
        Declared {
            module: name.into(),
            roles: roles.iter().map(|r| role(r)).collect(),
        }
    }

    /// `(role, other module, declared)` of each clash; whether the declared role is public
    /// is checked by `role`'s naming rule.
    fn check_clashes(roles: &[&str], others: &[Declared]) -> Vec<(String, String, String)> {
        let roles: Vec<Role> = roles.iter().map(|r| role(r)).collect();
        clashes("ui", &roles, others)
            .into_iter()
            .map(|c| {
                assert_eq!(c.public, c.declared.starts_with("Sales"), "{c:?}");
                (c.role, c.module, c.declared)
            })
            .collect()
    }

    #[test]
    fn a_role_another_module_of_the_application_declares_clashes_ignoring_case() {
        let core = module("core", &["SalesRep", "SalesDirector"]);
        let reports = module("reports", &["Analyst"]);
        // (the new version's roles, the other modules, the clashes)
        type Case<'a> = (
            &'a [&'a str],
            Vec<Declared>,
            &'a [(&'a str, &'a str, &'a str)],
        );
        let table: Vec<Case> = vec![
            (&[], vec![core.clone()], &[]),
            (&["SalesAdmin"], vec![core.clone(), reports.clone()], &[]),
            (
                &["SalesRep"],
                vec![core.clone()],
                &[("SalesRep", "core", "SalesRep")],
            ),
            (
                &["salesrep"],
                vec![core.clone()],
                &[("salesrep", "core", "SalesRep")],
            ),
            (
                &["SALESDIRECTOR"],
                vec![core.clone()],
                &[("SALESDIRECTOR", "core", "SalesDirector")],
            ),
            // In the order of the new version's roles, then of the other modules.
            (
                &["analyst", "Admin", "SalesRep"],
                vec![core.clone(), reports.clone()],
                &[
                    ("analyst", "reports", "Analyst"),
                    ("SalesRep", "core", "SalesRep"),
                ],
            ),
            // Two other modules declaring the same role (older data): both are named.
            (
                &["Analyst"],
                vec![reports.clone(), module("more", &["ANALYST"])],
                &[
                    ("Analyst", "reports", "Analyst"),
                    ("Analyst", "more", "ANALYST"),
                ],
            ),
            // The module's own earlier versions do not count.
            (&["SalesRep"], vec![module("ui", &["SalesRep"])], &[]),
            // Only names matter, not a prefix or a look-alike.
            (&["SalesRep2", "Sales_Rep"], vec![core.clone()], &[]),
        ];
        for (roles, others, want) in table {
            let want: Vec<(String, String, String)> = want
                .iter()
                .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
                .collect();
            assert_eq!(check_clashes(roles, &others), want, "{roles:?}");
        }
    }

    #[test]
    fn the_refusal_names_the_role_and_the_module_only_to_those_who_may_know_it() {
        let clash = |role: &str, declared: &str, public: bool| Clash {
            role: role.into(),
            module: "core".into(),
            declared: declared.into(),
            public,
        };
        assert!(refusal("sales", &[], |_| true).is_none());
        let head = "the roles of application `sales` are declared once, by one of its modules (names compared ignoring case): ";
        // (clashes, may the caller know `core`, the refusal's sentence after `head`)
        let table = [
            (
                vec![clash("SalesRep", "SalesRep", true)],
                true,
                "role `SalesRep` is declared by module `core`: use it as `core.SalesRep` (listed under its `dependencies`) or choose another name",
            ),
            (
                vec![clash("salesrep", "SalesRep", true)],
                true,
                "role `salesrep` is declared as `SalesRep` by module `core`: use it as `core.SalesRep` (listed under its `dependencies`) or choose another name",
            ),
            (
                vec![clash("Admin", "Admin", false)],
                true,
                "role `Admin` is declared by module `core`, which keeps it to itself: choose another name",
            ),
            (
                vec![clash("salesrep", "SalesRep", true), clash("Boss", "boss", false)],
                false,
                "role `salesrep` is declared as `SalesRep` by another module of the application: choose another name; role `Boss` is declared as `boss` by another module of the application: choose another name",
            ),
        ];
        for (clashes, known, want) in table {
            let Some(e) = refusal("sales", &clashes, |m| known && m == "core") else {
                unreachable!("a clash is refused")
            };
            assert_eq!(e.code(), "conflict");
            assert_eq!(e.to_string(), format!("{head}{want}"));
            if !known {
                assert!(!e.to_string().contains("core"), "{e}");
            }
        }
    }

    #[test]
    fn a_deployment_creates_each_declared_role_the_application_lacks_once() {
        let core = module("core", &["SalesRep", "SalesDirector", "CoreAdmin"]);
        let ui = module("ui", &["SalesAdmin"]);
        // (declared by the deployed versions, the application's roles, the roles to create)
        type Case<'a> = (Vec<Declared>, &'a [&'a str], &'a [&'a str]);
        let table: Vec<Case> = vec![
            (vec![], &[], &[]),
            (vec![module("empty", &[])], &["SalesRep"], &[]),
            (
                vec![core.clone(), ui.clone()],
                &[],
                &["SalesRep", "SalesDirector", "CoreAdmin", "SalesAdmin"],
            ),
            // Present roles are left alone; the rest are created.
            (
                vec![core.clone(), ui.clone()],
                &["SalesRep", "CoreAdmin"],
                &["SalesDirector", "SalesAdmin"],
            ),
            (
                vec![core.clone()],
                &["SalesRep", "SalesDirector", "CoreAdmin", "Legacy"],
                &[],
            ),
            // Present means under the exact name: the declared role must be grantable by it.
            (vec![ui.clone()], &["salesadmin"], &["SalesAdmin"]),
            // Declared twice (data from before the publish rule): created once.
            (
                vec![core.clone(), module("old", &["SalesRep", "Auditor"])],
                &["SalesDirector", "CoreAdmin"],
                &["SalesRep", "Auditor"],
            ),
        ];
        for (declared, existing, want) in table {
            let existing: Vec<String> = existing.iter().map(|s| (*s).to_owned()).collect();
            let got: Vec<String> = missing(&declared, &existing)
                .into_iter()
                .map(|r| r.name)
                .collect();
            assert_eq!(got, want, "{declared:?} with {existing:?}");
        }
    }

    #[test]
    fn a_created_role_takes_the_description_of_its_first_declaration() {
        let first = Declared {
            module: "core".into(),
            roles: vec![
                Role {
                    name: "Rep".into(),
                    description: "Sells.".into(),
                    public: true,
                },
                Role {
                    name: "Quiet".into(),
                    description: String::new(),
                    public: false,
                },
            ],
        };
        let second = Declared {
            module: "old".into(),
            roles: vec![Role {
                name: "Rep".into(),
                description: "Something else.".into(),
                public: false,
            }],
        };
        assert_eq!(
            missing(&[first, second], &[]),
            [
                NewRole {
                    name: "Rep".into(),
                    description: Some("Sells.".into()),
                },
                NewRole {
                    name: "Quiet".into(),
                    description: None,
                },
            ]
        );
    }
}
