//! The data set's grants per record, split the way the peers' models need them, and each
//! user's chain of managers (what a store with materialised paths hands out in one read).

use std::collections::HashMap;

use rampart_authz::acl::{Actions, PrincipalKind};
use rampart_authz::dataset::DatasetSpec;

/// Grants of one record.
#[derive(Default, Clone)]
pub struct RecordGrants {
    pub read_users: Vec<u32>,
    pub write_users: Vec<u32>,
    pub read_shared: Vec<Shared>,
    pub write_shared: Vec<Shared>,
}

/// A grant's principal other than a single user.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shared {
    Group(u32),
    Unit(u32),
}

/// Every record's grants, by record number (records without grants are absent).
pub fn record_grants(spec: &DatasetSpec) -> HashMap<u64, RecordGrants> {
    let mut out: HashMap<u64, RecordGrants> = HashMap::new();
    for g in spec.grants() {
        let entry = out.entry(g.record).or_default();
        let write = g.actions.contains(Actions::WRITE);
        let read = g.actions.contains(Actions::READ);
        let shared = match g.principal.kind() {
            PrincipalKind::User(u) => {
                if read {
                    entry.read_users.push(u);
                }
                if write {
                    entry.write_users.push(u);
                }
                continue;
            }
            PrincipalKind::Group(n) => Shared::Group(n),
            PrincipalKind::Node(_, n) => Shared::Unit(n),
        };
        if read {
            entry.read_shared.push(shared);
        }
        if write {
            entry.write_shared.push(shared);
        }
    }
    out
}

/// Each user's managers, nearest first, up to the top.
pub fn chains(managers: &[Option<u32>]) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::with_capacity(managers.len());
    for (u, m) in managers.iter().enumerate() {
        // Users are numbered level by level: a manager's chain is already built.
        let chain = match *m {
            Some(m) if (m as usize) < u => {
                let mut c = vec![m];
                c.extend_from_slice(&out[m as usize]);
                c
            }
            Some(m) => {
                let mut c = vec![m];
                let mut cur = managers[m as usize];
                while let Some(x) = cur {
                    c.push(x);
                    cur = managers[x as usize];
                }
                c
            }
            None => Vec::new(),
        };
        out.push(chain);
    }
    out
}
