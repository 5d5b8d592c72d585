//! The lookup a filter allows, against evaluating the filter on every resource: whatever a
//! filter matches, the column it names holds the value it gives.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::filter::{Filter, Op};
use crate::lookup::{lookup, Key, Lookup};
use crate::path::AttrPath;
use crate::schema::Schema;

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "A", "ab", "AB", "\u{212A}", "k", "K", "é", "É", "",
    ])
    .prop_map(str::to_owned)
}

/// A user or group as the service renders it, with the columns' sources (ids lower-case,
/// as the store makes them).
fn resource() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["0a", "0b", "ab"]),
        word(),
        word(),
        word(),
    )
        .prop_map(|(id, user, display, external)| {
            json!({
                "id": id,
                "userName": user,
                "displayName": display,
                "externalId": external,
                "emails": [{"value": user}],
            })
        })
}

fn filter() -> impl Strategy<Value = Filter> {
    let path = prop::sample::select(vec![
        "id",
        "ID",
        "userName",
        "USERNAME",
        "displayName",
        "externalId",
        "emails.value",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
    ])
    .prop_map(|p| AttrPath::parse(p).unwrap());
    let lit = prop_oneof![
        4 => word().prop_map(Value::from),
        1 => prop::sample::select(vec!["0a", "0A", "0b"]).prop_map(Value::from),
        1 => Just(Value::Null),
    ];
    let leaf = (
        path,
        prop::sample::select(vec![Op::Eq, Op::Ne, Op::Co]),
        lit,
    )
        .prop_map(|(p, op, v)| Filter::Compare(p, op, v));
    leaf.prop_recursive(3, 12, 2, |f| {
        prop_oneof![
            (f.clone(), f.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (f.clone(), f.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            f.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
}

/// What the store's column holds for `resource`.
fn column(resource: &Value, key: Key) -> String {
    let text = |k: &str| resource[k].as_str().unwrap_or_default().to_owned();
    match key {
        Key::Id => text("id"),
        Key::UserName => text("userName").to_lowercase(),
        Key::DisplayName => text("displayName").to_lowercase(),
        Key::ExternalId => text("externalId"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn every_resource_a_filter_matches_is_among_those_its_lookup_reads(
        f in filter(),
        schema in prop::sample::select(Schema::ALL.to_vec()),
        resources in prop::collection::vec(resource(), 1..6),
    ) {
        if let Some(Lookup { key, value }) = lookup(&f, schema) {
            for r in resources.iter().filter(|r| f.matches(schema, r)) {
                prop_assert_eq!(column(r, key), value.clone(), "{} on {}", f, r);
            }
        }
    }
}

#[test]
fn the_filters_clients_send_are_looked_up() {
    let parse = |text: &str| Filter::parse(text).unwrap();
    for (schema, text, expected) in [
        (
            Schema::User,
            r#"userName eq "BJensen""#,
            Some((Key::UserName, "bjensen")),
        ),
        (
            Schema::User,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "A""#,
            Some((Key::UserName, "a")),
        ),
        (
            Schema::User,
            r#"active eq true and userName eq "ada""#,
            Some((Key::UserName, "ada")),
        ),
        (Schema::User, r#"id eq "0a""#, Some((Key::Id, "0a"))),
        (
            Schema::User,
            r#"externalId eq "Bj-1""#,
            Some((Key::ExternalId, "Bj-1")),
        ),
        (
            Schema::Group,
            r#"displayName eq "Sales""#,
            Some((Key::DisplayName, "sales")),
        ),
        (
            Schema::Group,
            r#"externalId eq "G-1""#,
            Some((Key::ExternalId, "G-1")),
        ),
        // No column answers these: every resource is read.
        (Schema::User, r#"userName eq "a" or userName eq "b""#, None),
        (Schema::User, r#"not (userName eq "a")"#, None),
        (Schema::User, r#"userName co "a""#, None),
        (Schema::User, r#"userName eq null"#, None),
        (Schema::User, r#"displayName eq "Ada""#, None),
        (Schema::User, r#"emails[value eq "a"]"#, None),
        (Schema::User, r#"name.givenName eq "a""#, None),
        (
            Schema::User,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1""#,
            None,
        ),
    ] {
        let expected = expected.map(|(key, value)| Lookup {
            key,
            value: value.to_owned(),
        });
        assert_eq!(lookup(&parse(text), schema), expected, "{text}");
    }
}
