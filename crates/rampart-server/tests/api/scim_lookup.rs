//! SCIM lists that read only what their filter can match (an equality on `id`, `userName`,
//! `externalId`, a group's `displayName`), against the same filter read the slow way:
//! `(F) or (F)` matches what `F` matches but names no column, so the service reads every
//! resource and evaluates it on each. Both answers must be the same document, on both
//! stores, with users of another provider around, case folded, and groups shown on users.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::on_both;
use crate::scim::{add_provider, create, scim, token, urlencode, GROUP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looked_up_list_answers_what_reading_every_resource_answers() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "end").await;
        add_provider(&node, &admin, "other", "end").await;
        let t = token(&node, &admin, "corp").await;
        let other = token(&node, &admin, "other").await;
        let mut ids = Vec::new();
        for user in ["Ada", "bob", "carol.k", "dave@corp"] {
            let made = create(
                &node,
                &t,
                user,
                json!({ "externalId": format!("x-{user}") }),
            )
            .await;
            ids.push(made["id"].as_str().unwrap().to_owned());
        }
        create(&node, &other, "eve", json!({ "externalId": "x-eve" })).await;
        for (group, external, members) in [
            ("Sales", "G-1", vec![ids[0].clone(), ids[1].clone()]),
            ("Ops", "G-2", vec![ids[0].clone()]),
            ("Empty", "G-3", vec![]),
        ] {
            let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
            let a = scim(
                &node,
                &t,
                Method::POST,
                "/Groups",
                Some(json!({
                    "schemas": [GROUP], "displayName": group, "externalId": external,
                    "members": members,
                })),
                &[],
            )
            .await;
            assert_eq!(a.status, StatusCode::CREATED, "{name}: {}", a.body);
        }
        let get = |path: String| {
            let node = &node;
            let t = &t;
            async move { scim(node, t, Method::GET, &path, None, &[]).await }
        };
        let ada = ids[0].clone();
        for (endpoint, filter, found) in [
            ("Users", r#"userName eq "ada""#.to_owned(), 1),
            ("Users", r#"userName eq "ADA""#.to_owned(), 1),
            ("Users", r#"USERNAME eq "Carol.K""#.to_owned(), 1),
            ("Users", r#"userName eq "eve""#.to_owned(), 0),
            ("Users", r#"externalId eq "x-bob""#.to_owned(), 1),
            ("Users", r#"externalId eq "X-BOB""#.to_owned(), 0),
            ("Users", r#"externalId eq "x-eve""#.to_owned(), 0),
            ("Users", r#"userName eq "nobody""#.to_owned(), 0),
            (
                "Users",
                r#"userName eq "ada" and externalId eq "x-Ada""#.to_owned(),
                1,
            ),
            (
                "Users",
                r#"userName eq "ada" and externalId eq "nope""#.to_owned(),
                0,
            ),
            ("Users", format!(r#"id eq "{ada}""#), 1),
            ("Users", format!(r#"id eq "{}""#, ada.to_uppercase()), 0), // ids compare with case
            ("Users", r#"id eq "not-an-id""#.to_owned(), 0),
            ("Groups", r#"displayName eq "sales""#.to_owned(), 1),
            ("Groups", r#"displayName eq "EMPTY""#.to_owned(), 1),
            ("Groups", r#"externalId eq "G-2""#.to_owned(), 1),
            ("Groups", r#"externalId eq "g-2""#.to_owned(), 0),
            (
                "Groups",
                r#"displayName eq "Sales" and externalId eq "G-1""#.to_owned(),
                1,
            ),
        ] {
            for extra in [
                "",
                "&attributes=userName,groups,displayName,members",
                "&count=0",
            ] {
                let fast = get(format!("/{endpoint}?filter={}{extra}", urlencode(&filter))).await;
                let slow = get(format!(
                    "/{endpoint}?filter={}{extra}",
                    urlencode(&format!("({filter}) or ({filter})"))
                ))
                .await;
                assert_eq!(
                    fast.status,
                    StatusCode::OK,
                    "{name}: {filter}: {}",
                    fast.body
                );
                assert_eq!(fast.body, slow.body, "{name}: {endpoint} {filter}{extra}");
                if extra.is_empty() {
                    assert_eq!(
                        fast.body["totalResults"], found,
                        "{name}: {endpoint} {filter}: {}",
                        fast.body
                    );
                }
            }
        }
        // A looked-up user shows their groups, as the user's own page does.
        let fast = get(format!(
            "/Users?filter={}",
            urlencode(r#"userName eq "Ada""#)
        ))
        .await;
        let groups: Vec<&str> = fast.body["Resources"][0]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["display"].as_str().unwrap())
            .collect();
        assert_eq!(groups.len(), 2, "{name}: {}", fast.body);
        let own = get(format!("/Users/{ada}")).await;
        assert_eq!(
            own.body["groups"], fast.body["Resources"][0]["groups"],
            "{name}"
        );
        // A filter that does not parse is refused the same way, looked up or not.
        let bad = get(format!("/Users?filter={}", urlencode(r#"userName eq"#))).await;
        assert_eq!(
            (bad.status, bad.scim_type()),
            (StatusCode::BAD_REQUEST, "invalidFilter"),
            "{name}"
        );
    })
    .await;
}
