//! The lists phase: customers, subscriptions, invoices, charges and disputes read
//! concurrently (each list is its own endpoint, so together they use the account's
//! budget), a page at a time; each page enters the apply pipe grouped by customer, then
//! its list's cursor is checkpointed. Customers are matched as they are read; once the
//! customers list ends, the rows left in review or unmatched are decided again.

use super::worker::Ctx;
use super::{SyncError, SyncStores};
use crate::app::apply::{Applied, ApplyError, apply};
use crate::app::catalog::resolve_catalog;
use crate::app::matching::{contact_of, match_customer, on_profile_written, profile_index};
use crate::domain::ids::StripeCustomerId;
use crate::ports::catalog::CatalogSource;
use crate::ports::stripe::{ListFilter, StripeError, StripeReader};
use crate::ports::sync::{ListCursor, ListKind};
use crate::stripe::catalog::{Catalog, CatalogNeeds, needs};
use crate::stripe::models::EventObject;
use crate::stripe::observe::{Observed, observe_object_with};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use std::time::Instant;

/// Objects per checkpoint: one Stripe page.
pub const PAGE: usize = 100;

/// Customers applied at once within a page.
const APPLY_CONCURRENCY: usize = 8;

/// How a phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Finished.
    Done,
    /// The chunk's time is up: checkpointed, to be continued.
    OutOfTime,
}

/// The id a list resumes after.
fn object_id(o: &EventObject) -> Option<String> {
    match o {
        EventObject::Customer(c) => Some(c.id.to_string()),
        EventObject::Subscription(s) => Some(s.id.to_string()),
        EventObject::Invoice(i) => Some(i.id.to_string()),
        EventObject::Charge(c) => Some(c.id.to_string()),
        EventObject::Dispute(d) => Some(d.id.to_string()),
        EventObject::Application(_) | EventObject::Other(_) => None,
    }
}

/// One list as a stream of objects, from its checkpoint.
fn list<'r, R: StripeReader>(
    reader: &'r R,
    kind: ListKind,
    filter: ListFilter,
) -> BoxStream<'r, Result<EventObject, StripeError>> {
    match kind {
        ListKind::Customers => reader
            .customers(filter)
            .map_ok(|o| EventObject::Customer(Box::new(o)))
            .boxed(),
        // Discount objects name their coupon: no retrieve per subscription to learn it.
        ListKind::Subscriptions => reader
            .subscriptions(filter.with_discounts())
            .map_ok(|o| EventObject::Subscription(Box::new(o)))
            .boxed(),
        ListKind::Invoices => reader
            .invoices(filter)
            .map_ok(|o| EventObject::Invoice(Box::new(o)))
            .boxed(),
        ListKind::Charges => reader
            .charges(filter)
            .map_ok(|o| EventObject::Charge(Box::new(o)))
            .boxed(),
        ListKind::Disputes => reader
            .disputes(filter)
            .map_ok(|o| EventObject::Dispute(Box::new(o)))
            .boxed(),
    }
}

/// Reads every list not done yet, concurrently, until done or out of time.
pub async fn read_lists<S, T>(ctx: &Ctx<'_, S, T>) -> Result<Flow, SyncError>
where
    S: SyncStores,
    T: StripeReader + CatalogSource,
{
    let state = ctx.held.state().await;
    let Some(run) = state.run else {
        return Ok(Flow::Done);
    };
    let pending = ListKind::ALL.into_iter().filter_map(|k| {
        let cursor = run.lists.get(&k).cloned().unwrap_or_default();
        (!cursor.done).then_some((k, cursor))
    });
    let outcomes =
        futures::future::join_all(pending.map(|(k, c)| read_list(ctx, k, c, run.since))).await;
    let mut flow = Flow::Done;
    for outcome in outcomes {
        if outcome? == Flow::OutOfTime {
            flow = Flow::OutOfTime;
        }
    }
    Ok(flow)
}

async fn read_list<S, T>(
    ctx: &Ctx<'_, S, T>,
    kind: ListKind,
    cursor: ListCursor,
    since: Option<crate::domain::time::Timestamp>,
) -> Result<Flow, SyncError>
where
    S: SyncStores,
    T: StripeReader + CatalogSource,
{
    let windowed = matches!(
        kind,
        ListKind::Invoices | ListKind::Charges | ListKind::Disputes
    );
    let filter = ListFilter {
        created_gte: since.filter(|_| windowed),
        ..ListFilter::default()
    }
    .after(cursor.after.clone());
    let mut stream = list(ctx.reader, kind, filter);
    loop {
        if Instant::now() >= ctx.deadline {
            return Ok(Flow::OutOfTime);
        }
        let mut batch = Vec::with_capacity(PAGE);
        let mut ended = false;
        while batch.len() < PAGE {
            match stream.next().await {
                Some(item) => batch.push(item?),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let last = batch.iter().rev().find_map(object_id);
        let n = batch.len() as u64;
        apply_objects(ctx, &batch).await?;
        if ended && kind == ListKind::Customers {
            settle_matches(ctx).await?;
        }
        ctx.held
            .update(ctx.now, |s| {
                if let Some(run) = &mut s.run {
                    let c = run.lists.entry(kind).or_default();
                    if last.is_some() {
                        c.after = last.clone();
                    }
                    c.objects += n;
                    c.done = ended;
                    run.objects_done += n;
                }
            })
            .await?;
        ctx.report_progress(false).await?;
        if ended {
            return Ok(Flow::Done);
        }
    }
}

/// Once every customer is matched, decides the open rows (review, unmatched) again
/// against the whole index: a review decided before a later customer of the same run
/// took one of its candidates would otherwise keep listing it, so the match table would
/// depend on the order customers were read in and on where a killed worker resumed.
async fn settle_matches<S, T>(ctx: &Ctx<'_, S, T>) -> Result<(), SyncError>
where
    S: SyncStores,
{
    let ws = &ctx.connection.workspace_id;
    let mut index = ctx.index.lock().await;
    on_profile_written(ctx.store, ctx.cfg, ctx.now, ws).await?;
    *index = profile_index(ctx.store, ws).await?;
    Ok(())
}

/// The catalog a page of objects needs (tiers, coupons), from the cache or Stripe.
async fn page_catalog<S, T>(
    ctx: &Ctx<'_, S, T>,
    objects: &[EventObject],
) -> Result<Catalog, SyncError>
where
    S: SyncStores,
    T: StripeReader + CatalogSource,
{
    let mut all = CatalogNeeds::default();
    for o in objects {
        let n = needs(o, None);
        all.prices.extend(n.prices);
        all.discounts.extend(n.discounts);
        all.coupons.extend(n.coupons);
    }
    all.prices.sort();
    all.prices.dedup();
    all.discounts.sort();
    all.discounts.dedup();
    all.coupons.sort();
    all.coupons.dedup();
    if all.is_empty() {
        return Ok(Catalog::default());
    }
    Ok(resolve_catalog(ctx.store, ctx.reader, &ctx.connection.account_id, &all).await?)
}

/// Applies a page of objects: observed with the page's catalog, grouped by customer
/// (one pass of the pipe per customer), then customers matched.
pub async fn apply_objects<S, T>(
    ctx: &Ctx<'_, S, T>,
    objects: &[EventObject],
) -> Result<(), SyncError>
where
    S: SyncStores,
    T: StripeReader + CatalogSource,
{
    let catalog = page_catalog(ctx, objects).await?;
    let mut by_customer: BTreeMap<Option<StripeCustomerId>, Vec<Observed>> = BTreeMap::new();
    for o in objects {
        let observed = observe_object_with(o, ctx.now, &catalog);
        let customer = observed
            .observations
            .iter()
            .find_map(|ob| ob.customer.clone());
        by_customer.entry(customer).or_default().push(observed);
    }
    let mut inputs = Vec::new();
    for (customer, group) in by_customer {
        match customer {
            // A dispute whose charge names no customer: each on its own, routed by the
            // stored owner of its charge if there is one.
            None => inputs.extend(group.into_iter().map(|o| ctx.input(o))),
            Some(_) => {
                let mut merged = Observed::default();
                for o in group {
                    merged.observations.extend(o.observations);
                    merged.charge_owners.extend(o.charge_owners);
                }
                inputs.push(ctx.input(merged));
            }
        }
    }
    let results: Vec<Result<Applied, ApplyError>> = futures::stream::iter(inputs)
        .map(|input| apply(ctx.store, ctx.cfg, ctx.now, input))
        .buffer_unordered(APPLY_CONCURRENCY)
        .collect()
        .await;
    for r in results {
        match r {
            Ok(_) => {}
            Err(ApplyError::UnknownCharge(charge)) => {
                tracing::info!(charge, "dispute on a charge of no known customer; skipped");
            }
            Err(e) => return Err(e.into()),
        }
    }
    for o in objects {
        if let EventObject::Customer(c) = o {
            let mut index = ctx.index.lock().await;
            match_customer(
                ctx.store,
                ctx.cfg,
                ctx.now,
                &ctx.connection.workspace_id,
                &mut index,
                contact_of(c),
            )
            .await?;
        }
    }
    Ok(())
}
