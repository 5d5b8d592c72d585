//! `rampart serve --demo`: the sales application deployed to development with an
//! organisation whose people see different rows, so a newcomer sees the row-level rule at
//! work in a minute.
//!
//! A director above two managers, each above reps; every rep owns customers and their sales.
//! Everything goes through the same use cases as the API (publish, deploy, user and
//! authorization administration, the data API as each rep), so the demo's audit trail is a
//! real one. Seeding happens once: a node that already has the `sales` application is left
//! as it is.

use rampart_api::{CreateUserRequest, DeployItem, DeployRequest, PublishRequest, WriteOp};
use rampart_core::{AuditContext, Error, Provider, User, Username};
use rampart_store::NewUser;
use serde_json::json;

use super::data::{self, EntityRef};
use crate::caller::Caller;
use crate::state::AppState;

/// A person of the demo organisation.
#[derive(Debug, Clone, Copy)]
pub struct DemoUser {
    /// Their username (end users).
    pub username: &'static str,
    /// Their password (a demo's: public, so the demo serves loopback only).
    pub password: &'static str,
    /// Who they are.
    pub role: &'static str,
    /// Their manager's username.
    pub manager: Option<&'static str>,
    /// The application roles they hold.
    pub roles: &'static [&'static str],
    /// Whether they own customers and sales.
    pub sells: bool,
}

/// The organisation.
pub const PEOPLE: [DemoUser; 6] = [
    DemoUser {
        username: "dana",
        password: "quartz-meadow-lantern-58",
        role: "sales director",
        manager: None,
        roles: &["SalesDirector"],
        sells: false,
    },
    DemoUser {
        username: "mike",
        password: "copper-violin-harbor-31",
        role: "manager",
        manager: Some("dana"),
        roles: &["SalesRep"],
        sells: false,
    },
    DemoUser {
        username: "mia",
        password: "saffron-glacier-tunnel-47",
        role: "manager",
        manager: Some("dana"),
        roles: &["SalesRep"],
        sells: false,
    },
    DemoUser {
        username: "rita",
        password: "amber-falcon-orchard-26",
        role: "sales rep",
        manager: Some("mike"),
        roles: &["SalesRep"],
        sells: true,
    },
    DemoUser {
        username: "ravi",
        password: "cobalt-thistle-canyon-93",
        role: "sales rep",
        manager: Some("mike"),
        roles: &["SalesRep"],
        sells: true,
    },
    DemoUser {
        username: "rosa",
        password: "juniper-beacon-marble-64",
        role: "sales rep",
        manager: Some("mia"),
        roles: &["SalesRep"],
        sells: true,
    },
];

/// Customers per rep, and sales per customer.
const CUSTOMERS: usize = 3;
const SALES: usize = 2;

/// What the demo set up (or found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// Whether this run seeded it (false: it was there).
    pub fresh: bool,
    /// The administrator's username and password (generated on the run that seeded).
    pub admin: Option<(String, String)>,
}

/// Seeds the demo unless the node has the `sales` application already. `sources` are the
/// module files of `examples/sales`, by module name.
pub async fn seed(state: &AppState, sources: &[(&str, &str)]) -> Result<Seeded, Error> {
    state.authz.fresh(None).await?;
    if state.authz.view().app("sales").is_some() {
        return Ok(Seeded {
            fresh: false,
            admin: None,
        });
    }
    // 256 random bits, as a session token's; the `rps_` prefix dropped.
    let token = rampart_identity::SessionToken::generate()?;
    let admin_password = token.secret().trim_start_matches("rps_").to_owned();
    let admin = create_admin(state, &admin_password).await?;
    let caller = caller_of(state, admin);
    write(
        state,
        &caller,
        json!([{ "op": "create_application", "name": "sales" },
        { "op": "create_hierarchy", "name": "reports-to", "kind": "reports_to" }]),
    )
    .await?;
    for (name, source) in sources {
        crate::lifecycle::publish::publish(
            state,
            &caller,
            (*name).to_owned(),
            PublishRequest {
                source: (*source).to_owned(),
                message: "The demo's sales application".into(),
                parent: None,
                force: false,
            },
        )
        .await
        .map_err(|e| Error::Internal(format!("demo: publishing {name}: {e}")))?;
    }
    let deploy = DeployRequest {
        modules: sources
            .iter()
            .map(|(name, _)| DeployItem {
                module: (*name).to_owned(),
                version: 1,
                expected: None,
            })
            .collect(),
        application: None,
        tag: None,
        dry_run: false,
        drop_data: false,
    };
    crate::lifecycle::deploy::deploy(state, &caller, "development", deploy)
        .await
        .map_err(|e| Error::Internal(format!("demo: deploying: {e}")))?;
    // The people, where they sit, and their roles.
    let mut ids = Vec::new();
    for p in PEOPLE {
        let user = crate::identity::users::create(
            state,
            &caller,
            CreateUserRequest {
                provider: "end".into(),
                username: p.username.into(),
                password: Some(p.password.into()),
                no_password: false,
                display_name: Some(format!("{} ({})", capitalised(p.username), p.role)),
                email: Some(format!("{}@demo.example", p.username)),
                administrator: false,
            },
        )
        .await?;
        ids.push((p, user));
    }
    let id_of = |name: &str| {
        ids.iter()
            .find(|(p, _)| p.username == name)
            .map(|(_, u)| u.id.to_string())
    };
    let mut ops = Vec::new();
    for (p, user) in &ids {
        ops.push(
            json!({ "op": "set_parent", "hierarchy": "reports-to", "node": user.id.to_string(),
            "parent": p.manager.and_then(id_of) }),
        );
        for role in p.roles {
            ops.push(
                json!({ "op": "grant_role", "application": "sales", "role": role,
                "principal": { "type": "user", "id": user.id.to_string() } }),
            );
        }
    }
    write(state, &caller, serde_json::Value::Array(ops)).await?;
    // Each rep's customers and sales, written as that rep through the data API.
    let regions = ["North", "South", "East", "West"];
    let mut n = 0;
    for (p, user) in ids.into_iter().filter(|(p, _)| p.sells) {
        let rep = caller_of(state, user);
        for c in 0..CUSTOMERS {
            n += 1;
            let customer = data::create(
                state,
                &rep,
                at("core-service", "Customer"),
                json!({
                    "name": format!("{} {}", ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne"][n % 9], capitalised(p.username)),
                    "region": regions[n % regions.len()],
                    "email": format!("buyer{n}@customer.example"),
                    "vat_number": format!("PT{:09}", 500_000_000 + n * 7919),
                }),
            )
            .await?;
            for s in 0..SALES {
                data::create(
                    state,
                    &rep,
                    at("sales-ui", "Sale"),
                    json!({
                        "customer": customer.id,
                        "amount": format!("{}.{:02}", 1_000 + (n * 37 + s * 911) % 9_000, (n + s) % 100),
                        "closed_on": format!("2026-{:02}-{:02}", 1 + (n + s) % 12, 1 + (n * 3 + s) % 28),
                        "notes": format!("Deal {} of customer {c}", s + 1),
                    }),
                )
                .await?;
            }
        }
    }
    Ok(Seeded {
        fresh: true,
        admin: Some(("demo-admin".into(), admin_password)),
    })
}

fn at<'a>(module: &'a str, entity: &'a str) -> EntityRef<'a> {
    EntityRef {
        environment: "development",
        application: "sales",
        module,
        entity,
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn caller_of(state: &AppState, user: User) -> Caller {
    let audit = AuditContext {
        actor_id: Some(user.id),
        actor_name: Some(format!("{}:{}", user.provider, user.username)),
        request_id: Some("demo".into()),
        ..state.system_context()
    };
    Caller {
        user,
        audit,
        arrived: state.fence.ticket(),
        second_factor_at: None,
    }
}

async fn create_admin(state: &AppState, password: &str) -> Result<User, Error> {
    let password_hash = state.credentials.hash_password(password).await?;
    state
        .store
        .create_user(
            &NewUser {
                provider: Provider::It,
                username: Username::parse("demo-admin")?,
                display_name: Some("Demo administrator".into()),
                email: None,
                password_hash,
                is_admin: true,
            },
            state.clock.now(),
            &state.system_context(),
        )
        .await
}

async fn write(state: &AppState, caller: &Caller, ops: serde_json::Value) -> Result<(), Error> {
    let ops: Vec<WriteOp> = serde_json::from_value(ops)
        .map_err(|e| Error::Internal(format!("demo operations: {e}")))?;
    crate::authz::acl::write(state, caller, &ops)
        .await
        .map(|_| ())
}
