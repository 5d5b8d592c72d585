//! Hard-coded secrets (RS012): credential-looking text anywhere the model writes text —
//! descriptions, messages, labels, expressions' literals, SQL, URLs and paths, property
//! defaults, the name given for an integration's secret.
//!
//! What looks like a credential: a private-key block; a token with a known issuer's prefix
//! (AWS `AKIA`/`ASIA`, GitHub `ghp_` and its kin, Stripe `sk_live_`, Slack `xox?-`, GitLab
//! `glpat-`, Google `AIza`, `sk-` API keys, JSON Web Tokens); a long token of random-looking
//! characters (Shannon entropy of at least 4 bits a character over 24 or more, or 3 over 32
//! or more hexadecimal digits; UUIDs and digests are not); `password=…`-style assignments
//! of a value with letters and digits; and a property whose name says credential with a
//! text default. A finding never repeats the secret: it names its kind.

use super::rules::SECRET;
use super::{Finding, Loc};
use crate::expr::{Expr, Term};
use crate::format::{Module, PropertyType, Step};

pub(super) fn check(m: &Module, out: &mut Vec<Finding>) {
    let root = Loc::root(m);
    let mut texts: Vec<(Loc, &str)> = Vec::new();
    texts.push((root.field("description"), &m.description));
    for (i, r) in m.roles.iter().enumerate() {
        texts.push((
            root.named("roles", i, &r.name).field("description"),
            &r.description,
        ));
    }
    for (i, e) in m.entities.iter().enumerate() {
        let el = root.named("entities", i, &e.name);
        texts.push((el.field("description"), &e.description));
        for (k, a) in e.attributes.iter().enumerate() {
            let al = el.named("attributes", k, &a.name);
            texts.push((al.field("description"), &a.description));
        }
    }
    for (i, q) in m.queries.iter().enumerate() {
        let ql = root.named("queries", i, &q.name);
        texts.push((ql.field("description"), &q.description));
        if let Some(sql) = &q.sql {
            texts.push((ql.field("sql"), sql));
        }
        for c in &q.filter {
            if let Some(serde_json::Value::String(v)) = &c.value {
                texts.push((ql.field("filter"), v));
            }
        }
        params(&ql, &q.parameters, &mut texts);
    }
    let mut exprs: Vec<(Loc, &str)> = Vec::new();
    for (i, s) in m.screens.iter().enumerate() {
        let sl = root.named("screens", i, &s.name);
        texts.push((sl.field("description"), &s.description));
        params(&sl, &s.parameters, &mut texts);
        if let Some(d) = &s.on_denied {
            if let Some(msg) = &d.message {
                texts.push((sl.key("on_denied.message"), msg));
            }
            if let Some(r) = &d.redirect {
                exprs.push((sl.key("on_denied.redirect"), r));
            }
        }
        for (j, w) in s.widgets.iter().enumerate() {
            let wl = sl.item("widgets", j);
            if let Some(l) = &w.label {
                texts.push((wl.field("label"), l));
            }
            for (field, e) in [("value", &w.value), ("target", &w.target)] {
                if let Some(e) = e {
                    exprs.push((wl.field(field), e));
                }
            }
            for (k, c) in w.columns.iter().enumerate() {
                exprs.push((wl.field("columns").field(&k.to_string()), c));
            }
        }
    }
    for (i, a) in m.actions.iter().enumerate() {
        let al = root.named("actions", i, &a.name);
        texts.push((al.field("description"), &a.description));
        params(&al, &a.parameters, &mut texts);
        if let Some(x) = &a.expose {
            texts.push((al.field("expose").field("path"), &x.path));
        }
        for (j, step) in a.steps.iter().enumerate() {
            let sl = al.item("steps", j);
            let (kind, map) = match step {
                Step::Query(q) => ("query", &q.args),
                Step::Create(w) => ("create", &w.values),
                Step::Update(w) => ("update", &w.values),
                Step::Call(c) => ("call", &c.args),
                Step::Run(r) => ("run", &r.args),
                Step::Assign(vars) => {
                    for (name, e) in vars {
                        exprs.push((sl.item("assign", name), e));
                    }
                    continue;
                }
                Step::Redirect(r) => {
                    exprs.push((sl.field("redirect").field("target"), &r.target));
                    continue;
                }
                Step::Delete(d) => {
                    exprs.push((sl.field("delete").field("id"), &d.id));
                    continue;
                }
            };
            let list = if matches!(step, Step::Create(_) | Step::Update(_)) {
                "values"
            } else {
                "args"
            };
            for (name, e) in map {
                exprs.push((sl.field(kind).item(list, name), e));
            }
        }
    }
    for (i, integration) in m.integrations.iter().enumerate() {
        let il = root.named("integrations", i, &integration.name);
        texts.push((il.field("description"), &integration.description));
        texts.push((il.field("base_url"), &integration.base_url));
        for (k, x) in integration.methods.iter().enumerate() {
            let ml = il.named("methods", k, &x.name);
            texts.push((ml.field("path"), &x.path));
            texts.push((ml.field("description"), &x.description));
        }
        if let Some(c) = &integration.credentials {
            texts.push((il.field("credentials").field("secret"), &c.secret));
            if let Some(h) = &c.header {
                texts.push((il.field("credentials").field("header"), h));
            }
        }
    }
    for (i, p) in m.properties.iter().enumerate() {
        let pl = root.named("properties", i, &p.name);
        texts.push((pl.field("description"), &p.description));
        if let Some(serde_json::Value::String(d)) = &p.default {
            if p.ty == PropertyType::Text && credential_name(&p.name) && !d.trim().is_empty() {
                out.push(pl.field("default").finding(
                    SECRET,
                    format!(
                        "property `{}` is named for a credential and has a default: the value \
                         is in every copy of the module",
                        p.name
                    ),
                ));
                continue;
            }
            texts.push((pl.field("default"), d));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut report = |loc: &Loc, text: &str| {
        if let Some(kind) = secret_kind(text) {
            if seen.insert(loc.path.clone()) {
                out.push(loc.finding(SECRET, format!("{kind} is written into the model")));
            }
        }
    };
    for (loc, text) in &texts {
        report(loc, text);
    }
    for (loc, text) in &exprs {
        // An expression's literals are its text; a path is not a secret.
        if let Ok(e) = Expr::parse(text) {
            let mut literals = Vec::new();
            collect_literals(&e, &mut literals);
            for l in literals {
                report(loc, l);
            }
        }
    }
}

fn params<'m>(loc: &Loc, list: &'m [crate::format::Parameter], texts: &mut Vec<(Loc, &'m str)>) {
    for (k, p) in list.iter().enumerate() {
        let pl = loc.named("parameters", k, &p.name);
        texts.push((pl.field("description"), &p.description));
    }
}

fn collect_literals<'e>(e: &'e Expr, out: &mut Vec<&'e str>) {
    for t in &e.0 {
        match t {
            Term::Text(s) => out.push(s),
            Term::Call(_, args) => args.iter().for_each(|a| collect_literals(a, out)),
            _ => {}
        }
    }
}

/// Whether a name says it holds a credential (`api_key`, `ClientSecret`, `password`…).
pub(super) fn credential_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(['-', '_'], "");
    matches!(n.as_str(), "pwd" | "auth" | "sig" | "key")
        || [
            "token",
            "secret",
            "password",
            "passwd",
            "apikey",
            "accesskey",
            "privatekey",
            "credential",
            "signature",
        ]
        .iter()
        .any(|w| n.contains(w))
}

/// What kind of credential `text` holds, if it holds one.
pub(super) fn secret_kind(text: &str) -> Option<&'static str> {
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY") {
        return Some("a private key block");
    }
    let token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '=' | '.');
    for token in text.split(|c: char| !token_char(c)) {
        let token = token.trim_matches(|c: char| c == '.' || c == '=');
        if let Some(kind) = known_prefix(token) {
            return Some(kind);
        }
        for piece in token.split('.') {
            if random_looking(piece) {
                return Some("a random-looking token (a key or password)");
            }
        }
    }
    assignment(text)
}

fn known_prefix(t: &str) -> Option<&'static str> {
    let alnum_after = |p: &str, min: usize| {
        t.strip_prefix(p).is_some_and(|rest| {
            rest.len() >= min
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
    };
    if (t.starts_with("AKIA") || t.starts_with("ASIA"))
        && t.len() == 20
        && t.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Some("an AWS access key id");
    }
    if ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]
        .iter()
        .any(|p| alnum_after(p, 30))
        || alnum_after("github_pat_", 30)
    {
        return Some("a GitHub token");
    }
    if ["sk_live_", "rk_live_", "sk_test_", "rk_test_"]
        .iter()
        .any(|p| alnum_after(p, 16))
    {
        return Some("a Stripe key");
    }
    if ["xoxb-", "xoxp-", "xoxa-", "xoxs-", "xoxr-"]
        .iter()
        .any(|p| alnum_after(p, 10))
    {
        return Some("a Slack token");
    }
    if alnum_after("glpat-", 20) {
        return Some("a GitLab token");
    }
    if alnum_after("AIza", 35) {
        return Some("a Google API key");
    }
    if alnum_after("sk-", 32) {
        return Some("an API key (`sk-…`)");
    }
    let jwt: Vec<&str> = t.split('.').collect();
    if t.starts_with("eyJ") && jwt.len() == 3 && jwt.iter().all(|p| p.len() >= 10) {
        return Some("a JSON Web Token");
    }
    None
}

/// A long token of random-looking characters: not a word, a UUID or a name.
fn random_looking(t: &str) -> bool {
    let len = t.chars().count();
    if len < 24 {
        return false;
    }
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let letters = t.chars().filter(char::is_ascii_alphabetic).count();
    if digits < 2 || letters < 2 {
        return false;
    }
    let hex = t.chars().all(|c| c.is_ascii_hexdigit());
    let uuid = t.len() == 36
        && t.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        });
    if uuid {
        return false;
    }
    let e = entropy(t);
    if hex {
        len >= 32 && e >= 3.0
    } else {
        e >= 4.0
    }
}

/// Shannon entropy of `t`'s characters, in bits per character.
fn entropy(t: &str) -> f64 {
    let mut counts = std::collections::BTreeMap::new();
    let mut n = 0u32;
    for c in t.chars() {
        *counts.entry(c).or_insert(0u32) += 1;
        n += 1;
    }
    let n = f64::from(n);
    counts
        .values()
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// `password = Hunter2024!`, `api_key: "…"` and the like: a credential word, `=` or `:`, and
/// a value of eight or more characters with letters and digits.
fn assignment(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    for word in [
        "password", "passwd", "pwd", "secret", "api_key", "apikey", "token",
    ] {
        let mut from = 0;
        while let Some(i) = lower.get(from..).and_then(|s| s.find(word)) {
            let after = lower.get(from + i + word.len()..).unwrap_or("");
            from += i + word.len();
            let rest = after.trim_start();
            let Some(rest) = rest.strip_prefix(['=', ':']) else {
                continue;
            };
            // The value as written (the original case), without quotes.
            let start = text.len() - rest.len();
            let value: String = text
                .get(start..)
                .unwrap_or("")
                .trim_start()
                .trim_start_matches(['\'', '"'])
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '\'' | '"' | ',' | ';'))
                .collect();
            let has_digit = value.chars().any(|c| c.is_ascii_digit());
            let has_letter = value.chars().any(|c| c.is_ascii_alphabetic());
            if value.chars().count() >= 8 && has_digit && has_letter && !value.contains('.') {
                return Some("a password or key assigned in text");
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_told_from_ordinary_text() {
        let secrets = [
            "AKIAIOSFODNN7EXAMPLE",
            "token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "xoxb-123456789012-abcdefghijkl",
            "glpat-abcdefghij0123456789",
            "AIzaSyA1234567890abcdefghijklmnopqrstu",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE…",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "Use Xk9fQ2mZp7LwR4tYb8NcV3hJ6sD1gA5e to sign in",
            "4f3c2a1b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
            "password=Hunter2024x",
            "SELECT 1 WHERE code = 'x' -- api_key: 'k3yV4lu3S3cr3t'",
        ];
        for s in secrets {
            assert!(secret_kind(s).is_some(), "{s}");
        }
        let ordinary = [
            "Sales above this amount need a director's approval.",
            "https://invoicing.example.com/api/v2",
            "0190a000-0000-7000-8000-000000000001",
            "DiscountApprovalThreshold",
            "token: the session token",
            "password: params.password",
            "SELECT c.id, c.name, sum(s.amount) AS revenue FROM customer c",
            "sales-support@example.com",
            "/invoices/{id}",
            "invoicing-api-token",
            "ThisIsAVeryLongIdentifierWithoutDigits",
        ];
        for s in ordinary {
            assert_eq!(secret_kind(s), None, "{s}");
        }
    }
}
