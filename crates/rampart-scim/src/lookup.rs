//! Which stored resources a filter can match at all, so a list reads those instead of
//! every resource: the filter clients send most (`userName eq "…"` or `externalId eq "…"`
//! before each create, `displayName eq "…"` for groups, `id eq "…"`) names one attribute the store keeps in an
//! indexed column. [`lookup`] finds such an equality that every match must satisfy (the
//! filter itself, or one side of an `and`); the caller reads the resources whose column
//! holds the value and still evaluates the whole filter on them, so the answer is the one
//! evaluating it on every resource would give.
//!
//! Values come in the column's form: an attribute compared ignoring case is looked up by
//! its lower-case fold (the store keeps user names and group names folded, and ids are
//! lower-case already), one compared with case as written.

use serde_json::Value;

use crate::filter::{Filter, Op};
use crate::schema::Schema;

/// A column the store can look a resource up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The resource's id (users and groups; lower-case).
    Id,
    /// A user's `userName`, folded to lower case.
    UserName,
    /// A group's `displayName`, folded to lower case.
    DisplayName,
    /// A user's or group's `externalId`, as written.
    ExternalId,
}

/// The resources a filter can match are among those whose `key` column holds `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The column.
    pub key: Key,
    /// The value, in the column's form.
    pub value: String,
}

/// The attributes of `schema` the store can look up by, and whether their column is
/// folded to lower case.
fn columns(schema: Schema) -> &'static [(&'static str, Key, bool)] {
    match schema {
        Schema::User => &[
            ("id", Key::Id, true),
            ("userName", Key::UserName, true),
            ("externalId", Key::ExternalId, false),
        ],
        Schema::Group => &[
            ("id", Key::Id, true),
            ("displayName", Key::DisplayName, true),
            ("externalId", Key::ExternalId, false),
        ],
    }
}

/// An equality on a looked-up column that every resource matching `filter` satisfies, if
/// the filter has one.
pub fn lookup(filter: &Filter, schema: Schema) -> Option<Lookup> {
    match filter {
        Filter::And(a, b) => lookup(a, schema).or_else(|| lookup(b, schema)),
        Filter::Compare(path, Op::Eq, Value::String(value)) => {
            let core = path
                .urn
                .as_deref()
                .is_none_or(|u| u.eq_ignore_ascii_case(schema.urn()));
            if !core || path.sub.is_some() {
                return None;
            }
            let &(_, key, folded) = columns(schema)
                .iter()
                .find(|(name, _, _)| name.eq_ignore_ascii_case(&path.attr))?;
            let exact = schema.case_exact(&path.attr, None);
            let value = match (exact, folded) {
                (false, true) => value.to_lowercase(),
                (true, false) => value.clone(),
                // Ids are lower-case: an exact comparison with one is the folded one's.
                (true, true) if key == Key::Id => value.clone(),
                // A column that cannot answer the attribute's case rule.
                _ => return None,
            };
            Some(Lookup { key, value })
        }
        _ => None,
    }
}
