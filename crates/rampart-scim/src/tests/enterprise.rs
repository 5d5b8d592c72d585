//! The enterprise User extension (RFC 7643 §4.3): validation, filters, PATCH and
//! projection reach the attributes kept under its URN.

use serde_json::{json, Value};

use crate::filter::Filter;
use crate::patch;
use crate::project::Projection;
use crate::schema::{validate, Schema, ENTERPRISE_URN, USER_URN};

fn ent(user: &str, ext: Value) -> Value {
    json!({"schemas": [USER_URN, ENTERPRISE_URN], "userName": user, ENTERPRISE_URN: ext})
}

#[test]
fn the_extension_is_validated_into_one_object_under_its_urn() {
    // Names take the schema's case; readOnly manager.displayName is the server's to say;
    // an attribute written at the top level with the URN before it joins the object.
    let body = json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "userName": "u1",
        ENTERPRISE_URN: {"EMPLOYEENUMBER": "701984", "manager": {"value": "m1", "displayName": "Boss"}},
        format!("{ENTERPRISE_URN}:department"): "Tour Operations",
    });
    let got = validate(Schema::User, &body).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(
        Value::Object(got),
        json!({"userName": "u1", ENTERPRISE_URN: {
            "employeeNumber": "701984", "manager": {"value": "m1"}, "department": "Tour Operations"
        }})
    );
    // The extension need not be listed in `schemas`; an empty one leaves nothing.
    let got = validate(
        Schema::User,
        &json!({"schemas": [USER_URN], "userName": "u1", ENTERPRISE_URN: {"costCenter": null}}),
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(Value::Object(got), json!({"userName": "u1"}));
    for (body, kind) in [
        (ent("u1", json!({"shoeSize": "9"})), "invalidValue"),
        (ent("u1", json!({"department": 7})), "invalidValue"),
        (ent("u1", json!({"manager": "m1"})), "invalidValue"),
        (ent("u1", json!("HR")), "invalidValue"),
        (
            json!({"schemas": [USER_URN, "urn:example:params:scim:schemas:extension:other:2.0:User"], "userName": "u1"}),
            "invalidValue",
        ),
        // Groups carry no extension.
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", ENTERPRISE_URN], "displayName": "g"}),
            "invalidValue",
        ),
    ] {
        let schema = if body["displayName"].is_string() {
            Schema::Group
        } else {
            Schema::User
        };
        let err = validate(schema, &body).expect_err("refused");
        assert_eq!(err.scim_type, Some(kind), "{body}: {err}");
    }
}

#[test]
fn filters_reach_the_extension_by_its_urn() {
    let u = json!({
        "schemas": [USER_URN, ENTERPRISE_URN], "userName": "u1", "title": "Clerk",
        ENTERPRISE_URN: {"department": "Sales", "employeeNumber": "42", "manager": {"value": "m1"}}
    });
    for (text, expected) in [
        (format!("{ENTERPRISE_URN}:department eq \"sales\""), true),
        (format!("{ENTERPRISE_URN}:department eq \"Finance\""), false),
        (format!("{ENTERPRISE_URN}:employeeNumber pr"), true),
        (format!("{ENTERPRISE_URN}:costCenter pr"), false),
        (format!("{ENTERPRISE_URN}:manager.value eq \"m1\""), true),
        (format!("{ENTERPRISE_URN}:manager eq \"m1\""), true),
        (
            format!("{ENTERPRISE_URN}:department ne \"Finance\" and title sw \"Cl\""),
            true,
        ),
        // The extension's attribute is not a top-level one, nor the other way round.
        ("department eq \"Sales\"".to_owned(), false),
        (format!("{ENTERPRISE_URN}:title pr"), false),
        // Another extension's URN names nothing here.
        ("urn:example:ext:1.0:User:department pr".to_owned(), false),
    ] {
        let f = Filter::parse(&text).unwrap_or_else(|e| unreachable!("{text}: {e}"));
        assert_eq!(f.matches(Schema::User, &u), expected, "{text}");
    }
    // A user without the extension: absent attributes, as for any other.
    let plain = json!({"schemas": [USER_URN], "userName": "u2"});
    let f = Filter::parse(&format!("{ENTERPRISE_URN}:department ne \"Sales\""))
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert!(f.matches(Schema::User, &plain));
}

fn ops(list: Value) -> Value {
    json!({"schemas": [crate::PATCH_URN], "Operations": list})
}

fn check(before: Value, list: Value, expected: Result<Value, &str>) {
    let current = validate(Schema::User, &before).unwrap_or_else(|e| unreachable!("{e}"));
    let got = patch::apply(Schema::User, &current, &ops(list.clone()));
    match (got, expected) {
        (Ok(after), Ok(want)) => {
            let want = validate(Schema::User, &want).unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(Value::Object(after), Value::Object(want), "{list}");
        }
        (Err(e), Err(kind)) => assert_eq!(e.scim_type, Some(kind), "{list}: {e}"),
        (got, want) => unreachable!("{list}: got {got:?}, wanted {want:?}"),
    }
}

#[test]
fn patch_writes_the_extension_by_path_by_urn_and_without_path() {
    let plain = || json!({"schemas": [USER_URN], "userName": "u1"});
    let d = format!("{ENTERPRISE_URN}:department");
    let m = format!("{ENTERPRISE_URN}:manager");
    let cases: Vec<(Value, Value, Result<Value, &str>)> = vec![
        // A path with the URN before the name; the object is made when missing.
        (
            plain(),
            json!([{"op": "add", "path": d, "value": "HR"}]),
            Ok(ent("u1", json!({"department": "HR"}))),
        ),
        (
            ent("u1", json!({"department": "HR", "division": "North"})),
            json!([{"op": "replace", "path": d, "value": "Sales"}]),
            Ok(ent(
                "u1",
                json!({"department": "Sales", "division": "North"}),
            )),
        ),
        // Removing the last attribute leaves no empty object behind.
        (
            ent("u1", json!({"department": "HR"})),
            json!([{"op": "remove", "path": d}]),
            Ok(plain()),
        ),
        // The manager's sub-attribute by path, and a string for the manager as Entra ID
        // sends it.
        (
            plain(),
            json!([{"op": "add", "path": format!("{m}.value"), "value": "m1"}]),
            Ok(ent("u1", json!({"manager": {"value": "m1"}}))),
        ),
        (
            ent("u1", json!({"manager": {"value": "m1"}})),
            json!([{"op": "Replace", "path": m, "value": "m2"}]),
            Ok(ent("u1", json!({"manager": {"value": "m2"}}))),
        ),
        (
            ent(
                "u1",
                json!({"manager": {"value": "m1"}, "costCenter": "4130"}),
            ),
            json!([{"op": "remove", "path": m}]),
            Ok(ent("u1", json!({"costCenter": "4130"}))),
        ),
        // The URN alone as the path: its attributes merged in, or all removed.
        (
            ent("u1", json!({"division": "North"})),
            json!([{"op": "replace", "path": ENTERPRISE_URN, "value": {"department": "HR"}}]),
            Ok(ent("u1", json!({"division": "North", "department": "HR"}))),
        ),
        (
            ent("u1", json!({"division": "North"})),
            json!([{"op": "remove", "path": ENTERPRISE_URN}]),
            Ok(plain()),
        ),
        // Without a path, under the URN or with the URN before each name.
        (
            plain(),
            json!([{"op": "add", "value": {ENTERPRISE_URN: {"organization": "Example"}, "title": "T"}}]),
            Ok(
                json!({"schemas": [USER_URN], "userName": "u1", "title": "T", ENTERPRISE_URN: {"organization": "Example"}}),
            ),
        ),
        (
            plain(),
            json!([{"op": "replace", "value": {d.clone(): "HR"}}]),
            Ok(ent("u1", json!({"department": "HR"}))),
        ),
        // Refusals: unknown attribute, wrong type, a filter on a single value; nothing
        // changes.
        (
            plain(),
            json!([{"op": "add", "path": format!("{ENTERPRISE_URN}:shoeSize"), "value": "9"}]),
            Err("invalidPath"),
        ),
        (
            plain(),
            json!([{"op": "add", "path": d, "value": 7}]),
            Err("invalidValue"),
        ),
        (
            plain(),
            json!([{"op": "add", "path": ENTERPRISE_URN, "value": "HR"}]),
            Err("invalidValue"),
        ),
        (
            ent("u1", json!({"manager": {"value": "m1"}})),
            json!([{"op": "replace", "path": format!("{m}[value eq \"m1\"].value"), "value": "m2"}]),
            Err("invalidPath"),
        ),
    ];
    for (before, list, expected) in cases {
        check(before, list, expected);
    }
}

#[test]
fn projection_reaches_into_the_extension() {
    let u = json!({
        "schemas": [USER_URN, ENTERPRISE_URN], "id": "1", "userName": "u1", "title": "T",
        ENTERPRISE_URN: {"department": "Sales", "manager": {"value": "m1", "displayName": "Boss"}}
    });
    let show = |attributes: Option<&str>, excluded: Option<&str>| {
        Projection::parse(Schema::User, attributes, excluded)
            .unwrap_or_else(|e| unreachable!("{e}"))
            .apply(u.clone())
    };
    let base = json!({"schemas": [USER_URN, ENTERPRISE_URN], "id": "1"});
    let with = |extra: Value| {
        let mut out = base.clone();
        if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
            o.extend(e);
        }
        out
    };
    let d = format!("{ENTERPRISE_URN}:department");
    assert_eq!(
        show(Some(&d), None),
        with(json!({ENTERPRISE_URN: {"department": "Sales"}}))
    );
    assert_eq!(
        show(
            Some(&format!("userName,{ENTERPRISE_URN}:manager.displayName")),
            None
        ),
        with(json!({"userName": "u1", ENTERPRISE_URN: {"manager": {"displayName": "Boss"}}}))
    );
    assert_eq!(
        show(Some(ENTERPRISE_URN), None),
        with(json!({ENTERPRISE_URN: u[ENTERPRISE_URN].clone()}))
    );
    // Only core attributes asked: the extension is left out.
    assert_eq!(show(Some("title"), None), with(json!({"title": "T"})));
    assert_eq!(
        show(None, Some(&d)),
        with(
            json!({"userName": "u1", "title": "T", ENTERPRISE_URN: {"manager": {"value": "m1", "displayName": "Boss"}}})
        )
    );
    assert_eq!(
        show(None, Some(ENTERPRISE_URN)),
        with(json!({"userName": "u1", "title": "T"}))
    );
    let err = Projection::parse(Schema::User, Some("urn:example:ext:1.0:User:x"), None)
        .expect_err("another extension");
    assert_eq!(err.scim_type, Some("invalidPath"));
}
