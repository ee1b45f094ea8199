//! List calls: parameters, Stripe's cursor pagination and the list envelope.

use super::ApiError;
use crate::engine::Account;
use crate::ids::Kind;
use serde_json::{Value, json};

/// Query parameters of a list call.
pub(super) struct ListParams {
    pub(super) limit: usize,
    pub(super) starting_after: Option<String>,
    pub(super) ending_before: Option<String>,
    pub(super) created: CreatedRange,
    pub(super) rest: Vec<(String, String)>,
}

#[derive(Default, Clone, Copy)]
pub(super) struct CreatedRange {
    gte: Option<i64>,
    lte: Option<i64>,
}

impl CreatedRange {
    pub(super) fn contains(&self, t: i64) -> bool {
        self.gte.is_none_or(|g| t >= g) && self.lte.is_none_or(|l| t <= l)
    }
}

pub(super) fn parse_int(value: &str, param: &str) -> Result<i64, ApiError> {
    value.parse::<i64>().map_err(|_| {
        ApiError::invalid(
            format!("Invalid integer: {value}"),
            Some(param),
            Some("parameter_invalid_integer"),
        )
    })
}

impl ListParams {
    pub(super) fn parse(query: &[(String, String)], allowed: &[&str]) -> Result<Self, ApiError> {
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

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.rest
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Candidate indices of a list, ascending (creation order).
pub(super) enum Cands<'a> {
    All(u32),
    Some(&'a [u32]),
}

impl Cands<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            Cands::All(n) => *n as usize,
            Cands::Some(v) => v.len(),
        }
    }
    pub(super) fn at(&self, pos: usize) -> u32 {
        match self {
            Cands::All(_) => pos as u32,
            Cands::Some(v) => v[pos],
        }
    }
    /// First position whose index is `>= idx`.
    pub(super) fn lower_bound(&self, idx: u32) -> usize {
        match self {
            Cands::All(n) => idx.min(*n) as usize,
            Cands::Some(v) => v.partition_point(|&x| x < idx),
        }
    }
}

/// Stripe's cursor pagination over candidates, newest first.
pub(super) fn paginate(
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

pub(super) fn list_body(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({"object": "list", "data": data, "has_more": has_more, "url": url})
}

pub(super) fn decode_in(acct: &Account, kind: Kind, id: &str) -> Option<u32> {
    acct.codec
        .decode(kind, id)
        .filter(|(a, _)| *a == acct.index)
        .map(|(_, i)| i)
}

pub(super) fn cursor(
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

pub(super) fn count(acct: &Account, kind: Kind) -> usize {
    match kind {
        Kind::Customer => acct.customers.len(),
        Kind::Subscription => acct.subs.len(),
        Kind::Invoice => acct.invoices.len(),
        Kind::Charge => acct.charges.len(),
        Kind::Dispute => acct.disputes.len(),
        Kind::Event => acct.events.len(),
        Kind::Price => acct.prices.len(),
        Kind::Product => crate::model::PRODUCTS.len(),
        Kind::InvoicePayment => acct.charges.len(),
        _ => 0,
    }
}

pub(super) fn customer_filter(acct: &Account, p: &ListParams) -> Result<Option<u32>, ApiError> {
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

pub(super) const EMPTY: &[u32] = &[];

/// `customer.subscription.*` matches every subscription event, as Stripe's wildcard does.
pub(super) fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
