//! The support desk: companies, their members and administrators, support cases with their
//! comments, and decisions on requesters (by session or by an e-mailed link).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// Body of `POST /api/v1/support/companies`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompanyRequest {
    /// 1 to 100 letters, digits, `-`, `_` and `.`, starting with a letter or digit.
    pub name: String,
}

/// A company: a customer of the platform's operator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CompanyWire {
    /// Its name.
    pub name: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /api/v1/support/companies`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CompaniesResponse {
    /// The companies the caller may manage, by name.
    pub companies: Vec<CompanyWire>,
}

/// Body of `POST …/members` and `POST …/administrators`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPersonRequest {
    /// The user's id.
    pub user: String,
}

/// Someone with a standing in a company.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonWire {
    /// The user's id.
    pub user: String,
    /// Their username.
    pub username: String,
    /// `administrator` or `member`.
    pub standing: String,
    /// Since when.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// `GET …/members` and `GET …/administrators`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PeopleResponse {
    /// The company.
    pub company: String,
    /// Its members (administrators are members too) or its administrators, by username.
    pub people: Vec<PersonWire>,
}

/// Body of `POST /api/v1/support/cases`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCaseRequest {
    /// The company the case is for.
    pub company: String,
    /// One line, 1 to 200 characters, no control characters.
    pub subject: String,
    /// 1 to 20,000 characters; line breaks and tabs allowed, no other control characters.
    pub description: String,
    /// `low`, `normal`, `high` or `critical`.
    pub severity: String,
}

/// A comment on a case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommentWire {
    /// Its number in the case, from 1.
    pub number: i64,
    /// Who wrote it (`provider:username`).
    pub author: String,
    /// The text, as written (escape it where it is shown).
    pub body: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A support case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseWire {
    /// Its identifier.
    pub id: String,
    /// The company.
    pub company: String,
    /// The requester's user id.
    pub requester: String,
    /// The requester (`provider:username`).
    pub requester_name: String,
    /// The subject.
    pub subject: String,
    /// The description (in lists, empty).
    pub description: String,
    /// `low`, `normal`, `high` or `critical`.
    pub severity: String,
    /// `open`, `suspended` or `closed`.
    pub status: String,
    /// Why the case is suspended, while it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Its comments, oldest first (in lists, empty).
    pub comments: Vec<CommentWire>,
    /// Its attachments, in order (in lists, empty).
    pub attachments: Vec<AttachmentWire>,
}

/// A file attached to a case (its content at `…/attachments/{number}`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttachmentWire {
    /// Its number in the case, from 1.
    pub number: i64,
    /// The file name.
    pub name: String,
    /// Its type, checked against its content.
    pub media_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Who attached it (`provider:username`).
    pub author: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Query of `POST /api/v1/support/cases/{id}/attachments` (the body is the file, its
/// `Content-Type` its type).
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttachQuery {
    /// The file name: 1 to 200 characters, no control characters, slashes or quotes.
    pub name: String,
}

/// Query of `GET /api/v1/support/cases`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CasesQuery {
    /// `open`, `suspended` or `closed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A company's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// The `next` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// 1 to 200; 50 when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `GET /api/v1/support/cases`: the cases the caller may see, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CasesResponse {
    /// A page of cases (without descriptions and comments).
    pub cases: Vec<CaseWire>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Body of `POST /api/v1/support/cases/{id}/comments`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// 1 to 20,000 characters; line breaks and tabs allowed, no other control characters.
    pub body: String,
}

/// The answer to a decision on a requester.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecisionResponse {
    /// `authorize` or `ignore`.
    pub decision: String,
    /// The case, as it is now.
    pub case: CaseWire,
    /// The requester's cases for that company that the decision opened.
    pub opened: Vec<String>,
}
