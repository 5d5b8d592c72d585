//! Publish-time security findings end to end, on SQLite and PostgreSQL: an error refuses
//! the publish and stores nothing; warnings are stored with the version, pending until
//! someone with `change` accepts them with a justification (an audit event); an acceptance
//! travels to the next version that still has the finding and lapses with the first that
//! does not; reading findings needs `open`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, problem_type};
use crate::lifecycle::{publish, world};

/// `notes` with a cloud key in a description (an error) only if `leaky`, and a sensitive
/// attribute without an ACL (a warning) only if `exposed`; `title` names a screen heading
/// so versions differ.
fn notes(leaky: bool, exposed: bool, title: &str) -> String {
    let description = if leaky {
        "    description: Synced with key AKIAIOSFODNN7EXAMPLE nightly.\n"
    } else {
        ""
    };
    let acl = if exposed {
        ""
    } else {
        "    acl: {grants: true}\n"
    };
    format!(
        "module: notes
application: sales
roles: [{{name: Writer}}]
entities:
  - name: Note
{description}    attributes: [{{name: title, type: text}}]
  - name: Person
    attributes: [{{name: iban, type: text, sensitive: true}}]
{acl}queries:
  - name: ByOrder
    entity: Note
    parameters: [{{name: sort, type: text, inline: true, choices: [title, title DESC]}}]
    sql: SELECT id, title FROM note ORDER BY :sort
screens:
  - {{name: Notes, kind: list, entity: Note, roles: [Writer], widgets: [{{kind: text, value: '\"{title}\"'}}, {{kind: table, columns: [record.title]}}]}}
"
    )
}

const F: &str = "/api/v1/modules/notes/versions";

async fn findings(node: &crate::kit::Node, token: &str, version: i64) -> (StatusCode, Value) {
    node.get(&format!("{F}/{version}/findings"), token).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_block_or_wait_for_a_justified_acceptance_that_travels_until_it_lapses() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        // An error: refused with every finding placed, and nothing stored.
        let (status, body) =
            publish(&node, &w.dev, "notes", &notes(true, true, "a"), json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(problem_type(&body), "security-findings", "{name}");
        let found = body["findings"].as_array().unwrap();
        let error = found.iter().find(|f| f["severity"] == "error").unwrap();
        assert_eq!(error["rule"], "RS012", "{name}: {body}");
        assert_eq!(error["cwe"], "CWE-798");
        assert!(
            error["line"].as_i64().unwrap() > 1,
            "{name}: placed: {error}"
        );
        assert!(body["detail"].as_str().unwrap().contains("RS012"), "{name}");
        assert!(
            !body.to_string().contains("AKIAIOSFODNN7EXAMPLE"),
            "{name}: never the secret"
        );
        let (status, _) = node.get(F, &w.dev).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{name}: no version, no module"
        );

        // A warning: published, pending.
        let (status, body) =
            publish(&node, &w.dev, "notes", &notes(false, true, "a"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let (status, v1) = findings(&node, &w.dev, 1).await;
        assert_eq!(status, StatusCode::OK, "{name}: {v1}");
        assert_eq!(v1["pending"], 1, "{name}: {v1}");
        let warning = v1["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["severity"] == "warning")
            .unwrap()
            .clone();
        assert_eq!(warning["rule"], "RS007", "{name}: {v1}");
        let key = warning["finding"].as_str().unwrap().to_owned();
        assert!(
            key.starts_with("RS007 notes › entities.Person"),
            "{name}: {key}"
        );

        // Reading needs `open`; accepting needs `change`.
        assert_eq!(
            findings(&node, &w.auditor, 1).await.0,
            StatusCode::FORBIDDEN,
            "{name}"
        );
        assert_eq!(
            findings(&node, &w.nobody, 1).await.0,
            StatusCode::NOT_FOUND,
            "{name}"
        );
        let accept = |token: String, finding: String, why: &'static str| {
            let node = &node;
            async move {
                node.post(
                    &format!("{F}/1/findings/accept"),
                    &token,
                    json!({ "finding": finding, "justification": why }),
                )
                .await
            }
        };
        let why = "The IBAN is shown only to the payroll team through grants.";
        let (status, _) = accept(w.auditor.clone(), key.clone(), why).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let (status, body) = accept(w.dev.clone(), key.clone(), "fine").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(body["field"], "justification", "{name}");
        let (status, _) = accept(w.dev.clone(), "RS001 notes › nowhere".into(), why).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        let (_, still) = findings(&node, &w.dev, 1).await;
        assert_eq!(still["pending"], 1, "{name}: refusals changed nothing");

        let (status, body) = accept(w.dev.clone(), key.clone(), why).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["accepted"]["justification"], why);
        assert_eq!(body["accepted"]["version"], 1);
        let (status, _) = accept(w.dev.clone(), key.clone(), why).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: once");
        let (_, v1) = findings(&node, &w.dev, 1).await;
        assert_eq!(v1["pending"], 0, "{name}: {v1}");
        let events = node.events().await;
        let accepted = events
            .iter()
            .find(|e| e.action == "module.finding.accept")
            .expect("the acceptance is an audit event");
        assert!(
            accepted.details.contains(why),
            "{name}: {}",
            accepted.details
        );
        assert!(accepted.details.contains("RS007"), "{name}");

        // Version 2 still has the finding: the acceptance travels with it.
        let (status, _) =
            publish(&node, &w.dev, "notes", &notes(false, true, "b"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}");
        let (_, v2) = findings(&node, &w.dev, 2).await;
        assert_eq!(v2["pending"], 0, "{name}: {v2}");
        let carried = v2["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["finding"] == key.as_str())
            .unwrap();
        assert_eq!(
            carried["accepted"]["version"], 1,
            "{name}: written for version 1"
        );

        // Version 3 fixes it: no finding, and the acceptance lapses.
        let (status, _) =
            publish(&node, &w.dev, "notes", &notes(false, false, "c"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}");
        let (_, v3) = findings(&node, &w.dev, 3).await;
        assert!(
            v3["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["rule"] != "RS007"),
            "{name}: {v3}"
        );
        let events = node.events().await;
        let publish3 = events
            .iter()
            .rfind(|e| e.action == "module.publish")
            .unwrap();
        assert!(
            publish3.details.contains("lapsed_acceptances") && publish3.details.contains(&key),
            "{name}: {}",
            publish3.details
        );

        // Version 4 brings it back: pending again, the lapsed acceptance does not return.
        let (status, _) =
            publish(&node, &w.dev, "notes", &notes(false, true, "d"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}");
        let (_, v4) = findings(&node, &w.dev, 4).await;
        assert_eq!(v4["pending"], 1, "{name}: {v4}");
        // A deployment's preview names the pending findings of what it would deploy.
        let (status, plan) = crate::lifecycle::deploy(
            &node,
            &w.dev,
            "development",
            json!([{ "module": "notes", "version": 4 }]),
            true,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {plan}");
        assert_eq!(
            plan["changes"][0]["pending_findings"],
            json!([key]),
            "{name}: {plan}"
        );
        node.shutdown().await;
    })
    .await;
}
