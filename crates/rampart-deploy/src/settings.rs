//! The settings a deployment plan gives one environment: site property values, integration
//! endpoints and secret references, each keyed `module.Name`.
//!
//! Every setting must name a property or an integration of a module in the plan and have
//! its shape: a value of the property's type (text at most 10,000 bytes), an http(s) URL
//! with a host and no credentials, a secret reference (`env:`, `file:`, `vault:`) for an
//! integration that declares credentials; a refused secret is never echoed. A site property
//! without a default needs a value, from the plan or from the settings in force.

use std::collections::BTreeMap;

use rampart_core::Error;
use rampart_model::format::PropertyType;
use rampart_model::validate::{is_secret_reference, is_service_url};
use rampart_model::Module;
use serde_json::Value;

/// Checks that every setting names a property or integration of a module of `models` and
/// has the right shape.
pub fn check(
    properties: &BTreeMap<String, Value>,
    endpoints: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
    models: &BTreeMap<String, Module>,
) -> Result<(), Error> {
    let split = |field: &str, key: &str| -> Result<(String, &Module), Error> {
        let (module, name) = key.split_once('.').ok_or_else(|| {
            Error::invalid(
                format!("settings.{field}"),
                format!("`{key}` is not `module.Name`"),
            )
        })?;
        let m = models.get(module).ok_or_else(|| {
            Error::invalid(
                format!("settings.{field}"),
                format!("`{key}`: module `{module}` is not in the plan's applications"),
            )
        })?;
        Ok((name.to_owned(), m))
    };
    for (key, value) in properties {
        let (name, m) = split("properties", key)?;
        let p = m
            .properties
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                Error::invalid(
                    "settings.properties",
                    format!(
                        "`{key}`: module `{}` declares no site property `{name}`",
                        m.module
                    ),
                )
            })?;
        if !p.ty.admits(value) {
            return Err(Error::invalid(
                "settings.properties",
                format!("`{key}` is {}, not {value}", p.ty.as_str()),
            ));
        }
        if p.ty == PropertyType::Text && value.as_str().is_some_and(|t| t.len() > 10_000) {
            return Err(Error::invalid(
                "settings.properties",
                format!("`{key}` is longer than 10,000 bytes"),
            ));
        }
    }
    for (key, url) in endpoints {
        let (name, m) = split("endpoints", key)?;
        if !m.integrations.iter().any(|g| g.name == name) {
            return Err(Error::invalid(
                "settings.endpoints",
                format!(
                    "`{key}`: module `{}` declares no integration `{name}`",
                    m.module
                ),
            ));
        }
        if !is_service_url(url) {
            return Err(Error::invalid(
                "settings.endpoints",
                format!(
                    "`{key}` is not an http(s) URL with a host (credentials never go in the URL)"
                ),
            ));
        }
    }
    for (key, reference) in secrets {
        let (name, m) = split("secrets", key)?;
        let g = m
            .integrations
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(|| {
                Error::invalid(
                    "settings.secrets",
                    format!(
                        "`{key}`: module `{}` declares no integration `{name}`",
                        m.module
                    ),
                )
            })?;
        if g.credentials.is_none() {
            return Err(Error::invalid(
                "settings.secrets",
                format!("`{key}`: integration `{name}` declares no credentials"),
            ));
        }
        // Never echo the value: someone may have pasted the secret itself.
        if !is_secret_reference(reference) {
            return Err(Error::invalid(
                "settings.secrets",
                format!(
                    "`{key}` must be a reference to a secret (`env:NAME`, `file:/path` or \
                     `vault:path`), never the secret itself"
                ),
            ));
        }
    }
    Ok(())
}

/// The site properties without a default of `models`, as `module.Property`.
pub fn required_properties<'m>(
    models: impl IntoIterator<Item = (&'m String, &'m Module)>,
) -> Vec<String> {
    models
        .into_iter()
        .flat_map(|(module, m)| {
            m.properties
                .iter()
                .filter(|p| p.default.is_none())
                .map(move |p| format!("{module}.{}", p.name))
        })
        .collect()
}

/// Those of `required` (`module.Property`) that neither `given` (a plan's property values)
/// nor the properties set `in_force` (module, property) give.
pub fn unset(
    mut required: Vec<String>,
    given: Option<&BTreeMap<String, Value>>,
    in_force: &[(&str, &str)],
) -> Vec<String> {
    required.retain(|key| {
        let given = given.is_some_and(|g| g.contains_key(key));
        let set = in_force
            .iter()
            .any(|(module, name)| key.split_once('.') == Some((module, name)));
        !given && !set
    });
    required
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with a text property `Title` (default given), an integer property `Limit`
    /// (no default), an integration `Mail` with credentials and one `Feed` without.
    fn models() -> BTreeMap<String, Module> {
        let source = r#"
module: shop
application: sales
kind: library
properties:
  - name: Title
    type: text
    default: "Shop"
  - name: Limit
    type: integer
integrations:
  - name: Mail
    base_url: https://mail.example.com
    methods:
      - name: send
        method: POST
        path: /send
    credentials:
      secret: mail-token
      scheme: bearer
  - name: Feed
    base_url: https://feed.example.com
    methods:
      - name: read
        method: GET
        path: /items
"#;
        let m = rampart_model::parse("shop.yaml", source).unwrap();
        BTreeMap::from([("shop".to_owned(), m)])
    }

    /// `Ok`, or the refused field and the reason.
    fn check_one(
        properties: &[(&str, Value)],
        endpoints: &[(&str, &str)],
        secrets: &[(&str, &str)],
    ) -> Result<(), (String, String)> {
        let properties = properties
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let endpoints = endpoints
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let secrets = secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        check(&properties, &endpoints, &secrets, &models()).map_err(|e| match e {
            Error::InvalidInput { field, reason } => (field, reason),
            other => (other.code().to_owned(), other.to_string()),
        })
    }

    #[test]
    fn every_setting_names_something_of_the_plan_and_has_its_shape() {
        let text = |s: &str| Value::String(s.to_owned());
        // (properties, endpoints, secrets, refused field and words of the reason, or None)
        type Case<'a> = (
            Vec<(&'a str, Value)>,
            Vec<(&'a str, &'a str)>,
            Vec<(&'a str, &'a str)>,
            Option<(&'a str, &'a str)>,
        );
        let table: Vec<Case> = vec![
            (vec![], vec![], vec![], None),
            (
                vec![("shop.Title", text("Boutique")), ("shop.Limit", 5.into())],
                vec![],
                vec![],
                None,
            ),
            (
                vec![("Title", text("x"))],
                vec![],
                vec![],
                Some(("settings.properties", "is not `module.Name`")),
            ),
            (
                vec![("other.Title", text("x"))],
                vec![],
                vec![],
                Some(("settings.properties", "not in the plan's applications")),
            ),
            (
                vec![("shop.Colour", text("x"))],
                vec![],
                vec![],
                Some(("settings.properties", "declares no site property `Colour`")),
            ),
            (
                vec![("shop.Limit", text("many"))],
                vec![],
                vec![],
                Some(("settings.properties", "is integer, not \"many\"")),
            ),
            (
                vec![("shop.Title", text(&"x".repeat(10_001)))],
                vec![],
                vec![],
                Some(("settings.properties", "longer than 10,000 bytes")),
            ),
            (
                vec![],
                vec![("shop.Mail", "https://mail.internal.example")],
                vec![],
                None,
            ),
            (
                vec![],
                vec![("shop.Fax", "https://fax.example")],
                vec![],
                Some(("settings.endpoints", "declares no integration `Fax`")),
            ),
            (
                vec![],
                vec![("shop.Mail", "ftp://mail.example")],
                vec![],
                Some(("settings.endpoints", "not an http(s) URL")),
            ),
            (
                vec![],
                vec![("shop.Mail", "https://user:pw@mail.example")],
                vec![],
                Some(("settings.endpoints", "not an http(s) URL")),
            ),
            (vec![], vec![], vec![("shop.Mail", "env:MAIL_TOKEN")], None),
            (
                vec![],
                vec![],
                vec![("shop.Feed", "env:FEED_TOKEN")],
                Some(("settings.secrets", "declares no credentials")),
            ),
            (
                vec![],
                vec![],
                vec![("shop.Mail", "hunter2")],
                Some(("settings.secrets", "never the secret itself")),
            ),
        ];
        for (properties, endpoints, secrets, refused) in table {
            let got = check_one(&properties, &endpoints, &secrets);
            match (refused, got) {
                (None, Ok(())) => {}
                (Some((field, words)), Err((f, reason))) => {
                    assert_eq!(f, field, "{reason}");
                    assert!(reason.contains(words), "{reason} lacks {words}");
                    assert!(
                        !reason.contains("hunter2"),
                        "a refused secret is echoed: {reason}"
                    );
                }
                (expected, got) => panic!(
                    "{properties:?} {endpoints:?} {secrets:?}: expected {expected:?}, got {got:?}"
                ),
            }
        }
    }

    #[test]
    fn a_property_without_a_default_needs_a_value_from_the_plan_or_in_force() {
        let required = required_properties(&models());
        assert_eq!(required, ["shop.Limit"]);
        let given = BTreeMap::from([("shop.Limit".to_owned(), Value::from(5))]);
        // (given by the plan, set in force, still unset)
        type Case<'a> = (
            Option<&'a BTreeMap<String, Value>>,
            &'a [(&'a str, &'a str)],
            &'a [&'a str],
        );
        let table: &[Case] = &[
            (None, &[], &["shop.Limit"]),
            (Some(&given), &[], &[]),
            (None, &[("shop", "Limit")], &[]),
            (
                None,
                &[("shop", "Title"), ("other", "Limit")],
                &["shop.Limit"],
            ),
        ];
        for (given, in_force, left) in table {
            assert_eq!(
                unset(required.clone(), *given, in_force),
                *left,
                "{given:?} {in_force:?}"
            );
        }
    }
}
