//! Compatibility: a module that depends on another must find each public element it uses,
//! compatible with what it was written against.
//!
//! Two questions are asked. Publishing: which deployed dependants would a module's new
//! public surface break, judged in each environment against the surface of the version
//! running there ([`breaks_of_new_surface`]). Deploying: what would be broken in an
//! environment as it would be after the change ([`broken_after`]): every module changed,
//! and every module depending on one changed, must find each module it depends on there;
//! a dependency that changed while its dependant did not is judged against its version
//! running now (so a changed signature is caught), anything else by presence.

use std::collections::BTreeMap;

use rampart_model::format::Dependency;
use rampart_model::{Kind, Surface};

/// The kinds of public element, in the order they are checked.
const KINDS: [Kind; 5] = [
    Kind::Role,
    Kind::Entity,
    Kind::Query,
    Kind::Screen,
    Kind::Action,
];

/// The elements of `kind` that `d` uses.
fn used(d: &Dependency, kind: Kind) -> &[String] {
    match kind {
        Kind::Role => &d.roles,
        Kind::Entity => &d.entities,
        Kind::Query => &d.queries,
        Kind::Screen => &d.screens,
        Kind::Action => &d.actions,
    }
}

/// The public elements `d` uses that `surface` lacks, as `kinds \`Name\` of \`module\``.
pub fn missing_elements(d: &Dependency, surface: &Surface) -> Vec<String> {
    let mut out = Vec::new();
    for kind in KINDS {
        for element in used(d, kind) {
            if !surface.has(kind, element) {
                out.push(format!("{} `{element}` of `{}`", kind.plural(), d.module));
            }
        }
    }
    out
}

/// A module version as placed in an environment: its number, public surface and what it
/// uses of other modules.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The module.
    pub module: String,
    /// The environment.
    pub environment: String,
    /// The version.
    pub number: i64,
    /// Its public surface.
    pub surface: Surface,
    /// What it uses of other modules.
    pub uses: Vec<Dependency>,
}

/// A deployed module that a change would break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The module that would break (the dependant).
    pub module: String,
    /// Its version.
    pub version: i64,
    /// Where.
    pub environment: String,
    /// The module it depends on.
    pub depends_on: String,
    /// The kind of element (`roles`, `entities`, … or `module` when the dependency is
    /// missing altogether).
    pub kind: String,
    /// The element (or the missing module).
    pub element: String,
    /// Why it breaks.
    pub reason: String,
}

/// The deployed dependants (in `running`, every environment) that module `module`'s `new`
/// surface would break, judged against the surface of the version of `module` running in
/// each environment.
pub fn breaks_of_new_surface(running: &[Placed], module: &str, new: &Surface) -> Vec<Break> {
    let mut out = Vec::new();
    for current in running.iter().filter(|r| r.module == module) {
        for dependant in running
            .iter()
            .filter(|r| r.environment == current.environment)
        {
            for d in dependant.uses.iter().filter(|d| d.module == module) {
                for kind in KINDS {
                    for (element, reason) in current.surface.breaks(new, kind, used(d, kind)) {
                        out.push(Break {
                            module: dependant.module.clone(),
                            version: dependant.number,
                            environment: dependant.environment.clone(),
                            depends_on: module.to_owned(),
                            kind: kind.plural().to_owned(),
                            element,
                            reason,
                        });
                    }
                }
            }
        }
    }
    out
}

/// What would be broken in environment `env` after `changed` replaces what runs `now`
/// (both by module), in module order.
pub fn broken_after(
    env: &str,
    now: &BTreeMap<String, Placed>,
    changed: &BTreeMap<String, Placed>,
) -> Vec<Break> {
    let mut after: BTreeMap<&str, &Placed> = now.iter().map(|(m, p)| (m.as_str(), p)).collect();
    for (m, p) in changed {
        after.insert(m, p);
    }
    let mut out = Vec::new();
    for (m, placed) in &after {
        for d in &placed.uses {
            let touched = changed.contains_key(*m) || changed.contains_key(&d.module);
            if !touched {
                continue;
            }
            let broken = |kind: &str, element: String, reason: String| Break {
                module: (*m).to_owned(),
                version: placed.number,
                environment: env.to_owned(),
                depends_on: d.module.clone(),
                kind: kind.to_owned(),
                element,
                reason,
            };
            let Some(dependency) = after.get(d.module.as_str()) else {
                out.push(broken(
                    "module",
                    d.module.clone(),
                    format!("`{}` is not deployed in {env}", d.module),
                ));
                continue;
            };
            // Against the version running now when it stays the dependency's predecessor,
            // so changed signatures are caught; otherwise presence.
            let before = now
                .get(&d.module)
                .filter(|_| changed.contains_key(&d.module) && !changed.contains_key(*m));
            for kind in KINDS {
                let names = used(d, kind);
                let found = match before {
                    Some(old) => old.surface.breaks(&dependency.surface, kind, names),
                    None => names
                        .iter()
                        .filter(|e| !dependency.surface.has(kind, e))
                        .map(|e| {
                            (
                                e.clone(),
                                "not a public element of the version deployed".to_owned(),
                            )
                        })
                        .collect(),
                };
                for (element, reason) in found {
                    out.push(broken(kind.plural(), element, reason));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::surface::CallableSignature;

    /// A surface with public queries, each returning the entity named (or nothing).
    fn surface(queries: &[(&str, Option<&str>)]) -> Surface {
        Surface {
            queries: queries
                .iter()
                .map(|(name, returns)| {
                    (
                        (*name).to_owned(),
                        CallableSignature {
                            returns: returns.map(str::to_owned),
                            ..CallableSignature::default()
                        },
                    )
                })
                .collect(),
            ..Surface::default()
        }
    }

    /// Module `module` version `number` in `env`, with public `queries`, using the queries
    /// `uses` of other modules (module, query).
    fn placed(
        module: &str,
        env: &str,
        number: i64,
        queries: &[(&str, Option<&str>)],
        uses: &[(&str, &str)],
    ) -> Placed {
        Placed {
            module: module.to_owned(),
            environment: env.to_owned(),
            number,
            surface: surface(queries),
            uses: uses
                .iter()
                .map(|(m, q)| Dependency {
                    module: (*m).to_owned(),
                    roles: Vec::new(),
                    entities: Vec::new(),
                    queries: vec![(*q).to_owned()],
                    screens: Vec::new(),
                    actions: Vec::new(),
                })
                .collect(),
        }
    }

    fn by_module(list: Vec<Placed>) -> BTreeMap<String, Placed> {
        list.into_iter().map(|p| (p.module.clone(), p)).collect()
    }

    /// A break as (dependant, its version, dependency, kind, element, reason).
    fn row(b: &Break) -> (String, i64, String, String, String, String) {
        (
            b.module.clone(),
            b.version,
            b.depends_on.clone(),
            b.kind.clone(),
            b.element.clone(),
            b.reason.clone(),
        )
    }

    const CUSTOMERS: (&str, Option<&str>) = ("Customers", Some("Customer"));

    #[test]
    fn the_environment_after_a_deployment_must_find_what_it_uses() {
        let core1 = || placed("core", "prod", 1, &[CUSTOMERS], &[]);
        let ui1 = || placed("ui", "prod", 1, &[], &[("core", "Customers")]);
        // (what runs, what changes, breaks as (dependant, version, dependency, kind, element, reason))
        type Case = (
            Vec<Placed>,
            Vec<Placed>,
            Vec<(
                &'static str,
                i64,
                &'static str,
                &'static str,
                &'static str,
                &'static str,
            )>,
        );
        let table: Vec<Case> = vec![
            // Nothing changes.
            (vec![core1(), ui1()], vec![], vec![]),
            // A compatible new version of the dependency.
            (
                vec![core1(), ui1()],
                vec![placed(
                    "core",
                    "prod",
                    2,
                    &[CUSTOMERS, ("Orders", None)],
                    &[],
                )],
                vec![],
            ),
            // The dependency loses what a dependant that stays uses.
            (
                vec![core1(), ui1()],
                vec![placed("core", "prod", 2, &[], &[])],
                vec![(
                    "ui",
                    1,
                    "core",
                    "queries",
                    "Customers",
                    "removed or no longer public",
                )],
            ),
            // The dependency changes a signature a dependant that stays relies on.
            (
                vec![core1(), ui1()],
                vec![placed(
                    "core",
                    "prod",
                    2,
                    &[("Customers", Some("Order"))],
                    &[],
                )],
                vec![(
                    "ui",
                    1,
                    "core",
                    "queries",
                    "Customers",
                    "now returns Order instead of Customer",
                )],
            ),
            // Both change: the new dependant is judged by presence only.
            (
                vec![core1(), ui1()],
                vec![
                    placed("core", "prod", 2, &[("Customers", Some("Order"))], &[]),
                    placed("ui", "prod", 2, &[], &[("core", "Customers")]),
                ],
                vec![],
            ),
            // A new dependant uses what the running dependency has.
            (vec![core1()], vec![ui1()], vec![]),
            // A new dependant uses what the running dependency lacks.
            (
                vec![core1()],
                vec![placed("ui", "prod", 1, &[], &[("core", "Orders")])],
                vec![(
                    "ui",
                    1,
                    "core",
                    "queries",
                    "Orders",
                    "not a public element of the version deployed",
                )],
            ),
            // A new dependant of a module that does not run there.
            (
                vec![],
                vec![ui1()],
                vec![(
                    "ui",
                    1,
                    "core",
                    "module",
                    "core",
                    "`core` is not deployed in prod",
                )],
            ),
            // A break nobody touches is not this deployment's.
            (
                vec![placed("old", "prod", 4, &[], &[("gone", "Q")]), core1()],
                vec![placed("core", "prod", 2, &[CUSTOMERS], &[])],
                vec![],
            ),
        ];
        for (i, (now, changed, breaks)) in table.into_iter().enumerate() {
            let got: Vec<_> = broken_after("prod", &by_module(now), &by_module(changed))
                .iter()
                .map(row)
                .collect();
            let want: Vec<_> = breaks
                .into_iter()
                .map(|(m, v, d, k, e, r)| (m.into(), v, d.into(), k.into(), e.into(), r.into()))
                .collect();
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn a_new_surface_is_judged_in_each_environment_against_the_version_running_there() {
        let running = vec![
            placed("core", "dev", 3, &[CUSTOMERS], &[]),
            placed("core", "prod", 1, &[("Customers", None)], &[]),
            placed("ui", "prod", 7, &[], &[("core", "Customers")]),
            placed("ui", "test", 6, &[], &[("core", "Customers")]),
        ];
        // (new surface of core, breaks as (environment, reason))
        let table: Vec<(Surface, Vec<(&str, &str)>)> = vec![
            (surface(&[("Customers", None)]), vec![]),
            (surface(&[]), vec![("prod", "removed or no longer public")]),
            (
                surface(&[CUSTOMERS]),
                vec![("prod", "now returns Customer instead of nothing")],
            ),
        ];
        for (new, want) in table {
            let got: Vec<_> = breaks_of_new_surface(&running, "core", &new)
                .into_iter()
                .map(|b| {
                    assert_eq!(
                        (b.module.as_str(), b.version, b.element.as_str()),
                        ("ui", 7, "Customers")
                    );
                    (b.environment, b.reason)
                })
                .collect();
            let want: Vec<_> = want
                .into_iter()
                .map(|(e, r)| (e.to_owned(), r.to_owned()))
                .collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn missing_elements_are_named_by_kind_and_module() {
        let ui = placed("ui", "prod", 1, &[], &[("core", "Orders")]);
        let Some(d) = ui.uses.first() else {
            unreachable!("one dependency")
        };
        assert_eq!(
            missing_elements(d, &surface(&[CUSTOMERS])),
            ["queries `Orders` of `core`"]
        );
        assert!(missing_elements(d, &surface(&[("Orders", None)])).is_empty());
    }
}
