//! `/console/posture`: the security posture report for administrators and auditors, the
//! same report as `GET /api/v1/posture` (`rampart_service::posture::report`), grouped by
//! owner under shared responsibility: what the platform answers for, and what is the
//! customer's to configure.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::{PostureControl, PostureReport};
use rampart_service::AppState;

use super::door::doors::PostureRead;
use super::door::Page;
use super::{error_page, Section, Shell};
use crate::routes::page;

#[derive(Template)]
#[template(path = "console/posture.html")]
struct PosturePage<'a> {
    shell: &'a Shell,
    report: &'a PostureReport,
    generated: String,
    /// Heading, anchor and controls of each owner.
    groups: Vec<(&'static str, &'static str, Vec<&'a PostureControl>)>,
}

/// The badge class of a status: `on` for pass, `off` for fail, none otherwise.
fn badge(status: &str) -> &'static str {
    match status {
        "pass" => "badge on",
        "fail" => "badge off",
        _ => "badge",
    }
}

/// `GET /console/posture`.
pub async fn show(State(state): State<AppState>, page: Page<PostureRead>) -> Response {
    let Page { here, shell, .. } = page;
    let transport = crate::routes::posture::transport(&state.config);
    let report = match rampart_service::posture::report(&state, transport).await {
        Ok(r) => r,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let by = |owner: &str| {
        report
            .controls
            .iter()
            .filter(|c| c.owner == owner)
            .collect::<Vec<_>>()
    };
    let html = PosturePage {
        shell: &shell,
        report: &report,
        generated: report
            .generated_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        groups: vec![
            ("The platform's controls", "platform", by("platform")),
            ("The customer's controls", "customer", by("customer")),
        ],
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

impl PosturePage<'_> {
    fn badge(&self, status: &str) -> &'static str {
        badge(status)
    }
}
