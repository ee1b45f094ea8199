//! A workspace's Stripe connection: how it was made, which account and mode,
//! where it lives, what state it is in, and how far its backfill got.

use crate::domain::error_code::ErrorCode;
use crate::domain::ids::{StripeAccountId, WorkspaceId};
use crate::domain::region::Region;
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

/// How the workspace connected its Stripe account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectMethod {
    /// Stripe Connect OAuth with the read_only role.
    Connect,
    /// Stripe Apps OAuth (1-hour access tokens, rotating refresh tokens).
    App,
    /// A restricted key pasted by the customer.
    ApiKey,
}

/// Live or test mode. Events whose `livemode` differs never move scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Live data.
    Live,
    /// Test data.
    Test,
}

impl Mode {
    /// The mode of an event with this `livemode` flag.
    pub fn from_livemode(livemode: bool) -> Self {
        if livemode { Self::Live } else { Self::Test }
    }
}

/// How much history the backfill reads, chosen at connect (`backfill=30d|90d|all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum BackfillWindow {
    /// The last 30 days.
    #[serde(rename = "30d")]
    Days30,
    /// The last 90 days.
    #[default]
    #[serde(rename = "90d")]
    Days90,
    /// Everything the account has.
    #[serde(rename = "all")]
    All,
}

impl BackfillWindow {
    /// Parses the query/body value `30d`, `90d` or `all`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "30d" => Some(Self::Days30),
            "90d" => Some(Self::Days90),
            "all" => Some(Self::All),
            _ => None,
        }
    }

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Days30 => "30d",
            Self::Days90 => "90d",
            Self::All => "all",
        }
    }

    /// How many days back the backfill starts, `None` for all-time.
    pub fn days(self) -> Option<i64> {
        match self {
            Self::Days30 => Some(30),
            Self::Days90 => Some(90),
            Self::All => None,
        }
    }
}

/// Whether the connection feeds new scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Receiving events and feeding the billing family.
    Connected,
    /// The grant was revoked on Stripe's side (`account.application.deauthorized`).
    Revoked,
    /// Disconnected from Kustiq. History stays.
    Disconnected,
}

/// The current error shown on the status route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionError {
    /// A spec error code.
    pub code: ErrorCode,
    /// A human explanation.
    pub message: String,
    /// When it was first seen.
    pub since: Timestamp,
}

/// Where the backfill stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackfillState {
    /// Not started yet.
    #[default]
    Pending,
    /// In progress.
    Running,
    /// Finished.
    Done,
    /// Stopped on an error (see the connection error).
    Failed,
}

/// Backfill progress, as shown on the status route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BackfillProgress {
    /// State.
    pub state: BackfillState,
    /// Objects read so far.
    pub objects_done: u64,
    /// Estimate of the total.
    pub objects_estimated: u64,
}

/// A workspace's Stripe connection (one per workspace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The region the workspace (and this item) is pinned to.
    pub region: Region,
    /// How it was connected.
    pub method: ConnectMethod,
    /// Live or test.
    pub mode: Mode,
    /// The connected Stripe account.
    pub account_id: StripeAccountId,
    /// Whether it feeds scores.
    pub status: ConnectionStatus,
    /// The current error, if any.
    pub error: Option<ConnectionError>,
    /// Backfill progress.
    #[serde(default)]
    pub backfill: BackfillProgress,
    /// The history window chosen at connect.
    #[serde(default)]
    pub window: BackfillWindow,
    /// When it was connected.
    pub connected_at: Timestamp,
    /// When the last sync (backfill, nightly, or webhook) completed.
    pub last_sync_at: Option<Timestamp>,
}

impl Connection {
    /// Whether billing data from this connection feeds new scores.
    pub fn feeds_scores(&self) -> bool {
        self.status == ConnectionStatus::Connected
    }

    /// Records an error on the status, keeping the first-seen time of the same code.
    pub fn set_error(&mut self, code: ErrorCode, message: impl Into<String>, now: Timestamp) {
        let since = match &self.error {
            Some(e) if e.code == code => e.since,
            _ => now,
        };
        self.error = Some(ConnectionError {
            code,
            message: message.into(),
            since,
        });
    }
}
