//! Expressions: the values, targets and arguments a module writes in its screens and
//! actions.
//!
//! An expression is one or more terms joined with `+`: a string literal (`"text"`, with
//! `\"` and `\\` escapes), a number (`42`, `-1.5`), `true`, `false`, `null`, a path into
//! what the runtime provides: `params.name`, `user.id`, `user.name`, `record.attribute`, or a
//! variable an earlier step set (`sale.id`), or a call of one of the sanitisers ([`Func`]):
//! `encode_html(x)`, `encode_sql(x)`, `one_of(x, "a", "b")`, `same_site(x)`. One term is its
//! value, with its type; several are the texts of their values joined (a missing value
//! joins as nothing).
//!
//! Parsing is here, without I/O, so that publishing can refuse what would fail at run time
//! and the security checks can follow values from sources to sinks; the runtime evaluates.

use std::fmt;

/// One term of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A string literal, unescaped.
    Text(String),
    /// A number literal, as written.
    Number(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A path: a root (`params`, `user`, `record` or a variable) and its fields.
    Path(Vec<String>),
    /// A sanitiser applied to its arguments.
    Call(Func, Vec<Expr>),
}

/// The functions an expression may call: each a sanitiser the security checks recognise
/// (see `docs/module-format.md`, "Security checks"), applied by the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `encode_html(x)`: the text of `x` with `& < > " '` written as HTML character
    /// references, safe to write as HTML (an `unescaped` widget).
    EncodeHtml,
    /// `encode_sql(x)`: the text of `x` as one SQL string literal (`'…'`, each `'` doubled),
    /// or `NULL` for no value: safe to write into an `inline` parameter.
    EncodeSql,
    /// `one_of(x, "a", "b", …)`: `x` when its text is one of the listed constants, else
    /// `null` (an allow-list).
    OneOf,
    /// `same_site(x)`: `x` when it is a screen or a path on this site, else `null` (a link or
    /// redirect target that cannot leave the site).
    SameSite,
}

impl Func {
    /// Every function, in the order the documentation lists them.
    pub const ALL: [Func; 4] = [
        Func::EncodeHtml,
        Func::EncodeSql,
        Func::OneOf,
        Func::SameSite,
    ];

    /// The function's name in expressions.
    pub fn name(self) -> &'static str {
        match self {
            Func::EncodeHtml => "encode_html",
            Func::EncodeSql => "encode_sql",
            Func::OneOf => "one_of",
            Func::SameSite => "same_site",
        }
    }

    fn named(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// How deeply calls may nest: deeper is refused before it can exhaust a stack.
const MAX_DEPTH: usize = 16;

/// A parsed expression: its terms, joined with `+`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr(pub Vec<Term>);

/// Why an expression does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError(pub String);

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Expr {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        // At the top level an expression runs to the end of the text.
        expr(text, 0).map(|(e, _)| e)
    }

    /// The literal text when every term is a literal (what a redirect target written as a
    /// constant resolves to), else `None`.
    pub fn constant_text(&self) -> Option<String> {
        let mut out = String::new();
        for t in &self.0 {
            match t {
                Term::Text(s) | Term::Number(s) => out.push_str(s),
                Term::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                Term::Null => {}
                Term::Path(_) | Term::Call(..) => return None,
            }
        }
        Some(out)
    }

    /// The paths the expression reads (each root first), inside calls too.
    pub fn paths(&self) -> Vec<&[String]> {
        let mut out = Vec::new();
        for t in &self.0 {
            match t {
                Term::Path(p) => out.push(p.as_slice()),
                Term::Call(_, args) => args.iter().for_each(|a| out.extend(a.paths())),
                _ => {}
            }
        }
        out
    }

    /// The leading literal text, up to the first non-literal term: what decides where a
    /// target built as `"Screen?x=" + id` goes.
    pub fn leading_text(&self) -> String {
        let mut out = String::new();
        for t in &self.0 {
            match t {
                Term::Text(s) | Term::Number(s) => out.push_str(s),
                _ => break,
            }
        }
        out
    }
}

/// Whether a target (as text) leaves the site: an absolute URL (`scheme:`), a
/// scheme-relative one (`//host`), or anything with a backslash or a control character,
/// which browsers may read as either.
pub fn leaves_site(target: &str) -> bool {
    let t = target.trim_start();
    if t.starts_with("//") || t.contains('\\') || t.chars().any(char::is_control) {
        return true;
    }
    // A scheme is letters, digits, `+ - .` before the first `:`, and comes before any
    // `/ ? #` (a colon later in a query is not a scheme).
    let head = t.split(['/', '?', '#']).next().unwrap_or("");
    head.contains(':')
}

/// An expression at the start of `text`, up to its end or (inside a call's parentheses) the
/// `,` or `)` after it; what follows it is returned.
fn expr(text: &str, depth: usize) -> Result<(Expr, &str), ExprError> {
    let mut terms = Vec::new();
    let mut rest = text.trim_start();
    loop {
        let (term, after) = term(rest, depth)?;
        terms.push(term);
        rest = after.trim_start();
        match rest.strip_prefix('+') {
            Some(more) => rest = more.trim_start(),
            None if rest.is_empty() || (depth > 0 && rest.starts_with([',', ')'])) => {
                return Ok((Expr(terms), rest))
            }
            None => {
                return Err(ExprError(format!(
                    "expected `+` between terms, found `{}`",
                    rest.chars().take(12).collect::<String>()
                )))
            }
        }
    }
}

/// The arguments of a call of `f`, after its `(`; checked for number and kind.
fn call(f: Func, text: &str, depth: usize) -> Result<(Term, &str), ExprError> {
    if depth >= MAX_DEPTH {
        return Err(ExprError(format!("calls nest more than {MAX_DEPTH} deep")));
    }
    let mut args = Vec::new();
    let mut rest = text;
    loop {
        let (arg, after) = expr(rest, depth + 1)?;
        args.push(arg);
        match after.chars().next() {
            Some(',') => rest = &after[1..],
            Some(')') => {
                rest = &after[1..];
                break;
            }
            _ => return Err(ExprError(format!("`{}(` is not closed with `)`", f.name()))),
        }
    }
    let name = f.name();
    match f {
        Func::EncodeHtml | Func::EncodeSql | Func::SameSite if args.len() != 1 => Err(ExprError(
            format!("`{name}` takes one argument, not {}", args.len()),
        )),
        Func::OneOf if args.len() < 2 => Err(ExprError(
            "`one_of` takes a value and the texts it may be: `one_of(x, \"a\", \"b\")`".into(),
        )),
        Func::OneOf if args[1..].iter().any(|a| a.constant_text().is_none()) => Err(ExprError(
            "`one_of` lists constants after its first argument".into(),
        )),
        _ => Ok((Term::Call(f, args), rest)),
    }
}

fn term(text: &str, depth: usize) -> Result<(Term, &str), ExprError> {
    let mut chars = text.char_indices();
    match chars.next() {
        None => Err(ExprError("an expression is missing a term".into())),
        Some((_, '"')) => {
            let mut out = String::new();
            let mut escaped = false;
            for (i, c) in chars {
                match (escaped, c) {
                    (true, '"' | '\\') => {
                        out.push(c);
                        escaped = false;
                    }
                    (true, other) => {
                        return Err(ExprError(format!(
                            "`\\{other}` is not an escape: only `\\\"` and `\\\\` are"
                        )))
                    }
                    (false, '\\') => escaped = true,
                    (false, '"') => return Ok((Term::Text(out), &text[i + 1..])),
                    (false, c) => out.push(c),
                }
            }
            Err(ExprError("a string literal is not closed with `\"`".into()))
        }
        Some((_, c)) if c.is_ascii_digit() || c == '-' => {
            let end = text
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .unwrap_or(text.len());
            let number = &text[..end];
            let valid = number
                .strip_prefix('-')
                .unwrap_or(number)
                .split('.')
                .enumerate()
                .all(|(i, part)| {
                    i < 2 && !part.is_empty() && part.chars().all(|c| c.is_ascii_digit())
                });
            if !valid {
                return Err(ExprError(format!("`{number}` is not a number")));
            }
            Ok((Term::Number(number.to_owned()), &text[end..]))
        }
        Some((_, c)) if c.is_ascii_alphabetic() || c == '_' => {
            let end = text
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(text.len());
            let word = &text[..end];
            if let Some(args) = text[end..].strip_prefix('(') {
                return match Func::named(word) {
                    Some(f) => call(f, args, depth),
                    None => Err(ExprError(format!(
                        "no function `{word}`: the functions are {}",
                        Func::ALL.map(|f| format!("`{}`", f.name())).join(", ")
                    ))),
                };
            }
            let term = match word {
                "true" => Term::Bool(true),
                "false" => Term::Bool(false),
                "null" => Term::Null,
                _ => {
                    let parts: Vec<String> = word.split('.').map(str::to_owned).collect();
                    if parts
                        .iter()
                        .any(|p| p.is_empty() || p.starts_with(|c: char| c.is_ascii_digit()))
                    {
                        return Err(ExprError(format!("`{word}` is not a path")));
                    }
                    Term::Path(parts)
                }
            };
            Ok((term, &text[end..]))
        }
        Some((_, c)) => Err(ExprError(format!(
            "`{c}` cannot start a term: write a \"string\", a number, or a path like params.name"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_parse_into_their_terms() {
        let deep = "same_site(".repeat(40);
        let cases: &[(&str, Result<Vec<Term>, &str>)] = &[
            (
                "record.amount",
                Ok(vec![Term::Path(vec!["record".into(), "amount".into()])]),
            ),
            (
                r#""SaleDetail?sale=" + sale.id"#,
                Ok(vec![
                    Term::Text("SaleDetail?sale=".into()),
                    Term::Path(vec!["sale".into(), "id".into()]),
                ]),
            ),
            (
                r#""a \"b\" \\ +c""#,
                Ok(vec![Term::Text(r#"a "b" \ +c"#.into())]),
            ),
            (
                "-1.5 + true + null",
                Ok(vec![
                    Term::Number("-1.5".into()),
                    Term::Bool(true),
                    Term::Null,
                ]),
            ),
            ("", Err("missing a term")),
            ("a +", Err("missing a term")),
            ("a b", Err("expected `+`")),
            (r#""open"#, Err("not closed")),
            (r#""\n""#, Err("not an escape")),
            ("1.2.3", Err("not a number")),
            ("a..b", Err("not a path")),
            ("'x'", Err("cannot start a term")),
            (
                r#"encode_html(record.notes)"#,
                Ok(vec![Term::Call(
                    Func::EncodeHtml,
                    vec![Expr(vec![Term::Path(vec![
                        "record".into(),
                        "notes".into(),
                    ])])],
                )]),
            ),
            (
                r#""/x?q=" + one_of(params.sort, "name", "amount" + " desc")"#,
                Ok(vec![
                    Term::Text("/x?q=".into()),
                    Term::Call(
                        Func::OneOf,
                        vec![
                            Expr(vec![Term::Path(vec!["params".into(), "sort".into()])]),
                            Expr(vec![Term::Text("name".into())]),
                            Expr(vec![
                                Term::Text("amount".into()),
                                Term::Text(" desc".into()),
                            ]),
                        ],
                    ),
                ]),
            ),
            (
                "same_site(encode_sql(params.x))",
                Ok(vec![Term::Call(
                    Func::SameSite,
                    vec![Expr(vec![Term::Call(
                        Func::EncodeSql,
                        vec![Expr(vec![Term::Path(vec!["params".into(), "x".into()])])],
                    )])],
                )]),
            ),
            ("eval(params.x)", Err("no function `eval`")),
            ("encode_html(a, b)", Err("takes one argument")),
            ("one_of(a)", Err("takes a value and the texts")),
            ("one_of(a, params.b)", Err("lists constants")),
            ("encode_html(a", Err("not closed")),
            ("encode_html(a))", Err("expected `+`")),
            ("a, b", Err("expected `+`")),
            (deep.as_str(), Err("nest more than 16 deep")),
        ];
        for (text, want) in cases {
            match (Expr::parse(text), want) {
                (Ok(e), Ok(terms)) => assert_eq!(&e.0, terms, "{text}"),
                (Err(e), Err(words)) => assert!(e.0.contains(words), "{text}: {}", e.0),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn off_site_targets_are_recognised() {
        for t in [
            "https://evil.example",
            "//evil.example/x",
            "javascript:alert(1)",
            "/\\evil.example",
            " http://x",
            "jav\tascript:x",
        ] {
            assert!(leaves_site(t), "{t}");
        }
        for t in [
            "Customers",
            "sales-ui.Customers",
            "SaleDetail?sale=1:2",
            "/apps/dev/sales/X",
        ] {
            assert!(!leaves_site(t), "{t}");
        }
    }

    #[test]
    fn constants_and_leading_text() {
        let e = Expr::parse(r#""Sale" + "Detail" + 1"#).unwrap();
        assert_eq!(e.constant_text().as_deref(), Some("SaleDetail1"));
        let e = Expr::parse(r#""https://x/" + params.next"#).unwrap();
        assert_eq!(e.constant_text(), None);
        assert_eq!(e.leading_text(), "https://x/");
    }
}
