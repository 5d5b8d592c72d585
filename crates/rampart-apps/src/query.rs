//! A module's structured query, run through the data API with its parameters: compiled into
//! the same list request as the data API's own lists, so the row rule and the page apply to
//! it the same way.

use rampart_model::format::{Operator, Query};

use crate::list::{decode_cursor_for, Filter, ListRequest, Op, Sort, DEFAULT_LIMIT, MAX_LIMIT};
use crate::schema::Table;
use crate::values::{param_from_text, parse, FieldError, Value};

/// The list request a structured query makes of its `params` (its declared parameters by
/// name, plus `limit` up to the query's own and `cursor`). An optional parameter left out
/// drops the conditions that use it. Every problem is reported, naming the parameter.
pub fn compile_query(
    table: &Table,
    query: &Query,
    params: &[(String, String)],
) -> Result<ListRequest, Vec<FieldError>> {
    let mut errors = Vec::new();
    let err = |name: &str, reason: String| FieldError {
        attribute: name.to_owned(),
        reason,
    };
    let mut given: Vec<(&str, Value)> = Vec::new();
    let mut limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let mut cursor = None;
    for (name, text) in params {
        match name.as_str() {
            "limit" => match text.parse::<u32>() {
                Ok(n) if n >= 1 && n <= limit => limit = n,
                _ => errors.push(err(name, format!("must be a number from 1 to {limit}"))),
            },
            "cursor" => cursor = Some(text.clone()),
            _ => match query.parameters.iter().find(|p| p.name == *name) {
                Some(p) if p.inline => {
                    errors.push(err(name, "is an inline parameter of advanced SQL".into()))
                }
                Some(p) => match param_from_text(p, text) {
                    Ok(v) => given.push((p.name.as_str(), v)),
                    Err(reason) => errors.push(err(name, reason)),
                },
                None => errors.push(err(
                    name,
                    format!("is not a parameter of query `{}`", query.name),
                )),
            },
        }
    }
    for p in query.parameters.iter().filter(|p| p.required) {
        if !given.iter().any(|(n, _)| *n == p.name) && !errors.iter().any(|e| e.attribute == p.name)
        {
            errors.push(err(&p.name, "is required".into()));
        }
    }
    let mut filters = Vec::new();
    let id = id_column(table);
    for c in &query.filter {
        let found = match c.attribute.as_str() {
            "id" => Some(&id),
            name => table.column(name),
        };
        let Some(column) = found else {
            errors.push(err(
                &c.attribute,
                format!("is not an attribute of `{}` as deployed", table.entity),
            ));
            continue;
        };
        let op = match c.op {
            Operator::Eq => Op::Eq,
            Operator::Ne => Op::Ne,
            Operator::Lt => Op::Lt,
            Operator::Le => Op::Le,
            Operator::Gt => Op::Gt,
            Operator::Ge => Op::Ge,
            Operator::Contains => Op::Contains,
            Operator::StartsWith => Op::StartsWith,
            Operator::IsNull => Op::IsNull,
        };
        if column.sensitive() && !(op == Op::Eq && column.unique) {
            errors.push(err(
                &c.attribute,
                "is encrypted: only equality on a unique attribute can be filtered".into(),
            ));
            continue;
        }
        let value = match (&c.parameter, &c.value, op) {
            (Some(p), _, _) => match given.iter().find(|(n, _)| n == p) {
                Some((_, v)) => v.clone(),
                None => continue,
            },
            (None, Some(v), Op::Contains | Op::StartsWith) => match v.as_str() {
                Some(s) => Value::Text(s.to_owned()),
                None => {
                    errors.push(err(&c.attribute, "compares with text".into()));
                    continue;
                }
            },
            (None, Some(v), _) => match parse(column, v) {
                Ok(v) => v,
                Err(reason) => {
                    errors.push(err(&c.attribute, reason));
                    continue;
                }
            },
            (None, None, Op::IsNull) => Value::Boolean(true),
            (None, None, _) => {
                errors.push(err(
                    &c.attribute,
                    "has neither a parameter nor a value".into(),
                ));
                continue;
            }
        };
        filters.push(Filter {
            column: column.clone(),
            op,
            value,
        });
    }
    // The first key of `order_by` (then id): the list's order.
    let mut sort = Sort::default();
    if let Some(first) = query.order_by.first() {
        let (attr, descending) = match first.trim().strip_suffix(" desc") {
            Some(a) => (a.trim(), true),
            None => (first.trim().trim_end_matches(" asc").trim(), false),
        };
        match table.column(attr) {
            Some(c) if !c.sensitive() => {
                sort = Sort {
                    column: Some(c.clone()),
                    descending,
                }
            }
            _ => errors.push(err(
                "order_by",
                format!("`{attr}` cannot order `{}` as deployed", table.entity),
            )),
        }
    }
    let after = match cursor {
        Some(text) => match decode_cursor_for(&sort, &text) {
            Some(c) => Some(c),
            None => {
                errors.push(err("cursor", "is not a cursor of this query".into()));
                None
            }
        },
        None => None,
    };
    if errors.is_empty() {
        Ok(ListRequest {
            filters,
            sort,
            after,
            limit,
        })
    } else {
        Err(errors)
    }
}

/// The record id as a column a query may filter on (`attribute: id`).
fn id_column(table: &Table) -> crate::schema::Column {
    crate::schema::Column {
        attribute: "id".into(),
        name: "id".into(),
        ty: rampart_model::format::AttributeType::Reference,
        storage: crate::schema::Storage::Text,
        reference: Some(table.entity.clone()),
        required: true,
        unique: true,
        max_length: None,
        retained: false,
    }
}
