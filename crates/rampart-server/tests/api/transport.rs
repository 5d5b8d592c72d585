//! The transport end to end, on SQLite and PostgreSQL: the data directory's permissions.

use std::path::Path;

use rampart_store::BackendKind;

use crate::kit::on_both;

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_data_directory_and_its_secrets_are_private() {
    on_both(
        |c| c.data_dir = c.data_dir.join("fresh/data"),
        |node| async move {
            let name = node.name();
            let dir = node.server().state.config.data_dir.clone();
            // Writes, so SQLite has its WAL and shared-memory files.
            node.admin().await;
            let mut expected = vec![
                (dir.clone(), 0o700),
                (dir.join("rampart.lock"), 0o600),
                (dir.join("audit-signing.key"), 0o600),
                (dir.join("tls"), 0o700),
                (dir.join("tls/dev-key.pem"), 0o600),
            ];
            if node.kind == BackendKind::Sqlite {
                for file in ["rampart.db", "rampart.db-wal", "rampart.db-shm"] {
                    expected.push((dir.join(file), 0o600));
                }
            }
            for (path, want) in expected {
                assert_eq!(mode(&path), want, "{name}: {}", path.display());
            }
            assert!(
                rampart_server::serve::permission_findings(&dir).is_empty(),
                "{name}"
            );
            node.shutdown().await;
        },
    )
    .await;
}

#[cfg(unix)]
#[test]
fn wider_data_directories_and_files_are_reported_with_their_modes() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("tls")).unwrap();
    std::fs::write(data.join("rampart.db"), "").unwrap();
    std::fs::write(data.join("tls/dev-cert.pem"), "").unwrap();
    std::fs::write(data.join("tls/dev-key.pem"), "").unwrap();
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set(&data, 0o755);
    set(&data.join("rampart.db"), 0o644);
    set(&data.join("tls"), 0o700);
    set(&data.join("tls/dev-cert.pem"), 0o644);
    set(&data.join("tls/dev-key.pem"), 0o640);
    assert_eq!(
        rampart_server::serve::permission_findings(&data),
        vec![
            (data.clone(), 0o755),
            (data.join("rampart.db"), 0o644),
            (data.join("tls/dev-key.pem"), 0o640),
        ],
        "the certificate is public; everything else is reported"
    );
}
