//! The application runtime's security overhead, over HTTPS on the authorization data set
//! loaded as application data (`scripts/bench-parts/apps` drives it):
//!
//! ```text
//! apps_bench seed DATA_DIR SCALE INFO  the data set, seeded as a node's data directory
//! apps_bench serve DATA_DIR ADDR       a node, and the benchmark's own routes beside it
//! apps_bench explain DATA_DIR INFO     the plans of the list statements and their cost alone
//! ```
//!
//! On PostgreSQL when `RAMPART_DATABASE_URL` names a database (as for `rampart serve`): the
//! seed loads it with `COPY` and adds the set-based RLS baseline (see [`pg`]), and `serve`
//! also serves the page under that policy (`x-bench-rls: <user number>`). `explain` is
//! SQLite's.
//!
//! **`seed`: the data set as an application's data.** `DatasetSpec::issue()` (SCALE 1:
//! 100,000 users in a reports-to tree of depth 8, 10,000,000 records, each owned by a random
//! user as the data set's generator draws it) or `DatasetSpec::scaled(SCALE)`. The users and
//! the tree go into the platform's tables as `http_limit seed` writes them (one connection,
//! multi-row inserts, the materialised paths the store derives); then a node is started on
//! the directory and the application is set up through its API as an administrator would
//! (application `shop`, roles `Rep` and `Manager`, the module `crm` below published and
//! deployed to `development`), so the application database (`apps/<num>.db`) and its layout
//! are the ones the store creates and migrates. Last, the records go straight into the
//! entity's table through one connection, in id order, with the owner index dropped
//! beforehand and rebuilt afterwards from its own stored SQL (a sort instead of ten million
//! random inserts: the schema ends identical), each record's owner number beside its owner
//! as the store writes it. Ids are UUIDv7-shaped, their time one second
//! apart from 2025-01-01, so id order is creation order as on a node. The SQLite files are
//! not `ANALYZE`d (a node never does); PostgreSQL's tables are vacuumed and analysed, as
//! autovacuum would after a load this size. `INFO/bench.json` receives the personas (a leaf rep, a
//! first-line manager and the director of the data set's `personas`), their expected first
//! pages and record ids each may read, and `INFO/password` their password (random, 0600).
//!
//! **`serve`: the product and a benchmark-only route in one process.** A node is started on
//! the directory exactly as `rampart serve` starts one (`Server::start`: store, audit
//! pipeline, sessions, the authorization index); its state then also serves, on ADDR over
//! the node's own listener loop (`serve::accept_loop`, the same TLS and HTTP stack),
//! `rampart_server::router(state)` with the routes of [`plain`] merged in under `/bench/`.
//! Those routes exist only in this program: they read and write the same table through the
//! same store calls and statements (`compile_list`, `compile_get`, `app_records`,
//! `app_insert`), without authentication, roles, the row-level rule or audit, so the same
//! requests sent to both measure what security costs. Headers add the omitted steps back one
//! at a time, for the profile: `x-bench-as: <user id>` applies that user's row rule,
//! `x-bench-audit: 1` appends and awaits the access event the product appends.
//!
//! **`explain`**: for each persona, the list statement the product runs (the rule for that
//! reader) and the one without the rule: `EXPLAIN QUERY PLAN` and the time of each alone,
//! through the store's reader pool and on a direct connection, with no HTTP around it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

/// The allocator the `rampart` binary ships with, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod explain;
#[path = "../shared/listener.rs"]
mod listener;
mod pg;
mod plain;
mod seed;
#[path = "../../../rampart-store/examples/shared/seed.rs"]
mod seeding;

use std::path::Path;

pub use seeding::user_id;

/// The module the data set is served by: the API tests' `crm`.
pub const MODULE: &str = "
module: crm
application: shop
roles:
  - {name: Rep}
  - {name: Manager}
entities:
  - name: Sale
    attributes:
      - {name: amount, type: decimal, required: true}
      - {name: region, type: text, max_length: 20}
      - {name: closed_on, type: date}
      - {name: rep, type: reference, entity: User, required: true}
    acl: {owner: rep, hierarchy: reports-to}
screens:
  - name: Sales
    kind: list
    entity: Sale
    roles: [Rep, Manager]
    widgets: [{kind: table, columns: [record.amount]}]
  - name: EditSale
    kind: form
    entity: Sale
    roles: [Rep, Manager]
    widgets: [{kind: field, value: amount}]
";

/// Where the entity is served.
pub const ENVIRONMENT: &str = "development";
pub const APPLICATION: &str = "shop";
pub const MODULE_NAME: &str = "crm";
pub const ENTITY: &str = "Sale";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("seed") if args.len() == 4 => runtime.block_on(seed::seed(
            Path::new(&args[1]),
            args[2].parse().expect("SCALE is a number"),
            Path::new(&args[3]),
        )),
        Some("serve") if args.len() == 3 => {
            runtime.block_on(plain::serve(Path::new(&args[1]), &args[2]));
        }
        Some("explain") if args.len() == 3 => {
            runtime.block_on(explain::run(Path::new(&args[1]), Path::new(&args[2])));
        }
        _ => {
            eprintln!(
                "usage: apps_bench seed DATA_DIR SCALE INFO | apps_bench serve DATA_DIR ADDR | \
                 apps_bench explain DATA_DIR INFO"
            );
            std::process::exit(2);
        }
    }
}
