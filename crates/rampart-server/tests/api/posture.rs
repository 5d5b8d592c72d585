//! `GET /api/v1/posture` and `/console/posture`: who may read the report, and that its
//! controls follow what the node holds (backup records, checkpoints, passwords), on both
//! stores.

use rampart_core::{AuditContext, Clock as _, Provider};
use rampart_store::BackupRecord;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, ADMIN_PASSWORD, USER_PASSWORD};

fn control<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no control {id} in {report}"))
}

fn record(kind: &str, at: time::OffsetDateTime) -> BackupRecord {
    BackupRecord {
        id: uuid::Uuid::now_v7().to_string(),
        kind: kind.into(),
        backup_id: "0190c3e4-0000-7000-8000-000000000001".into(),
        at,
        bytes: 1 << 20,
        millis: 2500,
        details: json!({"file": "b.rbk"}).to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_and_auditors_read_a_posture_that_follows_the_node() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let audrey = crate::audit::auditor(&node, &admin).await;
        node.create_user(Provider::It, "ivan", USER_PASSWORD, false)
            .await;
        let ivan = node.login("it", "ivan", USER_PASSWORD).await;
        node.create_user(Provider::End, "erin", USER_PASSWORD, false)
            .await;
        let erin = node.login("end", "erin", USER_PASSWORD).await;
        for (who, token) in [("an IT user", &ivan), ("an end user", &erin)] {
            let (status, body) = node.get("/api/v1/posture", token).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {who}: {body}");
        }
        let anonymous = node
            .request(Method::GET, "/api/v1/posture", None, None)
            .await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

        let (status, report) = node.get("/api/v1/posture", &audrey).await;
        assert_eq!(status, StatusCode::OK, "{name}: {report}");
        assert_eq!(report["database"], name);
        assert_eq!(report["controls"].as_array().unwrap().len(), 14);
        for c in report["controls"].as_array().unwrap() {
            assert!(
                matches!(c["owner"].as_str(), Some("platform" | "customer")),
                "{c}"
            );
            assert!(!c["soc2"].as_array().unwrap().is_empty(), "{c}");
            assert!(!c["evidence"].as_array().unwrap().is_empty(), "{c}");
        }
        let mfa = control(&report, "identity.admin-mfa");
        assert_eq!(mfa["status"], "fail");
        // Two-factor sign-in exists but is not required, and no administrator has enrolled.
        assert!(
            mfa["evidence"].to_string().contains("mfa available: yes"),
            "{mfa}"
        );
        assert!(
            mfa["evidence"]
                .to_string()
                .contains("administrators enrolled: 0 of 1"),
            "{mfa}"
        );
        assert_eq!(control(&report, "availability.backups")["status"], "fail");
        assert_eq!(
            control(&report, "identity.default-credentials")["status"],
            "warn"
        );
        assert_eq!(control(&report, "transport.hsts")["status"], "pass");

        // A backup and a drill recorded: the control passes, and both are audited.
        let store = &node.server().state.store;
        let ctx = AuditContext {
            node_id: "test".into(),
            ..AuditContext::default()
        };
        let now = node.clock.now();
        store
            .backup_record(&ctx, &record("backup", now))
            .await
            .unwrap();
        store
            .backup_record(&ctx, &record("drill", now))
            .await
            .unwrap();
        let refused = store.backup_record(&ctx, &record("copy", now)).await;
        assert!(refused.is_err(), "{name}: an unknown kind is refused");
        let actions: Vec<String> = node.events().await.into_iter().map(|e| e.action).collect();
        assert!(actions.iter().any(|a| a == "backup.create"), "{name}");
        assert!(actions.iter().any(|a| a == "backup.drill"), "{name}");
        // A signed checkpoint the log verifies against.
        let (status, _) = node.post_empty("/api/v1/audit/checkpoint", &admin).await;
        assert_eq!(status, StatusCode::OK);
        // The administrator's own password, no longer the one the account was made with.
        node.clock.advance(time::Duration::minutes(5));
        let (status, body) = node
            .post(
                "/api/v1/auth/change-password",
                &admin,
                json!({"provider": "it", "username": "admin",
                       "current_password": ADMIN_PASSWORD,
                       "new_password": "cinnamon-harbor-vortex-82"}),
            )
            .await;
        assert!(status.is_success(), "{name}: {body}");
        let admin = node.login("it", "admin", "cinnamon-harbor-vortex-82").await;
        let (_, report) = node.get("/api/v1/posture", &admin).await;
        let backups = control(&report, "availability.backups");
        assert_eq!(backups["status"], "pass", "{name}: {backups}");
        assert!(backups["evidence"]
            .to_string()
            .contains("recovered in 2.5 s"));
        let audit = control(&report, "logging.audit-log");
        assert_eq!(audit["status"], "pass", "{name}: {audit}");
        assert!(audit["evidence"]
            .to_string()
            .contains("verified against the log: yes"));
        assert_eq!(
            control(&report, "identity.default-credentials")["status"],
            "pass"
        );
        assert_eq!(report["critical_failures"], 0, "{name}: {report}");

        // An account with a password Rampart publishes (the demo's): a critical failure.
        node.create_user(Provider::End, "dana", "quartz-meadow-lantern-58", false)
            .await;
        let (_, report) = node.get("/api/v1/posture", &admin).await;
        let defaults = control(&report, "identity.default-credentials");
        assert_eq!(defaults["status"], "fail", "{name}: {defaults}");
        assert!(defaults["evidence"].to_string().contains("dana (end)"));
        assert_eq!(report["critical_failures"], 1);

        // The console page: the same report, for the same readers.
        let page = node
            .request(Method::GET, "/console/posture", Some(&audrey), None)
            .await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("<h2 id=\"platform\">"), "{html}");
        assert!(html.contains("<h2 id=\"customer\">"), "{html}");
        assert!(html.contains("control-availability.backups"));
        let page = node
            .request(Method::GET, "/console/posture", Some(&ivan), None)
            .await;
        assert_eq!(page.status(), StatusCode::FORBIDDEN);
    })
    .await;
}
