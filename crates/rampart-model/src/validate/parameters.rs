//! Parameters of queries, screens and actions: unique names, `inline` only in advanced SQL,
//! and `choices` (the allow-list the security checks accept as a sanitiser) only on text
//! parameters of queries.

use crate::diagnostic::ErrorClass;
use crate::format::{AttributeType, Parameter};

use super::Validator;

impl Validator<'_> {
    pub(super) fn parameters(&mut self, path: &str, params: &[Parameter], sql: bool, query: bool) {
        self.names(
            &format!("{path}.parameters"),
            params.iter().map(|p| p.name.as_str()),
        );
        for (i, p) in params.iter().enumerate() {
            let at = format!("{path}.parameters.{i}");
            self.typed(&at, p.ty, p.entity.as_deref());
            if p.inline && !sql {
                self.error(
                    ErrorClass::Conflict,
                    format!("{at}.inline"),
                    "`inline` applies only to parameters of advanced SQL queries".into(),
                );
            }
            if p.choices.is_empty() {
                continue;
            }
            if !query {
                self.error(
                    ErrorClass::Conflict,
                    format!("{at}.choices"),
                    "`choices` applies only to parameters of queries; in a screen or action, \
                     write `one_of(params.name, \"a\", \"b\")` where the value is used"
                        .into(),
                );
            } else if p.ty != AttributeType::Text {
                self.error(
                    ErrorClass::Conflict,
                    format!("{at}.choices"),
                    format!(
                        "`choices` applies only to `text` parameters; this is `{}`",
                        p.ty
                    ),
                );
            }
            for (j, c) in p.choices.iter().enumerate() {
                if c.is_empty() || p.choices[..j].contains(c) {
                    self.error(
                        ErrorClass::InvalidValue,
                        format!("{at}.choices.{j}"),
                        "each choice is a distinct, non-empty text".into(),
                    );
                }
            }
        }
    }
}
