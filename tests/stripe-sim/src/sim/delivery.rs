//! Moving the clock and sending the resulting events as signed webhooks.

use super::{Advance, Delivery, EmitError, Simulator};
use crate::engine::{Account, DAY};
use crate::ids::Kind;
use kustiq::domain::time::Timestamp;
use serde_json::Value;

impl Simulator {
    /// account, and sends the resulting events as signed webhooks.
    pub async fn advance_days(&self, days: u32) -> Advance {
        // Events are rendered only when there is somewhere to send them.
        let send = self.inner.config.webhook.is_some();
        let (pending, events) = {
            let mut st = self.lock();
            let mut pending = Vec::new();
            let mut events = 0;
            for a in &mut st.accounts {
                let target = a.now + i64::from(days) * DAY;
                let first = a.run_until(target);
                events += a.events.len() - first;
                if !send {
                    continue;
                }
                let id = a.id();
                pending.extend((first..a.events.len()).map(|e| rendered(a, e, &id)));
            }
            // Deliver in time order across accounts, as one endpoint would receive them.
            pending.sort_by_key(|p| p.0);
            (pending, events)
        };
        let now = self.now().unix();
        let (delivered, failed) = self.deliver(pending).await;
        Advance {
            now,
            events,
            delivered,
            failed,
        }
    }

    /// Makes one event of `event_type` happen now for `customer` in `account` (through the same
    /// transitions `advance_days` uses) and delivers the resulting events. Returns their ids.
    pub async fn emit(
        &self,
        account: &str,
        event_type: &str,
        customer: &str,
    ) -> Result<Vec<String>, EmitError> {
        let i = self
            .account_index(account)
            .ok_or_else(|| EmitError::Account(account.to_owned()))?;
        let pending = {
            let mut st = self.lock();
            let a = st
                .accounts
                .get_mut(i)
                .ok_or_else(|| EmitError::Account(account.to_owned()))?;
            let c = a
                .codec
                .decode(Kind::Customer, customer)
                .filter(|(acct, c)| *acct == a.index && (*c as usize) < a.customers.len())
                .map(|(_, c)| c);
            let c = c.ok_or_else(|| EmitError::Customer(customer.to_owned()))?;
            let first = a
                .force(event_type, c)
                .ok_or_else(|| EmitError::NotApplicable(event_type.to_owned()))?;
            let id = a.id();
            (first..a.events.len())
                .map(|e| rendered(a, e, &id))
                .collect::<Vec<_>>()
        };
        let ids = pending
            .iter()
            .filter_map(|p| {
                serde_json::from_str::<Value>(&p.3)
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
            })
            .collect();
        self.deliver(pending).await;
        Ok(ids)
    }

    /// Records and delivers `account.application.deauthorized` for an account (after
    /// `POST /oauth/deauthorize`), as Stripe tells the platform's Connect endpoint.
    pub(crate) async fn deauthorized(&self, account: usize) {
        let pending = {
            let mut st = self.lock();
            let Some(a) = st.accounts.get_mut(account) else {
                return;
            };
            let e = a.record_deauthorized();
            let id = a.id();
            vec![rendered(a, e, &id)]
        };
        self.deliver(pending).await;
    }

    async fn deliver(&self, pending: Vec<(i64, String, &'static str, String)>) -> (usize, usize) {
        let Some(target) = self.inner.config.webhook.clone() else {
            return (0, 0);
        };
        let (mut ok, mut failed) = (0, 0);
        for (_, account, kind, body) in pending {
            let event_id = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            // Stripe signs with the wall clock at delivery; receivers reject stale timestamps.
            let signature = kustiq::stripe::signature::sign(
                body.as_bytes(),
                &target.secret,
                self.signing_time(),
            );
            let result = self
                .inner
                .http
                .post(&target.url)
                .header("content-type", "application/json; charset=utf-8")
                .header(
                    "user-agent",
                    "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                )
                .header("stripe-signature", &signature)
                .body(body)
                .send()
                .await;
            let (status, error) = match result {
                Ok(r) => (Some(r.status().as_u16()), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let d = Delivery {
                event_id,
                event_type: kind.to_owned(),
                account,
                status,
                error,
                signature,
            };
            if d.ok() {
                ok += 1;
            } else {
                failed += 1;
            }
            self.lock().deliveries.push(d);
        }
        (ok, failed)
    }
}

/// An event ready to deliver: time, account id, type and its JSON body.
fn rendered(a: &Account, e: usize, account: &str) -> (i64, String, &'static str, String) {
    let ev = &a.events[e];
    (
        ev.created,
        account.to_owned(),
        ev.kind,
        a.render_event(e as u32).to_string(),
    )
}

/// The wall clock as a [`Timestamp`].
pub fn wall_now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
}
