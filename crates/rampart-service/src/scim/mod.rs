//! SCIM 2.0 provisioning (RFC 7643/7644): an enterprise directory pushes one user
//! provider's users and groups with that provider's bearer token. `mod.rs` holds the
//! token's administration and its check, the caller a token makes and what every use case
//! shares (versions, `If-Match`, errors); `users` and `groups` the resources' use cases;
//! the decisions (filters, PATCH, projection, schemas) are `rampart-scim`'s.
//!
//! # Reach
//! A token belongs to one user provider and reaches only the users whose `user_provider`
//! is that provider and the groups made under it: any other id, a local account's or
//! another provider's, is answered as a missing one (404), so a token cannot even learn
//! that it exists. A username another account holds is the exception the RFC requires: a
//! 409 `uniqueness`, naming nothing about the holder.
//!
//! # Groups
//! A SCIM group is the provider's group of that name: its members get the roles the
//! provider's group mappings give that group (`rampart_federation::rules::mapped_roles`),
//! written through the authorization write path after every membership change, so a
//! change takes effect on the next decision on every node.

pub mod bulk;
pub mod groups;
pub mod resources;
pub mod users;

use rampart_core::{AuditContext, Error, Provider};
use rampart_federation::{GroupMapping, ProviderSettings, Users};
use rampart_identity::{hash_scim_token, SessionToken};
use rampart_scim::ScimError;
use time::OffsetDateTime;

use crate::caller::{Caller, Origin};
use crate::state::AppState;

/// Who a SCIM request acts for: the user provider its token belongs to.
#[derive(Debug, Clone)]
pub struct ScimCaller {
    /// The user provider's name.
    pub provider: String,
    /// Which kind of users it vouches for.
    pub users: Users,
    /// Its group mappings.
    pub mappings: Vec<GroupMapping>,
    /// The audit context, the actor named `scim:<provider>`.
    pub audit: AuditContext,
    /// The base URL of `/scim/v2`, for `meta.location`.
    pub base: String,
}

/// A new token, shown once.
pub struct IssuedToken {
    /// The secret.
    pub token: String,
    /// Whether it replaced an earlier one.
    pub rotated: bool,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

/// Makes (or rotates) user provider `name`'s SCIM token; the caller is an administrator
/// (the adapter checks). The secret is answered once and stored only as its SHA-256.
pub async fn issue_token(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<IssuedToken, Error> {
    // The token creates users and sets their groups, which the provider's mappings turn
    // into roles.
    crate::identity::mfa::require_step_up(state, caller, "issuing a SCIM token").await?;
    let token = SessionToken::generate_scim()?;
    let now = state.clock.now();
    let rotated = state
        .store
        .scim_token_set(name, &token.hash().0, now, &caller.audit)
        .await?;
    Ok(IssuedToken {
        token: token.secret().to_owned(),
        rotated,
        created_at: now,
    })
}

/// Revokes user provider `name`'s SCIM token; its next request is refused.
pub async fn revoke_token(state: &AppState, caller: &Caller, name: &str) -> Result<(), Error> {
    state
        .store
        .scim_token_revoke(name, state.clock.now(), &caller.audit)
        .await
}

/// When user provider `name`'s SCIM token was made (`None`: it has none).
pub async fn token_created(state: &AppState, name: &str) -> Result<Option<OffsetDateTime>, Error> {
    if state.store.provider(name).await?.is_none() {
        return Err(Error::NotFound {
            what: "user provider",
        });
    }
    state.store.scim_token_created(name).await
}

fn unauthorized() -> ScimError {
    ScimError {
        status: 401,
        scim_type: None,
        detail: "a valid SCIM bearer token is required".into(),
    }
}

/// The caller a request's bearer token makes: the provider whose token it is, found by the
/// token's SHA-256 and compared again in constant time. A disabled provider accepts no
/// provisioning. Every refusal is recorded as a `scim.auth` failure with its reason.
pub async fn authenticate(
    state: &AppState,
    origin: &Origin,
    bearer: Option<&str>,
    base: String,
) -> Result<ScimCaller, ScimError> {
    match identify(state, origin, bearer, base).await {
        Ok(caller) => Ok(caller),
        Err((reason, provider, e)) => {
            // A refused token is an `scim.auth` failure event naming why (never the token).
            let event = rampart_core::AuditEvent {
                action: "scim.auth",
                target: provider.map(|p| format!("user-provider:{p}")),
                outcome: rampart_core::Outcome::Failure,
                details: serde_json::json!({ "reason": reason }).to_string(),
            };
            if let Err(err) = state
                .store
                .record_event(&origin.audit, &event, state.clock.now())
                .await
            {
                return Err(internal(err));
            }
            Err(e)
        }
    }
}

type Refusal = (&'static str, Option<String>, ScimError);

async fn identify(
    state: &AppState,
    origin: &Origin,
    bearer: Option<&str>,
    base: String,
) -> Result<ScimCaller, Refusal> {
    let refused = |reason| (reason, None, unauthorized());
    let Some(bearer) = bearer else {
        return Err(refused("no-token"));
    };
    let hash = hash_scim_token(bearer).ok_or_else(|| refused("malformed-token"))?;
    let broken = |e: Error| ("internal", None, internal(e));
    let (name, stored) = state
        .store
        .scim_token_provider(&hash.0)
        .await
        .map_err(broken)?
        .ok_or_else(|| refused("unknown-token"))?;
    if !hash.matches(&stored) {
        return Err(refused("unknown-token"));
    }
    let record = state
        .store
        .provider(&name)
        .await
        .map_err(broken)?
        .ok_or_else(|| refused("unknown-token"))?;
    if !record.enabled {
        let e = ScimError {
            status: 403,
            scim_type: None,
            detail: format!("the user provider {name} is disabled"),
        };
        return Err(("provider-disabled", Some(name), e));
    }
    let users = Users::parse(&record.users).map_err(|e| broken(Error::Internal(e)))?;
    let mappings = match ProviderSettings::from_parts(&record.kind, record.settings.clone()) {
        Ok(ProviderSettings::Ldap(s)) => s.mappings,
        Ok(ProviderSettings::Oidc(s)) => s.mappings,
        Ok(ProviderSettings::Saml(s)) => s.mappings,
        Err(e) => return Err(broken(Error::Internal(e.message))),
    };
    Ok(ScimCaller {
        audit: AuditContext {
            actor_id: None,
            actor_name: Some(format!("scim:{name}")),
            ..origin.audit.clone()
        },
        provider: name,
        users,
        mappings,
        base,
    })
}

/// A store or service error as SCIM answers it; internal causes are logged, not shown.
pub fn internal(e: Error) -> ScimError {
    match e {
        Error::NotFound { what } => ScimError::not_found(format!("no such {what}")),
        Error::Conflict(m) => ScimError {
            status: 409,
            scim_type: Some("uniqueness"),
            detail: m,
        },
        Error::InvalidInput { field, reason } => ScimError::value(format!("{field}: {reason}")),
        other => {
            tracing::error!(error = %other, "a SCIM request failed");
            ScimError {
                status: 500,
                scim_type: None,
                detail: "the request failed on the server's side".into(),
            }
        }
    }
}

/// The 404 of an id the token does not reach.
pub(crate) fn not_found(what: &str) -> ScimError {
    ScimError::not_found(format!("no {what} with that id"))
}

/// The 412 of a stale `If-Match`.
pub(crate) fn stale() -> ScimError {
    ScimError {
        status: 412,
        scim_type: None,
        detail: "the resource changed since that version (If-Match); nothing was changed".into(),
    }
}

/// Whether an `If-Match` or `If-None-Match` header's list names `etag` (weak comparison;
/// `*` names any).
pub fn etag_listed(header: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").trim().to_owned();
    let want = bare(etag);
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == want)
}

/// Checks a write's `If-Match` against the current ETag.
pub(crate) fn check_if_match(if_match: Option<&str>, etag: &str) -> Result<(), ScimError> {
    match if_match {
        Some(h) if !etag_listed(h, etag) => Err(stale()),
        _ => Ok(()),
    }
}

/// The kind of user a provisioned user is: the provider's, or for a provider of both kinds
/// an IT user when `userType` is `IT` (ignoring case), else an end user.
pub(crate) fn kind_for(caller: &ScimCaller, user_type: Option<&str>) -> Provider {
    match caller.users {
        Users::It => Provider::It,
        Users::End => Provider::End,
        Users::Both if user_type.is_some_and(|t| t.eq_ignore_ascii_case("it")) => Provider::It,
        Users::Both => Provider::End,
    }
}

/// RFC 3339 text of a time.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `startIndex` and `count` of a list request, as §3.4.2.4 reads them.
pub(crate) fn page(start_index: Option<i64>, count: Option<i64>) -> (usize, usize) {
    let start = usize::try_from(start_index.unwrap_or(1).max(1)).unwrap_or(1);
    let count = usize::try_from(count.unwrap_or(100).max(0))
        .unwrap_or(0)
        .min(rampart_scim::discovery::MAX_RESULTS);
    (start, count)
}

/// A list request's parameters.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `filter`.
    pub filter: Option<String>,
    /// `startIndex` (1-based).
    pub start_index: Option<i64>,
    /// `count`.
    pub count: Option<i64>,
    /// `sortBy`.
    pub sort_by: Option<String>,
    /// `sortOrder`: `ascending` or `descending`.
    pub sort_order: Option<String>,
    /// `attributes`.
    pub attributes: Option<String>,
    /// `excludedAttributes`.
    pub excluded_attributes: Option<String>,
}

/// The lookup `q`'s filter allows on `schema`'s resources (`rampart_scim::lookup`), if it
/// has one; a filter that does not parse is refused here as it would be by [`select`].
pub(crate) fn lookup(
    schema: rampart_scim::schema::Schema,
    q: &ListQuery,
) -> Result<Option<rampart_scim::lookup::Lookup>, ScimError> {
    let Some(text) = &q.filter else {
        return Ok(None);
    };
    let f = rampart_scim::filter::Filter::parse(text)?;
    Ok(rampart_scim::lookup::lookup(&f, schema))
}

/// Where a list with neither a filter nor `sortBy` starts, how many it shows and what it
/// shows of each: such a list is one page of the resources in the store's order, read
/// alone (see [`plain_page`]).
pub(crate) struct PlainPage {
    /// `startIndex`, 1-based.
    start: usize,
    /// The page's size.
    pub count: usize,
    projection: rampart_scim::project::Projection,
}

impl PlainPage {
    /// How many resources come before the page.
    pub fn offset(&self) -> usize {
        self.start - 1
    }

    /// The list response of the page's rendered `items`, of `total` resources in all.
    pub fn list(&self, items: Vec<serde_json::Value>, total: u64) -> serde_json::Value {
        let items = items
            .into_iter()
            .map(|r| self.projection.apply(r))
            .collect();
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        rampart_scim::discovery::list(items, total, self.start)
    }
}

/// The page `q` asks for when it has neither a filter nor `sortBy` (its projection checked
/// as [`select`] checks it); `None` for any other list.
pub(crate) fn plain_page(
    schema: rampart_scim::schema::Schema,
    q: &ListQuery,
) -> Result<Option<PlainPage>, ScimError> {
    if q.filter.is_some() || q.sort_by.is_some() {
        return Ok(None);
    }
    let projection = rampart_scim::project::Projection::parse(
        schema,
        q.attributes.as_deref(),
        q.excluded_attributes.as_deref(),
    )?;
    let (start, count) = page(q.start_index, q.count);
    Ok(Some(PlainPage {
        start,
        count,
        projection,
    }))
}

/// Filters, sorts and pages rendered resources.
pub(crate) fn select(
    schema: rampart_scim::schema::Schema,
    mut all: Vec<serde_json::Value>,
    q: &ListQuery,
) -> Result<serde_json::Value, ScimError> {
    use rampart_scim::filter::{get_ci, Filter};
    let projection = rampart_scim::project::Projection::parse(
        schema,
        q.attributes.as_deref(),
        q.excluded_attributes.as_deref(),
    )?;
    if let Some(text) = &q.filter {
        let f = Filter::parse(text)?;
        all.retain(|r| f.matches(schema, r));
    }
    if let Some(by) = &q.sort_by {
        let (path, scope) = rampart_scim::path::AttrPath::parse(by)
            .and_then(|p| schema.scope(&p).map(|s| (p, s)))
            .ok_or_else(|| ScimError::path(format!("sortBy {by:?} is not an attribute path")))?;
        let exact = scope.case_exact(&path.attr, path.sub.as_deref());
        let key = |r: &serde_json::Value| -> Option<String> {
            let mut v = get_ci(scope.node(r)?, &path.attr)?;
            if let serde_json::Value::Array(xs) = v {
                v = xs
                    .iter()
                    .find(|x| x.get("primary") == Some(&serde_json::Value::Bool(true)))
                    .or(xs.first())?;
            }
            if let Some(sub) = &path.sub {
                v = get_ci(v, sub)?;
            } else if v.is_object() {
                v = get_ci(v, "value")?;
            }
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(if exact { text } else { text.to_lowercase() })
        };
        // Resources without a value sort last in ascending order (§3.4.2.3).
        all.sort_by_key(|r| {
            let k = key(r);
            (k.is_none(), k)
        });
        if q.sort_order
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case("descending"))
        {
            all.reverse();
        }
    }
    let (start, count) = page(q.start_index, q.count);
    let total = all.len();
    let items = all
        .into_iter()
        .skip(start - 1)
        .take(count)
        .map(|r| projection.apply(r))
        .collect();
    Ok(rampart_scim::discovery::list(items, total, start))
}

/// A PATCH request's operations (`body`) applied, all or none, to a resource of `schema`
/// as it is `shown`: the whole resource to write.
pub(crate) fn patched(
    schema: rampart_scim::schema::Schema,
    shown: &serde_json::Value,
    body: &serde_json::Value,
) -> Result<serde_json::Value, ScimError> {
    let canonical = rampart_scim::schema::validate(schema, shown)?;
    let mut after = rampart_scim::patch::apply(schema, &canonical, body)?;
    after.insert("schemas".into(), serde_json::json!([schema.urn()]));
    Ok(serde_json::Value::Object(after))
}

/// Parses a JSON request body; anything else is `invalidSyntax`.
pub fn parse_body(bytes: &[u8]) -> Result<serde_json::Value, ScimError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::syntax(format!("the body is not JSON: {e}")))
}

/// `POST /.search`: users and groups together, each resource type judged by its own
/// schema, users first. With no filter and no `sortBy`, only the page is read.
pub async fn search_all(
    state: &AppState,
    caller: &ScimCaller,
    q: &ListQuery,
) -> Result<serde_json::Value, ScimError> {
    use rampart_scim::schema::Schema;
    if let Some(at) = plain_page(Schema::User, q)? {
        // One page across the users, then the groups.
        let (mut found, users) = users::page(state, caller, at.offset(), at.count).await?;
        let skipped = usize::try_from(users).unwrap_or(usize::MAX);
        let room = at.count - found.len().min(at.count);
        let (more, groups) =
            groups::page(state, caller, at.offset().saturating_sub(skipped), room).await?;
        found.extend(more);
        return Ok(at.list(found, users + groups));
    }
    let mut found = users::all(state, caller).await?;
    let mut groups = groups::all(state, caller).await?;
    if let Some(text) = &q.filter {
        let f = rampart_scim::filter::Filter::parse(text)?;
        found.retain(|r| f.matches(Schema::User, r));
        groups.retain(|r| f.matches(Schema::Group, r));
    }
    found.extend(groups);
    let rest = ListQuery {
        filter: None,
        ..q.clone()
    };
    select(Schema::User, found, &rest)
}

/// The `schemas` URN of a search request (`POST …/.search`, §3.4.3).
pub const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A `POST …/.search` body as list parameters.
pub fn search_query(body: &serde_json::Value) -> Result<ListQuery, ScimError> {
    use rampart_scim::filter::get_ci;
    use serde_json::Value;
    let named = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(SEARCH_URN)));
    if !named {
        return Err(ScimError::syntax(format!(
            "schemas must be a list naming {SEARCH_URN}"
        )));
    }
    let text = |k: &str| -> Result<Option<String>, ScimError> {
        match get_ci(body, k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ScimError::value(format!("{k} must be a string"))),
        }
    };
    let list = |k: &str| -> Result<Option<String>, ScimError> {
        match get_ci(body, k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(xs)) => xs
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| ScimError::value(format!("{k} must be a list of strings")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|v| Some(v.join(","))),
            Some(_) => Err(ScimError::value(format!("{k} must be a list of strings"))),
        }
    };
    let number = |k: &str| -> Result<Option<i64>, ScimError> {
        match get_ci(body, k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimError::value(format!("{k} must be an integer"))),
        }
    };
    let query = ListQuery {
        filter: text("filter")?,
        start_index: number("startIndex")?,
        count: number("count")?,
        sort_by: text("sortBy")?,
        sort_order: text("sortOrder")?,
        attributes: list("attributes")?,
        excluded_attributes: list("excludedAttributes")?,
    };
    if let Some(order) = &query.sort_order {
        if !order.eq_ignore_ascii_case("ascending") && !order.eq_ignore_ascii_case("descending") {
            return Err(ScimError::value(
                "sortOrder must be ascending or descending",
            ));
        }
    }
    Ok(query)
}
