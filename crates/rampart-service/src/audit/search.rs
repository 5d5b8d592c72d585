//! Searching and exporting the audit log: the query an auditor's filters make, the view of
//! a stored event, and the CSV export (the same columns over the API and offline).

use rampart_api::{AuditEventPage, AuditEventView, AuditEventsQuery};
use rampart_audit::hash::to_hex;
use rampart_core::Error;
use rampart_store::{EventQuery, Store, StoredEvent, Stream};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::state::AppState;

/// Rows read per query while streaming an export.
pub const EXPORT_CHUNK: i64 = 2_000;

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, Error> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                Error::invalid(
                    field,
                    "must be an RFC 3339 time such as 2026-11-23T08:00:00Z",
                )
            })
        })
        .transpose()
}

fn text_filter(field: &str, value: Option<String>) -> Result<Option<String>, Error> {
    match value {
        Some(v) if v.len() > 500 || v.chars().any(char::is_control) => Err(Error::invalid(
            field,
            "must be at most 500 characters without control characters",
        )),
        other => Ok(other),
    }
}

/// The store query, the export format and the page size an auditor's filters ask for.
pub fn event_query(q: AuditEventsQuery) -> Result<(EventQuery, Option<String>, u32), Error> {
    let stream = q
        .stream
        .as_deref()
        .map(|s| {
            Stream::parse(s)
                .ok_or_else(|| Error::invalid("stream", "must be system, integration or access"))
        })
        .transpose()?;
    if let Some(o) = &q.outcome {
        if !["success", "failure", "allow", "deny"].contains(&o.as_str()) {
            return Err(Error::invalid(
                "outcome",
                "must be success, failure, allow or deny",
            ));
        }
    }
    let before_seq = crate::paging::number_cursor(q.cursor.as_deref())?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 1000"));
    }
    let format = q.format;
    if let Some(f) = &format {
        if !["json", "csv", "jsonl"].contains(&f.as_str()) {
            return Err(Error::invalid("format", "must be json, csv or jsonl"));
        }
    }
    let query = EventQuery {
        stream,
        actor: text_filter("actor", q.actor)?,
        action: text_filter("action", q.action)?,
        target: text_filter("target", q.target)?,
        target_contains: text_filter("q", q.q)?,
        application: text_filter("application", q.application)?,
        environment: text_filter("environment", q.environment)?,
        outcome: q.outcome,
        since: parse_time("since", q.since.as_deref())?,
        until: parse_time("until", q.until.as_deref())?,
        before_seq,
        after_seq: None,
        ascending: false,
    };
    Ok((query, format, limit))
}

/// A stored event as the API shows it.
pub fn view(e: StoredEvent) -> AuditEventView {
    AuditEventView {
        seq: e.seq,
        stream: e.stream,
        time: e.occurred_at,
        actor_id: e.actor_id.map(|a| a.to_string()),
        actor: e.actor_name,
        action: e.action,
        target: e.target,
        application: e.application,
        environment: e.environment,
        outcome: e.outcome,
        request_id: e.request_id,
        source: e.source,
        node: e.node_id,
        details: serde_json::from_str(&e.details).unwrap_or_default(),
        redacted: e.body.is_none(),
        leaf_hash: to_hex(&e.leaf_hash),
    }
}

/// One CSV field, quoted when it holds a separator, quote or line break; a leading
/// `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
fn csv_field(out: &mut String, value: &str) {
    let guarded = matches!(value.chars().next(), Some('=' | '+' | '-' | '@'));
    if guarded || value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if guarded {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// The CSV export's first line.
pub const CSV_HEADER: &str = "seq,time,stream,actor,action,target,application,environment,outcome,node,request_id,source,details,redacted\n";

/// Appends one event as a CSV line.
pub fn csv_line(e: &AuditEventView, out: &mut String) {
    let time = e.time.format(&Rfc3339).unwrap_or_default();
    let details = e.details.to_string();
    let fields: [&str; 14] = [
        &e.seq.to_string(),
        &time,
        &e.stream,
        e.actor.as_deref().unwrap_or(""),
        &e.action,
        e.target.as_deref().unwrap_or(""),
        e.application.as_deref().unwrap_or(""),
        e.environment.as_deref().unwrap_or(""),
        &e.outcome,
        &e.node,
        e.request_id.as_deref().unwrap_or(""),
        e.source.as_deref().unwrap_or(""),
        &details,
        if e.redacted { "true" } else { "false" },
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f);
    }
    out.push('\n');
}

/// A page of events matching `query`, newest first, with the cursor of the next page.
pub async fn page(
    state: &AppState,
    query: EventQuery,
    limit: u32,
) -> Result<AuditEventPage, Error> {
    let mut items = state
        .store
        .audit_search(&query, i64::from(limit) + 1)
        .await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|e| e.seq.to_string())
    } else {
        None
    };
    Ok(AuditEventPage {
        items: items.into_iter().map(view).collect(),
        next_cursor,
    })
}

/// Every event matching `query`, oldest first, as CSV (with its header) or JSON lines:
/// pages of [`EXPORT_CHUNK`] rows, each rendered as it arrives, so memory stays one page
/// whatever the size of the export. A failure midway ends the stream with an error (logged;
/// the client sees a cut transfer, never a silently short file).
pub fn export(
    store: Store,
    mut query: EventQuery,
    csv: bool,
) -> impl futures_util::Stream<Item = Result<String, std::io::Error>> + Send + 'static {
    query.ascending = true;
    query.after_seq = None;
    futures_util::stream::unfold(
        (query, csv, true, false),
        move |(mut query, csv, first, done)| {
            let store = store.clone();
            async move {
                if done {
                    return None;
                }
                let mut out = String::new();
                if first && csv {
                    out.push_str(CSV_HEADER);
                }
                match store.audit_search(&query, EXPORT_CHUNK).await {
                    Ok(rows) => {
                        let last = rows.len() < EXPORT_CHUNK as usize;
                        query.after_seq = rows.last().map(|e| e.seq).or(query.after_seq);
                        for e in rows {
                            let v = view(e);
                            if csv {
                                csv_line(&v, &mut out);
                            } else if let Ok(line) = serde_json::to_string(&v) {
                                out.push_str(&line);
                                out.push('\n');
                            }
                        }
                        Some((Ok::<_, std::io::Error>(out), (query, csv, false, last)))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "audit export failed midway");
                        Some((
                            Err(std::io::Error::other("audit export failed")),
                            (query, csv, false, true),
                        ))
                    }
                }
            }
        },
    )
}

/// Writes events `from..=to` as CSV (the same columns as the API's export), oldest first.
pub async fn export_csv(
    store: &rampart_store::Store,
    from: u64,
    to: u64,
    out: &mut (dyn std::io::Write + Send),
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(), Error> {
    out.write_all(CSV_HEADER.as_bytes())
        .map_err(super::export_write_failed)?;
    let mut query = EventQuery {
        ascending: true,
        after_seq: Some(i64::try_from(from.saturating_sub(1)).unwrap_or(i64::MAX)),
        before_seq: Some(i64::try_from(to.saturating_add(1)).unwrap_or(i64::MAX)),
        ..EventQuery::default()
    };
    let mut text = String::new();
    loop {
        let rows = store.audit_search(&query, EXPORT_CHUNK).await?;
        let Some(last) = rows.last().map(|e| e.seq) else {
            break;
        };
        text.clear();
        for e in rows {
            csv_line(&view(e), &mut text);
        }
        out.write_all(text.as_bytes())
            .map_err(super::export_write_failed)?;
        query.after_seq = Some(last);
        progress(u64::try_from(last).unwrap_or(0));
    }
    out.flush().map_err(super::export_write_failed)
}
