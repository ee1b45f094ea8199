//! The Stripe API subset: auth, rate limit, list/retrieve with Stripe's pagination, errors.

use crate::engine::{Account, EVENT_WINDOW};
use crate::ids::Kind;
use crate::model::{InvoiceStatus, SubStatus};
use crate::sim::Simulator;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Stripe-shaped error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
    retry: bool,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &str,
        code: Option<&str>,
        message: String,
        param: Option<&str>,
    ) -> Self {
        let mut error = json!({"type": kind, "message": message});
        if let Some(code) = code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            ));
        }
        if let Some(param) = param {
            error["param"] = json!(param);
        }
        Self {
            status,
            body: json!({ "error": error }),
            retry: false,
        }
    }

    /// 400 for a bad parameter.
    pub fn invalid(message: String, param: Option<&str>, code: Option<&str>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
            param,
        )
    }

    /// 404 `resource_missing`.
    pub fn missing(what: &str, id: &str, param: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("resource_missing"),
            format!("No such {what}: '{id}'"),
            Some(param),
        )
    }

    /// 401 for an unknown key.
    pub fn invalid_key(key: &str) -> Self {
        let message = if key.is_empty() {
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').".to_owned()
        } else {
            format!("Invalid API Key provided: {}", mask(key))
        };
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            message,
            None,
        )
    }

    /// 401 for an expired OAuth access token.
    pub fn expired_key(key: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("api_key_expired"),
            format!("Expired API Key provided: {}", mask(key)),
            None,
        )
    }

    /// 401 for a key whose access to the account was revoked.
    pub fn revoked(key: &str, account: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("account_invalid"),
            format!(
                "The provided key '{}' does not have access to account '{account}' (or that account does not exist). Application access may have been revoked.",
                mask(key)
            ),
            None,
        )
    }

    /// 403 for a key lacking a permission.
    pub fn permission(key: &str, account: &str, permission: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            None,
            format!(
                "The provided key '{}' does not have the required permissions for this endpoint on account '{account}'. Having the '{permission}' permission would allow this request to continue.",
                mask(key)
            ),
            None,
        )
    }

    /// 403 for a restricted account.
    pub fn restricted(account: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            Some("account_restricted"),
            format!(
                "Account '{account}' is restricted (requirements.disabled_reason: under_review); this request is not allowed until the restriction is resolved."
            ),
            None,
        )
    }

    /// 429 above the rate limit.
    pub fn rate_limited() -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request_error",
            Some("rate_limit"),
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.".to_owned(),
            None,
        );
        e.retry = true;
        e
    }

    /// 405 for any write: the simulator is read-only, like the grant Kustiq asks for.
    pub fn read_only(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            None,
            format!(
                "Unrecognized request URL ({method}: {path}). The simulator only serves reads."
            ),
            None,
        )
    }

    /// 404 for an unknown path.
    pub fn unknown_url(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
            None,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body)).into_response();
        if self.retry {
            resp.headers_mut()
                .insert("stripe-should-retry", HeaderValue::from_static("true"));
        }
        resp
    }
}

/// `sk_test_****abcd`, as Stripe masks keys in errors.
pub fn mask(key: &str) -> String {
    let prefix_end = key.match_indices('_').nth(1).map_or(0, |(i, _)| i + 1);
    let tail = key.len().saturating_sub(4).max(prefix_end);
    format!(
        "{}****{}",
        key.get(..prefix_end).unwrap_or(""),
        key.get(tail..).unwrap_or("")
    )
}

/// Query parameters of a list call.
struct ListParams {
    limit: usize,
    starting_after: Option<String>,
    ending_before: Option<String>,
    created: CreatedRange,
    rest: Vec<(String, String)>,
}

#[derive(Default, Clone, Copy)]
struct CreatedRange {
    gte: Option<i64>,
    lte: Option<i64>,
}

impl CreatedRange {
    fn contains(&self, t: i64) -> bool {
        self.gte.is_none_or(|g| t >= g) && self.lte.is_none_or(|l| t <= l)
    }
}

fn parse_int(value: &str, param: &str) -> Result<i64, ApiError> {
    value.parse::<i64>().map_err(|_| {
        ApiError::invalid(
            format!("Invalid integer: {value}"),
            Some(param),
            Some("parameter_invalid_integer"),
        )
    })
}

impl ListParams {
    fn parse(query: &[(String, String)], allowed: &[&str]) -> Result<Self, ApiError> {
        let mut p = ListParams {
            limit: 10,
            starting_after: None,
            ending_before: None,
            created: CreatedRange::default(),
            rest: Vec::new(),
        };
        for (k, v) in query {
            match k.as_str() {
                "limit" => {
                    let n = parse_int(v, "limit")?;
                    if n < 1 {
                        return Err(ApiError::invalid(
                            "This value must be greater than or equal to 1.".into(),
                            Some("limit"),
                            None,
                        ));
                    }
                    if n > 100 {
                        return Err(ApiError::invalid(
                            "This value must be less than or equal to 100.".into(),
                            Some("limit"),
                            None,
                        ));
                    }
                    p.limit = n as usize;
                }
                "starting_after" => p.starting_after = Some(v.clone()),
                "ending_before" => p.ending_before = Some(v.clone()),
                "created" => {
                    let t = parse_int(v, "created")?;
                    p.created = CreatedRange {
                        gte: Some(t),
                        lte: Some(t),
                    };
                }
                "created[gte]" => p.created.gte = Some(parse_int(v, k)?),
                "created[gt]" => p.created.gte = Some(parse_int(v, k)?.saturating_add(1)),
                "created[lte]" => p.created.lte = Some(parse_int(v, k)?),
                "created[lt]" => p.created.lte = Some(parse_int(v, k)?.saturating_sub(1)),
                k if k == "expand[]" || k.starts_with("expand[") => {}
                k if allowed.iter().any(|a| {
                    *a == k || (a.ends_with("[]") && k.starts_with(a.trim_end_matches("[]")))
                }) =>
                {
                    p.rest.push((k.to_owned(), v.clone()));
                }
                other => {
                    return Err(ApiError::invalid(
                        format!("Received unknown parameter: {other}"),
                        Some(other),
                        Some("parameter_unknown"),
                    ));
                }
            }
        }
        if p.starting_after.is_some() && p.ending_before.is_some() {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: ending_before, starting_after."
                    .into(),
                Some("starting_after"),
                None,
            ));
        }
        Ok(p)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.rest
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Candidate indices of a list, ascending (creation order).
enum Cands<'a> {
    All(u32),
    Some(&'a [u32]),
}

impl Cands<'_> {
    fn len(&self) -> usize {
        match self {
            Cands::All(n) => *n as usize,
            Cands::Some(v) => v.len(),
        }
    }
    fn at(&self, pos: usize) -> u32 {
        match self {
            Cands::All(_) => pos as u32,
            Cands::Some(v) => v[pos],
        }
    }
    /// First position whose index is `>= idx`.
    fn lower_bound(&self, idx: u32) -> usize {
        match self {
            Cands::All(n) => idx.min(*n) as usize,
            Cands::Some(v) => v.partition_point(|&x| x < idx),
        }
    }
}

/// Stripe's cursor pagination over candidates, newest first.
fn paginate(
    c: &Cands<'_>,
    p: &ListParams,
    cursor: Option<(bool, u32)>,
    keep: impl Fn(u32) -> bool,
) -> (Vec<u32>, bool) {
    let mut out = Vec::with_capacity(p.limit);
    match cursor {
        Some((true, before)) => {
            // ending_before: the `limit` objects just newer than the cursor.
            let mut pos = c.lower_bound(before.saturating_add(1));
            let mut more = false;
            while pos < c.len() {
                let idx = c.at(pos);
                pos += 1;
                if keep(idx) {
                    if out.len() == p.limit {
                        more = true;
                        break;
                    }
                    out.push(idx);
                }
            }
            out.reverse();
            (out, more)
        }
        _ => {
            let mut pos = match cursor {
                Some((_, after)) => c.lower_bound(after),
                None => c.len(),
            };
            let mut more = false;
            while pos > 0 {
                pos -= 1;
                let idx = c.at(pos);
                if keep(idx) {
                    if out.len() == p.limit {
                        more = true;
                        break;
                    }
                    out.push(idx);
                }
            }
            (out, more)
        }
    }
}

fn list_body(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({"object": "list", "data": data, "has_more": has_more, "url": url})
}

fn decode_in(acct: &Account, kind: Kind, id: &str) -> Option<u32> {
    acct.codec
        .decode(kind, id)
        .filter(|(a, _)| *a == acct.index)
        .map(|(_, i)| i)
}

fn cursor(
    acct: &Account,
    kind: Kind,
    what: &str,
    p: &ListParams,
) -> Result<Option<(bool, u32)>, ApiError> {
    let (before, id, param) = match (&p.starting_after, &p.ending_before) {
        (Some(id), _) => (false, id, "starting_after"),
        (None, Some(id)) => (true, id, "ending_before"),
        _ => return Ok(None),
    };
    let idx = decode_in(acct, kind, id)
        .filter(|&i| (i as usize) < count(acct, kind))
        .ok_or_else(|| ApiError::missing(what, id, param))?;
    Ok(Some((before, idx)))
}

fn count(acct: &Account, kind: Kind) -> usize {
    match kind {
        Kind::Customer => acct.customers.len(),
        Kind::Subscription => acct.subs.len(),
        Kind::Invoice => acct.invoices.len(),
        Kind::Charge => acct.charges.len(),
        Kind::Dispute => acct.disputes.len(),
        Kind::Event => acct.events.len(),
        _ => 0,
    }
}

fn customer_filter(acct: &Account, p: &ListParams) -> Result<Option<u32>, ApiError> {
    match p.get("customer") {
        None => Ok(None),
        Some(id) => match decode_in(acct, Kind::Customer, id)
            .filter(|&i| (i as usize) < acct.customers.len())
        {
            Some(c) => Ok(Some(c)),
            // Stripe answers an empty list for a well-formed id of a customer it does not know.
            None => Ok(Some(u32::MAX)),
        },
    }
}

const EMPTY: &[u32] = &[];

/// Serves one authenticated GET under `/v1`.
pub fn get(
    acct: Option<&Account>,
    path: &str,
    query: &[(String, String)],
    platform_now: i64,
) -> Result<Value, ApiError> {
    let segments: Vec<&str> = path
        .trim_start_matches("/v1/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let Some(acct) = acct else {
        // The platform itself has no customers: lists are empty, retrieves are 404.
        return match segments.as_slice() {
            ["account"] => Ok(
                json!({"id": "acct_sim_platform", "object": "account", "type": "standard", "charges_enabled": true, "payouts_enabled": true, "created": platform_now, "requirements": {"disabled_reason": null}}),
            ),
            [kind]
                if [
                    "customers",
                    "subscriptions",
                    "invoices",
                    "charges",
                    "disputes",
                    "events",
                ]
                .contains(kind) =>
            {
                Ok(list_body(&format!("/v1/{kind}"), Vec::new(), false))
            }
            [kind, id] => Err(ApiError::missing(kind.trim_end_matches('s'), id, "id")),
            _ => Err(ApiError::unknown_url(&Method::GET, path)),
        };
    };
    match segments.as_slice() {
        ["account"] => Ok(acct.render_account()),
        ["customers"] => {
            let p = ListParams::parse(query, &["email"])?;
            let cur = cursor(acct, Kind::Customer, "customer", &p)?;
            let email = p.get("email").map(str::to_lowercase);
            let (idx, more) = paginate(&Cands::All(acct.customers.len() as u32), &p, cur, |i| {
                acct.customers
                    .get(i as usize)
                    .is_some_and(|c| p.created.contains(c.created))
                    && email.as_ref().is_none_or(|e| {
                        acct.customer_email(i)
                            .is_some_and(|m| m.eq_ignore_ascii_case(e))
                    })
            });
            Ok(list_body(
                "/v1/customers",
                idx.into_iter().map(|i| acct.render_customer(i)).collect(),
                more,
            ))
        }
        ["subscriptions"] => {
            let p = ListParams::parse(query, &["status", "customer", "price"])?;
            let status = match p.get("status") {
                None => Some(None),
                Some("all") => None,
                Some("ended") => Some(Some(SubStatus::Canceled)),
                Some(s) => Some(Some(SubStatus::parse(s).ok_or_else(|| {
                    ApiError::invalid("Invalid status: must be one of active, past_due, unpaid, canceled, incomplete, incomplete_expired, trialing, paused, all, or ended".to_owned(), Some("status"), None)
                })?)),
            };
            let cur = cursor(acct, Kind::Subscription, "subscription", &p)?;
            let customer = customer_filter(acct, &p)?;
            let cands = match customer {
                Some(c) => Cands::Some(acct.cust_subs.get(c as usize).map_or(EMPTY, Vec::as_slice)),
                None => Cands::All(acct.subs.len() as u32),
            };
            let (idx, more) = paginate(&cands, &p, cur, |i| {
                acct.subs.get(i as usize).is_some_and(|s| {
                    p.created.contains(s.created)
                        && match status {
                            // Without `status`, Stripe lists every subscription that is not canceled.
                            Some(None) => s.status != SubStatus::Canceled,
                            Some(Some(want)) => s.status == want,
                            None => true,
                        }
                })
            });
            Ok(list_body(
                "/v1/subscriptions",
                idx.into_iter()
                    .map(|i| acct.render_subscription(i))
                    .collect(),
                more,
            ))
        }
        ["invoices"] => {
            let p = ListParams::parse(
                query,
                &["status", "customer", "subscription", "collection_method"],
            )?;
            let status = match p.get("status") {
                None => None,
                Some(s) => Some(InvoiceStatus::parse(s).ok_or_else(|| {
                    ApiError::invalid(
                        "Invalid status: must be one of draft, open, paid, uncollectible, or void"
                            .to_owned(),
                        Some("status"),
                        None,
                    )
                })?),
            };
            let cur = cursor(acct, Kind::Invoice, "invoice", &p)?;
            let customer = customer_filter(acct, &p)?;
            let sub = p.get("subscription").map(|id| {
                decode_in(acct, Kind::Subscription, id)
                    .filter(|&i| (i as usize) < acct.subs.len())
                    .unwrap_or(u32::MAX)
            });
            let cands = match (sub, customer) {
                (Some(s), _) => Cands::Some(
                    acct.sub_invoices
                        .get(s as usize)
                        .map_or(EMPTY, Vec::as_slice),
                ),
                (None, Some(c)) => Cands::Some(
                    acct.cust_invoices
                        .get(c as usize)
                        .map_or(EMPTY, Vec::as_slice),
                ),
                (None, None) => Cands::All(acct.invoices.len() as u32),
            };
            let (idx, more) = paginate(&cands, &p, cur, |i| {
                acct.invoices.get(i as usize).is_some_and(|inv| {
                    p.created.contains(inv.created)
                        && customer.is_none_or(|c| inv.customer == c)
                        && status.is_none_or(|want| want == Some(inv.status))
                })
            });
            Ok(list_body(
                "/v1/invoices",
                idx.into_iter().map(|i| acct.render_invoice(i)).collect(),
                more,
            ))
        }
        ["charges"] => {
            let p = ListParams::parse(query, &["customer", "payment_intent"])?;
            let cur = cursor(acct, Kind::Charge, "charge", &p)?;
            let customer = customer_filter(acct, &p)?;
            let cands = match customer {
                Some(c) => Cands::Some(
                    acct.cust_charges
                        .get(c as usize)
                        .map_or(EMPTY, Vec::as_slice),
                ),
                None => Cands::All(acct.charges.len() as u32),
            };
            let (idx, more) = paginate(&cands, &p, cur, |i| {
                acct.charges
                    .get(i as usize)
                    .is_some_and(|c| p.created.contains(c.created))
            });
            Ok(list_body(
                "/v1/charges",
                idx.into_iter().map(|i| acct.render_charge(i)).collect(),
                more,
            ))
        }
        ["disputes"] => {
            let p = ListParams::parse(query, &["charge", "payment_intent"])?;
            let cur = cursor(acct, Kind::Dispute, "dispute", &p)?;
            let charge = p
                .get("charge")
                .map(|id| decode_in(acct, Kind::Charge, id).unwrap_or(u32::MAX));
            let (idx, more) = paginate(&Cands::All(acct.disputes.len() as u32), &p, cur, |i| {
                acct.disputes.get(i as usize).is_some_and(|d| {
                    p.created.contains(d.created) && charge.is_none_or(|c| d.charge == c)
                })
            });
            Ok(list_body(
                "/v1/disputes",
                idx.into_iter().map(|i| acct.render_dispute(i)).collect(),
                more,
            ))
        }
        ["events"] => {
            let p = ListParams::parse(query, &["type", "types[]", "delivery_success"])?;
            let cur = cursor(acct, Kind::Event, "event", &p)?;
            let single = p.get("type");
            let types: Vec<&str> = p
                .rest
                .iter()
                .filter(|(k, _)| k.starts_with("types["))
                .map(|(_, v)| v.as_str())
                .collect();
            if single.is_some() && !types.is_empty() {
                return Err(ApiError::invalid(
                    "You may only specify one of these parameters: type, types.".into(),
                    Some("types"),
                    None,
                ));
            }
            let window_start = acct.now - EVENT_WINDOW;
            let (idx, more) = paginate(&Cands::All(acct.events.len() as u32), &p, cur, |i| {
                acct.events.get(i as usize).is_some_and(|e| {
                    e.created >= window_start
                        && p.created.contains(e.created)
                        && single.is_none_or(|t| type_matches(t, e.kind))
                        && (types.is_empty() || types.iter().any(|t| type_matches(t, e.kind)))
                })
            });
            let data = idx.into_iter().map(|i| acct.render_event(i)).collect();
            Ok(list_body("/v1/events", data, more))
        }
        [kind, id] => {
            let (k, what) = match *kind {
                "customers" => (Kind::Customer, "customer"),
                "subscriptions" => (Kind::Subscription, "subscription"),
                "invoices" => (Kind::Invoice, "invoice"),
                "charges" => (Kind::Charge, "charge"),
                "disputes" => (Kind::Dispute, "dispute"),
                "events" => (Kind::Event, "event"),
                _ => return Err(ApiError::unknown_url(&Method::GET, path)),
            };
            let i = decode_in(acct, k, id)
                .filter(|&i| (i as usize) < count(acct, k))
                .ok_or_else(|| ApiError::missing(what, id, "id"))?;
            Ok(match k {
                Kind::Customer => acct.render_customer(i),
                Kind::Subscription => acct.render_subscription(i),
                Kind::Invoice => acct.render_invoice(i),
                Kind::Charge => acct.render_charge(i),
                Kind::Dispute => acct.render_dispute(i),
                _ => {
                    acct.events
                        .get(i as usize)
                        .filter(|e| e.created >= acct.now - EVENT_WINDOW)
                        .ok_or_else(|| ApiError::missing(what, id, "id"))?;
                    acct.render_event(i)
                }
            })
        }
        _ => Err(ApiError::unknown_url(&Method::GET, path)),
    }
}

/// `customer.subscription.*` matches every subscription event, as Stripe's wildcard does.
fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

/// The key a request presents: Bearer or Basic (key as user name).
pub fn presented_key(headers: &HeaderMap) -> String {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return String::new();
    };
    if let Some(token) = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
    {
        return token.trim().to_owned();
    }
    if let Some(b64) = auth.strip_prefix("Basic ") {
        use base64::Engine;
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
            let s = String::from_utf8_lossy(&raw).into_owned();
            return s.split(':').next().unwrap_or("").to_owned();
        }
    }
    String::new()
}

/// Entry point for everything under `/v1`.
pub async fn handle(
    sim: Simulator,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.count_request();
    if let Some(latency) = sim.latency() {
        tokio::time::sleep(latency).await;
    }
    let path = uri.path().to_owned();
    if path == "/v1/oauth/token" && method == Method::POST {
        return crate::oauth::app_token(&sim, &headers, &body);
    }
    if method != Method::GET {
        sim.count_write();
        return ApiError::read_only(&method, &path).into_response();
    }
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let key = presented_key(&headers);
    let stripe_account = headers
        .get("stripe-account")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let principal = match sim.authenticate(&key, stripe_account.as_deref()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if !sim.admit(principal.account) {
        return ApiError::rate_limited().into_response();
    }
    let request_id = format!("req_sim{:010}", sim.requests());
    let result = sim.with_account(principal.account, |acct, now| {
        if let Some(acct) = acct {
            if acct.flags.revoked {
                return Err(ApiError::revoked(&key, &acct.id()));
            }
            let data_path = path != "/v1/account";
            if acct.flags.permission_denied && data_path {
                let perm = match path.split('/').nth(2) {
                    Some("subscriptions") => "rak_subscription_read",
                    Some("invoices") => "rak_invoice_read",
                    Some("charges") | Some("disputes") => "rak_charge_read",
                    Some("events") => "rak_event_read",
                    _ => "rak_customer_read",
                };
                return Err(ApiError::permission(&key, &acct.id(), perm));
            }
            if acct.flags.restricted && data_path {
                return Err(ApiError::restricted(&acct.id()));
            }
        }
        get(acct, &path, &query, now)
    });
    let mut resp = match result {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked_like_stripe() {
        assert_eq!(mask("sk_test_abcdef123456"), "sk_test_****3456");
        assert_eq!(mask("nope"), "****nope");
    }

    #[test]
    fn wildcard_types_match_prefixes() {
        assert!(type_matches(
            "customer.subscription.*",
            "customer.subscription.updated"
        ));
        assert!(!type_matches("customer.subscription.*", "customer.updated"));
        assert!(type_matches(
            "invoice.payment_failed",
            "invoice.payment_failed"
        ));
    }
}
