//! What the HTTP layer guarantees around every handler, so that every refusal reaches the
//! client as a problem document:
//!
//! - **Request-head limits** ([`head_problem`]): at most [`MAX_URI_BYTES`] of request
//!   target, [`MAX_HEADER_FIELDS`] header fields and [`MAX_HEADER_BYTES`] of them (names
//!   plus values plus 32 per field, as HTTP/2 counts a header list). hyper's HTTP/2
//!   header-list limit is raised to [`H2_MAX_HEADER_LIST`] (from 16 KiB, past which h2
//!   answered a bare 431 or, for a block in several frames, closed the connection), so a
//!   request over ours reaches `app::observe` and gets a 414 or 431 problem with the
//!   security headers, on HTTP/1.1 and HTTP/2 alike.
//! - **hyper's own refusals** ([`Rewrite`]): over HTTP/1.1, a head that hyper cannot parse
//!   (a request target over 64 KiB, which hyper refuses whatever its settings; more than
//!   100 header fields; a head over its 400 KiB buffer; a malformed line) is answered by
//!   hyper itself with a bare status line before any service runs, and the connection
//!   closed. The connection wrapper recognises exactly that answer (`HTTP/1.1
//!   400|414|431`, no header but `connection`, `content-length: 0` and `date`, as the
//!   whole of one write) and writes a problem with the security headers in its place. It
//!   stands aside once a connection opens with the HTTP/2 preface: frames are never
//!   rewritten. Over HTTP/2 two refusals stay the protocol layer's: a header list over
//!   [`H2_MAX_HEADER_LIST`] (h2's bare 431, or the connection closed for a block in too
//!   many frames) and a request target over 64 KiB, which the `http` types cannot hold
//!   (the stream is reset with `PROTOCOL_ERROR`; the connection serves on).
//! - **The unread body** ([`Unread`], [`drain`]): a handler that refuses before reading
//!   the body (401, 403, 415) or stops at the limit (413) leaves the rest unread. Over
//!   HTTP/2, h2 then resets the stream once the answer is sent (`RST_STREAM(NO_ERROR)`,
//!   which RFC 9113 §8.1 allows, but curl 7.88 reports as error 92 and some clients hang
//!   on); over HTTP/1.1 hyper closes the connection while the client still writes, and
//!   the client's system may discard the answer it had received when the reset arrives.
//!   So the answer is sent at once and the rest of the body is read and discarded behind
//!   it for at most [`DRAIN_TIME`], and over HTTP/2 up to the largest body any route
//!   accepts; the stream or connection then ends cleanly. Past those bounds the body is
//!   let go: over HTTP/2 the stream is reset after a complete answer (RFC 9113 allows it;
//!   clients that read while they send, curl included, have the answer by then, and the
//!   connection serves other streams); over HTTP/1.1, where a client cannot be stopped
//!   short of closing the connection, only time bounds the reading (a lingering close,
//!   as nginx's `lingering_time`), then the connection is closed. A client that asked
//!   `Expect: 100-continue` and was never told to go on is not invited to send a body
//!   nobody reads.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

use crate::error::Problem;
use rampart_service::metrics::{Metrics, RequestLabels};

/// Longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header fields accepted in one request.
pub const MAX_HEADER_FIELDS: usize = 100;
/// Largest header section accepted: names plus values plus 32 bytes per field.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's HTTP/2 header-list limit, set far enough above ours that an oversized head
/// still reaches the middleware (and its answer is a problem).
pub const H2_MAX_HEADER_LIST: u32 = 512 * 1024;
/// How long the rest of a refused request's body is read after the answer.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);
/// How long a refused request's unread body is kept, once reading it stopped, for its answer
/// to go out.
const ANSWER_TIME: Duration = Duration::from_secs(60);

/// The problem for a request whose head is over the limits, if it is.
pub fn head_problem<B>(request: &Request<B>) -> Option<Problem> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(Problem::new(
            StatusCode::URI_TOO_LONG,
            "uri-too-long",
            "URI too long",
            format!(
                "the request target is {target} bytes long; at most {MAX_URI_BYTES} are accepted"
            ),
        ));
    }
    let headers = request.headers();
    let fields = headers.len();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum();
    if fields > MAX_HEADER_FIELDS || bytes > MAX_HEADER_BYTES {
        return Some(Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "header-fields-too-large",
            "Request header fields too large",
            format!(
                "the request has {fields} header fields of {bytes} bytes; at most \
                 {MAX_HEADER_FIELDS} fields of {MAX_HEADER_BYTES} bytes in all are accepted"
            ),
        ));
    }
    None
}

/// Whether the client waits for `100 Continue` before sending its body.
pub fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// What a handler left of a request body.
pub struct Leftover {
    body: Body,
    /// Whether anyone read from the body (for HTTP/1.1, whether `100 Continue` was sent).
    polled: bool,
}

/// A request body that, when dropped before its end, hands what is left back to the
/// middleware that made it (see [`drain`]).
pub struct Unread {
    inner: Option<Body>,
    back: Option<oneshot::Sender<Leftover>>,
    polled: bool,
}

impl Unread {
    /// Wraps `body`; what is left of it when dropped arrives on the returned receiver.
    pub fn new(body: Body) -> (Self, oneshot::Receiver<Leftover>) {
        let (back, receiver) = oneshot::channel();
        let unread = Self {
            inner: Some(body),
            back: Some(back),
            polled: false,
        };
        (unread, receiver)
    }
}

impl http_body::Body for Unread {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        this.polled = true;
        match this.inner.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for Unread {
    fn drop(&mut self) {
        if let (Some(body), Some(back)) = (self.inner.take(), self.back.take()) {
            if !http_body::Body::is_end_stream(&body) {
                let _ = back.send(Leftover {
                    body,
                    polled: self.polled,
                });
            }
        }
    }
}

/// Reads and discards what is left of a refused request's body behind the answer, for at
/// most [`DRAIN_TIME`] and up to `bound` bytes if given (HTTP/2), so the stream or the
/// connection ends cleanly instead of being reset. Past the bound the body is let go only
/// once `sent` says the answer has gone out (see [`Sent`]): a client that had already sent
/// more than the bound when the refusal was made would otherwise see its stream reset
/// before the answer, and no answer at all.
pub fn drain(
    leftover: Leftover,
    expects_continue: bool,
    bound: Option<u64>,
    sent: oneshot::Receiver<()>,
) {
    if expects_continue && !leftover.polled {
        // The client has sent nothing and waits: asking for the body only to discard it
        // would cost both sides the upload. Dropping it lets hyper end the exchange.
        return;
    }
    tokio::spawn(async move {
        let mut body = leftover.body;
        let mut read = 0u64;
        let whole = tokio::time::timeout(DRAIN_TIME, async {
            while let Some(frame) =
                std::future::poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut body), cx))
                    .await
            {
                let Ok(frame) = frame else { return false };
                if let Some(data) = frame.data_ref() {
                    read = read.saturating_add(data.len() as u64);
                    if bound.is_some_and(|bound| read > bound) {
                        // Stop reading: flow control holds the sender.
                        return false;
                    }
                }
            }
            true
        })
        .await
        .unwrap_or(false);
        if !whole {
            // Keep the stream (or connection) until the answer is out, however long reading
            // took: letting the body go first resets the stream before its answer
            // (`CANCEL` rather than `NO_ERROR` over HTTP/2), and the client gets nothing.
            let _ = tokio::time::timeout(ANSWER_TIME, sent).await;
            tracing::debug!(
                read,
                bound,
                "stopped reading a refused request's body; the stream or connection is reset"
            );
        }
    });
}

/// A response body that says, when hyper is done with it (its last frame written, or the
/// exchange abandoned), that the answer has gone out: see [`drain`].
pub struct Sent {
    inner: Body,
    done: Option<oneshot::Sender<()>>,
}

impl Sent {
    /// Wraps `body`; the receiver hears when it is dropped.
    pub fn new(body: Body) -> (Self, oneshot::Receiver<()>) {
        let (done, receiver) = oneshot::channel();
        let sent = Self {
            inner: body,
            done: Some(done),
        };
        (sent, receiver)
    }
}

impl http_body::Body for Sent {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Sent {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

/// A connection that writes a problem document in place of hyper's bare answer to an
/// HTTP/1.1 request head it could not parse (see the module header).
pub struct Rewrite<S> {
    inner: S,
    /// Whether the connection may still be HTTP/1.1 (set off by the HTTP/2 preface).
    http1: bool,
    /// Whether the first bytes have been seen.
    sniffed: bool,
    https: bool,
    metrics: Arc<Metrics>,
    /// The replacement still to be written, and how much of it is.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> Rewrite<S> {
    /// Wraps a connection; `https` decides whether the problem carries HSTS.
    pub fn new(inner: S, https: bool, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            http1: true,
            sniffed: false,
            https,
            metrics,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> Rewrite<S> {
    /// Writes what is left of the replacement; ready once it is all written.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = self.pending.as_mut() {
            let rest = bytes.get(*written..).unwrap_or_default();
            if rest.is_empty() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Replaces `buf` if it is hyper's bare answer to an unparsable head; returns whether
    /// it did.
    fn replace(&mut self, buf: &[u8]) -> bool {
        if !self.http1 {
            return false;
        }
        let Some((status, date)) = bare_refusal(buf) else {
            return false;
        };
        let (code, title, detail) = match status {
            StatusCode::URI_TOO_LONG => (
                "uri-too-long",
                "URI too long",
                format!(
                    "the request target is too long; at most {MAX_URI_BYTES} bytes are accepted"
                ),
            ),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
                "header-fields-too-large",
                "Request header fields too large",
                format!(
                    "the request head is too large; at most {MAX_HEADER_FIELDS} header fields \
                     of {MAX_HEADER_BYTES} bytes in all are accepted"
                ),
            ),
            _ => (
                "bad-request",
                "Bad request",
                "the request is not valid HTTP/1.1".to_owned(),
            ),
        };
        let request_id = uuid::Uuid::now_v7().simple().to_string();
        let mut problem = Problem::new(status, code, title, detail);
        problem.request_id = Some(request_id.clone());
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut headers = HeaderMap::new();
        crate::app::security_headers(&mut headers, self.https);
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nconnection: close\r\ncontent-type: application/problem+json\r\n\
             content-length: {}\r\nx-request-id: {request_id}\r\n",
            status.as_str(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes();
        for (name, value) in &headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(date) = date {
            out.extend_from_slice(b"date: ");
            out.extend_from_slice(date);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
        self.pending = Some((out, 0));
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                method: "OTHER".to_owned(),
                route: "unparsed".to_owned(),
                status: status.as_u16(),
            })
            .inc();
        tracing::debug!(
            request_id,
            status = status.as_u16(),
            "refused a request head that could not be parsed"
        );
        true
    }
}

/// hyper's bare answer to an unparsable HTTP/1.1 head: its status and `date` value.
fn bare_refusal(buf: &[u8]) -> Option<(StatusCode, Option<&[u8]>)> {
    const LINES: [(&[u8], StatusCode); 3] = [
        (b"HTTP/1.1 400 Bad Request\r\n", StatusCode::BAD_REQUEST),
        (b"HTTP/1.1 414 URI Too Long\r\n", StatusCode::URI_TOO_LONG),
        (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
    ];
    let (line, status) = LINES.iter().find(|(line, _)| buf.starts_with(line))?;
    // The whole write is the head: header lines, then the empty line, then nothing.
    let fields = buf.get(line.len()..)?.strip_suffix(b"\r\n")?;
    let mut date = None;
    let mut length_zero = false;
    for field in fields.split(|&b| b == b'\n') {
        if field.is_empty() {
            continue;
        }
        let field = field.strip_suffix(b"\r")?;
        let colon = field.iter().position(|&b| b == b':')?;
        let (name, value) = (field.get(..colon)?, field.get(colon + 1..)?.trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") && value == b"0" {
            length_zero = true;
        } else if name.eq_ignore_ascii_case(b"date") {
            date = Some(value);
        } else if !name.eq_ignore_ascii_case(b"connection") {
            return None;
        }
    }
    length_zero.then_some((*status, date))
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewrite<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if !this.sniffed {
            if let Some(first) = buf.filled().get(before..).filter(|b| !b.is_empty()) {
                this.sniffed = true;
                // The HTTP/2 connection preface: frames are never rewritten.
                this.http1 = !first.starts_with(b"PRI ");
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewrite<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
            return Poll::Ready(Err(e));
        }
        if this.pending.is_some() {
            return Poll::Pending;
        }
        if this.replace(buf) {
            // hyper's bytes count as written; the replacement goes out in their place.
            if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
            return Poll::Ready(Err(e));
        }
        if this.pending.is_some() {
            return Poll::Pending;
        }
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(first), None) = (nonempty.next(), nonempty.next()) {
            if this.replace(first) {
                if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(first.len()));
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_s_bare_refusals_are_recognised() {
        let date = "date: Fri, 04 Dec 2026 07:37:52 GMT\r\n";
        let cases: &[(String, Option<u16>)] = &[
            (
                format!("HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\n{date}\r\n"),
                Some(414),
            ),
            (
                format!("HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n{date}\r\n"),
                Some(431),
            ),
            (
                format!("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n{date}\r\n"),
                Some(400),
            ),
            // Our own answers carry more headers, or a body.
            (
                format!("HTTP/1.1 414 URI Too Long\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n{date}\r\n"),
                None,
            ),
            (
                format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n{date}\r\n{{}}"),
                None,
            ),
            (
                format!("HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n{date}\r\nmore"),
                None,
            ),
            (format!("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n{date}\r\n"), None),
            (format!("HTTP/1.1 414 URI Too Long\r\n{date}"), None),
            ("{\"HTTP/1.1 414 URI Too Long\r\n\r\n\"}".to_owned(), None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                bare_refusal(bytes.as_bytes()).map(|(s, _)| s.as_u16()),
                *expected,
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn head_limits() {
        let request = |target: &str, headers: &[(&str, String)]| {
            let mut builder = Request::get(target);
            for (name, value) in headers {
                builder = builder.header(*name, value.as_str());
            }
            builder.body(()).unwrap()
        };
        let long = format!("/healthz?{}", "a".repeat(MAX_URI_BYTES));
        let cases: Vec<(Request<()>, Option<u16>)> = vec![
            (request("/healthz", &[]), None),
            (request(&long[..MAX_URI_BYTES], &[]), None),
            (request(&long, &[]), Some(414)),
            (request("/", &[("x-big", "b".repeat(30_000))]), None),
            (request("/", &[("x-big", "b".repeat(40_000))]), Some(431)),
            (
                request(
                    "/",
                    &(0..=MAX_HEADER_FIELDS)
                        .map(|_| ("x-many", "1".to_owned()))
                        .collect::<Vec<_>>(),
                ),
                Some(431),
            ),
        ];
        for (request, expected) in cases {
            assert_eq!(
                head_problem(&request).map(|p| p.status),
                expected,
                "{}",
                request.uri()
            );
        }
    }
}
