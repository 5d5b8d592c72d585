//! The layering of the workspace, checked against `cargo metadata`: the table of layers is
//! the `layers` block of ARCHITECTURE.md (the map and this test read the same lines), and
//! every normal or build dependency between workspace crates must point to a lower layer or
//! be an edge the table allows within a layer. Pure and wire crates must not depend on I/O.
//! Dev-dependencies are not arrows of the product (a test may start a server), so they are
//! not checked.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Crates that do I/O (or carry a runtime), which no pure or wire crate may depend on.
const IO_CRATES: &[&str] = &[
    "sqlx",
    "tokio",
    "axum",
    "hyper",
    "hyper-util",
    "reqwest",
    "rustls",
    "tokio-rustls",
    "tower",
    "tower-http",
];

/// The layer kinds, by number.
const KINDS: &[&str] = &["pure", "wire", "io", "adapter", "binary"];

#[derive(Debug)]
struct Layer {
    layer: usize,
    /// Workspace crates of the same layer this crate may depend on.
    same_layer: Vec<String>,
}

/// The `layers` block of ARCHITECTURE.md: `crate  N kind  [same-layer crates it may use…]`.
fn layer_table(architecture: &str) -> BTreeMap<String, Layer> {
    let mut lines = architecture
        .lines()
        .skip_while(|l| l.trim() != "```layers")
        .skip(1);
    let mut table = BTreeMap::new();
    let mut closed = false;
    for line in lines.by_ref() {
        let line = line.trim();
        if line == "```" {
            closed = true;
            break;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [name, n, kind, same @ ..] = &words[..] else {
            panic!("ARCHITECTURE.md: a layer row is `crate N kind [crates…]`: {line}");
        };
        let layer: usize = n
            .parse()
            .unwrap_or_else(|_| panic!("ARCHITECTURE.md: `{n}` is not a layer number: {line}"));
        assert_eq!(
            KINDS.get(layer),
            Some(kind),
            "ARCHITECTURE.md: layer {layer} is {:?}: {line}",
            KINDS.get(layer)
        );
        let row = Layer {
            layer,
            same_layer: same.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert!(
            table.insert((*name).to_owned(), row).is_none(),
            "ARCHITECTURE.md: {name} is in the layer table twice"
        );
    }
    assert!(closed, "ARCHITECTURE.md has a closed ```layers block");
    table
}

/// A workspace crate's dependencies as `cargo metadata` lists them: (name, kind).
type Packages = BTreeMap<String, Vec<(String, Option<String>)>>;

/// Everything wrong with `packages` under `table`, one sentence each.
fn findings(table: &BTreeMap<String, Layer>, packages: &Packages) -> Vec<String> {
    let mut found = Vec::new();
    for (name, deps) in packages {
        let Some(from) = table.get(name) else {
            found.push(format!(
                "{name} is not in the layer table: add it to the ```layers block and to the code map of ARCHITECTURE.md"
            ));
            continue;
        };
        for (dep, kind) in deps {
            if kind.as_deref() == Some("dev") {
                continue;
            }
            if from.layer <= 1 && IO_CRATES.contains(&dep.as_str()) {
                found.push(format!(
                    "{name} is {} and must not depend on {dep} (I/O)",
                    KINDS[from.layer]
                ));
            }
            if !packages.contains_key(dep) {
                continue;
            }
            let Some(to) = table.get(dep) else { continue };
            let allowed =
                to.layer < from.layer || (to.layer == from.layer && from.same_layer.contains(dep));
            if !allowed {
                found.push(format!(
                    "{name} (layer {} {}) depends on {dep} (layer {} {}): arrows point to lower layers, or to a crate of the same layer listed in its row",
                    from.layer, KINDS[from.layer], to.layer, KINDS[to.layer]
                ));
            }
        }
    }
    found
}

fn metadata_packages() -> Packages {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .map(|d| {
                    (
                        d["name"].as_str().expect("name").to_owned(),
                        d["kind"].as_str().map(str::to_owned),
                    )
                })
                .collect();
            (p["name"].as_str().expect("name").to_owned(), deps)
        })
        .collect()
}

fn architecture_table() -> BTreeMap<String, Layer> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ARCHITECTURE.md");
    layer_table(&std::fs::read_to_string(path).expect("ARCHITECTURE.md"))
}

#[test]
fn dependencies_point_down_the_layers_of_architecture_md() {
    let table = architecture_table();
    let packages = metadata_packages();
    assert!(
        packages.len() >= 8 && packages.contains_key("rampart-core"),
        "cargo metadata lists the workspace: {:?}",
        packages.keys()
    );
    let found = findings(&table, &packages);
    assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
}

/// The check itself, on a made-up workspace: each way of breaking the layering is found,
/// and what is allowed is not.
#[test]
fn the_layer_check_finds_each_kind_of_break() {
    let table = architecture_table();
    /// Made-up crates with their dependencies: (crate, [(dependency, kind)]).
    type Crates<'a> = &'a [(&'a str, &'a [(&'a str, Option<&'a str>)])];
    let workspace = |extra: Crates| -> Packages {
        let mut packages: Packages = table
            .keys()
            .map(|name| (name.clone(), Vec::new()))
            .collect();
        for (name, deps) in extra {
            packages.insert(
                (*name).to_owned(),
                deps.iter()
                    .map(|(d, k)| ((*d).to_owned(), k.map(str::to_owned)))
                    .collect(),
            );
        }
        packages
    };
    let cases: &[(Crates, &[&str])] = &[
        (&[("rampart-identity", &[("rampart-core", None)])], &[]),
        (&[("rampart-service", &[("rampart-store", None)])], &[]),
        (&[("rampart-server", &[("tokio", None), ("rampart-store", None)])], &[]),
        (&[("rampart-model", &[("tokio", Some("dev"))])], &[]),
        (&[("rampart-core", &[("rampart-store", Some("dev"))])], &[]),
        (
            &[("rampart-authz", &[("sqlx", None)])],
            &["rampart-authz is pure and must not depend on sqlx (I/O)"],
        ),
        (
            &[("rampart-api", &[("axum", None)])],
            &["rampart-api is wire and must not depend on axum (I/O)"],
        ),
        (
            &[("rampart-model", &[("rampart-store", None)])],
            &["rampart-model (layer 0 pure) depends on rampart-store (layer 2 io)"],
        ),
        (
            &[("rampart-audit", &[("rampart-authz", Some("build"))])],
            &["rampart-audit (layer 0 pure) depends on rampart-authz (layer 0 pure)"],
        ),
        (
            &[("rampart-store", &[("rampart-service", None)])],
            &["rampart-store (layer 2 io) depends on rampart-service (layer 2 io)"],
        ),
        (
            &[("rampart-client", &[("rampart-server", None)])],
            &["rampart-client (layer 3 adapter) depends on rampart-server (layer 3 adapter)"],
        ),
        (
            &[("rampart-widgets", &[])],
            &["rampart-widgets is not in the layer table: add it to the ```layers block and to the code map of ARCHITECTURE.md"],
        ),
    ];
    for (extra, expected) in cases {
        let found = findings(&table, &workspace(extra));
        assert_eq!(found.len(), expected.len(), "{extra:?}: {found:?}");
        for (f, e) in found.iter().zip(expected.iter()) {
            assert!(f.starts_with(e), "{extra:?}: {f}");
        }
    }
}
