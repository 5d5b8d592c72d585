//! The console's second factor in headless Chromium (`tests/console/two_factor.js`), on both
//! stores: a node whose policy requires administrators to use a two-factor app, with a
//! master key to seal its secret, and a clock that stands still so the scenario computes
//! the codes the server expects.

use rampart_core::{Clock as _, Provider};

use crate::kit::{on_both, Node, ADMIN_PASSWORD};
use crate::{install_harness, run_script, CHROMIUM};

fn administrators_must_enrol(config: &mut rampart_service::Config) {
    let path =
        std::env::temp_dir().join(format!("rampart-console-master-{}.key", std::process::id()));
    if !path.exists() {
        let key = rampart_apps::seal::MasterKey::generate().unwrap();
        std::fs::write(&path, key.encode().as_bytes()).unwrap();
    }
    config.keys.master_key = format!("file:{}", path.display());
    config.mfa.required_for_administrators = true;
}

async fn run(node: Node) {
    let name = node.name();
    node.create_user(Provider::It, "root", ADMIN_PASSWORD, true)
        .await;
    run_script(
        &node,
        "two_factor.js",
        "the two-factor scenarios",
        &[
            ("CONSOLE_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("CONSOLE_NOW", node.clock.now().unix_timestamp().to_string()),
        ],
        3,
    )
    .await;
    // What the browser did went through the service: the enrolment and the sign-ins with a
    // second factor are in the audit trail.
    let events = node.events().await;
    assert!(
        events.iter().any(|e| e.action == "user.mfa.enrol"),
        "{name}"
    );
    let with_factor = events
        .iter()
        .filter(|e| e.action == "auth.login" && e.details.contains("second_factor"))
        .count();
    assert_eq!(with_factor, 3, "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_sign_in_and_enrolment_in_headless_chromium() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "the console's browser tests need Debian's Chromium at {CHROMIUM}"
    );
    install_harness();
    on_both(administrators_must_enrol, run).await;
}
