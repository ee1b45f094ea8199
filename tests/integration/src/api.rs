//! Dashboard API calls as the JWT authorizer passes them, through the bench's
//! router; every answer is checked against docs/openapi.yaml on the way
//! (`openapi::assert_conforms`), so each end-to-end test also proves the spec.

use crate::Answer;
use crate::openapi::assert_conforms;
use crate::webhook::Bench;
use lambda_http::RequestExt;
use serde_json::Value;
use std::collections::HashMap;

impl Bench {
    /// `method path` (a query string allowed) as a Pro caller of `workspace`,
    /// with a JSON `body`; the answer is checked against the spec.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        workspace: &str,
        body: Option<Value>,
    ) -> Answer {
        let url = reqwest::Url::parse(&format!("http://bench{path}"))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut query: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in url.query_pairs() {
            query
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned());
        }
        let req = self
            .authed(method, url.path(), workspace, body)
            .with_query_string_parameters(query);
        let answer = self.send(req).await;
        assert_conforms(method, url.path(), &answer);
        answer
    }

    /// `PUT /api/v1/profiles/{id}` of `body` for `workspace`.
    pub async fn put_profile_json(&self, workspace: &str, id: &str, body: Value) -> Answer {
        self.call(
            "PUT",
            &format!("/api/v1/profiles/{id}"),
            workspace,
            Some(body),
        )
        .await
    }

    /// Every row of the at-risk segment for `query` (e.g. `sort=rising&limit=2`),
    /// following `next_cursor` to its end; also how many pages it took.
    pub async fn at_risk_walk(&self, workspace: &str, query: &str) -> (Vec<Value>, usize) {
        let (mut rows, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            pages += 1;
            assert!(pages <= 10_000, "the at-risk walk for {query} never ends");
            let mut path = format!("/api/v1/churn/at-risk?{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let a = self.call("GET", &path, workspace, None).await;
            assert_eq!(a.status, 200, "{path}: {}", a.body);
            rows.extend(a.body["data"].as_array().cloned().unwrap_or_default());
            match a.body["next_cursor"].as_str() {
                Some(c) => {
                    assert_ne!(Some(c), cursor.as_deref(), "{query}: the cursor advances");
                    cursor = Some(c.to_owned());
                }
                None => return (rows, pages),
            }
        }
    }
}

/// The `profile_id` of each row.
pub fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .filter_map(|r| r["profile_id"].as_str().map(str::to_owned))
        .collect()
}
