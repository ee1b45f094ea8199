//! Route groups and the dispatcher. Each HTTP function mounts only its own
//! group (the webhook function answers not-found to `/api/v1/…`), the way its IAM
//! role allows only its own actions; the local runner mounts all of them.

use crate::http::error::ApiError;
use futures::future::BoxFuture;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

/// What a handler returns: a response, or an error the one mapping turns into one.
pub type Reply = Result<Response<Body>, ApiError>;

/// A group of routes served by one function.
pub trait Routes: Send + Sync {
    /// Serves `req` when `path` (its segments) belongs to this group, `None`
    /// otherwise. A known path with a method the group does not serve answers
    /// [`method_not_allowed`].
    fn serve<'a>(&'a self, req: &'a Request, path: &'a [&'a str]) -> Option<BoxFuture<'a, Reply>>;

    /// Every `(method, path template)` this group serves, for the template and docs checks.
    fn routes(&self) -> &'static [(&'static str, &'static str)];
}

/// The routes a process serves: one group in a Lambda, all of them locally.
#[derive(Clone, Default)]
pub struct Router {
    groups: Vec<Arc<dyn Routes>>,
}

impl Router {
    /// No routes: every request is not found.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a group.
    pub fn mount(mut self, group: impl Routes + 'static) -> Self {
        self.groups.push(Arc::new(group));
        self
    }

    /// Every `(method, path template)` mounted.
    pub fn routes(&self) -> Vec<(&'static str, &'static str)> {
        self.groups
            .iter()
            .flat_map(|g| g.routes().iter().copied())
            .collect()
    }

    /// Dispatches one request. Never panics on input; every error is JSON.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let raw = req.uri().path().to_owned();
        let Some(segments) = segments(&raw) else {
            return ApiError::not_found("no such route").into_response();
        };
        for group in &self.groups {
            if let Some(reply) = group.serve(&req, &segments) {
                return reply.await.unwrap_or_else(ApiError::into_response);
            }
        }
        ApiError::not_found("no such route").into_response()
    }
}

/// A path's segments, or `None` for a path no route can have: empty segments
/// (`//`, a trailing `/`), `.` or `..`, spaces, control or non-ASCII bytes.
/// Anything else reaches the route, whose id parser refuses a bad id.
pub fn segments(path: &str) -> Option<Vec<&str>> {
    let rest = path.strip_prefix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    let ok = parts.iter().all(|s| {
        !s.is_empty() && *s != "." && *s != ".." && s.bytes().all(|b| b.is_ascii_graphic())
    });
    ok.then_some(parts)
}

/// The answer for a known path asked with a method it does not serve.
pub fn method_not_allowed<'a>(req: &Request) -> Option<BoxFuture<'a, Reply>> {
    let err = ApiError::new(
        crate::domain::error_code::ErrorCode::ERR_METHOD_NOT_ALLOWED,
        format!("{} is not allowed on this path", req.method()),
    );
    Some(Box::pin(async move { Err(err) }))
}

/// Refuses a request that gives any of `keys` (the query parameters a route
/// reads) more than once: which of two limits, cursors or states was meant is
/// a guess we do not make (and a cache or proxy in between may guess the other).
pub(crate) fn once_each(req: &Request, keys: &[&str]) -> Result<(), ApiError> {
    use lambda_http::RequestExt;
    let query = req.query_string_parameters();
    match keys
        .iter()
        .find(|k| query.all(k).is_some_and(|v| v.len() > 1))
    {
        Some(key) => Err(ApiError::bad_request(format!(
            "query parameter {key} given more than once"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn paths_with_empty_dot_or_odd_segments_match_no_route() {
        assert_eq!(
            segments("/api/v1/profiles/p1"),
            Some(vec!["api", "v1", "profiles", "p1"])
        );
        for bad in [
            "",
            "api/v1",
            "/api//v1///profiles//p1",
            "/api/v1/profiles/",
            "/api/v1/profiles/.",
            "/api/v1/profiles/..",
            "/api/v1/profiles/a b",
            "/api/v1/profiles/\u{7f}",
        ] {
            assert_eq!(segments(bad), None, "{bad:?}");
        }
    }
}
