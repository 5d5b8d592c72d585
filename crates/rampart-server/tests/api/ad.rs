//! User providers against a real Active Directory: Samba's AD domain controller, started
//! once per test binary by `scripts/peers/samba-ad.sh` (which installs Debian's
//! `samba-ad-dc` when missing; it needs root, as CI runs) on a loopback address of its own.
//! What real AD does and OpenLDAP does not: a plain-text bind is refused, a search from the
//! domain's root answers references beside the entries, users are found by
//! `sAMAccountName`, groups are DNs in `memberOf`, and refusals carry `data …` codes.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{on_both, Node};

struct Ad {
    vars: HashMap<String, String>,
    /// The peer's script: it stops the domain controller when its standard input closes,
    /// that is when the test process ends.
    _peer: Child,
}

static AD: OnceLock<Ad> = OnceLock::new();

fn ad() -> &'static Ad {
    AD.get_or_init(|| {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/peers/samba-ad.sh"
        );
        let mut peer = Command::new("bash")
            .args([script, "--", "sh", "-c"])
            .arg("env | grep '^RAMPART_TEST_AD_'; echo READY; cat >/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("scripts/peers/samba-ad.sh starts");
        let mut vars = HashMap::new();
        for line in BufReader::new(peer.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if line == "READY" {
                break;
            }
            if let Some((k, v)) = line.split_once('=') {
                vars.insert(k.to_owned(), v.to_owned());
            }
        }
        assert!(
            vars.contains_key("RAMPART_TEST_AD_URL"),
            "the Samba AD peer did not start: {vars:?}"
        );
        Ad { vars, _peer: peer }
    })
}

impl Ad {
    fn var(&self, name: &str) -> &str {
        &self.vars[&format!("RAMPART_TEST_AD_{name}")]
    }

    fn password(&self, user: &str) -> String {
        std::fs::read_to_string(format!("{}/{user}", self.var("PASSWORD_DIR")))
            .unwrap()
            .trim_end_matches('\n')
            .to_owned()
    }

    /// A provider's settings as an AD administrator writes them: the domain's root as the
    /// base, users by `sAMAccountName`, groups as DNs.
    fn settings(&self, url: &str, security: &str) -> Value {
        let base = self.var("BASE");
        json!({
            "url": url,
            "security": security,
            "ca_certificate": std::fs::read_to_string(self.var("CA")).unwrap(),
            "bind_dn": self.var("BIND_DN"),
            "bind_password": format!("file:{}", self.var("BIND_PASSWORD_FILE")),
            "user_base": base,
            "user_filter": "(&(objectClass=user)(sAMAccountName={username}))",
            "username_attribute": "sAMAccountName",
            "display_name_attribute": "displayName",
            "group_attribute": "memberOf",
            "mappings": [
                { "group": format!("CN=Rampart Admins,CN=Users,{base}"), "it_role": "administrator" },
                { "group": format!("CN=Sales,CN=Users,{base}"), "it_role": "developer" }
            ]
        })
    }
}

async fn login_via(node: &Node, username: &str, password: &str) -> (StatusCode, Value) {
    let r = node
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({
                "provider": "it", "username": username, "password": password,
                "user_provider": "corp"
            })),
        )
        .await;
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_directory_users_sign_in_and_its_refusals_are_told_apart_in_the_audit_trail() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let ad = ad();
        let admin = node.admin().await;
        let (status, body) = node
            .post(
                "/api/v1/providers",
                &admin,
                json!({ "name": "corp", "kind": "ldap", "users": "it",
                        "settings": ad.settings(ad.var("URL"), "tls") }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let (status, body) = node.post_empty("/api/v1/providers/corp/test", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");

        // Alice, in Rampart Admins, signs in just in time as an administrator; Bob, in
        // Sales, as a developer. The domain's root answers references too: they are skipped.
        let (status, body) = login_via(&node, "alice", &ad.password("alice")).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let token = body["token"].as_str().unwrap().to_owned();
        let me = node
            .request(Method::GET, "/api/v1/auth/me", Some(&token), None)
            .await;
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["user"]["username"], "alice", "{name}: {me}");
        assert_eq!(me["user"]["administrator"], true, "{name}: {me}");
        let (status, body) = login_via(&node, "bob", &ad.password("bob")).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");

        // A wrong password (AD's 52e) and a disabled account (533) get the same answer; the
        // audit trail tells them apart. Nobody is created for carol.
        let (status, wrong) = login_via(&node, "bob", "not-bobs-password-1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {wrong}");
        let (status, disabled) = login_via(&node, "carol", &ad.password("carol")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {disabled}");
        assert_eq!(wrong["type"], disabled["type"], "{name}");
        assert_eq!(wrong["detail"], disabled["detail"], "{name}");
        let reasons: Vec<String> = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action == "auth.login" && e.outcome == "failure")
            .filter_map(|e| {
                let d: Value = serde_json::from_str(&e.details).ok()?;
                Some(format!(
                    "{}:{}",
                    d["username"].as_str()?,
                    d["reason"].as_str()?
                ))
            })
            .collect();
        assert!(
            reasons.contains(&"bob:wrong-password".to_owned()),
            "{name}: {reasons:?}"
        );
        assert!(
            reasons.contains(&"carol:account-disabled".to_owned()),
            "{name}: {reasons:?}"
        );
        let users = node
            .request(
                Method::GET,
                "/api/v1/users?provider=it&q=carol",
                Some(&admin),
                None,
            )
            .await;
        let users: Value = users.json().await.unwrap();
        assert!(!users.to_string().contains("\"carol\""), "{name}: {users}");

        // A bare username with filter syntax matches nobody.
        let (status, _) = login_via(&node, "*)(sAMAccountName=*", &ad.password("alice")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");

        // AD refuses a simple bind in plain text (Rampart allows plain text to loopback
        // only): the provider's test says the directory refused, not "0 users".
        let (status, body) = node
            .post(
                "/api/v1/providers",
                &admin,
                json!({ "name": "plain", "kind": "ldap", "users": "it",
                        "settings": ad.settings(ad.var("PLAIN_URL"), "none") }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let (status, body) = node
            .post_empty("/api/v1/providers/plain/test", &admin)
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{name}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("code 8"),
            "{name}: {body}"
        );
    })
    .await;
}
