//! The lifecycle engine: a seeded discrete-event simulation of one Stripe account.
//!
//! Generation and `advance_days` are the same code: history is the engine run from the
//! account's start to `now` (recording events only for Stripe's 30-day window), and advancing
//! runs it further. Actions sit in a time-ordered heap, so the work is proportional to the
//! number of billing events, not customers × days.

mod billing;
mod catalog;
mod customers;
mod disputes;
mod emit;
mod lifecycle;
mod subscriptions;

pub use catalog::add_interval;

use crate::ids::IdCodec;
use crate::model::{
    Charge, Cur, Customer, Dispute, Event, Invoice, Previous, Price, Snapshot, Subscription,
};
use crate::version::ApiVersion;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Stripe keeps events retrievable for 30 days.
pub const EVENT_WINDOW: i64 = 30 * DAY;

/// Toggles set through the control endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// Access revoked: every key for the account answers 401.
    pub revoked: bool,
    /// Account restricted: data reads answer 403, `/v1/account` shows `disabled_reason`.
    pub restricted: bool,
    /// Reads answer 403 as for a key missing a permission.
    pub permission_denied: bool,
    /// The account's country (two ASCII letters) when not the default `US`.
    pub country: Option<[u8; 2]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Arrive,
    Renew(u32, i64),
    Retry(u32, u32),
    RequestCancel(u32),
    ChangePlan(u32),
    PauseCollection(u32),
    ResumePaused(u32),
    Dispute(u32),
    UpdateCustomer(u32),
}

/// What a forced payment attempt should do (for `emit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Draw from the customer's risk.
    Random,
    /// Succeed.
    Succeed,
    /// Fail.
    Fail,
}

/// One simulated connected account.
#[derive(Debug)]
pub struct Account {
    /// Position among the simulator's accounts; part of every id.
    pub index: u32,
    /// Id codec.
    pub codec: IdCodec,
    /// First moment of the account's history.
    pub start: i64,
    /// The simulated clock.
    pub now: i64,
    /// Currency most customers use.
    pub default_currency: Cur,
    /// Price catalog.
    pub prices: Vec<Price>,
    /// Customers, in creation order.
    pub customers: Vec<Customer>,
    /// Subscriptions, in creation order.
    pub subs: Vec<Subscription>,
    /// Invoices, in creation order.
    pub invoices: Vec<Invoice>,
    /// Charges, in creation order.
    pub charges: Vec<Charge>,
    /// Disputes, in creation order.
    pub disputes: Vec<Dispute>,
    /// Events recorded (those at or after `record_from`), in creation order.
    pub events: Vec<Event>,
    /// Subscription indices per customer.
    pub cust_subs: Vec<Vec<u32>>,
    /// Invoice indices per customer.
    pub cust_invoices: Vec<Vec<u32>>,
    /// Charge indices per customer.
    pub cust_charges: Vec<Vec<u32>>,
    /// Invoice indices per subscription.
    pub sub_invoices: Vec<Vec<u32>>,
    /// Control toggles.
    pub flags: Flags,
    /// The API version events are rendered in (the account's default version).
    pub api_version: ApiVersion,
    heap: BinaryHeap<Reverse<(i64, u64, Action)>>,
    rng: fastrand::Rng,
    seq: u64,
    next_item: u32,
    record_from: i64,
    arrival_gap: i64,
    companies: u32,
}

/// Parameters of one account's generation.
#[derive(Debug, Clone, Copy)]
pub struct GenParams {
    /// Seed.
    pub seed: u64,
    /// Account position.
    pub index: u32,
    /// Customers existing at `now`.
    pub customers: usize,
    /// Years of history.
    pub years: u32,
    /// The simulated present.
    pub now: i64,
    /// The account's default API version.
    pub api_version: ApiVersion,
}

impl Account {
    /// Generates an account's history up to `params.now`.
    pub fn generate(params: GenParams) -> Self {
        let span = i64::from(params.years.max(1)) * 365 * DAY;
        let start = params.now - span;
        let n = params.customers;
        let mut acct = Account {
            index: params.index,
            codec: IdCodec::new(params.seed),
            start,
            now: start,
            default_currency: if params.index.is_multiple_of(2) {
                Cur::Usd
            } else {
                Cur::Eur
            },
            prices: catalog::catalog(),
            customers: Vec::with_capacity(n),
            subs: Vec::with_capacity(n),
            invoices: Vec::new(),
            charges: Vec::new(),
            disputes: Vec::new(),
            events: Vec::new(),
            cust_subs: Vec::with_capacity(n),
            cust_invoices: Vec::with_capacity(n),
            cust_charges: Vec::with_capacity(n),
            sub_invoices: Vec::with_capacity(n),
            flags: Flags::default(),
            api_version: params.api_version,
            heap: BinaryHeap::new(),
            rng: fastrand::Rng::with_seed(
                params.seed ^ (u64::from(params.index) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ),
            seq: 0,
            next_item: 0,
            record_from: params.now - EVENT_WINDOW,
            arrival_gap: (span / (2 * n.max(1) as i64)).max(60),
            companies: (n as u32 * 7 / 10).max(1),
        };
        // Sign-ups grow over time: the density rises linearly, so most customers are recent.
        let mut arrivals: Vec<i64> = (0..n)
            .map(|_| start + (span as f64 * acct.rng.f64().sqrt()) as i64)
            .collect();
        arrivals.sort_unstable();
        for t in arrivals {
            acct.schedule(t.min(params.now - 1), Action::Arrive);
        }
        acct.run_until(params.now);
        // Sign-ups continue after the present at the latest rate.
        let gap = acct.exp_gap();
        acct.schedule(params.now + gap, Action::Arrive);
        acct
    }

    fn exp_gap(&mut self) -> i64 {
        let u = self.rng.f64().max(1e-9);
        ((-u.ln()) * self.arrival_gap as f64) as i64 + 1
    }

    fn schedule(&mut self, at: i64, action: Action) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, action)));
    }

    /// Runs every due action up to `t` and sets the clock to `t`. Returns the index of the
    /// first event recorded by this run.
    pub fn run_until(&mut self, t: i64) -> usize {
        let first = self.events.len();
        while let Some(Reverse((at, _, _))) = self.heap.peek() {
            if *at > t {
                break;
            }
            let Some(Reverse((at, _, action))) = self.heap.pop() else {
                break;
            };
            self.now = self.now.max(at);
            self.apply(action);
        }
        self.now = self.now.max(t);
        first
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Arrive => {
                let c = self.new_customer();
                if self.now >= self.record_from + EVENT_WINDOW {
                    // Live arrivals keep coming at the latest rate.
                    let gap = self.exp_gap();
                    self.schedule(self.now + gap, Action::Arrive);
                }
                if self.rng.u8(0..100) < 92 {
                    self.new_subscription(c);
                }
            }
            Action::Renew(s, expected_end) => self.renew(s, expected_end),
            Action::Retry(s, inv) => self.retry(s, inv, Outcome::Random),
            Action::RequestCancel(s) => {
                let immediate = self.rng.u8(0..100) < 30;
                // Some merchants refund the last payment when a customer cancels at once.
                if self.request_cancel(s, immediate) && immediate && self.rng.u8(0..100) < 40 {
                    self.refund_latest(s);
                }
            }
            Action::ChangePlan(s) => {
                let up = self.rng.bool();
                self.change_plan(s, up);
            }
            Action::PauseCollection(s) => {
                let periods = self.rng.u8(1..4);
                self.pause_collection(s, periods);
            }
            Action::ResumePaused(s) => {
                self.resume_paused(s);
            }
            Action::Dispute(ch) => {
                self.dispute(ch);
            }
            Action::UpdateCustomer(c) => {
                let email = self.rng.bool();
                self.update_customer(c, email);
            }
        }
    }

    fn record(&mut self, kind: &'static str, object: Snapshot, previous: Option<Value>) {
        self.record_with(kind, object, previous.map(Previous::Json));
    }

    fn record_with(&mut self, kind: &'static str, object: Snapshot, previous: Option<Previous>) {
        if self.now < self.record_from {
            return;
        }
        self.events.push(Event {
            created: self.now,
            kind,
            object,
            previous,
        });
    }

    fn snap_customer(&self, c: u32) -> Snapshot {
        Snapshot::Customer(c, self.customers[c as usize].clone())
    }

    fn snap_sub(&self, s: u32) -> Snapshot {
        Snapshot::Subscription(s, Box::new(self.subs[s as usize].clone()))
    }

    fn snap_invoice(&self, i: u32) -> Snapshot {
        Snapshot::Invoice(i, Box::new(self.invoices[i as usize].clone()))
    }

    fn snap_charge(&self, c: u32) -> Snapshot {
        Snapshot::Charge(c, self.charges[c as usize])
    }

    /// Records `account.application.deauthorized` now and returns its index.
    pub fn record_deauthorized(&mut self) -> usize {
        self.events.push(Event {
            created: self.now,
            kind: "account.application.deauthorized",
            object: Snapshot::Application,
            previous: None,
        });
        self.events.len() - 1
    }

    fn recording(&self) -> bool {
        self.now >= self.record_from
    }
}
