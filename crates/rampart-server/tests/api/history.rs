//! `GET /api/v1/environments/{env}/deployments` a page at a time, on SQLite and PostgreSQL:
//! every deployment appears exactly once, newest first, across the pages, even when more
//! are made while someone pages; a cursor the API did not return is refused and named.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, problem, problem_type, Node};
use crate::lifecycle::{deploy, example, publish, world};

const HISTORY: &str = "/api/v1/environments/development/deployments";

/// Every page of `query` from the first, read as `token`: the ids on each page.
async fn pages(node: &Node, token: &str, query: &str) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{HISTORY}?{query}&cursor={c}"),
            None => format!("{HISTORY}?{query}"),
        };
        let (status, page) = node.get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{}: {path}: {page}", node.name());
        out.push(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
        assert!(out.len() < 100, "{}: the pages never end", node.name());
    }
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_history_pages_show_every_deployment_once_in_order() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        let core = example("core-service.yaml");
        let v2 = core.replace(
            "Customers and the sales roles",
            "Customers, described again",
        );
        let (status, body) = publish(&node, &w.admin, "core-service", &v2, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        // 25 deployments in development: versions 1 and 2 in turn.
        for n in 0..25 {
            let version = 1 + n % 2;
            let (status, body) = deploy(
                &node,
                &w.dev,
                "development",
                json!([{ "module": "core-service", "version": version }]),
                false,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{name}: {n}: {body}");
        }
        let (status, all) = node.get(&format!("{HISTORY}?limit=1000"), &w.dev).await;
        assert_eq!(status, StatusCode::OK, "{name}: {all}");
        let everything = ids(&all);
        assert_eq!(everything.len(), 25, "{name}: {all}");
        assert!(
            all["next_cursor"].is_null(),
            "{name}: one page holds all: {all}"
        );
        assert!(
            everything.windows(2).all(|w| w[0] > w[1]),
            "{name}: newest first: {everything:?}"
        );

        // Pages of 7: 7, 7, 7 and 4, together the whole history in the same order.
        let walked = pages(&node, &w.dev, "limit=7").await;
        let sizes: Vec<usize> = walked.iter().map(Vec::len).collect();
        assert_eq!(sizes, [7, 7, 7, 4], "{name}: {walked:?}");
        assert_eq!(walked.concat(), everything, "{name}");
        // A page that ends exactly at the end says so: no cursor to an empty page.
        let walked = pages(&node, &w.dev, "limit=5").await;
        assert_eq!(walked.len(), 5, "{name}: {walked:?}");
        assert_eq!(walked.concat(), everything, "{name}");
        // One module's history pages the same way.
        let walked = pages(&node, &w.dev, "module=core-service&limit=10").await;
        assert_eq!(walked.concat(), everything, "{name}");

        // A deployment made while someone pages is not on the older pages: nothing repeats,
        // nothing is skipped.
        let (_, first) = node.get(&format!("{HISTORY}?limit=10"), &w.dev).await;
        let cursor = first["next_cursor"].as_str().unwrap().to_owned();
        let (status, body) = deploy(
            &node,
            &w.dev,
            "development",
            json!([{ "module": "core-service", "version": 2 }]),
            false,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (_, second) = node
            .get(&format!("{HISTORY}?limit=10&cursor={cursor}"), &w.dev)
            .await;
        assert_eq!(
            [ids(&first), ids(&second)].concat(),
            everything[..20],
            "{name}"
        );
        let (_, newest) = node.get(&format!("{HISTORY}?limit=1"), &w.dev).await;
        assert!(
            ids(&newest)[0] > everything[0],
            "{name}: the new one is first on the first page: {newest}"
        );

        // A cursor the API did not return is refused, named, and as a problem.
        for bad in ["abc", "0", "-4", "1.5", "%20"] {
            let response = node
                .request(
                    Method::GET,
                    &format!("{HISTORY}?limit=7&cursor={bad}"),
                    Some(&w.dev),
                    None,
                )
                .await;
            let (status, _, body) = problem(response).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}: {bad}: {body}"
            );
            assert_eq!(
                problem_type(&body),
                "invalid-input",
                "{name}: {bad}: {body}"
            );
            assert_eq!(body["field"], "cursor", "{name}: {bad}: {body}");
        }
        node.shutdown().await;
    })
    .await;
}
