//! What a signed SAML response must say for Rampart to sign its subject in, the user it
//! names, and the return addresses a sign-in may go back to. Pure functions: the caller
//! passes the time, the expectations and the verified (signed-only) response.
//!
//! The rules, in the order they are checked (the first broken one is the refusal):
//! 1. The status is `Success`.
//! 2. The response goes to Rampart: a signed `Response` names our ACS as `Destination`; the
//!    unsigned envelope of a response whose assertion alone is signed may omit it, but may
//!    not name another.
//! 3. The signed `Response`'s `Issuer` (when there) and the assertion's `Issuer` are the
//!    identity provider's entity id.
//! 4. The assertion's `Conditions` hold at `now` within the allowed skew: `NotBefore ≤ now +
//!    skew` and `now − skew < NotOnOrAfter`; and every `AudienceRestriction` (at least one)
//!    names our entity id.
//! 5. A bearer `SubjectConfirmation` confirms it for us: `Recipient` is our ACS,
//!    `NotOnOrAfter` is given and not past (with the skew), `NotBefore` (if any) not ahead,
//!    and `InResponseTo` is given (no unsolicited responses). A signed `Response`'s
//!    `InResponseTo`, and the envelope's if it has one, must be the same.
//! 6. The assertion has an ID (remembered against replay until its confirmation's
//!    `NotOnOrAfter` plus the skew) and a subject that names the user.
//!
//! Whether `InResponseTo` names a request Rampart issued and has not consumed, and whether
//! the assertion was seen before, is the caller's to check with its store.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::response::Verified;
use super::settings::NAME_ID;
use super::Refusal;

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the response must match.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The identity provider's entity id.
    pub idp_entity_id: &'a str,
    /// Our entity id (the audience).
    pub sp_entity_id: &'a str,
    /// Our assertion consumer service (the destination and recipient).
    pub acs_url: &'a str,
    /// The allowed clock skew, in seconds.
    pub skew_seconds: u32,
    /// Now.
    pub now: time::OffsetDateTime,
}

/// The expectations in the object model's time type.
struct When {
    skew: TimeDelta,
    now: DateTime<Utc>,
}

/// A response accepted by the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The request it answers.
    pub in_response_to: String,
    /// The assertion's ID.
    pub assertion_id: String,
    /// Until when the assertion must be remembered (its confirmation's end plus the skew).
    pub remember_until: time::OffsetDateTime,
    /// The subject's `NameID`.
    pub name_id: String,
    /// The attributes, by name, with their values in order.
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl Accepted {
    /// The first value of attribute `name` (or the NameID for [`NAME_ID`]).
    pub fn value(&self, name: &str) -> Option<&str> {
        if name == NAME_ID {
            return Some(self.name_id.as_str());
        }
        self.attributes
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of attribute `name`.
    pub fn values(&self, name: &str) -> &[String] {
        self.attributes.get(name).map_or(&[], Vec::as_slice)
    }
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Applies the rules above to a verified response.
pub fn check(v: &Verified, e: &Expected<'_>) -> Result<Accepted, Refusal> {
    let w = When {
        skew: TimeDelta::seconds(e.skew_seconds.into()),
        now: super::chrono_time(e.now),
    };
    let status = match &v.response {
        Some(r) => r.status.as_ref().and_then(|s| s.status_code.value.clone()),
        None => v.outline.status.clone(),
    };
    if status.as_deref() != Some(SUCCESS) {
        return Err(Refusal::new(
            "status-not-success",
            format!(
                "the identity provider answered {}",
                status.as_deref().unwrap_or("no status")
            ),
        ));
    }
    let destination = match &v.response {
        Some(r) => Some(r.destination.as_deref().unwrap_or("")),
        None => v.outline.destination.as_deref(),
    };
    if destination.is_some_and(|d| d != e.acs_url) {
        return Err(Refusal::new(
            "wrong-destination",
            "the response's Destination is not this assertion consumer service",
        ));
    }
    let a = &v.assertion;
    let response_issuer = v
        .response
        .as_ref()
        .and_then(|r| r.issuer.as_ref())
        .and_then(|i| i.value.as_deref());
    if response_issuer.is_some_and(|i| i != e.idp_entity_id)
        || a.issuer.value.as_deref() != Some(e.idp_entity_id)
    {
        return Err(Refusal::new(
            "wrong-issuer",
            "the response's Issuer is not the identity provider's entity id",
        ));
    }
    let conditions = a.conditions.as_ref().ok_or_else(|| {
        Refusal::new(
            "wrong-audience",
            "the assertion has no Conditions restricting its audience",
        )
    })?;
    if let Some(nb) = conditions.not_before {
        if nb > w.now + w.skew {
            return Err(Refusal::new(
                "not-yet-valid",
                format!("the assertion is valid from {} only", at(nb)),
            ));
        }
    }
    if let Some(nooa) = conditions.not_on_or_after {
        if nooa <= w.now - w.skew {
            return Err(Refusal::new(
                "expired",
                format!("the assertion expired at {}", at(nooa)),
            ));
        }
    }
    let restrictions = conditions.audience_restrictions.as_deref().unwrap_or(&[]);
    if restrictions.is_empty()
        || !restrictions
            .iter()
            .all(|r| r.audience.iter().any(|x| x == e.sp_entity_id))
    {
        return Err(Refusal::new(
            "wrong-audience",
            "the assertion is not for this service provider (Audience)",
        ));
    }
    let confirmation = bearer_confirmation(v, e, &w)?;
    if a.id.trim().is_empty() {
        return Err(Refusal::new("malformed", "the assertion has no ID"));
    }
    let name_id = a
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| n.value.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Refusal::new("no-subject", "the assertion names no subject (NameID)"))?;
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in a.attribute_statements.iter().flatten() {
        for attr in &statement.attributes {
            let Some(name) = attr.name.clone() else {
                continue;
            };
            let values = attributes.entry(name).or_default();
            values.extend(attr.values.iter().filter_map(|v| v.value.clone()));
        }
    }
    let until = conditions
        .not_on_or_after
        .map_or(confirmation.1, |c| c.min(confirmation.1));
    let remember_until = time::OffsetDateTime::from_unix_timestamp((until + w.skew).timestamp())
        .map_err(|_| Refusal::new("malformed", "the assertion's times are out of range"))?;
    Ok(Accepted {
        in_response_to: confirmation.0,
        assertion_id: a.id.clone(),
        remember_until,
        name_id,
        attributes,
    })
}

/// The first bearer confirmation that holds: its `InResponseTo` and `NotOnOrAfter`; else the
/// first broken rule of the first bearer confirmation.
fn bearer_confirmation(
    v: &Verified,
    e: &Expected<'_>,
    w: &When,
) -> Result<(String, DateTime<Utc>), Refusal> {
    let confirmations = v
        .assertion
        .subject
        .as_ref()
        .and_then(|s| s.subject_confirmations.as_deref())
        .unwrap_or(&[]);
    let mut first: Option<Refusal> = None;
    for c in confirmations
        .iter()
        .filter(|c| c.method.as_deref() == Some(BEARER))
    {
        match confirm(c, v, e, w) {
            Ok(found) => return Ok(found),
            Err(r) => {
                first.get_or_insert(r);
            }
        }
    }
    Err(first.unwrap_or_else(|| {
        Refusal::new(
            "wrong-recipient",
            "the assertion has no bearer SubjectConfirmation",
        )
    }))
}

/// One bearer confirmation's rules: its `InResponseTo` and `NotOnOrAfter`, or the first
/// rule it breaks.
fn confirm(
    c: &samael::schema::SubjectConfirmation,
    v: &Verified,
    e: &Expected<'_>,
    w: &When,
) -> Result<(String, DateTime<Utc>), Refusal> {
    let data = c.subject_confirmation_data.as_ref().ok_or_else(|| {
        Refusal::new(
            "wrong-recipient",
            "the bearer confirmation has no SubjectConfirmationData",
        )
    })?;
    if data.recipient.as_deref() != Some(e.acs_url) {
        return Err(Refusal::new(
            "wrong-recipient",
            "the assertion's Recipient is not this assertion consumer service",
        ));
    }
    let nooa = data
        .not_on_or_after
        .ok_or_else(|| Refusal::new("expired", "the bearer confirmation has no NotOnOrAfter"))?;
    if nooa <= w.now - w.skew {
        return Err(Refusal::new(
            "expired",
            format!("the assertion's confirmation expired at {}", at(nooa)),
        ));
    }
    if let Some(nb) = data.not_before {
        if nb > w.now + w.skew {
            return Err(Refusal::new(
                "not-yet-valid",
                format!("the assertion's confirmation is valid from {} only", at(nb)),
            ));
        }
    }
    let irt = data.in_response_to.clone().ok_or_else(|| {
        Refusal::new(
            "unsolicited",
            "the response answers no request of ours (no InResponseTo); sign-ins \
             start at Rampart",
        )
    })?;
    let envelope = v
        .response
        .as_ref()
        .map(|r| r.in_response_to.as_deref())
        .unwrap_or(v.outline.in_response_to.as_deref());
    if envelope.is_some_and(|x| x != irt)
        || v.response
            .as_ref()
            .is_some_and(|r| r.in_response_to.is_none())
    {
        return Err(Refusal::new(
            "in-response-to-mismatch",
            "the response and its assertion answer different requests",
        ));
    }
    Ok((irt, nooa))
}

/// The return address a sign-in goes back to: a path on this site (`/…`, not `//…`), at
/// most 1,000 characters, without a backslash, control characters or a scheme; `/` when
/// none is given.
pub fn return_address(raw: Option<&str>) -> Result<String, Refusal> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok("/".to_owned());
    };
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.len() <= 1000
        && !raw.contains('\\')
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Refusal::new(
            "relay-state-not-allowed",
            "the return address must be a path on this site (starting with one /)",
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    use super::super::response::Outline;
    use samael::schema::Assertion;

    const IDP: &str = "https://idp.test/metadata";
    const SP: &str = "https://sp.test/saml";
    const ACS: &str = "https://sp.test/api/v1/providers/idp/saml/acs";

    /// An assertion issued at 12:00:00 (valid 11:59:30 to 12:05:00), changed by `edit`.
    fn assertion(edit: impl Fn(String) -> String) -> Assertion {
        let xml = format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-12-05T12:00:00Z"><saml:Issuer>{IDP}</saml:Issuer><saml:Subject><saml:NameID>alice-id</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="_req" Recipient="{ACS}" NotOnOrAfter="2026-12-05T12:05:00Z"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2026-12-05T11:59:30Z" NotOnOrAfter="2026-12-05T12:05:00Z"><saml:AudienceRestriction><saml:Audience>{SP}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>alice@example.com</saml:AttributeValue></saml:Attribute><saml:Attribute Name="groups"><saml:AttributeValue>admins</saml:AttributeValue><saml:AttributeValue>sales</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#
        );
        edit(xml).parse().unwrap()
    }

    fn judge(a: Assertion, at: &str, skew: u32) -> Result<Accepted, &'static str> {
        let v = Verified {
            response: None,
            assertion: a,
            outline: Outline {
                status: Some(SUCCESS.into()),
                ..Outline::default()
            },
        };
        let now = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .unwrap();
        check(
            &v,
            &Expected {
                idp_entity_id: IDP,
                sp_entity_id: SP,
                acs_url: ACS,
                skew_seconds: skew,
                now,
            },
        )
        .map_err(|r| r.reason)
    }

    #[test]
    fn a_good_assertion_names_its_user_request_and_attributes() {
        let a = judge(assertion(|x| x), "2026-12-05T12:00:10Z", 60).unwrap();
        assert_eq!(a.in_response_to, "_req");
        assert_eq!(a.assertion_id, "_a1");
        assert_eq!(a.value(NAME_ID), Some("alice-id"));
        assert_eq!(a.value("email"), Some("alice@example.com"));
        assert_eq!(a.values("groups"), ["admins", "sales"]);
        // Remembered until the confirmation's end plus the skew.
        assert_eq!(a.remember_until.unix_timestamp() - 60, {
            let end = time::macros::datetime!(2026-12-05 12:05 UTC);
            end.unix_timestamp()
        });
    }

    /// The time window with the skew: exactly at the margin is the last accepted second.
    #[test]
    fn the_window_holds_within_the_skew_and_not_beyond() {
        for (at, skew, verdict) in [
            ("2026-12-05T11:58:30Z", 60, Ok(())),
            ("2026-12-05T11:58:29Z", 60, Err("not-yet-valid")),
            ("2026-12-05T11:59:29Z", 0, Err("not-yet-valid")),
            ("2026-12-05T12:05:59Z", 60, Ok(())),
            ("2026-12-05T12:06:00Z", 60, Err("expired")),
            ("2026-12-05T12:05:00Z", 0, Err("expired")),
            ("2026-12-05T12:09:59Z", 300, Ok(())),
        ] {
            let got = judge(assertion(|x| x), at, skew).map(|_| ());
            assert_eq!(got, verdict, "{at} ± {skew}");
        }
    }

    /// Each case breaks one rule and is refused for it.
    #[test]
    fn each_broken_rule_is_its_own_refusal() {
        type Edit = fn(String) -> String;
        let cases: &[(Edit, &str)] = &[
            (
                |x| x.replace(IDP, "https://other.test/metadata"),
                "wrong-issuer",
            ),
            (
                |x| x.replace(&format!(">{SP}<"), ">https://other.test/<"),
                "wrong-audience",
            ),
            (
                |x| {
                    x.replace("<saml:AudienceRestriction>", "<saml:AudienceRestriction><saml:Audience>https://other.test/</saml:Audience></saml:AudienceRestriction><saml:AudienceRestriction>")
                },
                "wrong-audience",
            ),
            (
                |x| {
                    x.replace(
                        &format!("Recipient=\"{ACS}\""),
                        "Recipient=\"https://other.test/acs\"",
                    )
                },
                "wrong-recipient",
            ),
            (|x| x.replace(" InResponseTo=\"_req\"", ""), "unsolicited"),
            (
                |x| x.replace("cm:bearer", "cm:holder-of-key"),
                "wrong-recipient",
            ),
            (
                |x| x.replace(" NotOnOrAfter=\"2026-12-05T12:05:00Z\"/>", "/>"),
                "expired",
            ),
            (
                |x| x.replace("<saml:NameID>alice-id</saml:NameID>", ""),
                "no-subject",
            ),
        ];
        for (edit, reason) in cases {
            assert_eq!(
                judge(assertion(edit), "2026-12-05T12:00:10Z", 60).map(|_| ()),
                Err(*reason),
                "{reason}"
            );
        }
    }

    #[test]
    fn the_unsigned_envelope_may_not_contradict_the_signed_assertion() {
        let base = |outline: Outline| Verified {
            response: None,
            assertion: assertion(|x| x),
            outline,
        };
        let now = time::macros::datetime!(2026-12-05 12:00:10 UTC);
        let e = Expected {
            idp_entity_id: IDP,
            sp_entity_id: SP,
            acs_url: ACS,
            skew_seconds: 60,
            now,
        };
        let ok = Outline {
            status: Some(SUCCESS.into()),
            destination: Some(ACS.into()),
            in_response_to: Some("_req".into()),
            ..Outline::default()
        };
        assert!(check(&base(ok.clone()), &e).is_ok());
        for (outline, reason) in [
            (
                Outline {
                    destination: Some("https://other.test/acs".into()),
                    ..ok.clone()
                },
                "wrong-destination",
            ),
            (
                Outline {
                    in_response_to: Some("_other".into()),
                    ..ok.clone()
                },
                "in-response-to-mismatch",
            ),
            (
                Outline {
                    status: Some("urn:oasis:names:tc:SAML:2.0:status:Requester".into()),
                    ..ok.clone()
                },
                "status-not-success",
            ),
        ] {
            assert_eq!(check(&base(outline), &e).unwrap_err().reason, reason);
        }
    }

    #[test]
    fn return_addresses_stay_on_this_site() {
        for (raw, ok) in [
            (None, true),
            (Some(""), true),
            (Some("/console"), true),
            (Some("/apps/prod/crm/?a=b"), true),
            (Some("//evil.example/"), false),
            (Some("https://evil.example/"), false),
            (Some("/\\evil.example"), false),
            (Some("javascript:alert(1)"), false),
            (Some("/a b"), false),
            (Some("/a\nb"), false),
            (Some("console"), false),
        ] {
            assert_eq!(return_address(raw).is_ok(), ok, "{raw:?}");
        }
        assert_eq!(return_address(None).unwrap(), "/");
    }
}
