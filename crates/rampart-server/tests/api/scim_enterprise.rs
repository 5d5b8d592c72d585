//! The SCIM enterprise User extension (RFC 7643 §4.3) end to end: written under its URN,
//! found by filters and sorting, projected, patched as Entra ID and the RFC write it, the
//! manager shown with its reference, and described by the discovery documents.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::on_both;
use crate::scim::{add_provider, create, patch, scim, token, urlencode, USER};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enterprise_extension_is_kept_found_patched_and_described() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "end").await;
        let t = token(&node, &admin, "corp").await;
        let maria = create(&node, &t, "maria", json!({"displayName": "Maria Manager"})).await;
        let maria_id = maria["id"].as_str().unwrap().to_owned();
        let otto = create(&node, &t, "otto", json!({})).await;
        let otto_id = otto["id"].as_str().unwrap().to_owned();

        // Created with the extension: kept under its URN, named in `schemas`, the manager
        // shown with its reference; its name is not the client's to set.
        let ann = create(
            &node,
            &t,
            "ann",
            json!({
                "schemas": [USER, ENT],
                ENT: {"employeeNumber": "701984", "department": "Sales",
                      "manager": {"value": maria_id, "displayName": "Someone Else"}},
            }),
        )
        .await;
        let ann_id = ann["id"].as_str().unwrap().to_owned();
        assert_eq!(ann["schemas"], json!([USER, ENT]), "{name}");
        assert_eq!(ann[ENT]["employeeNumber"], "701984", "{name}");
        assert!(ann[ENT]["manager"].get("displayName").is_none(), "{name}");
        // An absolute URI, though the test's client speaks HTTP/2 (its host arrives as
        // `:authority`, not `Host`).
        assert_eq!(
            ann[ENT]["manager"]["$ref"],
            format!("{}/scim/v2/Users/{maria_id}", node.base),
            "{name}: {ann}"
        );
        assert_eq!(
            ann["meta"]["location"],
            format!(
                "{}/scim/v2/Users/{}",
                node.base,
                ann["id"].as_str().unwrap()
            ),
            "{name}"
        );
        let read = scim(
            &node,
            &t,
            Method::GET,
            &format!("/Users/{ann_id}"),
            None,
            &[],
        )
        .await;
        assert_eq!(read.body[ENT], ann[ENT], "{name}");
        let etag = read.etag();

        // Filters and sorting reach it by the URN before the name; projections too.
        let department = format!("{ENT}:department eq \"sales\"");
        let a = scim(
            &node,
            &t,
            Method::GET,
            &format!("/Users?filter={}", urlencode(&department)),
            None,
            &[],
        )
        .await;
        assert_eq!(a.body["totalResults"], 1, "{name}: {}", a.body);
        assert_eq!(a.body["Resources"][0]["userName"], "ann", "{name}");
        let a = scim(
            &node,
            &t,
            Method::GET,
            &format!(
                "/Users?sortBy={}&sortOrder=descending&attributes={}",
                urlencode(&format!("{ENT}:employeeNumber")),
                urlencode(&format!("userName,{ENT}:manager.value"))
            ),
            None,
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        // Ascending, users without a value sort last; descending, first.
        let first = &a.body["Resources"][2];
        assert_eq!(first["userName"], "ann", "{name}: {}", a.body);
        assert_eq!(
            first[ENT],
            json!({"manager": {"value": maria_id}}),
            "{name}"
        );

        // A refused write changes nothing: unknown attribute, wrong type.
        for bad in [
            json!([{"op": "add", "path": format!("{ENT}:shoeSize"), "value": "9"}]),
            json!([{"op": "replace", "path": format!("{ENT}:department"), "value": 7}]),
        ] {
            let a = scim(
                &node,
                &t,
                Method::PATCH,
                &format!("/Users/{ann_id}"),
                Some(patch(bad.clone())),
                &[],
            )
            .await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name}: {bad}");
        }
        let a = scim(
            &node,
            &t,
            Method::GET,
            &format!("/Users/{ann_id}"),
            None,
            &[],
        )
        .await;
        assert_eq!(a.etag(), etag, "{name}");

        // Entra ID's manager PATCH: the id as a plain string.
        let a = scim(
            &node,
            &t,
            Method::PATCH,
            &format!("/Users/{ann_id}"),
            Some(patch(json!([
                {"op": "Replace", "path": format!("{ENT}:manager"), "value": otto_id},
                {"op": "Add", "path": format!("{ENT}:costCenter"), "value": "4130"},
            ]))),
            &[("if-match", &etag)],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert_eq!(a.body[ENT]["manager"]["value"], otto_id.as_str(), "{name}");
        assert_eq!(a.body[ENT]["costCenter"], "4130", "{name}");
        // Removing the extension by its URN removes it all, and `schemas` stops naming it.
        let a = scim(
            &node,
            &t,
            Method::PATCH,
            &format!("/Users/{ann_id}"),
            Some(patch(json!([{"op": "remove", "path": ENT}]))),
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert!(a.body.get(ENT).is_none(), "{name}: {}", a.body);
        assert_eq!(a.body["schemas"], json!([USER]), "{name}");

        // Discovery says so.
        let a = scim(&node, &t, Method::GET, "/ResourceTypes/User", None, &[]).await;
        assert_eq!(
            a.body["schemaExtensions"],
            json!([{"schema": ENT, "required": false}]),
            "{name}"
        );
        let a = scim(&node, &t, Method::GET, "/Schemas", None, &[]).await;
        let ids: Vec<&str> = a.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&ENT), "{name}: {ids:?}");
        assert_eq!(a.body["totalResults"], ids.len(), "{name}");
        let a = scim(
            &node,
            &t,
            Method::GET,
            &format!("/Schemas/{ENT}"),
            None,
            &[],
        )
        .await;
        let attrs: Vec<&str> = a.body["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            attrs,
            [
                "employeeNumber",
                "costCenter",
                "organization",
                "division",
                "department",
                "manager"
            ],
            "{name}"
        );
        let manager: &Value = &a.body["attributes"][5];
        assert_eq!(
            manager["subAttributes"][2]["mutability"], "readOnly",
            "{name}"
        );
    })
    .await;
}
