//! `expand[]` as Stripe implements it: dotted paths that replace ids with their objects (or add
//! fields left out by default, like a price's `tiers` or a basil invoice's `payments`), at most
//! four levels deep. A path the simulator cannot expand is Stripe's 400, never ignored.

use super::ApiError;
use crate::engine::Account;
use crate::ids::Kind;
use crate::model::Discount;
use crate::version::ApiVersion;
use serde_json::Value;

/// Stripe refuses expansions deeper than this many path segments.
const MAX_DEPTH: usize = 4;

/// The `expand[]` (or `expand[N]`) values of a query, in order.
pub(super) fn paths(query: &[(String, String)]) -> Vec<String> {
    query
        .iter()
        .filter(|(k, _)| k == "expand" || k.starts_with("expand["))
        .map(|(_, v)| v.clone())
        .collect()
}

/// The fields of an object (by its `object`, or `parent.field` for a nested hash) that the
/// simulator can expand in version `v`.
fn expandable(context: &str, v: ApiVersion) -> &'static [&'static str] {
    match (context, v.basil()) {
        ("subscription", _) => &["customer", "discounts", "latest_invoice"],
        ("subscription_item", _) => &["discounts", "price"],
        ("price" | "plan", _) => &["product", "tiers"],
        ("invoice", true) => &["customer", "discounts", "payments"],
        ("invoice", false) => &["charge", "customer", "discounts", "subscription"],
        ("invoice.total_discount_amounts", _) | ("line_item.discount_amounts", _) => &["discount"],
        ("invoice.parent.subscription_details", _) => &["subscription"],
        ("line_item", true) => &["discounts"],
        ("line_item", false) => &["discounts", "price"],
        ("line_item.pricing.price_details", _) => &["price"],
        ("charge", true) => &["customer"],
        ("charge", false) => &["customer", "invoice"],
        ("dispute", _) => &["charge"],
        ("invoice_payment", _) => &["invoice"],
        ("invoice_payment.payment", _) => &["charge"],
        ("discount", _) => &["customer", "subscription"],
        _ => &[],
    }
}

fn cannot(segment: &str, hint: Option<&str>) -> ApiError {
    let message = match hint {
        Some(full) => format!(
            "This property cannot be expanded ({segment}). You may want to try expanding 'data.{full}' instead."
        ),
        None => format!("This property cannot be expanded ({segment})."),
    };
    ApiError::invalid(message, None, None)
}

/// Applies every path to a rendered object or list.
pub(super) fn apply(
    acct: &Account,
    v: ApiVersion,
    value: &mut Value,
    paths: &[String],
) -> Result<(), ApiError> {
    for path in paths {
        let segments: Vec<&str> = path.split('.').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(cannot(path, None));
        }
        if segments.len() > MAX_DEPTH {
            return Err(ApiError::invalid(
                "You cannot expand more than 4 levels of a property.".to_owned(),
                None,
                None,
            ));
        }
        let is_list = value["object"] == "list";
        if is_list && segments[0] != "data" {
            return Err(cannot(segments[0], Some(path)));
        }
        walk(acct, v, value, "", &segments)?;
    }
    Ok(())
}

fn walk(
    acct: &Account,
    v: ApiVersion,
    value: &mut Value,
    context: &str,
    segments: &[&str],
) -> Result<(), ApiError> {
    let Some((head, rest)) = segments.split_first() else {
        return Ok(());
    };
    let Some(obj) = value.as_object_mut() else {
        // A null (no latest invoice, no discount): nothing to expand, as in Stripe.
        return Ok(());
    };
    let context = obj
        .get("object")
        .and_then(Value::as_str)
        .map_or_else(|| context.to_owned(), str::to_owned);
    if context == "list" {
        if *head != "data" {
            return Err(cannot(head, None));
        }
        if let Some(Value::Array(items)) = obj.get_mut("data") {
            for item in items {
                walk(acct, v, item, "", rest)?;
            }
        }
        return Ok(());
    }
    let allowed = expandable(&context, v).contains(head);
    if rest.is_empty() {
        if !allowed {
            return Err(cannot(head, None));
        }
        return expand_field(acct, v, obj, &context, head);
    }
    let nested = format!("{context}.{head}");
    match obj.get(*head) {
        None => Err(cannot(head, None)),
        Some(Value::String(_)) if allowed => {
            expand_field(acct, v, obj, &context, head)?;
            walk(
                acct,
                v,
                obj.entry(*head).or_insert(Value::Null),
                &nested,
                rest,
            )
        }
        Some(Value::Object(_)) => walk(
            acct,
            v,
            obj.entry(*head).or_insert(Value::Null),
            &nested,
            rest,
        ),
        Some(Value::Array(_)) => {
            if allowed {
                expand_field(acct, v, obj, &context, head)?;
            }
            if let Some(Value::Array(items)) = obj.get_mut(*head) {
                for item in items {
                    walk(acct, v, item, &nested, rest)?;
                }
            }
            Ok(())
        }
        Some(Value::Null) => Ok(()),
        Some(_) => Err(cannot(head, None)),
    }
}

/// Expands `obj[field]` in place.
fn expand_field(
    acct: &Account,
    v: ApiVersion,
    obj: &mut serde_json::Map<String, Value>,
    context: &str,
    field: &str,
) -> Result<(), ApiError> {
    let own = |k: Kind| {
        obj.get("id")
            .and_then(Value::as_str)
            .and_then(|id| decode(acct, k, id))
    };
    match (context, field) {
        ("price" | "plan", "tiers") => {
            let tiers =
                own(Kind::Price).map_or(Value::Array(Vec::new()), |p| acct.price_tiers(p as u16));
            obj.insert("tiers".to_owned(), tiers);
            return Ok(());
        }
        ("invoice", "payments") => {
            let payments =
                own(Kind::Invoice).map_or(Value::Null, |i| acct.render_invoice_payments(i));
            obj.insert("payments".to_owned(), payments);
            return Ok(());
        }
        _ => {}
    }
    let Some(current) = obj.get_mut(field) else {
        return Err(cannot(field, None));
    };
    match current {
        Value::String(id) => {
            let expanded = resolve(acct, v, id).ok_or_else(|| cannot(field, None))?;
            *current = expanded;
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Value::String(id) = item {
                    let expanded = resolve(acct, v, id).ok_or_else(|| cannot(field, None))?;
                    *item = expanded;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn decode(acct: &Account, kind: Kind, id: &str) -> Option<u32> {
    acct.codec
        .decode(kind, id)
        .filter(|(a, _)| *a == acct.index)
        .map(|(_, i)| i)
}

/// The discount whose id is keyed by subscription `s`: the subscription's own, or, once a
/// one-time coupon has left it, the one its invoices recorded.
fn discount_of(acct: &Account, s: u32) -> Option<Discount> {
    acct.subs.get(s as usize)?.discount.or_else(|| {
        acct.sub_invoices
            .get(s as usize)?
            .iter()
            .rev()
            .find_map(|&i| {
                acct.invoices
                    .get(i as usize)
                    .and_then(|inv| inv.discount_source)
            })
    })
}

/// The object an id names, rendered in version `v`.
pub(super) fn resolve(acct: &Account, v: ApiVersion, id: &str) -> Option<Value> {
    let (prefix, _) = id.split_once('_')?;
    let found = |k: Kind, len: usize| decode(acct, k, id).filter(|&i| (i as usize) < len);
    let value = match prefix {
        "cus" => acct.render_customer(found(Kind::Customer, acct.customers.len())?),
        "sub" => acct.render_subscription(found(Kind::Subscription, acct.subs.len())?, v),
        "in" => acct.render_invoice(found(Kind::Invoice, acct.invoices.len())?, v),
        "ch" => acct.render_charge(found(Kind::Charge, acct.charges.len())?, v),
        "dp" => acct.render_dispute(found(Kind::Dispute, acct.disputes.len())?),
        "inpay" => acct.render_invoice_payment(found(Kind::InvoicePayment, acct.charges.len())?),
        "price" => acct.render_price(u16::try_from(found(Kind::Price, acct.prices.len())?).ok()?),
        "prod" => acct.render_product(found(Kind::Product, usize::MAX)?),
        "di" => {
            let s = found(Kind::Discount, acct.subs.len())?;
            let d = discount_of(acct, s)?;
            let customer = acct.subs.get(s as usize)?.customer;
            acct.render_discount(&d, customer)
        }
        _ => return None,
    };
    (!value.is_null()).then_some(value)
}
