//! The dashboard page at `/`: static HTML, CSS and JavaScript compiled into
//! the binary (no build step, no CDN). The page holds no data: it calls the
//! API with the bearer token it reads from the URL fragment (`#token=…`) or a
//! prompt and keeps in the tab's sessionStorage.
//!
//! Served before authentication (the files are public; every API call they
//! make is not), with a Content-Security-Policy that allows only these files:
//! no inline script or style, no other origin.

use axum::body::Body;
use http::{HeaderValue, Method, Response, StatusCode, header};

/// Only this origin's script, style and API; no plugins, frames, base or form targets.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 3] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("page/index.html"),
    },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("page/app.js"),
    },
    Asset {
        path: "/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("page/app.css"),
    },
];

/// The page's paths, for a caller that lists what the server answers.
pub fn paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|a| a.path)
}

/// The answer to `GET` or `HEAD` of one of the page's files; `None` for any
/// other request, which goes on to the API router.
pub fn asset(method: &Method, path: &str) -> Option<Response<Body>> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let asset = ASSETS.iter().find(|a| a.path == path)?;
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(asset.body)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        // The files change with the binary: never serve an older build's from a cache.
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_files_and_no_inline_script_or_style() {
        let html = ASSETS[0].body;
        for needle in [
            "<script src=\"/app.js\"",
            "<link rel=\"stylesheet\" href=\"/app.css\"",
        ] {
            assert!(html.contains(needle), "{needle}");
        }
        // Every <script> has a src (no inline code the CSP would block), and
        // nothing comes from another origin.
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script src=\"/").count()
        );
        for forbidden in ["<style", " style=", "http://", "https://"] {
            assert!(
                !html.contains(forbidden),
                "index.html contains {forbidden:?}"
            );
        }
        let handler = html
            .split_whitespace()
            .find(|w| w.starts_with("on") && w.contains('='));
        assert_eq!(handler, None, "no inline event handler");
    }

    #[test]
    fn the_script_never_parses_data_as_html() {
        let js = ASSETS[1].body;
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!js.contains(forbidden), "app.js uses {forbidden}");
        }
    }

    #[test]
    fn only_get_and_head_of_the_three_files_are_answered_here() {
        assert!(asset(&Method::GET, "/").is_some());
        assert!(asset(&Method::HEAD, "/app.js").is_some());
        assert!(asset(&Method::POST, "/").is_none());
        assert!(asset(&Method::GET, "/index.html").is_none());
        assert!(asset(&Method::GET, "/api/v1/churn/at-risk").is_none());
    }
}
