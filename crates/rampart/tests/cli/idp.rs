//! The OpenID provider's administration through the CLI against a live server: an
//! administrator registers a client (its secret printed once, never listed or shown
//! again), is refused a prefix-style redirect URI with the server's reason, rotates the
//! secret, edits the client (only the options given change, a refusal changes nothing),
//! lists and rotates the signing keys, and removes the client.

use super::{cli_login, create_admin, rampart, run, serve, PASSWORD};

#[test]
fn clients_and_keys_are_administered_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    assert!(create_admin(dir.path(), &[], PASSWORD).status.success());
    let server = serve(&mut rampart(dir.path()));
    let session = dir.path().join("cli-session.json");
    cli_login(dir.path(), &format!("https://{}", server.https), &session);
    let cli = |args: &[&str]| {
        let mut c = rampart(dir.path());
        c.args(args)
            .env("RAMPART_SESSION_FILE", &session)
            .env("NO_COLOR", "1");
        let out = run(&mut c);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (ok, out, err) = cli(&[
        "idp-client",
        "create",
        "wiki",
        "--name",
        "Wiki",
        "--first-party",
        "--redirect-uri",
        "https://wiki.example.com/oidc/callback",
    ]);
    assert!(
        ok && out.contains("registered confidential client wiki"),
        "{out}{err}"
    );
    let secret = out.split("kept): ").nth(1).unwrap().trim().to_owned();
    assert!(secret.starts_with("rcs_"), "{out}");

    let (ok, _, err) = cli(&[
        "idp-client",
        "create",
        "blog",
        "--name",
        "Blog",
        "--redirect-uri",
        "https://blog.example.com/cb#fragment",
    ]);
    assert!(!ok && err.contains("has a fragment"), "{err}");

    // A client of IT users (Grafana for the operators), and a population that is none.
    let (ok, out, err) = cli(&[
        "idp-client",
        "create",
        "grafana",
        "--name",
        "Grafana",
        "--users",
        "it",
        "--redirect-uri",
        "https://grafana.example.com/login/generic_oauth",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = cli(&[
        "idp-client",
        "create",
        "odd",
        "--name",
        "Odd",
        "--users",
        "everyone",
        "--redirect-uri",
        "https://odd.example.com/cb",
    ]);
    assert!(!ok && err.contains("everyone"), "{err}");

    let (ok, out, _) = cli(&["idp-client", "list"]);
    assert!(
        ok && out.contains("wiki") && out.contains("first-party"),
        "{out}"
    );
    let line = |id: &str| {
        out.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("wiki").contains("end users"), "{out}");
    assert!(line("grafana").contains("it users"), "{out}");
    assert!(!out.contains(&secret), "the list shows no secret");
    let (ok, out, _) = cli(&["idp-client", "show", "wiki"]);
    assert!(
        ok && out.contains("\"redirect_uris\"") && !out.contains(&secret),
        "{out}"
    );

    // Editing: only what is given changes; a repeated option replaces the list.
    let (ok, help, _) = cli(&["idp-client", "update", "--help"]);
    assert!(
        ok && help.contains("rampart idp-client update wiki")
            && help.contains("replace")
            && help.contains("--redirect-uri")
            && help.contains("--third-party")
            && help.contains("openid are revoked"),
        "{help}"
    );
    let (ok, out, err) = cli(&[
        "idp-client",
        "update",
        "wiki",
        "--name",
        "Team wiki",
        "--third-party",
        "--redirect-uri",
        "https://wiki.example.com/oidc/callback",
        "--redirect-uri",
        "https://wiki-staging.example.com/oidc/callback",
        "--scope",
        "openid",
        "--scope",
        "profile",
    ]);
    assert!(
        ok && out.contains("updated client wiki (Team wiki)"),
        "{out}{err}"
    );
    assert!(!out.contains(&secret) && !out.contains("rcs_"), "{out}");
    let shown: serde_json::Value = {
        let (ok, out, _) = cli(&["idp-client", "show", "wiki"]);
        assert!(ok, "{out}");
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(shown["name"], "Team wiki");
    assert_eq!(shown["first_party"], false);
    assert_eq!(shown["scopes"], serde_json::json!(["openid", "profile"]));
    assert_eq!(
        shown["redirect_uris"],
        serde_json::json!([
            "https://wiki.example.com/oidc/callback",
            "https://wiki-staging.example.com/oidc/callback"
        ])
    );
    assert_eq!(shown["users"], "end", "untouched");
    // A refusal gives the server's reason and changes nothing, not even the valid part.
    let (ok, _, err) = cli(&[
        "idp-client",
        "update",
        "wiki",
        "--name",
        "Renamed",
        "--redirect-uri",
        "http://wiki.example.com/cb",
    ]);
    assert!(!ok && err.contains("https://"), "{err}");
    let (ok, out, err) = cli(&["idp-client", "update", "wiki"]);
    assert!(!ok && err.contains("nothing to change"), "{out}{err}");
    let (_, out, _) = cli(&["idp-client", "show", "wiki"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        shown
    );
    let (ok, _, err) = cli(&["idp-client", "update", "nobody", "--name", "X"]);
    assert!(!ok && !err.is_empty(), "{err}");

    let (ok, out, _) = cli(&["idp-client", "rotate-secret", "wiki"]);
    assert!(
        ok && out.contains("rcs_") && !out.contains(&secret),
        "{out}"
    );

    // One key per algorithm; a rotation adds one of each and retires the old ones.
    let (ok, before, _) = cli(&["idp-key", "list"]);
    assert!(
        ok && before.lines().count() == 2
            && before.contains(" RS256 ")
            && before.contains(" ES256 "),
        "{before}"
    );
    let (ok, after, err) = cli(&["idp-key", "rotate"]);
    assert!(
        ok && after.lines().count() == 4 && after.matches("retires").count() == 2,
        "{after}{err}"
    );

    let (ok, out, _) = cli(&["idp-client", "delete", "wiki"]);
    assert!(ok && out.contains("removed client wiki"), "{out}");
    let (ok, _, err) = cli(&["idp-client", "show", "wiki"]);
    assert!(
        !ok && (err.to_lowercase().contains("not found") || err.contains("No such")),
        "{err}"
    );
}
