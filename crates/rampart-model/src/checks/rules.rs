//! The rules: each a stable id (`RS001`…), a name, a severity, the weaknesses it stands
//! for (CWE, OWASP Top 10 2021, ASVS 5.0) and how to fix what it finds.
//!
//! **Severities.** `error` blocks publishing: what no justification makes right (a
//! credential in the model, a read across databases the platform keeps apart, a `GET` that
//! writes). `warning` may be accepted with a written justification by someone with
//! `change` on the module: a secure default the developer overrode on purpose (an `inline`
//! parameter, an `unescaped` widget, `https: false`, an anonymous screen over protected
//! data) or a pattern with honest uses (a public form, a manager assigning records, an
//! internal service over `http`). `note` informs and never blocks.
//! A rule's id, and so a finding's identity, never changes meaning; a retired rule's id
//! is not reused.

use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Blocks publishing.
    Error,
    /// May be accepted with a written justification.
    Warning,
    /// Informs; never blocks.
    Note,
}

impl Severity {
    /// The severity's name, as SARIF's `level` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule of the security checks.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// The stable id, `RS` and three digits.
    pub id: &'static str,
    /// A short kebab-case name.
    pub name: &'static str,
    /// The severity of its findings.
    pub severity: Severity,
    /// One sentence: what it finds.
    pub summary: &'static str,
    /// The CWE it stands for (`CWE-89`).
    pub cwe: &'static str,
    /// The OWASP Top 10 2021 category (`A03:2021`).
    pub owasp: &'static str,
    /// The ASVS 5.0 requirement (`V1.2.4`).
    pub asvs: &'static str,
    /// How to fix a finding, in the model.
    pub help: &'static str,
}

/// SQL injection.
pub const SQL_INJECTION: &Rule = &RULES[0];
/// Cross-site scripting.
pub const XSS: &Rule = &RULES[1];
/// Unvalidated redirect or link target.
pub const REDIRECT: &Rule = &RULES[2];
/// Data isolation.
pub const ISOLATION: &Rule = &RULES[3];
/// Anonymous access to protected data.
pub const ANONYMOUS_DATA: &Rule = &RULES[4];
/// Anonymous writes.
pub const ANONYMOUS_WRITE: &Rule = &RULES[5];
/// Sensitive attributes without an ACL.
pub const SENSITIVE_NO_ACL: &Rule = &RULES[6];
/// An owner taken from parameters.
pub const OWNER_FROM_PARAMS: &Rule = &RULES[7];
/// A screen without HTTPS.
pub const SCREEN_HTTP: &Rule = &RULES[8];
/// An endpoint without HTTPS.
pub const ENDPOINT_HTTP: &Rule = &RULES[9];
/// An integration over `http`.
pub const INTEGRATION_HTTP: &Rule = &RULES[10];
/// A hard-coded secret.
pub const SECRET: &Rule = &RULES[11];
/// Platform users' identities shown to visitors.
pub const SYSTEM_DATA: &Rule = &RULES[12];
/// A `GET` endpoint that writes.
pub const GET_WRITES: &Rule = &RULES[13];
/// A credential in a call's URL.
pub const SECRET_IN_URL: &Rule = &RULES[14];
/// A user-chosen integration path.
pub const INTEGRATION_PATH: &Rule = &RULES[15];

/// Every rule, by id.
pub fn rules() -> &'static [Rule] {
    &RULES
}

/// The rule with id `id`.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

static RULES: [Rule; 16] = [
    Rule {
        id: "RS001",
        name: "sql-injection",
        severity: Severity::Warning,
        summary: "An `inline` parameter of advanced SQL takes text someone else chose.",
        cwe: "CWE-89",
        owasp: "A03:2021",
        asvs: "V1.2.4",
        help: "Bind the value instead (drop `inline: true`). Where it must be written into the \
               statement (a sort order), list the values it may take: `choices: [...]` on the \
               query's parameter, or `one_of(params.x, \"a\", \"b\")` in the argument; for a \
               text value, `encode_sql(params.x)` writes it as one SQL string literal.",
    },
    Rule {
        id: "RS002",
        name: "cross-site-scripting",
        severity: Severity::Warning,
        summary: "An `unescaped` text widget writes text someone else chose as HTML.",
        cwe: "CWE-79",
        owasp: "A03:2021",
        asvs: "V1.2.1",
        help: "Drop `unescaped: true` (values are escaped by default), or escape the part that \
               comes from users: `encode_html(record.notes)`, or allow fixed values only: \
               `one_of(params.x, \"a\", \"b\")`.",
    },
    Rule {
        id: "RS003",
        name: "unvalidated-redirect",
        severity: Severity::Warning,
        summary: "A link, a `redirect` step or `on_denied.redirect` goes where a request says.",
        cwe: "CWE-601",
        owasp: "A01:2021",
        asvs: "V3.7.2",
        help: "Start the target with a constant screen or path (`\"SaleDetail?sale=\" + \
               sale.id`), or keep it on this site: `same_site(params.next)`, or allow fixed \
               targets only: `one_of(params.next, \"Sales\", \"Customers\")`.",
    },
    Rule {
        id: "RS004",
        name: "data-isolation",
        severity: Severity::Error,
        summary: "Advanced SQL reads a table of another database or another module's private \
                  entity.",
        cwe: "CWE-668",
        owasp: "A01:2021",
        asvs: "V8.4.1",
        help: "Read only entities of the query's own database; use another module's data \
               through its public entities, queries or actions, listed under `dependencies`.",
    },
    Rule {
        id: "RS005",
        name: "anonymous-protected-data",
        severity: Severity::Warning,
        summary: "An `anonymous` screen or action reads or writes an entity with an ACL or \
                  sensitive attributes.",
        cwe: "CWE-862",
        owasp: "A01:2021",
        asvs: "V8.2.1",
        help: "Require roles (`roles: [...]` instead of `anonymous: true`); show visitors only \
               entities meant for everyone (no `acl`, no `sensitive` attribute).",
    },
    Rule {
        id: "RS006",
        name: "anonymous-write",
        severity: Severity::Warning,
        summary: "Visitors who are not signed in create, change or delete records.",
        cwe: "CWE-306",
        owasp: "A07:2021",
        asvs: "V8.2.1",
        help: "Require roles; if the form is meant for everyone (a contact form), accept the \
               finding with the reason and keep what it writes to one entity nobody reads \
               unchecked.",
    },
    Rule {
        id: "RS007",
        name: "sensitive-without-acl",
        severity: Severity::Warning,
        summary: "An entity with `sensitive` attributes has no `acl`: everyone allowed onto its \
                  screens sees every record.",
        cwe: "CWE-200",
        owasp: "A01:2021",
        asvs: "V8.2.2",
        help: "Give the entity an `acl` (`owner`, `hierarchy`, `grants`) so each record is \
               read by those it belongs to.",
    },
    Rule {
        id: "RS008",
        name: "owner-from-parameters",
        severity: Severity::Warning,
        summary: "A record's owner is taken from a parameter instead of `user.id`.",
        cwe: "CWE-639",
        owasp: "A01:2021",
        asvs: "V8.2.2",
        help: "Write the ACL's owner attribute as `user.id`; a parameter lets the caller give \
               the record to anyone.",
    },
    Rule {
        id: "RS009",
        name: "screen-without-https",
        severity: Severity::Warning,
        summary: "A screen with `https: false` has a form or a button, or needs a signed-in \
                  user (whose session then travels in the clear).",
        cwe: "CWE-319",
        owasp: "A02:2021",
        asvs: "V12.2.1",
        help: "Remove `https: false` (HTTPS is the default).",
    },
    Rule {
        id: "RS010",
        name: "endpoint-without-https",
        severity: Severity::Warning,
        summary: "An exposed action is served over plain HTTP (`expose.https: false`).",
        cwe: "CWE-319",
        owasp: "A02:2021",
        asvs: "V12.2.1",
        help: "Remove `https: false` from `expose` (HTTPS is the default).",
    },
    Rule {
        id: "RS011",
        name: "integration-over-http",
        severity: Severity::Warning,
        summary: "An integration's `base_url` is `http://` to another machine: requests, \
                  answers and credentials travel in the clear.",
        cwe: "CWE-319",
        owasp: "A02:2021",
        asvs: "V12.3.1",
        help: "Use `https://`; for a service on this machine, `http://localhost` is not \
               flagged. Each environment's plan may also give the endpoint.",
    },
    Rule {
        id: "RS012",
        name: "hard-coded-secret",
        severity: Severity::Error,
        summary: "A credential is written into the model (a key, a token, a password, a \
                  private key).",
        cwe: "CWE-798",
        owasp: "A07:2021",
        asvs: "V13.3.1",
        help: "Remove it, revoke it (it is in every copy of the module), and give the \
               integration `credentials: {secret: NAME}`: administrators set the secret per \
               environment.",
    },
    Rule {
        id: "RS013",
        name: "system-data-exposure",
        severity: Severity::Warning,
        summary: "Visitors who are not signed in see platform users' identities (a reference \
                  to `User`).",
        cwe: "CWE-200",
        owasp: "A01:2021",
        asvs: "V8.2.2",
        help: "Do not show `User` references on anonymous screens or return records that hold \
               them from anonymous actions; require roles instead.",
    },
    Rule {
        id: "RS014",
        name: "get-that-writes",
        severity: Severity::Error,
        summary: "An action exposed with `GET` writes (a link or an image can make a \
                  signed-in user's browser run it).",
        cwe: "CWE-352",
        owasp: "A01:2021",
        asvs: "V3.5.3",
        help: "Expose it with `POST`, `PUT`, `PATCH` or `DELETE`.",
    },
    Rule {
        id: "RS015",
        name: "secret-in-url",
        severity: Severity::Warning,
        summary: "An integration call puts a credential-named argument into the URL (its path \
                  or query string), where logs and proxies keep it.",
        cwe: "CWE-598",
        owasp: "A04:2021",
        asvs: "V14.2.1",
        help: "Send credentials through the integration's `credentials` (a header), or in \
               the body of a `POST`.",
    },
    Rule {
        id: "RS016",
        name: "user-chosen-integration-path",
        severity: Severity::Note,
        summary: "A request's text chooses a segment of an integration call's path: the \
                  runtime encodes it as one segment, but the caller picks which remote \
                  resource is used.",
        cwe: "CWE-918",
        owasp: "A10:2021",
        asvs: "V1.3.6",
        help: "Pass an id the platform checked (a `reference` parameter, or a record read \
               first), or allow fixed values only: `one_of(params.x, \"a\", \"b\")`.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_ordered_and_well_formed() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.id, format!("RS{:03}", i + 1));
            assert!(r.cwe.starts_with("CWE-"), "{}", r.id);
            assert!(r.owasp.ends_with(":2021"), "{}", r.id);
            assert!(r.asvs.starts_with('V'), "{}", r.id);
            assert!(!r.help.is_empty() && !r.summary.is_empty(), "{}", r.id);
            assert_eq!(rule(r.id), Some(r));
        }
        assert_eq!(SQL_INJECTION.id, "RS001");
        assert_eq!(INTEGRATION_PATH.id, "RS016");
    }
}
