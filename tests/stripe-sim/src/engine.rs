//! The lifecycle engine: a seeded discrete-event simulation of one Stripe account.
//!
//! Generation and `advance_days` are the same code: history is the engine run from the
//! account's start to `now` (recording events only for Stripe's 30-day window), and advancing
//! runs it further. Actions sit in a time-ordered heap, so the work is proportional to the
//! number of billing events, not customers × days.

use crate::ids::IdCodec;
use crate::model::{
    BillingReason, COUPONS, CancelReason, Charge, Cur, Customer, Discount, Dispute, Duration,
    Event, Interval, Invoice, InvoiceStatus, Item, Line, Meta, Previous, Price, Scheme, Snapshot,
    SubStatus, Subscription, Tier, TiersMode,
};
use chrono::{DateTime, Months, Utc};
use serde_json::{Value, json};
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
    heap: BinaryHeap<Reverse<(i64, u64, Action)>>,
    rng: fastrand::Rng,
    seq: u64,
    next_item: u32,
    record_from: i64,
    arrival_gap: i64,
    companies: u32,
}

/// Adds `count` intervals to `t` on the calendar, as Stripe bills.
fn add_interval(t: i64, interval: Interval, count: u8) -> i64 {
    let n = u32::from(count.max(1));
    match interval {
        Interval::Week => t + 7 * DAY * i64::from(n),
        Interval::Month | Interval::Year => {
            let months = if interval == Interval::Year {
                12 * n
            } else {
                n
            };
            DateTime::<Utc>::from_timestamp(t, 0)
                .and_then(|d| d.checked_add_months(Months::new(months)))
                .map_or(t + 30 * DAY * i64::from(months), |d| d.timestamp())
        }
    }
}

fn catalog() -> Vec<Price> {
    let mut prices = Vec::new();
    for currency in Cur::ALL {
        // Same list prices in each currency, as most SaaS price books do.
        for (product, monthly) in [(0u8, 1_900i64), (1, 4_900), (2, 9_900)] {
            for interval in [Interval::Month, Interval::Year] {
                let unit = if interval == Interval::Year {
                    monthly * 10
                } else {
                    monthly
                };
                prices.push(Price {
                    product,
                    currency,
                    interval,
                    interval_count: 1,
                    scheme: Scheme::PerUnit(unit),
                    rank: product,
                    per_seat: false,
                });
            }
        }
        let graduated = vec![
            Tier {
                up_to: Some(5),
                unit_amount: 1_200,
                flat_amount: 0,
            },
            Tier {
                up_to: Some(20),
                unit_amount: 1_000,
                flat_amount: 0,
            },
            Tier {
                up_to: None,
                unit_amount: 800,
                flat_amount: 0,
            },
        ];
        let volume = vec![
            Tier {
                up_to: Some(10),
                unit_amount: 900,
                flat_amount: 0,
            },
            Tier {
                up_to: Some(50),
                unit_amount: 700,
                flat_amount: 2_000,
            },
            Tier {
                up_to: None,
                unit_amount: 500,
                flat_amount: 5_000,
            },
        ];
        prices.push(Price {
            product: 3,
            currency,
            interval: Interval::Month,
            interval_count: 1,
            scheme: Scheme::Tiered(TiersMode::Graduated, graduated.clone()),
            rank: 0,
            per_seat: true,
        });
        prices.push(Price {
            product: 3,
            currency,
            interval: Interval::Year,
            interval_count: 1,
            scheme: Scheme::Tiered(
                TiersMode::Graduated,
                graduated
                    .iter()
                    .map(|t| Tier {
                        unit_amount: t.unit_amount * 10,
                        ..*t
                    })
                    .collect(),
            ),
            rank: 0,
            per_seat: true,
        });
        prices.push(Price {
            product: 4,
            currency,
            interval: Interval::Month,
            interval_count: 1,
            scheme: Scheme::Tiered(TiersMode::Volume, volume),
            rank: 0,
            per_seat: true,
        });
        prices.push(Price {
            product: 5,
            currency,
            interval: Interval::Week,
            interval_count: 1,
            scheme: Scheme::PerUnit(1_500),
            rank: 0,
            per_seat: false,
        });
        prices.push(Price {
            product: 1,
            currency,
            interval: Interval::Month,
            interval_count: 3,
            scheme: Scheme::PerUnit(13_500),
            rank: 1,
            per_seat: false,
        });
    }
    prices
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
            prices: catalog(),
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

    fn new_customer(&mut self) -> u32 {
        let c = self.customers.len() as u32;
        let r = &mut self.rng;
        let currency = match (self.default_currency, r.u8(0..100)) {
            (Cur::Usd, 0..70) | (Cur::Eur, 60..85) => Cur::Usd,
            (Cur::Usd, 70..90) | (Cur::Eur, 0..60) => Cur::Eur,
            _ => Cur::Gbp,
        };
        let personal = if r.u8(0..100) < 30 {
            Some(r.u8(0..8))
        } else {
            None
        };
        let meta = match (personal, r.u8(0..100)) {
            (_, 0..15) => Meta::ProfileId(c),
            (Some(_), 15..50) => Meta::Domain,
            _ => Meta::None,
        };
        let risk = match r.u8(0..100) {
            0..70 => 2,
            70..90 => 10,
            _ => 35,
        };
        let customer = Customer {
            created: self.now,
            first: r.u16(0..40),
            last: r.u16(0..40),
            company: r.u32(0..self.companies),
            personal,
            no_email: r.u8(0..100) < 3,
            email_version: 0,
            meta,
            currency,
            has_payment_method: r.u8(0..100) < 85,
            risk,
            delinquent: false,
        };
        let update = if r.u8(0..100) < 8 {
            Some(r.i64(DAY..400 * DAY))
        } else {
            None
        };
        self.customers.push(customer);
        self.cust_subs.push(Vec::new());
        self.cust_invoices.push(Vec::new());
        self.cust_charges.push(Vec::new());
        if let Some(after) = update {
            self.schedule(self.now + after, Action::UpdateCustomer(c));
        }
        if self.recording() {
            let obj = self.snap_customer(c);
            self.record("customer.created", obj, None);
        }
        c
    }

    fn price_index(&self, currency: Cur, product: u8, interval: Interval) -> u16 {
        self.prices
            .iter()
            .position(|p| p.currency == currency && p.product == product && p.interval == interval)
            .unwrap_or(0) as u16
    }

    fn new_subscription(&mut self, c: u32) {
        let Some(cust) = self.customers.get(c as usize).cloned() else {
            return;
        };
        let r = &mut self.rng;
        let (product, interval) = match r.u8(0..100) {
            0..4 => (5, Interval::Week),
            4..6 => (1, Interval::Month), // quarterly: interval_count 3, found below
            roll => {
                let product = match r.u8(0..100) {
                    0..45 => 0,
                    45..75 => 1,
                    75..85 => 2,
                    85..95 => 3,
                    _ => 4,
                };
                let yearly = roll < 26 && product != 4;
                (
                    product,
                    if yearly {
                        Interval::Year
                    } else {
                        Interval::Month
                    },
                )
            }
        };
        let quarterly = interval == Interval::Month && product == 1 && r.u8(0..100) < 8;
        let quantity = match product {
            3 => 1 + r.u32(0..40) * r.u32(0..2) + r.u32(0..6),
            4 => 1 + r.u32(0..80),
            _ if r.u8(0..100) < 10 => r.u32(2..6),
            _ => 1,
        };
        let trial = !cust.has_payment_method || r.u8(0..100) < 30;
        let trial_cancels = r.bool();
        let coupon = if r.u8(0..100) < 15 {
            let k = r.u8(0..COUPONS.len() as u8);
            if COUPONS[usize::from(k)].amount_off.is_some() && cust.currency != Cur::Usd {
                None
            } else {
                Some(k)
            }
        } else {
            None
        };
        let price = if quarterly {
            self.prices
                .iter()
                .position(|p| p.currency == cust.currency && p.interval_count == 3)
                .unwrap_or(0) as u16
        } else {
            self.price_index(cust.currency, product, interval)
        };
        let s = self.subs.len() as u32;
        let item = Item {
            index: self.next_item,
            price,
            quantity,
            created: self.now,
        };
        self.next_item += 1;
        let p = &self.prices[usize::from(price)];
        let trial_days = 14;
        let period_end = if trial {
            self.now + trial_days * DAY
        } else {
            add_interval(self.now, p.interval, p.interval_count)
        };
        let discount = coupon.map(|k| Discount {
            coupon: k,
            start: self.now,
            end: match COUPONS[usize::from(k)].duration {
                Duration::Repeating(m) => Some(add_interval(self.now, Interval::Month, m)),
                _ => None,
            },
            subscription: s,
        });
        self.subs.push(Subscription {
            customer: c,
            created: self.now,
            status: if trial {
                SubStatus::Trialing
            } else {
                SubStatus::Active
            },
            items: vec![item],
            period_start: self.now,
            period_end,
            trial: if trial {
                Some((self.now, period_end))
            } else {
                None
            },
            trial_cancels,
            cancel_at_period_end: false,
            canceled_at: None,
            ended_at: None,
            cancel_reason: None,
            pause_resumes_at: None,
            discount,
            latest_invoice: None,
            failed_attempts: 0,
        });
        self.sub_invoices.push(Vec::new());
        if let Some(v) = self.cust_subs.get_mut(c as usize) {
            v.push(s);
        }
        // The first invoice: $0 for a trial, otherwise paid at once (a failed first payment
        // would leave the subscription `incomplete`, which the generator does not model).
        self.bill(s, BillingReason::Create, Outcome::Succeed, trial);
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record("customer.subscription.created", obj, None);
        }
        self.schedule(period_end, Action::Renew(s, period_end));
        self.plan_period(s);
    }

    /// Decides what happens during the coming period.
    fn plan_period(&mut self, s: u32) {
        let Some(sub) = self.subs.get(s as usize) else {
            return;
        };
        let (start, end) = (sub.period_start, sub.period_end);
        let interval = sub
            .items
            .first()
            .and_then(|i| self.prices.get(usize::from(i.price)))
            .map_or(Interval::Month, |p| p.interval);
        let span = (end - start).max(DAY);
        let at = start + self.rng.i64(DAY / 2..span);
        let cancel_pct = match interval {
            Interval::Week => 1,
            Interval::Month => 3,
            Interval::Year => 15,
        };
        let roll = self.rng.u8(0..100);
        if roll < cancel_pct {
            self.schedule(at, Action::RequestCancel(s));
        } else if roll < cancel_pct + 5 {
            self.schedule(at, Action::ChangePlan(s));
        } else if roll < cancel_pct + 6 && interval == Interval::Month {
            self.schedule(at, Action::PauseCollection(s));
        }
    }

    fn set_status(&mut self, s: u32, status: SubStatus) {
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return;
        };
        let before = sub.status;
        if before == status {
            return;
        }
        sub.status = status;
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record(
                "customer.subscription.updated",
                obj,
                Some(json!({"status": before.name()})),
            );
        }
    }

    fn cancel_now(&mut self, s: u32, reason: CancelReason) {
        let now = self.now;
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return;
        };
        if sub.status == SubStatus::Canceled {
            return;
        }
        sub.status = SubStatus::Canceled;
        sub.canceled_at = Some(sub.canceled_at.unwrap_or(now));
        sub.ended_at = Some(now);
        sub.cancel_reason = Some(reason);
        sub.pause_resumes_at = None;
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record("customer.subscription.deleted", obj, None);
        }
    }

    fn renew(&mut self, s: u32, expected_end: i64) {
        let Some(sub) = self.subs.get(s as usize) else {
            return;
        };
        if sub.period_end != expected_end
            || matches!(
                sub.status,
                SubStatus::Canceled | SubStatus::Unpaid | SubStatus::Paused
            )
        {
            return;
        }
        if sub.cancel_at_period_end {
            self.cancel_now(s, CancelReason::Requested);
            return;
        }
        let customer = sub.customer;
        let has_pm = self
            .customers
            .get(customer as usize)
            .is_some_and(|c| c.has_payment_method);
        if sub.status == SubStatus::Trialing {
            if !has_pm {
                if sub.trial_cancels {
                    self.cancel_now(s, CancelReason::TrialNoPaymentMethod);
                } else {
                    if let Some(sub) = self.subs.get_mut(s as usize) {
                        sub.status = SubStatus::Paused;
                    }
                    if self.recording() {
                        let obj = self.snap_sub(s);
                        self.record(
                            "customer.subscription.paused",
                            obj,
                            Some(json!({"status": "trialing"})),
                        );
                    }
                    if self.rng.u8(0..100) < 35 {
                        let after = self.rng.i64(3 * DAY..40 * DAY);
                        self.schedule(self.now + after, Action::ResumePaused(s));
                    }
                }
                return;
            }
            self.set_status(s, SubStatus::Active);
        }
        // Stripe announces every renewal as `customer.subscription.updated`; on API versions
        // with the period on items, `previous_attributes.items` changes without a plan change.
        let before = self
            .recording()
            .then(|| Box::new(self.subs[s as usize].clone()));
        self.next_period(s);
        if let Some(old) = before {
            let obj = self.snap_sub(s);
            self.record_with(
                "customer.subscription.updated",
                obj,
                Some(Previous::Renewal(old)),
            );
        }
        let resumes = self.subs.get(s as usize).and_then(|x| x.pause_resumes_at);
        match resumes {
            Some(r) if self.now < r => {
                self.void_invoice(s);
            }
            Some(_) => {
                if let Some(sub) = self.subs.get_mut(s as usize) {
                    sub.pause_resumes_at = None;
                }
                if self.recording() {
                    let obj = self.snap_sub(s);
                    self.record("customer.subscription.updated", obj, Some(json!({"pause_collection": {"behavior": "void", "resumes_at": resumes}})));
                }
                self.bill(s, BillingReason::Cycle, Outcome::Random, false);
            }
            None => {
                self.bill(s, BillingReason::Cycle, Outcome::Random, false);
            }
        }
        if let Some(end) = self
            .subs
            .get(s as usize)
            .filter(|x| x.status != SubStatus::Canceled)
            .map(|x| x.period_end)
        {
            self.schedule(end, Action::Renew(s, end));
            self.plan_period(s);
        }
    }

    fn next_period(&mut self, s: u32) {
        let now = self.now;
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return;
        };
        let Some(price) = sub
            .items
            .first()
            .and_then(|i| self.prices.get(usize::from(i.price)))
        else {
            return;
        };
        sub.period_start = sub.period_end.max(sub.period_start);
        if sub.period_start < now - DAY {
            sub.period_start = now;
        }
        sub.period_end = add_interval(sub.period_start, price.interval, price.interval_count);
        // A one-time coupon was used by the previous invoice; a repeating one may have run out.
        if let Some(d) = sub.discount {
            let used_once = COUPONS[usize::from(d.coupon)].duration == Duration::Once
                && sub.latest_invoice.is_some();
            if used_once || d.end.is_some_and(|e| now >= e) {
                sub.discount = None;
            }
        }
    }

    fn new_invoice(&mut self, s: u32, reason: BillingReason, zero: bool) -> Option<u32> {
        let sub = self.subs.get(s as usize)?;
        let currency = sub.currency(&self.prices);
        let lines: Box<[Line]> = sub
            .items
            .iter()
            .map(|it| Line {
                item: it.index,
                price: it.price,
                quantity: it.quantity,
                amount: if zero {
                    0
                } else {
                    self.prices
                        .get(usize::from(it.price))
                        .map_or(0, |p| p.amount(it.quantity))
                },
            })
            .collect();
        let subtotal: i64 = lines.iter().map(|l| l.amount).sum();
        let discount = sub
            .discount
            .map_or(0, |d| d.amount_off(subtotal, currency, self.now));
        let customer = sub.customer;
        let (period_start, period_end) = (sub.period_start, sub.period_end);
        let i = self.invoices.len() as u32;
        let number = self
            .cust_invoices
            .get(customer as usize)
            .map_or(0, Vec::len) as u32
            + 1;
        self.invoices.push(Invoice {
            customer,
            subscription: s,
            created: self.now,
            period_start,
            period_end,
            status: InvoiceStatus::Open,
            attempt_count: 0,
            subtotal,
            discount,
            currency,
            reason,
            lines,
            charge: None,
            next_payment_attempt: None,
            closed_at: None,
            number,
        });
        if let Some(v) = self.cust_invoices.get_mut(customer as usize) {
            v.push(i);
        }
        if let Some(v) = self.sub_invoices.get_mut(s as usize) {
            v.push(i);
        }
        if let Some(sub) = self.subs.get_mut(s as usize) {
            sub.latest_invoice = Some(i);
        }
        Some(i)
    }

    fn void_invoice(&mut self, s: u32) {
        let now = self.now;
        if let Some(inv) = self
            .new_invoice(s, BillingReason::Cycle, false)
            .and_then(|i| self.invoices.get_mut(i as usize))
        {
            inv.status = InvoiceStatus::Void;
            inv.closed_at = Some(now);
        }
    }

    /// Creates and finalizes an invoice for the subscription's current period and tries to pay it.
    fn bill(&mut self, s: u32, reason: BillingReason, outcome: Outcome, zero: bool) -> Option<u32> {
        let i = self.new_invoice(s, reason, zero)?;
        if self.recording() {
            let obj = self.snap_invoice(i);
            self.record("invoice.finalized", obj, None);
        }
        self.attempt(s, i, outcome);
        Some(i)
    }

    fn attempt(&mut self, s: u32, i: u32, outcome: Outcome) {
        let Some(inv) = self.invoices.get(i as usize) else {
            return;
        };
        let (customer, total, currency, attempts) =
            (inv.customer, inv.total(), inv.currency, inv.attempt_count);
        let Some(cust) = self.customers.get(customer as usize) else {
            return;
        };
        let (risk, has_pm) = (cust.risk, cust.has_payment_method);
        if total <= 0 {
            self.mark_paid(s, i, None);
            return;
        }
        let fails = match outcome {
            Outcome::Succeed => false,
            Outcome::Fail => true,
            Outcome::Random if attempts > 0 => self.rng.u8(0..100) < 50 + risk / 2,
            Outcome::Random => !has_pm || self.rng.u8(0..100) < risk,
        };
        let ch = self.charges.len() as u32;
        let failure = if fails {
            Some(if has_pm { self.rng.u8(0..4) } else { 0 })
        } else {
            None
        };
        self.charges.push(Charge {
            customer,
            invoice: i,
            created: self.now,
            amount: total,
            currency,
            failure,
            amount_refunded: 0,
            dispute: None,
        });
        if let Some(v) = self.cust_charges.get_mut(customer as usize) {
            v.push(ch);
        }
        let Some(inv) = self.invoices.get_mut(i as usize) else {
            return;
        };
        inv.attempt_count += 1;
        inv.charge = Some(ch);
        if !fails {
            if self.recording() {
                let obj = self.snap_charge(ch);
                self.record("charge.succeeded", obj, None);
            }
            self.mark_paid(s, i, Some(ch));
            let dispute_pct = if risk >= 35 { 3 } else { 1 };
            if self.rng.u16(0..400) < dispute_pct {
                let after = self.rng.i64(3 * DAY..45 * DAY);
                self.schedule(self.now + after, Action::Dispute(ch));
            }
            return;
        }
        let attempt_count = inv.attempt_count;
        let interval = self
            .subs
            .get(s as usize)
            .and_then(|x| x.items.first())
            .and_then(|it| self.prices.get(usize::from(it.price)))
            .map_or(Interval::Month, |p| p.interval);
        let gaps: [i64; 3] = if interval == Interval::Week {
            [1, 2, 2]
        } else {
            [3, 5, 7]
        };
        let next = gaps
            .get(usize::from(attempt_count) - 1)
            .map(|d| self.now + d * DAY);
        if let Some(inv) = self.invoices.get_mut(i as usize) {
            inv.next_payment_attempt = next;
        }
        if let Some(c) = self.customers.get_mut(customer as usize) {
            c.delinquent = true;
        }
        if self.recording() {
            let obj = self.snap_charge(ch);
            self.record("charge.failed", obj, None);
            let obj = self.snap_invoice(i);
            self.record("invoice.payment_failed", obj, None);
        }
        if let Some(sub) = self.subs.get_mut(s as usize) {
            sub.failed_attempts = attempt_count;
        }
        match next {
            Some(at) => {
                if self
                    .subs
                    .get(s as usize)
                    .is_some_and(|x| x.status == SubStatus::Active)
                {
                    self.set_status(s, SubStatus::PastDue);
                }
                self.schedule(at, Action::Retry(s, i));
            }
            None => {
                // Retries exhausted: most merchants cancel, some keep the subscription unpaid.
                if self.rng.u8(0..100) < 65 {
                    if let Some(inv) = self.invoices.get_mut(i as usize) {
                        inv.status = InvoiceStatus::Uncollectible;
                        inv.closed_at = Some(self.now);
                    }
                    self.cancel_now(s, CancelReason::PaymentFailed);
                } else {
                    self.set_status(s, SubStatus::Unpaid);
                }
            }
        }
    }

    fn mark_paid(&mut self, s: u32, i: u32, _charge: Option<u32>) {
        let now = self.now;
        let Some(inv) = self.invoices.get_mut(i as usize) else {
            return;
        };
        inv.status = InvoiceStatus::Paid;
        inv.closed_at = Some(now);
        inv.next_payment_attempt = None;
        let customer = inv.customer;
        if let Some(c) = self.customers.get_mut(customer as usize) {
            c.delinquent = false;
        }
        if self.recording() {
            let obj = self.snap_invoice(i);
            self.record("invoice.payment_succeeded", obj, None);
        }
        if let Some(sub) = self.subs.get_mut(s as usize) {
            sub.failed_attempts = 0;
        }
        if self
            .subs
            .get(s as usize)
            .is_some_and(|x| matches!(x.status, SubStatus::PastDue | SubStatus::Unpaid))
        {
            self.set_status(s, SubStatus::Active);
        }
    }

    fn retry(&mut self, s: u32, i: u32, outcome: Outcome) {
        let open = self
            .invoices
            .get(i as usize)
            .is_some_and(|x| x.status == InvoiceStatus::Open);
        let live = self
            .subs
            .get(s as usize)
            .is_some_and(|x| matches!(x.status, SubStatus::PastDue | SubStatus::Active));
        if open && live {
            self.attempt(s, i, outcome);
        }
    }

    fn refund_latest(&mut self, s: u32) {
        let charge = self
            .subs
            .get(s as usize)
            .and_then(|x| x.latest_invoice)
            .and_then(|i| self.invoices.get(i as usize))
            .and_then(|i| i.charge);
        let Some(ch) = charge else { return };
        let Some(c) = self.charges.get_mut(ch as usize) else {
            return;
        };
        if c.failure.is_some() || c.dispute.is_some() || c.amount_refunded > 0 {
            return;
        }
        c.amount_refunded = c.amount;
        if self.recording() {
            let obj = self.snap_charge(ch);
            self.record(
                "charge.refunded",
                obj,
                Some(json!({"amount_refunded": 0, "refunded": false})),
            );
        }
    }

    fn request_cancel(&mut self, s: u32, immediate: bool) -> bool {
        let now = self.now;
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return false;
        };
        if !matches!(
            sub.status,
            SubStatus::Active | SubStatus::Trialing | SubStatus::PastDue
        ) || sub.cancel_at_period_end
        {
            return false;
        }
        if immediate {
            self.cancel_now(s, CancelReason::Requested);
            return true;
        }
        sub.cancel_at_period_end = true;
        sub.canceled_at = Some(now);
        sub.cancel_reason = Some(CancelReason::Requested);
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record(
                "customer.subscription.updated",
                obj,
                Some(json!({"cancel_at": null, "cancel_at_period_end": false, "canceled_at": null, "cancellation_details": {"reason": null}})),
            );
        }
        true
    }

    fn change_plan(&mut self, s: u32, up: bool) -> bool {
        let Some(sub) = self.subs.get(s as usize) else {
            return false;
        };
        if sub.status != SubStatus::Active {
            return false;
        }
        let Some(item) = sub.items.first().copied() else {
            return false;
        };
        let Some(price) = self.prices.get(usize::from(item.price)) else {
            return false;
        };
        // Kept before the change: `previous_attributes.items` is the old list.
        let previous = self
            .recording()
            .then(|| Box::new(self.subs[s as usize].clone()));
        let mut new_item = item;
        if price.per_seat || price.product == 5 {
            let step = self.rng.u32(1..6);
            new_item.quantity = if up {
                item.quantity + step
            } else {
                item.quantity.saturating_sub(step).max(1)
            };
            if new_item.quantity == item.quantity {
                new_item.quantity = item.quantity + step;
            }
        } else {
            let target = if up {
                price.rank + 1
            } else {
                price.rank.wrapping_sub(1)
            };
            let found = self.prices.iter().position(|p| {
                p.currency == price.currency
                    && p.interval == price.interval
                    && p.interval_count == price.interval_count
                    && !p.per_seat
                    && p.rank == target
                    && p.product <= 2
            });
            match found {
                Some(p) => new_item.price = p as u16,
                None => {
                    // Top or bottom of the ladder: change seats instead.
                    new_item.quantity = if up || item.quantity == 1 {
                        item.quantity + 1
                    } else {
                        item.quantity - 1
                    };
                }
            }
        }
        if new_item.price != item.price {
            new_item.index = self.next_item;
            new_item.created = self.now;
            self.next_item += 1;
        }
        if let Some(sub) = self.subs.get_mut(s as usize) {
            sub.items[0] = new_item;
        }
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record_with(
                "customer.subscription.updated",
                obj,
                previous.map(Previous::PlanChange),
            );
        }
        true
    }

    fn pause_collection(&mut self, s: u32, periods: u8) -> bool {
        let now = self.now;
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return false;
        };
        if sub.status != SubStatus::Active || sub.pause_resumes_at.is_some() {
            return false;
        }
        sub.pause_resumes_at = Some(add_interval(now, Interval::Month, periods));
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record(
                "customer.subscription.updated",
                obj,
                Some(json!({"pause_collection": null})),
            );
        }
        true
    }

    fn resume_paused(&mut self, s: u32) -> bool {
        let now = self.now;
        let Some(sub) = self.subs.get_mut(s as usize) else {
            return false;
        };
        if sub.status != SubStatus::Paused {
            return false;
        }
        let customer = sub.customer;
        let Some(price) = sub
            .items
            .first()
            .and_then(|i| self.prices.get(usize::from(i.price)))
        else {
            return false;
        };
        sub.status = SubStatus::Active;
        sub.period_start = now;
        sub.period_end = add_interval(now, price.interval, price.interval_count);
        let end = sub.period_end;
        if let Some(c) = self.customers.get_mut(customer as usize) {
            c.has_payment_method = true;
        }
        if self.recording() {
            let obj = self.snap_sub(s);
            self.record(
                "customer.subscription.resumed",
                obj,
                Some(json!({"status": "paused"})),
            );
        }
        self.bill(s, BillingReason::Cycle, Outcome::Random, false);
        self.schedule(end, Action::Renew(s, end));
        true
    }

    fn dispute(&mut self, ch: u32) -> bool {
        let Some(charge) = self.charges.get(ch as usize) else {
            return false;
        };
        if charge.failure.is_some() || charge.dispute.is_some() {
            return false;
        }
        let d = self.disputes.len() as u32;
        let (amount, currency) = (charge.amount, charge.currency);
        let reason = self.rng.u8(0..4);
        let won = self.rng.u8(0..100) < 40;
        self.disputes.push(Dispute {
            charge: ch,
            created: self.now,
            amount,
            currency,
            reason,
            won,
        });
        if let Some(c) = self.charges.get_mut(ch as usize) {
            c.dispute = Some(d);
        }
        if self.recording() {
            let obj = Snapshot::Dispute(d, self.disputes[d as usize]);
            self.record("charge.dispute.created", obj, None);
        }
        true
    }

    fn update_customer(&mut self, c: u32, email: bool) -> bool {
        let old_email = self.customer_email(c);
        let Some(cust) = self.customers.get_mut(c as usize) else {
            return false;
        };
        let prev = if email || cust.meta != Meta::None {
            cust.no_email = false;
            cust.email_version = cust.email_version.saturating_add(1);
            json!({"email": old_email})
        } else {
            // A key that was added shows as null in `previous_attributes`, as Stripe sends it.
            if cust.personal.is_some() {
                cust.meta = Meta::Domain;
                json!({"metadata": {"domain": null}})
            } else {
                cust.meta = Meta::ProfileId(c);
                json!({"metadata": {"kustiq_profile_id": null}})
            }
        };
        if self.recording() {
            let obj = self.snap_customer(c);
            self.record("customer.updated", obj, Some(prev));
        }
        true
    }

    fn latest_sub(&self, c: u32, pred: impl Fn(&Subscription) -> bool) -> Option<u32> {
        self.cust_subs
            .get(c as usize)?
            .iter()
            .rev()
            .copied()
            .find(|&s| self.subs.get(s as usize).is_some_and(&pred))
    }

    /// Makes one event of `kind` happen now for customer `c`, through the same transitions the
    /// engine uses. Returns the index of the first event recorded, or `None` if the customer's
    /// state does not allow it (e.g. no live subscription to cancel).
    pub fn force(&mut self, kind: &str, c: u32) -> Option<usize> {
        if c as usize >= self.customers.len() {
            return None;
        }
        let first = self.events.len();
        let live = |x: &Subscription| {
            matches!(
                x.status,
                SubStatus::Active | SubStatus::PastDue | SubStatus::Trialing
            )
        };
        let done = match kind {
            "customer.created" => {
                let n = self.new_customer();
                let _ = n;
                true
            }
            "customer.updated" => self.update_customer(c, true),
            "customer.subscription.deleted" => self
                .latest_sub(c, live)
                .is_some_and(|s| self.request_cancel(s, true)),
            "customer.subscription.updated" => self
                .latest_sub(c, |x| x.status == SubStatus::Active)
                .is_some_and(|s| self.change_plan(s, false)),
            "customer.subscription.paused" => match self.latest_sub(c, |x| {
                matches!(x.status, SubStatus::Active | SubStatus::Trialing)
            }) {
                Some(s) => {
                    let before = self.subs[s as usize].status;
                    self.subs[s as usize].status = SubStatus::Paused;
                    let obj = self.snap_sub(s);
                    self.record(
                        "customer.subscription.paused",
                        obj,
                        Some(json!({"status": before.name()})),
                    );
                    true
                }
                None => false,
            },
            "customer.subscription.resumed" => self
                .latest_sub(c, |x| x.status == SubStatus::Paused)
                .is_some_and(|s| self.resume_paused(s)),
            "invoice.payment_failed" | "invoice.payment_succeeded" | "invoice.finalized" => {
                let outcome = if kind == "invoice.payment_failed" {
                    Outcome::Fail
                } else {
                    Outcome::Succeed
                };
                match self.latest_sub(c, |x| x.status != SubStatus::Canceled) {
                    Some(s) => {
                        // Retry an open invoice if there is one, else bill a new one.
                        let open = self.subs[s as usize].latest_invoice.filter(|&i| {
                            self.invoices
                                .get(i as usize)
                                .is_some_and(|x| x.status == InvoiceStatus::Open)
                        });
                        match open {
                            Some(i) if kind != "invoice.finalized" => self.attempt(s, i, outcome),
                            _ => {
                                let _ = self.bill(s, BillingReason::Cycle, outcome, false);
                            }
                        }
                        true
                    }
                    None => false,
                }
            }
            "charge.dispute.created" => {
                let ch = self.cust_charges.get(c as usize).and_then(|v| {
                    v.iter().rev().copied().find(|&ch| {
                        self.charges
                            .get(ch as usize)
                            .is_some_and(|x| x.failure.is_none() && x.dispute.is_none())
                    })
                });
                ch.is_some_and(|ch| self.dispute(ch))
            }
            _ => false,
        };
        (done && self.events.len() > first).then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graduated_and_volume_tiers_price_as_stripe_does() {
        let prices = catalog();
        let graduated = prices
            .iter()
            .find(|p| matches!(p.scheme, Scheme::Tiered(TiersMode::Graduated, _)))
            .map(|p| p.amount(22));
        // 5 × 12.00 + 15 × 10.00 + 2 × 8.00
        assert_eq!(graduated, Some(6_000 + 15_000 + 1_600));
        let volume = prices
            .iter()
            .find(|p| matches!(p.scheme, Scheme::Tiered(TiersMode::Volume, _)))
            .map(|p| p.amount(20));
        // all 20 units at the second tier plus its flat fee
        assert_eq!(volume, Some(20 * 700 + 2_000));
    }

    #[test]
    fn months_are_calendar_months() {
        // 2024-01-31 + 1 month = 2024-02-29 (leap year, clamped)
        let jan31 = 1_706_659_200;
        assert_eq!(add_interval(jan31, Interval::Month, 1), 1_709_164_800);
        assert_eq!(add_interval(jan31, Interval::Week, 1), jan31 + 7 * DAY);
    }
}
