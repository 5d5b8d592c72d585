//! A directory's connections are kept between sign-ins, bound as the service account, and
//! replaced when the directory closes them: seen from outside, through a TCP relay between
//! Rampart and the real `slapd` that counts the connections made and can cut them all.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::kit::{on_both, Node};
use crate::slapd::slapd;

/// A loopback relay to the directory.
struct Relay {
    port: u16,
    accepted: Arc<AtomicUsize>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    _accepting: JoinHandle<()>,
}

impl Relay {
    async fn to(port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay_port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let links = Arc::new(Mutex::new(Vec::new()));
        let (count, kept) = (accepted.clone(), links.clone());
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let link = tokio::spawn(async move {
                    let mut outbound = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                kept.lock().unwrap().push(link);
            }
        });
        Self {
            port: relay_port,
            accepted,
            links,
            _accepting: accepting,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Closes every connection relayed so far, as a directory's idle timeout would.
    async fn cut(&self) {
        let links: Vec<_> = self.links.lock().unwrap().drain(..).collect();
        for link in links {
            link.abort();
            let _ = link.await;
        }
    }
}

async fn login(node: &Node, username: &str, password: &str) -> StatusCode {
    node.request(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({
            "provider": "it", "username": username, "password": password,
            "user_provider": "pooled"
        })),
    )
    .await
    .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_connections_are_kept_for_the_service_account_and_replaced_when_closed() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let ldap = slapd();
        let base = ldap.unit(
            &format!("pool-{name}"),
            &[
                ("pia", "pia-dir-pass-1", ""),
                ("pavel", "pavel-dir-pass-1", ""),
            ],
            &[("devs", &["pia", "pavel"])],
        );
        let relay = Relay::to(ldap.ldap_port).await;
        let mut settings = ldap.settings(&base);
        settings["url"] = Value::String(format!("ldap://127.0.0.1:{}", relay.port));
        let admin = node.admin().await;
        let (status, body) = node
            .post(
                "/api/v1/providers",
                &admin,
                json!({ "name": "pooled", "kind": "ldap", "users": "it", "settings": settings }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");

        assert_eq!(
            login(&node, "pia", "pia-dir-pass-1").await,
            StatusCode::OK,
            "{name}"
        );
        assert_eq!(relay.accepted(), 1, "{name}");
        // A wrong password, then two more sign-ins: the same connection serves them all,
        // bound back to the service account after each user's bind.
        assert_eq!(
            login(&node, "pia", "not-her-password").await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
        assert_eq!(
            login(&node, "pavel", "pavel-dir-pass-1").await,
            StatusCode::OK,
            "{name}"
        );
        assert_eq!(
            login(&node, "pia", "pia-dir-pass-1").await,
            StatusCode::OK,
            "{name}"
        );
        assert_eq!(
            relay.accepted(),
            1,
            "{name}: one connection for four sign-ins"
        );

        // The directory closes its connections: the next sign-in makes a new one and
        // succeeds.
        relay.cut().await;
        assert_eq!(
            login(&node, "pavel", "pavel-dir-pass-1").await,
            StatusCode::OK,
            "{name}"
        );
        assert_eq!(relay.accepted(), 2, "{name}");

        // Changed settings: the connections of the old ones are not used.
        settings["timeout_seconds"] = json!(7);
        let (status, body) = node
            .patch(
                "/api/v1/providers/pooled",
                &admin,
                json!({ "settings": settings }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(
            login(&node, "pia", "pia-dir-pass-1").await,
            StatusCode::OK,
            "{name}"
        );
        assert_eq!(relay.accepted(), 3, "{name}");
    })
    .await;
}
