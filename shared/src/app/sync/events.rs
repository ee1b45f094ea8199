//! The events phase of a sync: `/v1/events` since the last reconcile (Stripe keeps 30
//! days), each event applied as the webhook would have — recorded under its id, so an
//! event the webhook already delivered is a duplicate and changes nothing.

use super::lists::{Flow, PAGE};
use super::worker::Ctx;
use super::{SyncError, SyncStores};
use crate::app::apply::{ApplyError, Input, apply};
use crate::app::catalog::resolve_catalog;
use crate::app::matching::{contact_of, match_customer};
use crate::domain::connection::Mode;
use crate::ports::catalog::CatalogSource;
use crate::ports::events::{EventRecord, EventStatus, RECORDED_EVENT_VERSION, RecordedEvent};
use crate::ports::stripe::{EventQuery, StripeReader};
use crate::stripe::catalog::{Catalog, event_needs};
use crate::stripe::models::{Event, EventObject, EventType};
use crate::stripe::observe::observe_event_with;
use futures::StreamExt;
use std::time::Instant;

/// Reads and applies the events since the last reconcile, from the checkpoint.
pub async fn reconcile<S, T>(ctx: &Ctx<'_, S, T>) -> Result<Flow, SyncError>
where
    S: SyncStores,
    T: StripeReader + CatalogSource,
{
    let state = ctx.held.state().await;
    let Some(run) = state.run else {
        return Ok(Flow::Done);
    };
    let query = EventQuery {
        created_gte: state.reconciled_to,
        types: EventType::ENGINE_TYPES.to_vec(),
        starting_after: run.events_after,
    };
    let mut stream = ctx.reader.events(query);
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
        for event in &batch {
            apply_event(ctx, event).await?;
        }
        let last = batch.last().map(|e| e.id.to_string());
        let n = batch.len() as u64;
        ctx.held
            .update(ctx.now, |s| {
                if let Some(run) = &mut s.run {
                    if last.is_some() {
                        run.events_after = last.clone();
                    }
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

/// One missed event through the pipe, recorded as the webhook would have recorded it.
async fn apply_event<S, T>(ctx: &Ctx<'_, S, T>, event: &Event) -> Result<(), SyncError>
where
    S: SyncStores,
    T: StripeReader + CatalogSource,
{
    if !event.kind.is_engine_type() || Mode::from_livemode(event.livemode) != ctx.connection.mode {
        return Ok(());
    }
    let needs = event_needs(event);
    let catalog = if needs.is_empty() {
        Catalog::default()
    } else {
        resolve_catalog(ctx.store, ctx.reader, &ctx.connection.account_id, &needs).await?
    };
    let observed = observe_event_with(event, &catalog);
    let record = EventRecord {
        workspace_id: ctx.connection.workspace_id.clone(),
        event: RecordedEvent {
            version: RECORDED_EVENT_VERSION,
            id: event.id.clone(),
            kind: event.kind.as_str().to_owned(),
            account: event.account.clone(),
            livemode: event.livemode,
            created: event.created,
            observations: observed.observations.clone(),
            charge_owners: observed.charge_owners.clone(),
        },
        received_at: ctx.now,
        status: EventStatus::Applied { at: ctx.now },
        attempts: 0,
        last_error: None,
    };
    let input = Input {
        workspace: ctx.connection.workspace_id.clone(),
        observations: observed.observations,
        charge_owners: observed.charge_owners,
        record: Some((record, 0)),
        feeds_scores: ctx.connection.feeds_scores(),
        reason: event.id.to_string(),
        route: None,
    };
    match apply(ctx.store, ctx.cfg, ctx.now, input).await {
        Ok(_) => {}
        Err(ApplyError::UnknownCharge(charge)) => {
            tracing::info!(charge, event_id = %event.id, "missed dispute on a charge of no known customer; skipped");
        }
        Err(e) => return Err(e.into()),
    }
    if let EventObject::Customer(c) = &event.data.object {
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
    Ok(())
}
