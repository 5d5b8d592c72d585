//! `casbin` with role hierarchies doing the work, so a decision evaluates four policies,
//! not one per record or grant.
//!
//! The request is `(user, owner, record, action)`: the record's owner comes with it, as the
//! store hands it to every engine (Rampart's `RecordRef` carries it too). Two role graphs:
//! - `g2` is the reports-to tree: `g2(report, manager)`, so `g2(owner, user)` holds when
//!   the user is the owner or above them (a walk up at most eight links);
//! - `g` holds memberships and grants: `g(user, group)`, `g(user, unit)`,
//!   `g(unit, branch)`, and one link from each grantee to the record's permission,
//!   `g(grantee, "r42:read")` (a read-and-write grant links to both), so
//!   `g(user, "r42:read")` holds when a grant reaches the user.
//!
//! Policies: `p(owner, read)`, `p(owner, write)`, `p(grant, read)`, `p(grant, write)`;
//! matcher `r.act == p.act && (p.rule == "owner" && g2(r.owner, r.sub) || p.rule ==
//! "grant" && g(r.sub, r.obj + ":" + r.act))`. This is casbin's RBAC with resource roles
//! turned around: the record's permissions are roles that grantees hold. The cost of
//! `g(user, …)` is a breadth-first walk over everything the user's principals were granted
//! (a few hundred links here); casbin's documented ReBAC form (`g = _, _, _` with one domain
//! per record) was not used: its role manager keeps one graph per domain and matches
//! wildcard domains by scanning all of them.

use casbin::prelude::*;
use rampart_authz::acl::{Actions, PrincipalKind};
use rampart_authz::dataset::{DatasetSpec, Request};

const MODEL: &str = r##"
[request_definition]
r = sub, owner, obj, act

[policy_definition]
p = rule, act

[role_definition]
g = _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && (p.rule == "owner" && g2("o" + r.owner, "o" + r.sub) || p.rule == "grant" && g("u" + r.sub, "r" + r.obj + ":" + r.act))
"##;

pub struct Model {
    enforcer: Enforcer,
}

fn v(a: String, b: String) -> Vec<String> {
    vec![a, b]
}

impl Model {
    pub fn build(spec: &DatasetSpec) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let model = DefaultModel::from_str(MODEL).await.unwrap();
            let mut e = Enforcer::new(model, MemoryAdapter::default())
                .await
                .unwrap();
            let reports: Vec<Vec<String>> = spec
                .managers()
                .into_iter()
                .enumerate()
                .filter_map(|(u, m)| m.map(|m| v(format!("o{u}"), format!("o{m}"))))
                .collect();
            e.add_named_grouping_policies("g2", reports).await.unwrap();
            let mut links: Vec<Vec<String>> = Vec::new();
            for (group, user) in spec.memberships() {
                links.push(v(format!("u{user}"), format!("G{group}")));
            }
            for (user, unit) in spec.seats() {
                links.push(v(format!("u{user}"), format!("N{unit}")));
            }
            for (n, parent) in spec.unit_parents().into_iter().enumerate() {
                if let Some(p) = parent {
                    links.push(v(format!("N{n}"), format!("N{p}")));
                }
            }
            for g in spec.grants() {
                let sub = match g.principal.kind() {
                    PrincipalKind::User(u) => format!("u{u}"),
                    PrincipalKind::Group(n) => format!("G{n}"),
                    PrincipalKind::Node(_, n) => format!("N{n}"),
                };
                if g.actions.contains(Actions::READ) {
                    links.push(v(sub.clone(), format!("r{}:read", g.record)));
                }
                if g.actions.contains(Actions::WRITE) {
                    links.push(v(sub, format!("r{}:write", g.record)));
                }
            }
            links.sort();
            links.dedup();
            e.add_grouping_policies(links).await.unwrap();
            let rules = [("owner", "read"), ("owner", "write")];
            let rules = rules
                .into_iter()
                .chain([("grant", "read"), ("grant", "write")]);
            e.add_policies(rules.map(|(a, b)| v(a.to_owned(), b.to_owned())).collect())
                .await
                .unwrap();
            Self { enforcer: e }
        })
    }

    pub fn is_authorized(&self, r: &Request) -> bool {
        let sub = r.user.to_string();
        // A record without an owner: nobody matches the owner rule.
        let owner = r
            .record
            .owner
            .map_or_else(|| "-".to_owned(), |o| o.to_string());
        let obj = r.record.num.to_string();
        let act = if r.action == Actions::WRITE {
            "write"
        } else {
            "read"
        };
        self.enforcer.enforce((&sub, &owner, &obj, act)).unwrap()
    }
}
