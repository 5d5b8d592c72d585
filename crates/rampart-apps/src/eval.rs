//! Expressions evaluated over what a request provides: `params`, `user`, `record` and the
//! variables an action's steps set (see `rampart_model::expr` for the syntax).

use rampart_model::expr::{Expr, Term};
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
    }
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
}
