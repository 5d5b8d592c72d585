//! A screen as a page: what each widget shows once its expressions are evaluated, where
//! its links lead, and which addresses the runtime may send a browser to.
//!
//! The adapter renders a [`Page`] as HTML with auto-escaping; the one value written as HTML
//! is a `text` widget the model marks `unescaped` (its `raw` flag here), as the model says.
//!
//! **Architecture Invariant:** a redirect the runtime sends (`on_denied.redirect`, an
//! action's `redirect` step, the sign-in page's return address) stays on this site: see
//! [`local_target`] and [`return_address`].

use rampart_model::expr::leaves_site;
use rampart_model::format::{AttributeType, Entity, Screen, ScreenKind, WidgetKind};
use serde_json::{Map, Value as Json};

use crate::eval::{eval_text, text, Scope};

/// A screen, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The screen's name.
    pub title: String,
    /// What it shows.
    pub description: String,
    /// Its kind.
    pub kind: ScreenKind,
    /// What it shows, in order.
    pub blocks: Vec<Block>,
    /// A list's next page, when there is one (a link to this screen with its cursor).
    pub next: Option<String>,
    /// A list's first page, when this is a later one.
    pub first: Option<String>,
}

/// One rendered widget.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A value.
    Text {
        /// Shown before it.
        label: Option<String>,
        /// The value.
        value: String,
        /// Written as HTML (`unescaped: true` in the model).
        raw: bool,
    },
    /// A link; without `href` when its target is not one the runtime may link to.
    Link {
        /// Its text.
        label: String,
        /// Where it leads.
        href: Option<String>,
        /// Leaves this site.
        external: bool,
    },
    /// A table of records.
    Table {
        /// Column headings.
        headings: Vec<String>,
        /// One row a record: where the record's own screen is (if the application has a
        /// detail screen for it), and its cells.
        rows: Vec<(Option<String>, Vec<String>)>,
    },
    /// An attribute of the record, edited (form) or shown.
    Field {
        /// The attribute.
        name: String,
        /// Its label.
        label: String,
        /// The HTML input type.
        input: &'static str,
        /// Its value now, as text.
        value: String,
        /// Must be given.
        required: bool,
        /// The longest text allowed.
        max_length: Option<u32>,
        /// Edited (in a form) rather than shown.
        editable: bool,
    },
    /// A button running an action.
    Button {
        /// Its text.
        label: String,
        /// The action (as the model names it).
        action: String,
    },
}

/// Where a target leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Href {
    /// A path on this site.
    Local(String),
    /// An `http`/`https` URL elsewhere (links only).
    External(String),
}

/// Where `target` leads from application `base` (`/apps/{environment}/{application}`): a
/// screen the application runs (`Screen`, `module.Screen`, either with `?query`), a path on
/// this site, or an `http(s)` URL elsewhere; `None` for anything else (`javascript:`, a
/// screen that does not run).
pub fn resolve_target(target: &str, base: &str, is_screen: impl Fn(&str) -> bool) -> Option<Href> {
    let t = target.trim();
    if leaves_site(t) {
        let lower = t.to_ascii_lowercase();
        let web = (lower.starts_with("https://") || lower.starts_with("http://"))
            && !t.contains('\\')
            && !t.chars().any(|c| c.is_control() || c.is_whitespace());
        return web.then(|| Href::External(t.to_owned()));
    }
    if t.starts_with('/') {
        return Some(Href::Local(t.to_owned()));
    }
    let (name, query) = match t.split_once('?') {
        Some((n, q)) => (n, Some(q)),
        None => (t, None),
    };
    let screen = name.rsplit_once('.').map_or(name, |(_, s)| s);
    if screen.is_empty() || !is_screen(screen) {
        return None;
    }
    Some(Href::Local(match query {
        Some(q) => format!("{base}/{screen}?{q}"),
        None => format!("{base}/{screen}"),
    }))
}

/// Where a redirect may send the browser: only a path on this site (see [`resolve_target`]).
pub fn local_target(target: &str, base: &str, is_screen: impl Fn(&str) -> bool) -> Option<String> {
    match resolve_target(target, base, is_screen) {
        Some(Href::Local(path)) => Some(path),
        _ => None,
    }
}

/// The sign-in page's return address: a path under the application (`base` + `/…`), never
/// another site or another application's pages; anything else returns to the application's
/// home.
pub fn return_address(asked: Option<&str>, base: &str) -> String {
    let home = format!("{base}/");
    // Dot segments (`..`, `.`, or their percent-encoded forms, which browsers decode
    // before resolving) could climb out of the application.
    let dotted = |a: &str| {
        let path = a.split(['?', '#']).next().unwrap_or("");
        path.to_ascii_lowercase()
            .replace("%2e", ".")
            .split('/')
            .any(|seg| seg == "." || seg == "..")
    };
    match asked {
        Some(a)
            if a.starts_with(&home)
                && !leaves_site(a)
                && !dotted(a)
                && a.chars().all(|c| c.is_ascii_graphic()) =>
        {
            a.to_owned()
        }
        _ => home,
    }
}

/// Where a page's links lead.
pub struct Links<'a> {
    /// `/apps/{environment}/{application}`.
    pub base: &'a str,
    /// Whether the application runs a screen of this name.
    pub is_screen: &'a dyn Fn(&str) -> bool,
    /// A listed record's own page: this prefix and its id (a detail screen over the entity,
    /// with the query parameter that names the record).
    pub detail: Option<String>,
}

/// What a screen shows: `scope` has `params` and `user`; `records` are the listed records
/// (list) or the one shown or edited (detail, form), each a JSON object with its `id`.
pub fn build(
    screen: &Screen,
    entity: Option<&Entity>,
    scope: &Scope,
    records: &[Map<String, Json>],
    links: &Links<'_>,
) -> Page {
    let (base, is_screen) = (links.base, links.is_screen);
    let record = records.first();
    let mut here = scope.clone();
    if let (Some(r), false) = (record, screen.kind == ScreenKind::List) {
        here.insert("record".into(), Json::Object(r.clone()));
    }
    let value_of = |expr: &str, scope: &Scope| eval_text(expr, scope).map(|v| text(&v));
    let mut blocks = Vec::new();
    for w in &screen.widgets {
        let label = w.label.clone();
        match w.kind {
            WidgetKind::Text => blocks.push(Block::Text {
                label,
                value: value_of(w.value.as_deref().unwrap_or("null"), &here).unwrap_or_default(),
                raw: w.unescaped,
            }),
            WidgetKind::Link => {
                let target =
                    value_of(w.target.as_deref().unwrap_or("null"), &here).unwrap_or_default();
                let href = resolve_target(&target, base, is_screen);
                blocks.push(Block::Link {
                    label: label.unwrap_or_else(|| target.clone()),
                    external: matches!(href, Some(Href::External(_))),
                    href: href.map(|h| match h {
                        Href::Local(p) | Href::External(p) => p,
                    }),
                });
            }
            WidgetKind::Table => {
                let headings = w.columns.iter().map(|c| heading(c)).collect();
                let rows = records
                    .iter()
                    .map(|r| {
                        let mut row = here.clone();
                        row.insert("record".into(), Json::Object(r.clone()));
                        let href = links.detail.as_ref().and_then(|prefix| {
                            let id = r.get("id").map(text)?;
                            Some(format!("{prefix}{id}"))
                        });
                        let cells = w
                            .columns
                            .iter()
                            .map(|c| value_of(c, &row).unwrap_or_default())
                            .collect();
                        (href, cells)
                    })
                    .collect();
                blocks.push(Block::Table { headings, rows });
            }
            WidgetKind::Field => {
                let name = w.value.clone().unwrap_or_default();
                let attribute = entity.and_then(|e| e.attributes.iter().find(|a| a.name == name));
                let value = record
                    .and_then(|r| r.get(&name))
                    .map(text)
                    .unwrap_or_default();
                blocks.push(Block::Field {
                    label: label.unwrap_or_else(|| name.clone()),
                    input: attribute.map_or("text", |a| input_type(a.ty)),
                    required: attribute.is_some_and(|a| a.required),
                    max_length: attribute.and_then(|a| a.max_length),
                    editable: screen.kind == ScreenKind::Form,
                    value,
                    name,
                });
            }
            WidgetKind::Button => blocks.push(Block::Button {
                label: label.unwrap_or_else(|| w.action.clone().unwrap_or_default()),
                action: w.action.clone().unwrap_or_default(),
            }),
        }
    }
    Page {
        title: screen.name.clone(),
        description: screen.description.clone(),
        kind: screen.kind,
        blocks,
        next: None,
        first: None,
    }
}

/// A column's heading: the attribute an expression like `record.name` shows.
fn heading(column: &str) -> String {
    column
        .strip_prefix("record.")
        .filter(|rest| !rest.contains(['+', '"', ' ']))
        .unwrap_or(column)
        .to_owned()
}

fn input_type(ty: AttributeType) -> &'static str {
    match ty {
        AttributeType::Integer | AttributeType::Decimal => "number",
        AttributeType::Boolean => "checkbox",
        AttributeType::Date => "date",
        AttributeType::Datetime => "datetime-local",
        AttributeType::Email => "email",
        AttributeType::Text | AttributeType::Reference => "text",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "/apps/dev/sales";

    fn screens(name: &str) -> bool {
        matches!(name, "Customers" | "SaleDetail")
    }

    #[test]
    fn targets_resolve_to_screens_paths_or_web_links() {
        let cases: &[(&str, Option<Href>)] = &[
            ("Customers", Some(Href::Local(format!("{BASE}/Customers")))),
            (
                "sales-ui.Customers",
                Some(Href::Local(format!("{BASE}/Customers"))),
            ),
            (
                "SaleDetail?sale=1",
                Some(Href::Local(format!("{BASE}/SaleDetail?sale=1"))),
            ),
            (
                "/apps/dev/other/X",
                Some(Href::Local("/apps/dev/other/X".into())),
            ),
            (
                "https://docs.example/x",
                Some(Href::External("https://docs.example/x".into())),
            ),
            ("Nowhere", None),
            ("javascript:alert(1)", None),
            ("//evil.example", None),
            ("/\\evil.example", None),
            ("https://a b", None),
        ];
        for (target, want) in cases {
            assert_eq!(&resolve_target(target, BASE, screens), want, "{target}");
        }
        // Redirects go only to this site.
        assert_eq!(local_target("https://evil.example", BASE, screens), None);
        assert_eq!(
            local_target("Customers", BASE, screens).as_deref(),
            Some("/apps/dev/sales/Customers")
        );
    }

    #[test]
    fn return_addresses_stay_in_the_application() {
        let home = format!("{BASE}/");
        for asked in [
            None,
            Some("https://evil.example/"),
            Some("//evil.example/apps/dev/sales/"),
            Some("/apps/dev/other/Customers"),
            Some("/apps/dev/sales/../../../api/v1/users"),
            Some("/apps/dev/sales\\@evil.example"),
            Some("/apps/dev/salesx/Customers"),
            Some("/apps/dev/sales/%2e%2e/%2E%2E/x"),
            Some("/apps/dev/sales/./../x"),
            Some("/apps/dev/sales/\u{202e}x"),
        ] {
            assert_eq!(return_address(asked, BASE), home, "{asked:?}");
        }
        assert_eq!(
            return_address(Some("/apps/dev/sales/SaleDetail?sale=1"), BASE),
            "/apps/dev/sales/SaleDetail?sale=1"
        );
    }
}
