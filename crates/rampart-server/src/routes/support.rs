//! `/api/v1/support/…`: the support desk over HTTP: companies with their members and
//! administrators, cases, comments, and decisions on requesters by session or by an
//! e-mailed link. The rules are `rampart_support`'s, applied by
//! `rampart_service::support`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_api::{
    AddPersonRequest, AttachQuery, AttachmentWire, CaseWire, CasesQuery, CasesResponse,
    CommentRequest, CommentWire, CompaniesResponse, CompanyWire, CreateCompanyRequest,
    DecisionResponse, OpenCaseRequest, PeopleResponse,
};
use rampart_service::support::Decision;
use rampart_service::support::{self, cases};
use rampart_service::AppState;
use rampart_store::PeopleChange;

use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};

/// Create a company (operator administrators).
#[utoipa::path(
    post, path = "/api/v1/support/companies", tag = "support",
    request_body = CreateCompanyRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Created", body = CompanyWire),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A company of that name exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_company(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<CreateCompanyRequest>,
) -> Result<(StatusCode, Json<CompanyWire>), ApiError> {
    let caller = auth.caller(&state);
    let company = support::create_company(&state, &caller, &req.name).await?;
    Ok((StatusCode::CREATED, Json(company)))
}

/// The companies the caller manages (every one for operator administrators and support
/// staff).
#[utoipa::path(
    get, path = "/api/v1/support/companies", tag = "support",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Companies, by name", body = CompaniesResponse))
)]
pub async fn companies(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<CompaniesResponse>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(support::companies(&state, &caller).await?))
}

/// A company's members (its administrators are members too).
#[utoipa::path(
    get, path = "/api/v1/support/companies/{company}/members", tag = "support",
    params(("company" = String, Path, description = "The company")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Members, by username", body = PeopleResponse),
        (status = 404, description = "No such company, or one the caller does not manage", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a company name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn members(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(company): Path<String>,
) -> Result<Json<PeopleResponse>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(
        support::people(&state, &caller, &company, false).await?,
    ))
}

/// A company's administrators.
#[utoipa::path(
    get, path = "/api/v1/support/companies/{company}/administrators", tag = "support",
    params(("company" = String, Path, description = "The company")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Administrators, by username", body = PeopleResponse),
        (status = 404, description = "No such company, or one the caller does not manage", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a company name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn administrators(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(company): Path<String>,
) -> Result<Json<PeopleResponse>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(
        support::people(&state, &caller, &company, true).await?,
    ))
}

async fn change(
    state: &AppState,
    auth: Authenticated,
    company: &str,
    user: &str,
    what: PeopleChange,
) -> Result<StatusCode, ApiError> {
    let caller = auth.caller(state);
    support::change_people(state, &caller, company, user, what).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a member: their cases start `open`.
#[utoipa::path(
    post, path = "/api/v1/support/companies/{company}/members", tag = "support",
    params(("company" = String, Path, description = "The company")),
    request_body = AddPersonRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Added"),
        (status = 404, description = "No such company (or one the caller does not manage), or no such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A member already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a company name or a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_member(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(company): Path<String>,
    Json(req): Json<AddPersonRequest>,
) -> Result<StatusCode, ApiError> {
    change(&state, auth, &company, &req.user, PeopleChange::AddMember).await
}

/// Remove a member: at once they open no new case for the company and see none of its
/// cases.
#[utoipa::path(
    delete, path = "/api/v1/support/companies/{company}/members/{user}", tag = "support",
    params(("company" = String, Path, description = "The company"), ("user" = String, Path, description = "The user's id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such company (or one the caller does not manage), user or member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An administrator: remove them from the administrators first", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a company name or a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((company, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    change(&state, auth, &company, &user, PeopleChange::RemoveMember).await
}

/// Add an administrator: they manage members and decide on requesters.
#[utoipa::path(
    post, path = "/api/v1/support/companies/{company}/administrators", tag = "support",
    params(("company" = String, Path, description = "The company")),
    request_body = AddPersonRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Added"),
        (status = 404, description = "No such company (or one the caller does not manage), or no such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An administrator already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a company name or a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_administrator(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(company): Path<String>,
    Json(req): Json<AddPersonRequest>,
) -> Result<StatusCode, ApiError> {
    change(
        &state,
        auth,
        &company,
        &req.user,
        PeopleChange::AddAdministrator,
    )
    .await
}

/// Remove an administrator; they stay a member.
#[utoipa::path(
    delete, path = "/api/v1/support/companies/{company}/administrators/{user}", tag = "support",
    params(("company" = String, Path, description = "The company"), ("user" = String, Path, description = "The user's id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Removed; a member still"),
        (status = 404, description = "No such company (or one the caller does not manage), user or administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a company name or a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_administrator(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((company, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    change(
        &state,
        auth,
        &company,
        &user,
        PeopleChange::RemoveAdministrator,
    )
    .await
}

/// Open a case: `open` from a member, `suspended` (with the reason) from anyone else, whose
/// company's administrators are then asked by e-mail.
#[utoipa::path(
    post, path = "/api/v1/support/cases", tag = "support",
    request_body = OpenCaseRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Opened; `status` is `open` or `suspended` (then `reason` says why)", body = CaseWire),
        (status = 403, description = "The company removed the caller from its members", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A subject, description, severity or company name not as allowed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn open_case(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<OpenCaseRequest>,
) -> Result<(StatusCode, Json<CaseWire>), ApiError> {
    let caller = auth.caller(&state);
    let case = cases::open(&state, &caller, req).await?;
    Ok((StatusCode::CREATED, Json(case)))
}

/// The cases the caller may see, newest first.
#[utoipa::path(
    get, path = "/api/v1/support/cases", tag = "support",
    params(CasesQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of cases", body = CasesResponse),
        (status = 404, description = "No such company", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter not as allowed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_cases(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<CasesResponse>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(cases::list(&state, &caller, &params).await?))
}

/// A case with its comments.
#[utoipa::path(
    get, path = "/api/v1/support/cases/{id}", tag = "support",
    params(("id" = String, Path, description = "The case")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The case", body = CaseWire),
        (status = 404, description = "No such case, or one the caller may not see", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_case(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<CaseWire>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(cases::get(&state, &caller, &id).await?))
}

/// Comment on a case.
#[utoipa::path(
    post, path = "/api/v1/support/cases/{id}/comments", tag = "support",
    params(("id" = String, Path, description = "The case")),
    request_body = CommentRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Added", body = CommentWire),
        (status = 404, description = "No such case, or one the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The text is empty, too long or holds control characters", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn comment(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    Json(req): Json<CommentRequest>,
) -> Result<(StatusCode, Json<CommentWire>), ApiError> {
    let caller = auth.caller(&state);
    let c = cases::comment(&state, &caller, &id, &req.body).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Share a case with a member of its company: they see it and comment on it while they are
/// a member.
#[utoipa::path(
    post, path = "/api/v1/support/cases/{id}/shares", tag = "support",
    params(("id" = String, Path, description = "The case")),
    request_body = AddPersonRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Shared"),
        (status = 403, description = "Neither the requester nor an administrator of the company or the platform", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case, or one the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Shared with them already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a user id, no such user, not a member of the company, or the requester", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn share(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    Json(req): Json<AddPersonRequest>,
) -> Result<StatusCode, ApiError> {
    let caller = auth.caller(&state);
    cases::share(&state, &caller, &id, &req.user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Close a case.
#[utoipa::path(
    post, path = "/api/v1/support/cases/{id}/close", tag = "support",
    params(("id" = String, Path, description = "The case")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Closed", body = CaseWire),
        (status = 404, description = "No such case, or one the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Closed already", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn close(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<CaseWire>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(cases::set_status(&state, &caller, &id, false).await?))
}

/// Reopen a closed case (`suspended` again if its requester is still not authorized).
#[utoipa::path(
    post, path = "/api/v1/support/cases/{id}/reopen", tag = "support",
    params(("id" = String, Path, description = "The case")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Reopened", body = CaseWire),
        (status = 404, description = "No such case, or one the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not closed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reopen(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<CaseWire>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(cases::set_status(&state, &caller, &id, true).await?))
}

/// Authorize the requester of a suspended case: they become a member, and their suspended
/// cases for the company open.
#[utoipa::path(
    post, path = "/api/v1/support/cases/{id}/authorize", tag = "support",
    params(("id" = String, Path, description = "The case")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Authorized", body = DecisionResponse),
        (status = 403, description = "Not an administrator of the company or of the platform, or the requester", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case, or one the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The case is not suspended", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn authorize(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<DecisionResponse>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(
        cases::decide(&state, &caller, &id, Decision::Authorize).await?,
    ))
}

/// Ignore the requester of a suspended case: it stays suspended and closes after the
/// configured period.
#[utoipa::path(
    post, path = "/api/v1/support/cases/{id}/ignore", tag = "support",
    params(("id" = String, Path, description = "The case")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Ignored", body = DecisionResponse),
        (status = 403, description = "Not an administrator of the company or of the platform, or the requester", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case, or one the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The case is not suspended", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ignore(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<DecisionResponse>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(
        cases::decide(&state, &caller, &id, Decision::Ignore).await?,
    ))
}

/// Follow an e-mailed Authorize or Ignore link, signed in as the administrator it was sent
/// to. Each link works once, until it expires, while the case is suspended.
#[utoipa::path(
    post, path = "/api/v1/support/links/{token}", tag = "support",
    params(("token" = String, Path, description = "The link's token, from the e-mail")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Decided", body = DecisionResponse),
        (status = 403, description = "The link was sent to someone else, the caller is no longer an administrator of the company, or is the requester", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such link (mistyped or forged)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The link was used, has expired, or the case was decided already", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn follow_link(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(token): Path<String>,
) -> Result<Json<DecisionResponse>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(cases::follow_link(&state, &caller, &token).await?))
}

/// Attach a file to a case: the body is the file, `Content-Type` its type (text/plain,
/// text/csv, application/json, application/pdf, image/png, image/jpeg, application/zip;
/// checked against the content), `name` its file name.
#[utoipa::path(
    post, path = "/api/v1/support/cases/{id}/attachments", tag = "support",
    params(("id" = String, Path, description = "The case"), AttachQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file, byte for byte, sent with its own Content-Type"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Attached", body = AttachmentWire),
        (status = 404, description = "No such case, or one the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name, type or content not as allowed (the type not among those accepted or not matching the content, empty, or larger than `[support] max_attachment_bytes`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn attach(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<AttachmentWire>), ApiError> {
    let caller = auth.caller(&state);
    let name = match params.as_slice() {
        [(key, value)] if key == "name" => value.as_str(),
        _ => {
            return Err(rampart_core::Error::invalid(
                "name",
                "give the file name as the one query parameter `name`",
            )
            .into())
        }
    };
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let a = cases::attach(&state, &caller, &id, name, declared, &body).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Download an attachment: always as a download (`Content-Disposition: attachment`,
/// `X-Content-Type-Options: nosniff`), never shown in place.
#[utoipa::path(
    get, path = "/api/v1/support/cases/{id}/attachments/{number}", tag = "support",
    params(("id" = String, Path, description = "The case"), ("number" = String, Path, description = "The attachment's number")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The file, with its checked type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such case (or one the caller may not see) or attachment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = auth.caller(&state);
    let (meta, disposition, content) = cases::attachment(&state, &caller, &id, &number).await?;
    let mut response = content.into_response();
    let h = response.headers_mut();
    let value = |v: &str| {
        HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
    };
    h.insert(header::CONTENT_TYPE, value(&meta.media_type));
    h.insert(header::CONTENT_DISPOSITION, value(&disposition));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}
