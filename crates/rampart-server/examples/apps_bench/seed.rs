//! `apps_bench seed`: the data set as an application's data (see the crate's header).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rampart_apps::schema::Layout;
use rampart_apps::values::{from_text, Value};
use rampart_core::{AuditContext, Clock, Provider, SystemClock, Username};
use rampart_model::format::AttributeType;
use rampart_server::Server;
use rampart_service::Config;
use rampart_store::{NewUser, Store};
use serde_json::{json, Value as Json};
use sqlx::Connection as _;

use crate::seeding::{bulk, exec, fresh_database, loading_connection, paths, people, spec_at, V};
use crate::{pg, user_id, APPLICATION, ENTITY, ENVIRONMENT, MODULE, MODULE_NAME};

/// The 2025-01-01 epoch of the seeded records, in milliseconds.
const FIRST_CREATED_MS: u64 = 1_735_689_600_000;

/// Record `r`'s creation time: one a second from [`FIRST_CREATED_MS`].
pub fn created_ms(r: u64) -> u64 {
    FIRST_CREATED_MS + r * 1000
}

/// Record `r`'s id: a UUIDv7 of its creation time, the rest of its bits a hash of `r`, so
/// ids are in record order (the version and variant bits as a node's ids have them).
pub fn record_id(r: u64) -> String {
    let mut h = r.wrapping_add(0x9E37_79B9_7F4A_7C15);
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    let bits = (u128::from(created_ms(r)) << 80)
        | (0x7u128 << 76)
        | (u128::from(h & 0x0fff) << 64)
        | (0b10u128 << 62)
        | u128::from(h >> 2);
    uuid::Uuid::from_u128(bits).to_string()
}

/// One persona's facts for the benchmark part.
struct Persona {
    role: &'static str,
    num: u32,
    below: u32,
    first_page: Vec<String>,
    readable: Vec<String>,
}

pub async fn seed(dir: &Path, scale: u32, info: &Path) {
    let spec = spec_at(scale);
    let started = Instant::now();
    rampart_server::serve::prepare_data_dir(dir).unwrap();
    let path = fresh_database(dir, info);
    // PostgreSQL when RAMPART_DATABASE_URL names it (as for `rampart serve`).
    let url = std::env::var("RAMPART_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        rampart_service::files::private_file()
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
    }
    let users = spec.users();
    let managers = spec.managers();
    let user_paths = paths(&managers);
    eprintln!(
        "seeding {users} users in a reports-to tree of depth {}, {} records{}",
        spec.levels.len(),
        spec.records,
        if url.is_some() { " (PostgreSQL)" } else { "" }
    );
    // The users have no password (the personas get one below).
    const HIERARCHY: &str = "INSERT INTO authz_hierarchies (num, name, kind, created_at) VALUES \
         (0, 'reports-to', 'reports_to', 0)";
    let counters = [("user", i64::from(users)), ("hierarchy", 1)];
    match &url {
        None => {
            let mut conn = loading_connection(&path).await;
            exec(&mut conn, HIERARCHY).await;
            for load in people(&managers, &user_paths) {
                bulk(&mut conn, load.table, load.cols, load.rows).await;
            }
            for (name, next) in counters {
                sqlx::query("INSERT INTO authz_counters (name, next) VALUES (?, ?)")
                    .bind(name)
                    .bind(next)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            exec(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)").await;
            conn.close().await.unwrap();
        }
        Some(url) => {
            let store = Store::open_postgres(url, 2).await.unwrap();
            store.migrate().await.unwrap();
            store.close().await;
            let mut conn = pg::connect(url).await;
            pg::exec(&mut conn, HIERARCHY).await;
            for load in people(&managers, &user_paths) {
                pg::copy(&mut conn, load.table, load.cols, load.rows).await;
            }
            for (name, next) in counters {
                sqlx::query("INSERT INTO authz_counters (name, next) VALUES ($1, $2)")
                    .bind(name)
                    .bind(next)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            conn.close().await.unwrap();
        }
    }
    eprintln!("users and tree in {:.1?}", started.elapsed());

    // 2. The application, set up through a node's API.
    let t = Instant::now();
    let acl = spec.build_acl().unwrap();
    let who = spec.personas(&acl);
    let tree = acl.hierarchy(rampart_authz::dataset::REPORTS).unwrap();
    let sizes: std::collections::HashMap<u32, u32> = [who.rep, who.manager, who.director]
        .into_iter()
        .map(|u| (u, tree.subtree_size(u).unwrap() - 1))
        .collect();
    let below = |u: u32| sizes[&u];
    drop(acl);
    let password = random_password();
    {
        let mut config = Config {
            data_dir: dir.to_owned(),
            https_addr: "127.0.0.1:0".into(),
            http_addr: "127.0.0.1:0".into(),
            node_id: "bench-seed".into(),
            database_url: url.clone().unwrap_or_default(),
            ..Config::default()
        };
        config.password_hash.memory_kib = 64;
        config.password_hash.iterations = 1;
        let server = Server::start(config, Arc::new(SystemClock) as Arc<dyn Clock>)
            .await
            .unwrap();
        let state = &server.state;
        let ctx = AuditContext {
            node_id: "bench-seed".into(),
            ..AuditContext::default()
        };
        let admin_password = random_password();
        let admin_hash = state
            .credentials
            .hash_password(&admin_password)
            .await
            .unwrap();
        state
            .store
            .create_user(
                &NewUser {
                    provider: Provider::It,
                    username: Username::parse("bench-admin").unwrap(),
                    display_name: None,
                    email: None,
                    password_hash: admin_hash,
                    is_admin: true,
                },
                state.clock.now(),
                &ctx,
            )
            .await
            .unwrap();
        let hash = state.credentials.hash_password(&password).await.unwrap();
        for u in [who.rep, who.manager, who.director] {
            state
                .store
                .set_password(
                    user_id(u),
                    &hash,
                    1,
                    "user.password.reset",
                    state.clock.now(),
                    &ctx,
                )
                .await
                .unwrap();
        }
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let base = format!("https://{}", server.https_addr);
        let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: Json| {
            let mut r = client.request(method, format!("{base}{path}")).json(&body);
            if let Some(token) = token {
                r = r.bearer_auth(token);
            }
            async move {
                let response = r.send().await.unwrap();
                let status = response.status();
                let body: Json = response.json().await.unwrap_or(Json::Null);
                assert!(status.is_success(), "{status}: {body}");
                body
            }
        };
        let login = call(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            json!({ "username": "bench-admin", "password": admin_password, "provider": "it" }),
        )
        .await;
        let admin = login["token"].as_str().unwrap().to_owned();
        let principal = |u: u32| json!({ "type": "user", "id": user_id(u).to_string() });
        let ops = json!([
            { "op": "create_application", "name": APPLICATION },
            { "op": "create_role", "application": APPLICATION, "name": "Rep" },
            { "op": "create_role", "application": APPLICATION, "name": "Manager" },
            { "op": "grant_role", "application": APPLICATION, "role": "Rep", "principal": principal(who.rep) },
            { "op": "grant_role", "application": APPLICATION, "role": "Manager", "principal": principal(who.manager) },
            { "op": "grant_role", "application": APPLICATION, "role": "Manager", "principal": principal(who.director) },
        ]);
        call(
            reqwest::Method::POST,
            "/api/v1/authz/write",
            Some(&admin),
            json!({ "operations": ops }),
        )
        .await;
        call(
            reqwest::Method::POST,
            &format!("/api/v1/modules/{MODULE_NAME}/versions"),
            Some(&admin),
            json!({ "source": MODULE, "message": "benchmark" }),
        )
        .await;
        call(
            reqwest::Method::POST,
            &format!("/api/v1/environments/{ENVIRONMENT}/deployments"),
            Some(&admin),
            json!({ "modules": [{ "module": MODULE_NAME, "version": 1 }] }),
        )
        .await;
        server.shutdown().await;
    }
    let module = rampart_model::parse("crm.yaml", MODULE).unwrap();
    let entity = module.entities.iter().find(|e| e.name == ENTITY).unwrap();
    let store = match &url {
        None => Store::open_sqlite(&path).await.unwrap(),
        Some(url) => Store::open_postgres(url, 2).await.unwrap(),
    };
    let db = store
        .app_database(ENVIRONMENT, APPLICATION, &entity.database)
        .await
        .unwrap()
        .expect("the deployment created the application database");
    let layout: Layout = store.app_layout(&db).await.unwrap();
    let target = store.app_target(&db);
    store.close().await;
    let table = layout.table(MODULE_NAME, ENTITY).unwrap().clone();
    eprintln!(
        "application deployed in {:.1?}: database {} (apps/{}.db), table `{}`",
        t.elapsed(),
        db.num,
        db.num,
        table.name
    );

    // 3. The records, straight into the table the deployment created, with the owner's
    // number beside the owner as the store writes it (users are numbered as `http_limit`
    // numbers them: user `u` is number `u`).
    let t = Instant::now();
    let col = |attr: &str| format!("\"{}\"", table.column(attr).unwrap().name);
    let mut cols = vec![
        "\"id\"".to_owned(),
        "\"_version\"".into(),
        "\"_created_at\"".into(),
        "\"_updated_at\"".into(),
        col("amount"),
        col("region"),
        col("closed_on"),
        col("rep"),
    ];
    let numbered = table.owner_num().is_some();
    if let Some(num) = table.owner_num() {
        cols.push(format!("\"{num}\""));
    }
    let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
    let amounts: Vec<String> = (0..997u64)
        .map(|i| {
            let text = format!("{}.{:02}", 10 + i * 37 % 9_000, i % 100);
            match from_text(AttributeType::Decimal, &text).unwrap() {
                Value::Decimal(d) => d,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    const REGIONS: [&str; 4] = ["North", "South", "East", "West"];
    let owners: Vec<u32> = spec.owners().collect();
    let records = (0..spec.records).map(|r| {
        let at = created_ms(r) as i64;
        let owner = owners[r as usize];
        let mut row = vec![
            V::T(record_id(r)),
            V::I(1),
            V::I(at),
            V::I(at),
            V::T(amounts[(r % 997) as usize].clone()),
            V::T(REGIONS[(r % 4) as usize].into()),
            if r % 5 < 3 {
                V::T(format!("2025-{:02}-{:02}", 1 + r % 12, 1 + r % 28))
            } else {
                V::N
            },
            V::T(user_id(owner).to_string()),
        ];
        if numbered {
            row.push(V::I(i64::from(owner)));
        }
        row
    });
    match &url {
        None => {
            let file = dir.join("apps").join(format!("{}.db", db.num));
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                .await
                .unwrap();
            // One writer, a fresh table: no journal while loading (the file is thrown away if
            // this fails), the B-trees in memory; WAL again at the end, as the store opens it.
            exec(&mut conn, "PRAGMA journal_mode = OFF").await;
            exec(&mut conn, "PRAGMA synchronous = OFF").await;
            exec(&mut conn, "PRAGMA cache_size = -1000000").await;
            let indexes: Vec<(String, String)> = sqlx::query_as(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            )
            .bind(&table.name)
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for (name, _) in &indexes {
                exec(&mut conn, &format!("DROP INDEX \"{name}\"")).await;
            }
            let n = bulk(&mut conn, &format!("\"{}\"", table.name), &cols, records).await;
            eprintln!("{n} records in {:.1?}", t.elapsed());
            let t = Instant::now();
            for (_, sql) in &indexes {
                exec(&mut conn, sql).await;
            }
            exec(&mut conn, "PRAGMA journal_mode = WAL").await;
            conn.close().await.unwrap();
            eprintln!("owner indexes built in {:.1?}", t.elapsed());
        }
        Some(url) => {
            let mut conn = pg::connect(url).await;
            let schema = target.schema.clone().unwrap();
            let indexes = pg::drop_indexes(&mut conn, &schema, &table.name).await;
            let n = pg::copy(&mut conn, &target.table(&table.name), &cols, records).await;
            eprintln!("{n} records in {:.1?}", t.elapsed());
            let t = Instant::now();
            for sql in &indexes {
                pg::exec(&mut conn, sql).await;
            }
            eprintln!("owner indexes built in {:.1?}", t.elapsed());
            let t = Instant::now();
            pg::rls_setup(&mut conn, &target, &table, &managers).await;
            eprintln!(
                "RLS baseline set up, tables vacuumed and analysed in {:.1?}",
                t.elapsed()
            );
            conn.close().await.unwrap();
        }
    }

    // 4. What the benchmark part checks and requests.
    let ancestor = |above: u32, mut u: u32| loop {
        if u == above {
            return true;
        }
        match managers[u as usize] {
            Some(m) => u = m,
            None => return false,
        }
    };
    let mut personas: Vec<Persona> = [
        ("rep", who.rep),
        ("manager", who.manager),
        ("director", who.director),
    ]
    .into_iter()
    .map(|(role, num)| Persona {
        role,
        num,
        below: below(num),
        first_page: Vec::new(),
        readable: Vec::new(),
    })
    .collect();
    for (r, &owner) in owners.iter().enumerate() {
        for p in &mut personas {
            if p.readable.len() < 1000 && ancestor(p.num, owner) {
                let id = record_id(r as u64);
                if p.first_page.len() < 50 {
                    p.first_page.push(id.clone());
                }
                p.readable.push(id);
            }
        }
        if personas.iter().all(|p| p.readable.len() >= 1000) {
            break;
        }
    }
    let mut out = json!({
        "users": users,
        "records": spec.records,
        "scale": scale,
        "path": format!("/apps/{ENVIRONMENT}/{APPLICATION}/api/{MODULE_NAME}/{ENTITY}"),
        "bench_path": format!("/bench/apps/{ENVIRONMENT}/{APPLICATION}/api/{MODULE_NAME}/{ENTITY}"),
        "first_page": (0..50).map(record_id).collect::<Vec<_>>(),
        "personas": {},
    });
    for p in &personas {
        out["personas"][p.role] = json!({
            "num": p.num,
            "id": user_id(p.num).to_string(),
            "username": format!("u{}", p.num),
            "below": p.below,
            "first_page": p.first_page,
            "readable": p.readable,
        });
        eprintln!(
            "{}: user {} ({} people below), {} readable ids kept",
            p.role,
            p.num,
            p.below,
            p.readable.len()
        );
    }
    std::fs::write(info.join("bench.json"), out.to_string() + "\n").unwrap();
    rampart_service::files::private_file()
        .write(true)
        .create_new(true)
        .open(info.join("password"))
        .unwrap();
    std::fs::write(info.join("password"), format!("{password}\n")).unwrap();
    eprintln!("seeded in {:.1?}", started.elapsed());
}

/// 24 random bytes as hex.
fn random_password() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).unwrap();
    let mut s = String::from("bench-");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
