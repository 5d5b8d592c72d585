//! SCIM lists with neither a filter nor `sortBy` read their page alone (and the page's
//! users' groups), as a directory importing page by page asks. Each page must be the
//! document the slow way gives: `filter=id pr` matches every resource but is no lookup, so
//! the service reads every resource of the provider, evaluates the filter and cuts the
//! page itself. On both stores, with another provider's users and groups around, over a
//! grid of `startIndex`, `count` and projections (zero, negative and past the end too).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::on_both;
use crate::scim::{add_provider, create, scim, token, urlencode, GROUP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_without_a_filter_is_the_slice_of_the_whole_list() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "end").await;
        add_provider(&node, &admin, "other", "end").await;
        let t = token(&node, &admin, "corp").await;
        let other = token(&node, &admin, "other").await;
        let mut ids = Vec::new();
        for i in 0..12 {
            let made = create(&node, &t, &format!("user{i:02}"), json!({})).await;
            ids.push(made["id"].as_str().unwrap().to_owned());
        }
        let outsider = create(&node, &other, "outsider", json!({})).await;
        let group = |t: String, display: String, members: Vec<String>| {
            let node = &node;
            async move {
                let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
                let a = scim(
                    node,
                    &t,
                    Method::POST,
                    "/Groups",
                    Some(json!({ "schemas": [GROUP], "displayName": display, "members": members })),
                    &[],
                )
                .await;
                assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
            }
        };
        // Groups spread over the pages: every third user, the first two, one user, none.
        let third: Vec<String> = ids.iter().step_by(3).cloned().collect();
        group(t.clone(), "Thirds".into(), third).await;
        group(t.clone(), "First two".into(), ids[..2].to_vec()).await;
        group(t.clone(), "Last".into(), vec![ids[11].clone()]).await;
        for i in 0..4 {
            group(t.clone(), format!("Empty {i}"), vec![]).await;
        }
        let outsider_id = outsider["id"].as_str().unwrap().to_owned();
        group(other.clone(), "Elsewhere".into(), vec![outsider_id]).await;

        let get = |path: String| {
            let node = &node;
            let t = &t;
            async move {
                let a = scim(node, t, Method::GET, &path, None, &[]).await;
                assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
                a.body
            }
        };
        let every = urlencode("id pr");
        for (endpoint, total, projection) in [
            ("Users", 12, ""),
            ("Users", 12, "&attributes=userName,groups"),
            ("Users", 12, "&excludedAttributes=groups,meta"),
            ("Groups", 7, ""),
            ("Groups", 7, "&excludedAttributes=members"),
        ] {
            for start in [
                "",
                "&startIndex=-3",
                "&startIndex=1",
                "&startIndex=2",
                "&startIndex=6",
                "&startIndex=12",
                "&startIndex=13",
                "&startIndex=50",
                "&startIndex=9223372036854775807",
            ] {
                for count in [
                    "",
                    "&count=0",
                    "&count=-1",
                    "&count=1",
                    "&count=5",
                    "&count=100",
                    "&count=5000",
                ] {
                    let params = format!("{start}{count}{projection}");
                    let page = get(format!("/{endpoint}?x=1{params}")).await;
                    let slow = get(format!("/{endpoint}?filter={every}{params}")).await;
                    assert_eq!(page, slow, "{name}: {endpoint} {params}");
                    assert_eq!(page["totalResults"], total, "{name}: {endpoint} {params}");
                }
            }
        }
        // The whole first page: every user in id order, each with their groups.
        let page = get("/Users".into()).await;
        let listed: Vec<&str> = page["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(listed, sorted, "{name}");
        let first = &page["Resources"][listed.iter().position(|id| *id == ids[0]).unwrap()];
        let groups: Vec<&str> = first["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["display"].as_str().unwrap())
            .collect();
        assert_eq!(groups.len(), 2, "{name}: {first}");
        // POST /Users/.search without a filter pages the same way.
        let search = scim(
            &node,
            &t,
            Method::POST,
            "/Users/.search",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "startIndex": 4, "count": 3,
            })),
            &[],
        )
        .await;
        assert_eq!(search.status, StatusCode::OK, "{name}: {}", search.body);
        assert_eq!(
            search.body,
            get(format!("/Users?filter={every}&startIndex=4&count=3")).await,
            "{name}"
        );
        // The root search (users, then groups) pages across both the same way.
        let search = |body: Value| {
            let node = &node;
            let t = &t;
            async move {
                let a = scim(node, t, Method::POST, "/.search", Some(body), &[]).await;
                assert_eq!(a.status, StatusCode::OK, "{}", a.body);
                a.body
            }
        };
        let urn = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
        for start in [1, 5, 12, 13, 19, 20, 30] {
            for count in [0, 1, 5, 10, 100] {
                let page =
                    search(json!({ "schemas": [urn], "startIndex": start, "count": count })).await;
                let slow = search(json!({
                    "schemas": [urn], "startIndex": start, "count": count, "filter": "id pr",
                }))
                .await;
                assert_eq!(page, slow, "{name}: /.search {start} {count}");
                assert_eq!(page["totalResults"], 19, "{name}");
            }
        }
        // A projection naming no attribute is refused on a plain page as on a filtered one.
        let bad = scim(&node, &t, Method::GET, "/Users?attributes=nope.", None, &[]).await;
        let slow = scim(
            &node,
            &t,
            Method::GET,
            &format!("/Users?filter={every}&attributes=nope."),
            None,
            &[],
        )
        .await;
        assert_eq!((bad.status, &bad.body), (slow.status, &slow.body), "{name}");
    })
    .await;
}
