//! `rampart serve` runs with the allocator settings that keep a node's memory down, unless
//! the operator set their own.

use super::backup::serve_with;

/// The environment the server process runs with now, `NAME=value` entries.
fn environment(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    raw.split(|b| *b == 0)
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect()
}

#[test]
fn the_server_runs_with_mimallocs_memory_settings_and_keeps_the_operators_own() {
    let dir = tempfile::tempdir().unwrap();
    let running = serve_with(dir.path(), &[], &[]);
    let env = environment(running.child.id());
    let status = running.stop();
    assert!(status.success(), "{status:?}");
    for setting in ["MIMALLOC_ARENA_EAGER_COMMIT=0", "MIMALLOC_PURGE_DELAY=0"] {
        assert!(env.iter().any(|e| e == setting), "{setting} in {env:?}");
    }

    // An operator's value is kept; only the missing setting is added.
    let dir = tempfile::tempdir().unwrap();
    let running = serve_with(
        dir.path(),
        &[],
        &[("MIMALLOC_PURGE_DELAY", "250".to_owned())],
    );
    let env = environment(running.child.id());
    let status = running.stop();
    assert!(status.success(), "{status:?}");
    assert!(
        env.iter().any(|e| e == "MIMALLOC_PURGE_DELAY=250"),
        "{env:?}"
    );
    assert!(
        !env.iter().any(|e| e == "MIMALLOC_PURGE_DELAY=0"),
        "{env:?}"
    );
    assert!(
        env.iter().any(|e| e == "MIMALLOC_ARENA_EAGER_COMMIT=0"),
        "{env:?}"
    );
}
