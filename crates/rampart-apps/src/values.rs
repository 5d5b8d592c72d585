//! Record values: what a request body may hold for each attribute, in canonical form, and
//! how a value of one type becomes a value of another when a deployment retypes an attribute.
//!
//! Every value has one canonical text (what a sensitive value is sealed as, and what a
//! conversion goes through): integers and decimals in plain decimal notation without
//! redundant zeros, booleans as `true`/`false`, dates as `YYYY-MM-DD`, points in time as
//! RFC 3339 in UTC with milliseconds (`2026-12-04T18:00:00.000Z`, so text order is time
//! order), references as lower-case hyphenated UUIDs.

use std::fmt;

use rampart_model::format::{AttributeType, Parameter};
use serde_json::{Map, Value as Json};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

use crate::schema::{Column, Table};

/// The most significant digits a decimal may have.
pub const MAX_DECIMAL_DIGITS: usize = 38;

/// The longest e-mail address (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;

/// A value as the database holds it (sealed values as bytes) or as a request gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// No value.
    Null,
    /// Text, e-mail, reference, date and datetime, in canonical text.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A decimal in canonical text.
    Decimal(String),
    /// A boolean.
    Boolean(bool),
    /// A sealed envelope.
    Bytes(Vec<u8>),
}

impl Value {
    /// The canonical text of a plain value (`None` for null and sealed bytes).
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Null | Value::Bytes(_) => None,
            Value::Text(t) | Value::Decimal(t) => Some(t.clone()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Boolean(b) => Some(b.to_string()),
        }
    }

    /// The value as JSON (numbers for integers; decimals as strings, so no digit is lost).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null | Value::Bytes(_) => Json::Null,
            Value::Text(t) | Value::Decimal(t) => Json::String(t.clone()),
            Value::Integer(i) => Json::from(*i),
            Value::Boolean(b) => Json::Bool(*b),
        }
    }
}

/// Why a value was refused, naming the attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The attribute (or `id`, or the unknown key).
    pub attribute: String,
    /// Why, in words that never repeat a sensitive value.
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.attribute, self.reason)
    }
}

/// A request's values checked against a table: each live column given, with its value.
pub type Checked<'t> = Vec<(&'t Column, Value)>;

/// Checks the body of a create (`partial = false`: every required attribute present) or of
/// a change (`partial = true`: only what is given changes, and a required attribute cannot
/// become null). Unknown attributes, `id` and retained attributes are refused; every
/// problem is reported, not only the first.
pub fn check_record<'t>(
    table: &'t Table,
    body: &Map<String, Json>,
    partial: bool,
) -> Result<Checked<'t>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (key, json) in body {
        let Some(column) = table.column(key) else {
            let reason = if key == "id" {
                "is assigned by the platform".to_owned()
            } else {
                format!("is not an attribute of `{}`", table.entity)
            };
            errors.push(FieldError {
                attribute: key.clone(),
                reason,
            });
            continue;
        };
        match parse(column, json) {
            Ok(Value::Null) if column.required => errors.push(FieldError {
                attribute: column.attribute.clone(),
                reason: "is required".into(),
            }),
            Ok(value) => out.push((column, value)),
            Err(reason) => errors.push(FieldError {
                attribute: column.attribute.clone(),
                reason,
            }),
        }
    }
    if !partial {
        for column in table.live_columns().filter(|c| c.required) {
            let given = body.contains_key(&column.attribute);
            if !given {
                errors.push(FieldError {
                    attribute: column.attribute.clone(),
                    reason: "is required".into(),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// One attribute's value from JSON, in canonical form (null stays null).
pub fn parse(column: &Column, json: &Json) -> Result<Value, String> {
    let value = match (column.ty, json) {
        (_, Json::Null) => return Ok(Value::Null),
        (AttributeType::Integer, Json::Number(n)) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => return Err("must be a whole number between −2⁶³ and 2⁶³−1".into()),
        },
        (AttributeType::Decimal, Json::Number(n)) => Value::Decimal(decimal(&n.to_string())?),
        (AttributeType::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (_, Json::String(s)) => from_text(column.ty, s)?,
        (ty, _) => return Err(format!("must be {}", expected(ty))),
    };
    if let (Some(max), Value::Text(t)) = (column.max_length, &value) {
        if t.chars().count() > max as usize {
            return Err(format!("is longer than {max} characters"));
        }
    }
    Ok(value)
}

/// A value of `ty` from its text (a request's string, an opened sealed value, or the text
/// of a value being converted).
pub fn from_text(ty: AttributeType, s: &str) -> Result<Value, String> {
    match ty {
        AttributeType::Text => {
            if s.contains('\0') {
                return Err("must not contain NUL characters".into());
            }
            Ok(Value::Text(s.to_owned()))
        }
        AttributeType::Integer => s
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("must be {}", expected(ty))),
        AttributeType::Decimal => decimal(s).map(Value::Decimal),
        AttributeType::Boolean => match s {
            "true" => Ok(Value::Boolean(true)),
            "false" => Ok(Value::Boolean(false)),
            _ => Err(format!("must be {}", expected(ty))),
        },
        AttributeType::Date => Date::parse(s, format_description!("[year]-[month]-[day]"))
            .map(|d| Value::Text(date_text(d)))
            .map_err(|_| format!("must be {}", expected(ty))),
        AttributeType::Datetime => OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Value::Text(datetime_text(t)))
            .map_err(|_| format!("must be {}", expected(ty))),
        AttributeType::Email => email(s).map(Value::Text),
        AttributeType::Reference => reference(s).map(Value::Text),
    }
}

/// A query parameter's value from its text: of its type, and one of its `choices` when it
/// lists some (an allow-list: the security checks read such a parameter as a constant).
pub fn param_from_text(p: &Parameter, s: &str) -> Result<Value, String> {
    let value = from_text(p.ty, s)?;
    if !p.choices.is_empty() && !p.choices.iter().any(|c| c == s) {
        let listed: Vec<String> = p.choices.iter().map(|c| format!("`{c}`")).collect();
        return Err(format!("must be one of {}", listed.join(", ")));
    }
    Ok(value)
}

/// The value `value` (of some type) has as a value of `to`, if it converts: through its
/// canonical text, so `12` becomes the decimal `12` or the text `12`, and `12.5` no integer.
pub fn convert(value: &Value, to: AttributeType) -> Result<Value, String> {
    match value.text() {
        None => Ok(Value::Null),
        Some(text) => from_text(to, &text),
    }
}

fn expected(ty: AttributeType) -> &'static str {
    match ty {
        AttributeType::Text => "text",
        AttributeType::Integer => "a whole number",
        AttributeType::Decimal => "a decimal number (a JSON number or a string like \"12.50\")",
        AttributeType::Boolean => "true or false",
        AttributeType::Date => "a date (YYYY-MM-DD)",
        AttributeType::Datetime => "a point in time (RFC 3339, with an offset)",
        AttributeType::Email => "an e-mail address",
        AttributeType::Reference => "a record id",
    }
}

fn date_text(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// RFC 3339 in UTC with milliseconds: fixed width for years 0000–9999, so text order is
/// time order.
fn datetime_text(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        date_text(t.date()),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A decimal's canonical text: optional `-`, digits, optional `.` and digits; no exponent;
/// at most [`MAX_DECIMAL_DIGITS`] significant digits.
fn decimal(s: &str) -> Result<String, String> {
    let bad = || format!("must be {}", expected(AttributeType::Decimal));
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    if digits.contains('.') && fraction.is_empty() {
        return Err(bad());
    }
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    if whole.len() + fraction.len() > MAX_DECIMAL_DIGITS {
        return Err(format!(
            "has more than {MAX_DECIMAL_DIGITS} significant digits"
        ));
    }
    let whole = if whole.is_empty() { "0" } else { whole };
    let zero = whole == "0" && fraction.is_empty();
    let mut out = String::with_capacity(whole.len() + fraction.len() + 2);
    if negative && !zero {
        out.push('-');
    }
    out.push_str(whole);
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    Ok(out)
}

fn email(s: &str) -> Result<String, String> {
    let bad = || format!("must be {}", expected(AttributeType::Email));
    if s.len() > MAX_EMAIL || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    match s.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(s.to_owned())
        }
        _ => Err(bad()),
    }
}

/// A record or user id: a hyphenated UUID, in lower case.
fn reference(s: &str) -> Result<String, String> {
    let ok = s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!("must be {}", expected(AttributeType::Reference)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Storage;
    use serde_json::json;

    fn column(ty: AttributeType) -> Column {
        Column {
            attribute: "a".into(),
            name: "a".into(),
            ty,
            storage: Storage::of(ty, false),
            reference: None,
            required: false,
            unique: false,
            max_length: None,
            retained: false,
        }
    }

    #[test]
    fn each_type_takes_its_json_and_refuses_the_rest() {
        use AttributeType as T;
        let cases: &[(T, Json, Result<Value, ()>)] = &[
            (T::Integer, json!(42), Ok(Value::Integer(42))),
            (T::Integer, json!(4.5), Err(())),
            (T::Integer, json!("42"), Ok(Value::Integer(42))),
            (T::Integer, json!(true), Err(())),
            (T::Decimal, json!(12.5), Ok(Value::Decimal("12.5".into()))),
            (
                T::Decimal,
                json!("0012.500"),
                Ok(Value::Decimal("12.5".into())),
            ),
            (T::Decimal, json!("-0.0"), Ok(Value::Decimal("0".into()))),
            (T::Decimal, json!("1e5"), Err(())),
            (T::Decimal, json!("12."), Err(())),
            (T::Decimal, json!(".5"), Err(())),
            (T::Boolean, json!(false), Ok(Value::Boolean(false))),
            (T::Boolean, json!("yes"), Err(())),
            (
                T::Date,
                json!("2026-12-04"),
                Ok(Value::Text("2026-12-04".into())),
            ),
            (T::Date, json!("2026-02-30"), Err(())),
            (
                T::Datetime,
                json!("2026-12-04T19:00:00+01:00"),
                Ok(Value::Text("2026-12-04T18:00:00.000Z".into())),
            ),
            (T::Datetime, json!("2026-12-04 19:00"), Err(())),
            (
                T::Email,
                json!("ana@example.com"),
                Ok(Value::Text("ana@example.com".into())),
            ),
            (T::Email, json!("ana@@example.com"), Err(())),
            (T::Email, json!("ana @example.com"), Err(())),
            (T::Email, json!("ana@localhost"), Err(())),
            (
                T::Reference,
                json!("0190A000-0000-7000-8000-000000000001"),
                Ok(Value::Text("0190a000-0000-7000-8000-000000000001".into())),
            ),
            (T::Reference, json!("1; DROP TABLE x"), Err(())),
            (T::Text, json!("a\u{0}b"), Err(())),
            (T::Text, json!(["x"]), Err(())),
            (T::Text, Json::Null, Ok(Value::Null)),
        ];
        for (ty, input, want) in cases {
            let got = parse(&column(*ty), input).map_err(|_| ());
            assert_eq!(&got, want, "{ty:?} {input}");
        }
    }

    #[test]
    fn max_length_counts_characters() {
        let c = Column {
            max_length: Some(3),
            ..column(AttributeType::Text)
        };
        assert!(parse(&c, &json!("äöü")).is_ok());
        assert_eq!(
            parse(&c, &json!("äöüß")).unwrap_err(),
            "is longer than 3 characters"
        );
    }

    #[test]
    fn a_record_reports_every_problem() {
        let table = Table {
            module: "m".into(),
            entity: "Sale".into(),
            name: "sale".into(),
            columns: vec![
                Column {
                    attribute: "amount".into(),
                    name: "amount".into(),
                    required: true,
                    ..column(AttributeType::Decimal)
                },
                Column {
                    attribute: "notes".into(),
                    name: "notes".into(),
                    ..column(AttributeType::Text)
                },
                Column {
                    attribute: "old".into(),
                    name: "old".into(),
                    retained: true,
                    ..column(AttributeType::Text)
                },
            ],
            acl: None,
            has_grants_table: false,
            has_owner_num: false,
            retained: false,
        };
        let body = |v: Json| v.as_object().cloned().unwrap_or_default();
        let errors = check_record(
            &table,
            &body(json!({"id": "x", "old": "y", "Notes": 3})),
            false,
        )
        .unwrap_err();
        let named: Vec<&str> = errors.iter().map(|e| e.attribute.as_str()).collect();
        // Names are exact: `Notes` is not `notes`.
        assert_eq!(named, ["Notes", "id", "old", "amount"]);
        // A change gives only what changes, but cannot empty a required attribute.
        let ok = check_record(&table, &body(json!({"notes": "n"})), true).unwrap();
        assert_eq!(ok.len(), 1);
        let errors = check_record(&table, &body(json!({"amount": null})), true).unwrap_err();
        assert_eq!(errors[0].reason, "is required");
    }

    #[test]
    fn conversions_go_through_the_canonical_text() {
        use AttributeType as T;
        assert_eq!(
            convert(&Value::Integer(12), T::Decimal),
            Ok(Value::Decimal("12".into()))
        );
        assert_eq!(
            convert(&Value::Integer(12), T::Text),
            Ok(Value::Text("12".into()))
        );
        assert!(convert(&Value::Decimal("12.5".into()), T::Integer).is_err());
        assert!(convert(&Value::Text("north".into()), T::Integer).is_err());
        assert_eq!(convert(&Value::Null, T::Integer), Ok(Value::Null));
    }

    proptest::proptest! {
        /// A canonical decimal is its own canonical form, and equal numbers written
        /// differently have one canonical form.
        #[test]
        fn canonical_decimals_are_fixed_points(
            whole in "[0-9]{1,12}", fraction in "[0-9]{0,12}", zeros in 0usize..4, negative: bool
        ) {
            let sign = if negative { "-" } else { "" };
            let text = if fraction.is_empty() {
                format!("{sign}{whole}")
            } else {
                format!("{sign}{whole}.{fraction}")
            };
            let canonical = decimal(&text).unwrap();
            proptest::prop_assert_eq!(decimal(&canonical).unwrap(), canonical.clone());
            let padded = format!("{sign}{}{whole}.{fraction}{}", "0".repeat(zeros), "0".repeat(zeros + 1));
            proptest::prop_assert_eq!(decimal(&padded).unwrap(), canonical);
        }
    }
}
