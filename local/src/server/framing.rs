//! The request head, read and checked before hyper sees the connection.
//!
//! hyper answers a request it cannot parse (a control character in the path
//! or a header, a URI or header block over its limits) with an empty body and
//! no hook to change that. Reading the head here first, with httparse, lets
//! every such refusal carry the API's JSON error shape, and lets a declared
//! body over the limit be refused before a byte of it is read.

use super::Limits;
use kustiq::domain::error_code::ErrorCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Room for the method, spaces and version around the request target.
const REQUEST_LINE_SLACK: usize = 32;
/// Bytes read per call while the head arrives.
const CHUNK: usize = 4096;

/// A refusal answered before the handler: a code (its status comes from the
/// API's one mapping, `kustiq::http::error::status`) and a fixed message
/// (never an echo of the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    /// The API error code.
    pub code: ErrorCode,
    /// A fixed, human-readable reason.
    pub message: &'static str,
}

impl Reject {
    const fn new(code: ErrorCode, message: &'static str) -> Self {
        Self { code, message }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        kustiq::http::error::status(self.code)
    }

    /// 400: the request line or a header is not valid HTTP.
    pub const MALFORMED: Self = Self::new(ErrorCode::ERR_BAD_REQUEST, "malformed request");
    /// 400: a header name or value holds a forbidden character.
    pub const BAD_HEADER: Self = Self::new(
        ErrorCode::ERR_BAD_REQUEST,
        "a header holds a forbidden character",
    );
    /// 400: the request target is not a valid origin-form path.
    pub const BAD_TARGET: Self = Self::new(
        ErrorCode::ERR_BAD_REQUEST,
        "the request path holds a forbidden character",
    );
    /// 400: `Content-Length` unreadable or contradicting itself or `Transfer-Encoding`.
    pub const BAD_LENGTH: Self = Self::new(
        ErrorCode::ERR_BAD_REQUEST,
        "invalid Content-Length or Transfer-Encoding",
    );
    /// 408: the head or the body did not arrive in time.
    pub const TIMEOUT: Self = Self::new(
        ErrorCode::ERR_TIMEOUT,
        "the request was not received in time",
    );
    /// 413: the body (declared or sent) is over the limit.
    pub const TOO_LARGE: Self =
        Self::new(ErrorCode::ERR_PAYLOAD_TOO_LARGE, "request body too large");
    /// 414: the request target is over the limit.
    pub const URI_TOO_LONG: Self = Self::new(ErrorCode::ERR_URI_TOO_LONG, "request path too long");
    /// 431: the header block is over the limit, in bytes or in count.
    pub const HEADERS_TOO_LARGE: Self = Self::new(
        ErrorCode::ERR_HEADERS_TOO_LARGE,
        "request headers too large",
    );

    /// The JSON body of this refusal.
    pub fn json(&self) -> String {
        error_body(self.code, self.message)
    }

    /// Writes this refusal as a complete `Connection: close` response.
    pub async fn write_to(&self, stream: &mut TcpStream) {
        let body = self.json();
        let reason = http::StatusCode::from_u16(self.status())
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let response = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            self.status(),
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_ok() {
            linger(stream).await;
        }
    }
}

/// `{"error": {"code", "message", "doc"}}`, the shape of every API error.
pub fn error_body(code: ErrorCode, message: &str) -> String {
    serde_json::json!({"error": {"code": code.as_str(), "message": message, "doc": code.doc()}})
        .to_string()
}

/// Why no head was read.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// The peer closed or reset the connection before sending a request.
    Closed,
    /// The head is refused; answer with this.
    Rejected(Reject),
}

/// Reads until the request head is complete and valid. Returns every byte
/// read so far (the head and any body bytes that came with it) for hyper to
/// parse again. The caller bounds the time.
pub async fn read_head(stream: &mut TcpStream, limits: &Limits) -> Result<Vec<u8>, HeadError> {
    let mut buf = Vec::with_capacity(CHUNK);
    let mut chunk = [0u8; CHUNK];
    loop {
        if check(&buf, limits)? {
            return Ok(buf);
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| HeadError::Closed)?;
        if n == 0 {
            return Err(if buf.iter().all(u8::is_ascii_whitespace) {
                HeadError::Closed
            } else {
                HeadError::Rejected(Reject::MALFORMED)
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `Ok(true)` when `buf` starts with a complete, acceptable head; `Ok(false)`
/// when more bytes are needed and allowed.
fn check(buf: &[u8], limits: &Limits) -> Result<bool, HeadError> {
    let reject = |r: Reject| Err(HeadError::Rejected(r));
    let line_end = buf.iter().position(|b| *b == b'\n');
    let line_limit = limits.max_uri + REQUEST_LINE_SLACK;
    if line_end.map_or(buf.len(), |e| e) > line_limit {
        return reject(Reject::URI_TOO_LONG);
    }
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > limits.max_head => {
            return reject(Reject::HEADERS_TOO_LARGE);
        }
        Ok(httparse::Status::Partial) => return Ok(false),
        Err(httparse::Error::TooManyHeaders) => return reject(Reject::HEADERS_TOO_LARGE),
        Err(httparse::Error::HeaderName | httparse::Error::HeaderValue) => {
            return reject(Reject::BAD_HEADER);
        }
        Err(httparse::Error::Token) if request.method.is_some() => {
            return reject(Reject::BAD_TARGET);
        }
        Err(_) => return reject(Reject::MALFORMED),
    };
    if head_len > limits.max_head {
        return reject(Reject::HEADERS_TOO_LARGE);
    }
    let path = request.path.unwrap_or_default();
    if path.len() > limits.max_uri {
        return reject(Reject::URI_TOO_LONG);
    }
    if !path.starts_with('/') || http::Uri::try_from(path).is_err() {
        return reject(Reject::BAD_TARGET);
    }
    for h in request.headers.iter() {
        if http::HeaderName::from_bytes(h.name.as_bytes()).is_err()
            || http::HeaderValue::from_bytes(h.value).is_err()
        {
            return reject(Reject::BAD_HEADER);
        }
    }
    let http10 = request.version == Some(0);
    framing(request.headers, http10, limits.max_body).map_err(HeadError::Rejected)?;
    Ok(true)
}

/// The body framing: one readable `Content-Length` within the limit, or a
/// chunked `Transfer-Encoding` without one (RFC 9112 §6.3; both together
/// is how requests are smuggled), and chunked only from HTTP/1.1 on.
fn framing(headers: &[httparse::Header<'_>], http10: bool, max_body: usize) -> Result<(), Reject> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(Reject::BAD_LENGTH)?;
            if length.is_some_and(|l| l != n) {
                return Err(Reject::BAD_LENGTH);
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|b| *b == b',').next().unwrap_or_default();
            if http10 || chunked || !last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(Reject::BAD_LENGTH);
            }
            chunked = true;
        }
    }
    if chunked && length.is_some() {
        return Err(Reject::BAD_LENGTH);
    }
    if length.is_some_and(|l| l > max_body as u64) {
        return Err(Reject::TOO_LARGE);
    }
    Ok(())
}

/// After an early answer, stops writing and reads (and drops) what the client
/// is still sending for a moment, so closing does not reset the connection
/// before the client has read the answer.
async fn linger(stream: &mut TcpStream) {
    const LINGER: Duration = Duration::from_millis(500);
    const LINGER_BYTES: usize = 256 * 1024;
    let _ = stream.shutdown().await;
    let drain = async {
        let mut sink = [0u8; CHUNK];
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_uri: 64,
            max_head: 512,
            max_headers: 8,
            max_body: 1000,
            ..Limits::default()
        }
    }

    fn outcome(raw: &[u8]) -> Result<bool, Reject> {
        check(raw, &limits()).map_err(|e| match e {
            HeadError::Rejected(r) => r,
            HeadError::Closed => unreachable!("check never reads"),
        })
    }

    #[test]
    fn heads_are_accepted_waited_for_or_refused_by_rule() {
        let long_path = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(64));
        let long_line_partial = format!("GET /{}", "a".repeat(100));
        let many_headers = format!("GET / HTTP/1.1\r\n{}\r\n", "x-a: 1\r\n".repeat(9));
        let big_headers = format!("GET / HTTP/1.1\r\nx-a: {}\r\n\r\n", "b".repeat(500));
        let cases: Vec<(&str, Vec<u8>, Result<bool, Reject>)> = vec![
            (
                "complete GET",
                b"GET /api/v1/x HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
                Ok(true),
            ),
            (
                "body within limit",
                b"PUT / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n".to_vec(),
                Ok(true),
            ),
            (
                "chunked",
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
                Ok(true),
            ),
            (
                "partial head",
                b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec(),
                Ok(false),
            ),
            ("nothing yet", Vec::new(), Ok(false)),
            (
                "control char in path",
                b"GET /api/\x01 HTTP/1.1\r\n\r\n".to_vec(),
                Err(Reject::BAD_TARGET),
            ),
            (
                "DEL in path",
                b"GET /a\x7f HTTP/1.1\r\n\r\n".to_vec(),
                Err(Reject::BAD_TARGET),
            ),
            (
                "control char in header",
                b"GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n".to_vec(),
                Err(Reject::BAD_HEADER),
            ),
            (
                "NUL in header",
                b"GET / HTTP/1.1\r\nX-A: a\x00\r\n\r\n".to_vec(),
                Err(Reject::BAD_HEADER),
            ),
            (
                "space in header name",
                b"GET / HTTP/1.1\r\nX A: 1\r\n\r\n".to_vec(),
                Err(Reject::BAD_HEADER),
            ),
            (
                "bad method",
                b"G(T / HTTP/1.1\r\n\r\n".to_vec(),
                Err(Reject::MALFORMED),
            ),
            (
                "absolute-form target",
                b"GET http://x/ HTTP/1.1\r\n\r\n".to_vec(),
                Err(Reject::BAD_TARGET),
            ),
            (
                "HTTP/2 preface",
                b"PRI * HTTP/2.0\r\n\r\n".to_vec(),
                Err(Reject::MALFORMED),
            ),
            (
                "space in path",
                b"GET /a b HTTP/1.1\r\n\r\n".to_vec(),
                Err(Reject::MALFORMED),
            ),
            (
                "path over limit",
                long_path.into_bytes(),
                Err(Reject::URI_TOO_LONG),
            ),
            (
                "request line over limit, still arriving",
                long_line_partial.into_bytes(),
                Err(Reject::URI_TOO_LONG),
            ),
            (
                "too many headers",
                many_headers.into_bytes(),
                Err(Reject::HEADERS_TOO_LARGE),
            ),
            (
                "header block over limit",
                big_headers.into_bytes(),
                Err(Reject::HEADERS_TOO_LARGE),
            ),
            (
                "declared body over limit",
                b"PUT / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n".to_vec(),
                Err(Reject::TOO_LARGE),
            ),
            (
                "length not a number",
                b"PUT / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n".to_vec(),
                Err(Reject::BAD_LENGTH),
            ),
            (
                "negative length",
                b"PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec(),
                Err(Reject::BAD_LENGTH),
            ),
            (
                "length past u64",
                b"PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(),
                Err(Reject::BAD_LENGTH),
            ),
            (
                "two lengths",
                b"PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_vec(),
                Err(Reject::BAD_LENGTH),
            ),
            (
                "length and chunked",
                b"PUT / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .to_vec(),
                Err(Reject::BAD_LENGTH),
            ),
            (
                "unknown coding",
                b"PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
                Err(Reject::BAD_LENGTH),
            ),
        ];
        for (name, raw, want) in cases {
            assert_eq!(outcome(&raw), want, "{name}");
        }
    }
}
