//! The read routes: list and retrieve for each object type, and `/v1/account`.

use super::list::{
    Cands, EMPTY, ListParams, count, cursor, customer_filter, decode_in, list_body, paginate,
    type_matches,
};
use super::{ApiError, expand};
use crate::engine::{Account, EVENT_WINDOW};
use crate::ids::Kind;
use crate::model::{COUPONS, InvoiceStatus, SubStatus};
use crate::version::ApiVersion;
use axum::http::Method;
use serde_json::{Value, json};

/// Serves one authenticated GET under `/v1`, rendered in version `v`, with its `expand[]`.
pub fn get(
    acct: Option<&Account>,
    path: &str,
    query: &[(String, String)],
    platform_now: i64,
    v: ApiVersion,
) -> Result<Value, ApiError> {
    let paths = expand::paths(query);
    let mut value = route(acct, path, query, platform_now, v)?;
    if let Some(acct) = acct {
        expand::apply(acct, v, &mut value, &paths)?;
    }
    Ok(value)
}

fn route(
    acct: Option<&Account>,
    path: &str,
    query: &[(String, String)],
    platform_now: i64,
    v: ApiVersion,
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
                    "prices",
                    "coupons",
                    "invoice_payments",
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
                    .map(|i| acct.render_subscription(i, v))
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
                idx.into_iter().map(|i| acct.render_invoice(i, v)).collect(),
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
                idx.into_iter().map(|i| acct.render_charge(i, v)).collect(),
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
        ["prices"] => {
            let p = ListParams::parse(query, &["active", "currency", "product", "type"])?;
            let cur = cursor(acct, Kind::Price, "price", &p)?;
            let currency = p.get("currency");
            let (idx, more) = paginate(&Cands::All(acct.prices.len() as u32), &p, cur, |i| {
                acct.prices.get(i as usize).is_some_and(|x| {
                    p.created.contains(acct.start)
                        && currency.is_none_or(|c| c == x.currency.code())
                })
            });
            Ok(list_body(
                "/v1/prices",
                idx.into_iter()
                    .map(|i| acct.render_price(i as u16))
                    .collect(),
                more,
            ))
        }
        ["coupons"] => {
            let p = ListParams::parse(query, &[])?;
            let cur = match (&p.starting_after, &p.ending_before) {
                (Some(id), _) | (None, Some(id)) => {
                    let k = COUPONS
                        .iter()
                        .position(|c| c.id == id.as_str())
                        .ok_or_else(|| {
                            let param = if p.starting_after.is_some() {
                                "starting_after"
                            } else {
                                "ending_before"
                            };
                            ApiError::missing("coupon", id, param)
                        })?;
                    Some((p.starting_after.is_none(), k as u32))
                }
                _ => None,
            };
            let (idx, more) = paginate(&Cands::All(COUPONS.len() as u32), &p, cur, |_| {
                p.created.contains(acct.start)
            });
            Ok(list_body(
                "/v1/coupons",
                idx.into_iter()
                    .map(|i| acct.render_coupon(i as usize))
                    .collect(),
                more,
            ))
        }
        ["invoice_payments"] => {
            let p = ListParams::parse(query, &["invoice", "status", "payment[type]"])?;
            let cur = cursor(acct, Kind::InvoicePayment, "invoice_payment", &p)?;
            let of_invoice = p.get("invoice").map(|id| {
                decode_in(acct, Kind::Invoice, id)
                    .map(|i| acct.invoice_charges(i))
                    .unwrap_or_default()
            });
            let cands = match &of_invoice {
                Some(charges) => Cands::Some(charges.as_slice()),
                None => Cands::All(acct.charges.len() as u32),
            };
            let status = p.get("status");
            let (idx, more) = paginate(&cands, &p, cur, |i| {
                acct.charges.get(i as usize).is_some_and(|c| {
                    let s = if c.failure.is_none() {
                        "paid"
                    } else {
                        "canceled"
                    };
                    p.created.contains(c.created) && status.is_none_or(|want| want == s)
                })
            });
            Ok(list_body(
                "/v1/invoice_payments",
                idx.into_iter()
                    .map(|i| acct.render_invoice_payment(i))
                    .collect(),
                more,
            ))
        }
        [kind, id] => {
            let (k, what) = match *kind {
                "customers" => (Kind::Customer, "customer"),
                "subscriptions" => (Kind::Subscription, "subscription"),
                "invoices" => (Kind::Invoice, "invoice"),
                "charges" => (Kind::Charge, "charge"),
                "disputes" => (Kind::Dispute, "dispute"),
                "events" => (Kind::Event, "event"),
                "prices" => (Kind::Price, "price"),
                "products" => (Kind::Product, "product"),
                "invoice_payments" => (Kind::InvoicePayment, "invoice_payment"),
                "coupons" => {
                    // Coupon ids are the merchant's codes, not encoded indices.
                    return COUPONS
                        .iter()
                        .position(|c| c.id == *id)
                        .map(|k| acct.render_coupon(k))
                        .ok_or_else(|| ApiError::missing("coupon", id, "id"));
                }
                _ => return Err(ApiError::unknown_url(&Method::GET, path)),
            };
            let i = decode_in(acct, k, id)
                .filter(|&i| (i as usize) < count(acct, k))
                .ok_or_else(|| ApiError::missing(what, id, "id"))?;
            Ok(match k {
                Kind::Customer => acct.render_customer(i),
                Kind::Subscription => acct.render_subscription(i, v),
                Kind::Invoice => acct.render_invoice(i, v),
                Kind::Charge => acct.render_charge(i, v),
                Kind::Dispute => acct.render_dispute(i),
                Kind::Price => acct.render_price(i as u16),
                Kind::Product => acct.render_product(i),
                Kind::InvoicePayment => acct.render_invoice_payment(i),
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
