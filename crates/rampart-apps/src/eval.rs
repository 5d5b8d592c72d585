//! Expressions evaluated over what a request provides: `params`, `user`, `record` and the
//! variables an action's steps set (see `rampart_model::expr` for the syntax).

use rampart_model::expr::{leaves_site, Expr, Func, Term};
use serde_json::{Map, Value as Json};

/// The values an expression may read, by root name (`params`, `user`, `record`, variables).
pub type Scope = Map<String, Json>;

/// The value of `expr` in `scope`: one term is its value with its type (a missing path is
/// `null`); several are their texts joined.
pub fn eval(expr: &Expr, scope: &Scope) -> Json {
    match expr.0.as_slice() {
        [one] => term(one, scope),
        terms => Json::String(terms.iter().map(|t| text(&term(t, scope))).collect()),
    }
}

/// Parses and evaluates `text` (an expression the model declares; publishing has checked
/// that it parses, so a failure here is reported as the runtime's).
pub fn eval_text(text: &str, scope: &Scope) -> Result<Json, String> {
    Expr::parse(text)
        .map(|e| eval(&e, scope))
        .map_err(|e| format!("`{text}`: {e}"))
}

/// A value as text: strings as they are, `null` as nothing, others as JSON.
pub fn text(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn term(t: &Term, scope: &Scope) -> Json {
    match t {
        Term::Text(s) => Json::String(s.clone()),
        Term::Number(n) => n
            .parse::<i64>()
            .map(Json::from)
            .or_else(|_| n.parse::<f64>().map(Json::from))
            .unwrap_or(Json::Null),
        Term::Bool(b) => Json::Bool(*b),
        Term::Null => Json::Null,
        Term::Path(parts) => {
            let mut at = match parts.first().and_then(|root| scope.get(root)) {
                Some(v) => v,
                None => return Json::Null,
            };
            for field in &parts[1..] {
                at = match at {
                    Json::Object(m) => match m.get(field) {
                        Some(v) => v,
                        None => return Json::Null,
                    },
                    // The first record of a query's result stands for the result.
                    Json::Array(items) => match items.first().and_then(|x| x.get(field)) {
                        Some(v) => v,
                        None => return Json::Null,
                    },
                    _ => return Json::Null,
                };
            }
            at.clone()
        }
        Term::Call(f, args) => call(*f, args, scope),
    }
}

/// A sanitiser's value (the parser has checked the number and kind of arguments).
fn call(f: Func, args: &[Expr], scope: &Scope) -> Json {
    let Some((first, rest)) = args.split_first() else {
        return Json::Null;
    };
    let value = eval(first, scope);
    match f {
        Func::EncodeHtml => Json::String(encode_html(&text(&value))),
        Func::EncodeSql => match value {
            Json::Null => Json::String("NULL".into()),
            v => Json::String(format!("'{}'", text(&v).replace('\'', "''"))),
        },
        Func::OneOf => {
            let given = text(&value);
            let listed = rest
                .iter()
                .any(|choice| text(&eval(choice, scope)) == given);
            if listed && !value.is_null() {
                value
            } else {
                Json::Null
            }
        }
        Func::SameSite => {
            let target = text(&value);
            if value.is_null() || leaves_site(&target) {
                Json::Null
            } else {
                value
            }
        }
    }
}

/// `s` with the five characters that end text or an attribute value in HTML written as
/// character references.
fn encode_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terms_keep_their_type_and_joins_are_text() {
        let scope: Scope = serde_json::from_value(json!({
            "params": {"amount": 12.5, "name": "Ann"},
            "sale": {"id": "s1"},
            "found": [{"name": "first"}, {"name": "second"}],
        }))
        .unwrap();
        let e = |t: &str| eval_text(t, &scope).unwrap();
        assert_eq!(e("params.amount"), json!(12.5));
        assert_eq!(e("params.missing"), Json::Null);
        assert_eq!(e("nobody.x"), Json::Null);
        assert_eq!(
            e(r#""SaleDetail?sale=" + sale.id"#),
            json!("SaleDetail?sale=s1")
        );
        assert_eq!(e(r#""n=" + params.missing + 3"#), json!("n=3"));
        assert_eq!(e("found.name"), json!("first"));
        assert_eq!(e("7"), json!(7));
        assert!(eval_text("a +", &scope).is_err());
    }

    #[test]
    fn sanitisers_apply_at_run_time() {
        let scope: Scope = serde_json::from_value(json!({
            "params": {
                "html": "<script>alert('x')</script> & \"q\"",
                "sql": "x' OR '1'='1",
                "sort": "name",
                "evil": "name; DROP TABLE sale",
                "next": "https://evil.example/",
                "home": "/apps/dev/sales/Sales",
                "screen": "SaleDetail?sale=1",
            },
        }))
        .unwrap();
        let cases = [
            (
                "encode_html(params.html)",
                json!("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"),
            ),
            ("encode_sql(params.sql)", json!("'x'' OR ''1''=''1'")),
            ("encode_sql(params.missing)", json!("NULL")),
            (r#"one_of(params.sort, "name", "amount")"#, json!("name")),
            (r#"one_of(params.evil, "name", "amount")"#, Json::Null),
            (r#"one_of(params.missing, "", "name")"#, Json::Null),
            ("same_site(params.next)", Json::Null),
            ("same_site(params.home)", json!("/apps/dev/sales/Sales")),
            ("same_site(params.screen)", json!("SaleDetail?sale=1")),
            (
                r#""Sales?x=" + encode_html(params.sort)"#,
                json!("Sales?x=name"),
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(eval_text(expr, &scope).unwrap(), want, "{expr}");
        }
    }
}
