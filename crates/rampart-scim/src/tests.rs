//! The SCIM decisions as data tables, and the filter evaluator against a slow reference.

mod bulk;
mod enterprise;
mod lookup;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::filter::{Filter, Op};
use crate::patch;
use crate::project::Projection;
use crate::schema::{validate, Schema};

fn bjensen() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bjensen@example.com",
        "externalId": "Bj-1",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "active": true,
        "title": "Tour Guide",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"lastModified": "2011-05-13T04:42:34Z", "resourceType": "User"}
    })
}

fn check_filter(text: &str, expected: bool) {
    let f = Filter::parse(text).unwrap_or_else(|e| unreachable!("{text}: {e}"));
    assert_eq!(f.matches(Schema::User, &bjensen()), expected, "{text}");
}

#[test]
fn filters_of_rfc_7644_against_one_user() {
    for (text, expected) in [
        (r#"userName eq "bjensen@example.com""#, true),
        // userName compares ignoring case; externalId respects it.
        (r#"userName eq "BJENSEN@EXAMPLE.COM""#, true),
        (r#"externalId eq "bj-1""#, false),
        (r#"externalId eq "Bj-1""#, true),
        (r#"name.familyName co "ens""#, true),
        (r#"name.familyName co "xyz""#, false),
        (r#"userName sw "bj""#, true),
        (r#"userName ew "@example.com""#, true),
        (r#"userName ne "bjensen@example.com""#, false),
        (r#"nickName ne "x""#, true),
        ("title pr", true),
        ("nickName pr", false),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified lt "2012-01-01T00:00:00Z""#, true),
        (r#"meta.lastModified le "2011-01-01T00:00:00Z""#, false),
        ("active eq true", true),
        ("active eq false", false),
        (r#"title pr and userType eq "Employee""#, false),
        (r#"title pr or userType eq "Employee""#, true),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "home" and value co "@example.com"]"#,
            false,
        ),
        (r#"emails co "jensen.org""#, true),
        (r#"emails.type eq "home""#, true),
        (r#"not (emails.type eq "home")"#, false),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"title pr and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        // `not` binds tightest, then `and`, then `or`.
        (r#"title pr or nickName pr and userType pr"#, true),
        (r#"(title pr or nickName pr) and userType pr"#, false),
        ("NICKNAME PR OR TITLE Pr", true),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "BJ""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr"#,
            false,
        ),
        ("nickName eq null", true),
        ("title eq null", false),
        (r#"displayName eq "Babs \"B\" Jensen""#, false),
    ] {
        check_filter(text, expected);
    }
}

#[test]
fn bad_filters_are_invalid_filter() {
    let deep = format!("{}title pr{}", "(".repeat(40), ")".repeat(40));
    for text in [
        "",
        "userName",
        "userName eq",
        r#"userName xx "a""#,
        r#"userName eq "unterminated"#,
        r#"userName eq bare"#,
        "(title pr",
        "title pr)",
        "emails[type eq \"work\"",
        "active gt true",
        "userName co 5",
        "title pr and",
        "1abc pr",
        deep.as_str(),
    ] {
        let err = Filter::parse(text).expect_err(text);
        assert_eq!(err.scim_type, Some("invalidFilter"), "{text}");
        assert_eq!(err.status, 400);
    }
}

fn check_patch(before: Value, body: Value, expected: Result<Value, &str>) {
    let current = validate(Schema::User, &before).unwrap_or_else(|e| unreachable!("{e}"));
    let got = patch::apply(Schema::User, &current, &body);
    match (got, expected) {
        (Ok(after), Ok(want)) => {
            let want = validate(Schema::User, &want).unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(Value::Object(after), Value::Object(want), "{body}");
        }
        (Err(e), Err(kind)) => assert_eq!(e.scim_type, Some(kind), "{body}: {e}"),
        (got, want) => unreachable!("{body}: got {got:?}, wanted {want:?}"),
    }
}

fn ops(list: Value) -> Value {
    json!({"schemas": [crate::PATCH_URN], "Operations": list})
}

fn user(extra: Value) -> Value {
    let mut u =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u1"});
    if let (Some(o), Value::Object(e)) = (u.as_object_mut(), extra) {
        o.extend(e);
    }
    u
}

#[test]
fn patch_operations_as_a_table() {
    let work = json!({"emails": [{"value": "a@x.org", "type": "work"}, {"value": "b@y.org", "type": "home"}]});
    let cases: Vec<(Value, Value, Result<Value, &str>)> = vec![
        // replace without a path: each attribute replaced.
        (
            user(json!({})),
            json!([{"op": "replace", "value": {"displayName": "U", "active": false}}]),
            Ok(user(json!({"displayName": "U", "active": false}))),
        ),
        // op names ignore case (Entra ID writes "Replace").
        (
            user(json!({})),
            json!([{"op": "Replace", "path": "active", "value": false}]),
            Ok(user(json!({"active": false}))),
        ),
        // add to a multi-valued attribute appends.
        (
            user(work.clone()),
            json!([{"op": "add", "path": "emails", "value": [{"value": "c@z.org"}]}]),
            Ok(user(
                json!({"emails": [{"value": "a@x.org", "type": "work"}, {"value": "b@y.org", "type": "home"}, {"value": "c@z.org"}]}),
            )),
        ),
        // replace of a multi-valued attribute replaces the list.
        (
            user(work.clone()),
            json!([{"op": "replace", "path": "emails", "value": [{"value": "c@z.org"}]}]),
            Ok(user(json!({"emails": [{"value": "c@z.org"}]}))),
        ),
        // a value filter and a sub-attribute.
        (
            user(work.clone()),
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@x.org"}]),
            Ok(user(
                json!({"emails": [{"value": "new@x.org", "type": "work"}, {"value": "b@y.org", "type": "home"}]}),
            )),
        ),
        // no match: an `eq` filter with a sub-attribute adds the value.
        (
            user(json!({})),
            json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "w@x.org"}]),
            Ok(user(
                json!({"emails": [{"type": "work", "value": "w@x.org"}]}),
            )),
        ),
        // replace of whole values with no match is noTarget.
        (
            user(work.clone()),
            json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "o@x.org"}}]),
            Err("noTarget"),
        ),
        // remove with a filter.
        (
            user(work.clone()),
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
            Ok(user(
                json!({"emails": [{"value": "a@x.org", "type": "work"}]}),
            )),
        ),
        // remove of a sub-attribute in the matched values.
        (
            user(work.clone()),
            json!([{"op": "remove", "path": "emails[type eq \"home\"].type"}]),
            Ok(user(
                json!({"emails": [{"value": "a@x.org", "type": "work"}, {"value": "b@y.org"}]}),
            )),
        ),
        // remove with listed values.
        (
            user(work.clone()),
            json!([{"op": "remove", "path": "emails", "value": [{"value": "a@x.org"}]}]),
            Ok(user(
                json!({"emails": [{"value": "b@y.org", "type": "home"}]}),
            )),
        ),
        // remove the whole attribute.
        (
            user(work.clone()),
            json!([{"op": "remove", "path": "emails"}]),
            Ok(user(json!({}))),
        ),
        // a complex attribute merges its sub-attributes.
        (
            user(json!({"name": {"givenName": "A", "familyName": "B"}})),
            json!([{"op": "replace", "path": "name", "value": {"givenName": "C"}}]),
            Ok(user(json!({"name": {"givenName": "C", "familyName": "B"}}))),
        ),
        (
            user(json!({"name": {"givenName": "A"}})),
            json!([{"op": "add", "path": "name.familyName", "value": "Z"}]),
            Ok(user(json!({"name": {"givenName": "A", "familyName": "Z"}}))),
        ),
        (
            user(json!({"name": {"givenName": "A"}})),
            json!([{"op": "add", "value": {"name.familyName": "Z", "nickName": "N"}}]),
            Ok(user(
                json!({"name": {"givenName": "A", "familyName": "Z"}, "nickName": "N"}),
            )),
        ),
        (
            user(json!({"name": {"givenName": "A"}})),
            json!([{"op": "add", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:nickName": "N"}}]),
            Ok(user(json!({"name": {"givenName": "A"}, "nickName": "N"}))),
        ),
        // refusals: all or nothing.
        (user(json!({})), json!([{"op": "remove"}]), Err("noTarget")),
        (
            user(json!({})),
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            Err("mutability"),
        ),
        (
            user(json!({})),
            json!([{"op": "replace", "path": "meta.created", "value": "x"}]),
            Err("mutability"),
        ),
        (
            user(json!({})),
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            Err("mutability"),
        ),
        (
            user(json!({})),
            json!([{"op": "add", "path": "favouriteColour", "value": "red"}]),
            Err("invalidPath"),
        ),
        (
            user(json!({})),
            json!([{"op": "add", "path": "emails[type eq]", "value": "x"}]),
            Err("invalidFilter"),
        ),
        (
            user(json!({})),
            json!([{"op": "replace", "path": "active", "value": "yes"}]),
            Err("invalidValue"),
        ),
        (
            user(json!({})),
            json!([{"op": "replace", "path": "userName", "value": 5}]),
            Err("invalidValue"),
        ),
        (
            user(json!({})),
            json!([{"op": "remove", "path": "userName"}]),
            Err("invalidValue"),
        ),
        (
            user(json!({})),
            json!([{"op": "move", "path": "userName"}]),
            Err("invalidSyntax"),
        ),
        (user(json!({})), json!([]), Err("invalidSyntax")),
        (
            user(json!({})),
            json!([{"op": "replace", "path": "displayName", "value": "ok"},
                                 {"op": "replace", "path": "title", "value": {"x": 1}}]),
            Err("invalidValue"),
        ),
    ];
    for (before, body, expected) in cases {
        check_patch(before, ops(body), expected);
    }
}

#[test]
fn group_members_are_added_and_removed_by_filter() {
    let g = json!({"schemas": [crate::schema::GROUP_URN], "displayName": "admins",
                   "members": [{"value": "u1"}, {"value": "u2"}]});
    let current = validate(Schema::Group, &g).unwrap_or_default();
    let out = patch::apply(
        Schema::Group,
        &current,
        &ops(json!([
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "add", "path": "members", "value": [{"value": "u3"}, {"value": "u2"}]},
        ])),
    )
    .unwrap_or_default();
    assert_eq!(
        out.get("members"),
        Some(&json!([{"value": "u2"}, {"value": "u3"}]))
    );
    // A member's value is immutable: it is removed and added, never rewritten.
    let err = patch::apply(
        Schema::Group,
        &current,
        &ops(json!([
            {"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u9"}
        ])),
    )
    .expect_err("immutable");
    assert_eq!(err.scim_type, Some("mutability"));
}

#[test]
fn validation_refuses_unknown_attributes_and_wrong_types() {
    for (body, kind) in [
        (json!([1]), "invalidSyntax"),
        (json!({"userName": "a"}), "invalidSyntax"),
        (user(json!({"favouriteColour": "red"})), "invalidValue"),
        (user(json!({"active": "true"})), "invalidValue"),
        (user(json!({"emails": {"value": "a@b.c"}})), "invalidValue"),
        (
            user(json!({"emails": [{"value": "a@b.c", "colour": "x"}]})),
            "invalidValue",
        ),
        (
            user(
                json!({"emails": [{"value": "a@b.c", "primary": true}, {"value": "d@b.c", "primary": true}]}),
            ),
            "invalidValue",
        ),
        (user(json!({"name": "Barbara"})), "invalidValue"),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}),
            "invalidValue",
        ),
        (user(json!({"displayName": "a\u{0}b"})), "invalidValue"),
    ] {
        let err = validate(Schema::User, &body).expect_err("refused");
        assert_eq!(err.scim_type, Some(kind), "{body}");
    }
    // readOnly attributes a client sends back are left out; names take the schema's case.
    let ok = validate(
        Schema::User,
        &user(json!({"ID": "x", "meta": {}, "DISPLAYNAME": "D", "nickName": null})),
    )
    .unwrap_or_default();
    assert_eq!(
        Value::Object(ok),
        json!({"userName": "u1", "displayName": "D"})
    );
}

#[test]
fn projection_keeps_and_drops_what_was_asked() {
    let mut res = bjensen();
    if let Some(o) = res.as_object_mut() {
        o.insert("id".into(), "1".into());
    }
    let p =
        Projection::parse(Schema::User, Some("userName,emails.value"), None).unwrap_or_default();
    assert_eq!(
        p.apply(res.clone()),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1",
               "meta": {"lastModified": "2011-05-13T04:42:34Z", "resourceType": "User"},
               "userName": "bjensen@example.com",
               "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]})
    );
    let p = Projection::parse(Schema::User, None, Some("emails,name.givenName,meta,id"))
        .unwrap_or_default();
    let out = p.apply(res);
    assert!(out.get("emails").is_none());
    assert!(out.get("meta").is_some(), "meta is always returned");
    assert_eq!(out.get("name"), Some(&json!({"familyName": "Jensen"})));
    assert_eq!(out.get("id"), Some(&json!("1")), "id is always returned");
    let err = Projection::parse(Schema::User, Some("user name"), None).expect_err("bad path");
    assert_eq!(err.scim_type, Some("invalidPath"));
}

// ---------------------------------------------------------------------------------------
// The evaluator against a slow, obvious reference: the resource flattened into leaves
// (attribute, element, sub-attribute, value), every comparison a scan over all leaves.

#[derive(Debug)]
struct Leaf {
    attr: String,
    element: Option<usize>,
    sub: Option<String>,
    value: Value,
}

fn leaves(res: &Value) -> Vec<Leaf> {
    let mut out = Vec::new();
    let Some(obj) = res.as_object() else {
        return out;
    };
    for (k, v) in obj {
        let attr = k.to_lowercase();
        let items: Vec<(Option<usize>, &Value)> = match v {
            Value::Array(xs) => xs.iter().enumerate().map(|(i, x)| (Some(i), x)).collect(),
            other => vec![(None, other)],
        };
        for (element, item) in items {
            match item {
                Value::Object(m) => {
                    for (sk, sv) in m {
                        out.push(Leaf {
                            attr: attr.clone(),
                            element,
                            sub: Some(sk.to_lowercase()),
                            value: sv.clone(),
                        });
                    }
                }
                other => out.push(Leaf {
                    attr: attr.clone(),
                    element,
                    sub: None,
                    value: other.clone(),
                }),
            }
        }
    }
    out
}

fn ref_compare(v: &Value, op: Op, lit: &Value, exact: bool) -> bool {
    let fold = |s: &str| {
        if exact {
            s.to_owned()
        } else {
            s.to_lowercase()
        }
    };
    match (v, lit) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (fold(a), fold(b));
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(b.as_str()),
                Op::Sw => a.starts_with(b.as_str()),
                Op::Ew => a.ends_with(b.as_str()),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Value::Bool(a), Value::Bool(b)) => op == Op::Eq && a == b,
        _ => false,
    }
}

fn ref_eval(f: &Filter, res: &Value, within: Option<(&str, usize)>) -> bool {
    match f {
        Filter::And(a, b) => ref_eval(a, res, within) && ref_eval(b, res, within),
        Filter::Or(a, b) => ref_eval(a, res, within) || ref_eval(b, res, within),
        Filter::Not(a) => !ref_eval(a, res, within),
        Filter::Values(p, inner) => {
            let attr = p.attr.to_lowercase();
            let elements: std::collections::BTreeSet<usize> = leaves(res)
                .iter()
                .filter(|l| l.attr == attr)
                .filter_map(|l| l.element)
                .collect();
            elements
                .into_iter()
                .any(|i| ref_eval(inner, res, Some((&attr, i))))
        }
        Filter::Present(p) | Filter::Compare(p, _, _) => {
            let all = leaves(res);
            let (attr, sub) = match within {
                Some((parent, _)) => (parent.to_owned(), Some(p.attr.to_lowercase())),
                None => (
                    p.attr.to_lowercase(),
                    p.sub.as_ref().map(|s| s.to_lowercase()),
                ),
            };
            let hits: Vec<&Leaf> = all
                .iter()
                .filter(|l| l.attr == attr)
                .filter(|l| match within {
                    Some((_, i)) => l.element == Some(i),
                    None => true,
                })
                .filter(|l| match (&sub, &l.sub) {
                    (Some(s), Some(ls)) => s == ls,
                    (None, None) => true,
                    // A complex multi-valued attribute without a sub-attribute: its values.
                    (None, Some(ls)) => within.is_none() && l.element.is_some() && ls == "value",
                    (Some(_), None) => false,
                })
                .collect();
            let exact = Schema::User.case_exact(&attr, sub.as_deref());
            let nonempty = |v: &Value| !matches!(v, Value::Null) && v != &json!("");
            match f {
                Filter::Present(_) => hits.iter().any(|l| nonempty(&l.value)),
                Filter::Compare(_, Op::Ne, lit) => !hits
                    .iter()
                    .any(|l| ref_compare(&l.value, Op::Eq, lit, exact)),
                Filter::Compare(_, Op::Eq, Value::Null) => !hits.iter().any(|l| nonempty(&l.value)),
                Filter::Compare(_, op, lit) => {
                    hits.iter().any(|l| ref_compare(&l.value, *op, lit, exact))
                }
                _ => false,
            }
        }
    }
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "A", "ab", "Ab", "b", "ba", "x@y", "X@Y", "work", "Work", "home", "",
    ])
    .prop_map(str::to_owned)
}

fn resource() -> impl Strategy<Value = Value> {
    let email = (
        word(),
        prop::option::of(word()),
        prop::option::of(any::<bool>()),
    );
    (
        word(),
        prop::option::of(word()),
        prop::option::of(word()),
        prop::option::of(any::<bool>()),
        prop::collection::vec(email, 0..3),
        prop::option::of((word(), word())),
    )
        .prop_map(|(user, display, external, active, emails, name)| {
            let mut m = Map::new();
            m.insert("userName".into(), user.into());
            if let Some(d) = display {
                m.insert("displayName".into(), d.into());
            }
            if let Some(e) = external {
                m.insert("externalId".into(), e.into());
            }
            if let Some(a) = active {
                m.insert("active".into(), a.into());
            }
            if !emails.is_empty() {
                let list: Vec<Value> = emails
                    .into_iter()
                    .map(|(v, t, p)| {
                        let mut e = Map::new();
                        e.insert("value".into(), v.into());
                        if let Some(t) = t {
                            e.insert("type".into(), t.into());
                        }
                        if let Some(p) = p {
                            e.insert("primary".into(), p.into());
                        }
                        Value::Object(e)
                    })
                    .collect();
                m.insert("emails".into(), Value::Array(list));
            }
            if let Some((g, f)) = name {
                m.insert("name".into(), json!({"givenName": g, "familyName": f}));
            }
            Value::Object(m)
        })
}

fn leaf_filter(inside: bool) -> impl Strategy<Value = Filter> {
    let paths: Vec<&str> = if inside {
        vec!["value", "type", "primary", "display"]
    } else {
        vec![
            "userName",
            "USERNAME",
            "displayName",
            "externalId",
            "active",
            "emails",
            "emails.value",
            "emails.type",
            "name.givenName",
            "name.familyName",
            "nickName",
        ]
    };
    let path = prop::sample::select(paths).prop_map(|p| {
        crate::path::AttrPath::parse(p).unwrap_or_else(|| crate::path::AttrPath::new("x", None))
    });
    let lit = prop_oneof![
        word().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null)
    ];
    prop_oneof![
        path.clone().prop_map(Filter::Present),
        (path, prop::sample::select(Op::ALL.to_vec()), lit)
            .prop_map(|(p, op, v)| Filter::Compare(p, op, v)),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    let inner = leaf_filter(true).prop_recursive(2, 6, 2, |f| {
        prop_oneof![
            (f.clone(), f.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (f.clone(), f.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            f.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    });
    let leaf = prop_oneof![
        3 => leaf_filter(false),
        1 => inner.prop_map(|f| Filter::Values(crate::path::AttrPath::new("emails", None), Box::new(f))),
    ];
    leaf.prop_recursive(3, 16, 2, |f| {
        prop_oneof![
            (f.clone(), f.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (f.clone(), f.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            f.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_evaluator_agrees_with_the_slow_reference(f in filter(), res in resource()) {
        // Only filters the parser accepts are ever evaluated: print and parse again.
        let text = f.to_string();
        if let Ok(parsed) = Filter::parse(&text) {
            prop_assert_eq!(&parsed, &f, "{}", text);
            prop_assert_eq!(parsed.matches(Schema::User, &res), ref_eval(&f, &res, None), "{} on {}", text, res);
        }
    }
}
