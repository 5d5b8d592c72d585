//! Rampart's module format and everything done to a module without I/O: parsing YAML or
//! JSON with errors placed at file, line and column ([`parse`]), validation
//! ([`validate`]), the JSON Schema ([`schema::json_schema`]), the public surface other
//! modules may reference and the breaking changes between two surfaces ([`Surface`]),
//! structured and line diffs ([`diff::diff`]), what a query's advanced SQL may contain
//! ([`sql`]), the publish-time security checks ([`checks`]), and the content address of a
//! version ([`digest`]).
//!
//! **API Boundary:** the format (`rampart-module/1`) is public: people write it and tools
//! read its schema. Its types are serialisable by design; changing a field is a format
//! change.

pub mod checks;
pub mod diagnostic;
pub mod diff;
pub mod expr;
mod expressions;
pub mod format;
mod parse;
pub mod schema;
mod source;
pub mod sql;
pub mod surface;
pub mod validate;

pub use diagnostic::{Diagnostic, Diagnostics, ErrorClass, Pos};
pub use diff::{diff, ModuleDiff};
pub use format::Module;
pub use parse::parse;
pub use surface::Surface;
pub use validate::Kind;

use sha2::{Digest as _, Sha256};

/// The content address of a module version: `sha256:` and the hex SHA-256 of its source.
pub fn digest(source: &str) -> String {
    let hash = Sha256::digest(source.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    out
}
