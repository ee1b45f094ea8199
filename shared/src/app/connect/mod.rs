//! Connecting and disconnecting a workspace's Stripe account: the three
//! methods (Connect OAuth, Stripe Apps OAuth, restricted key), the signed OAuth
//! state, sealed credentials and the readers built from them, the per-connection
//! webhook secrets, disconnect and erase, and the 6-hourly credential rotation.

mod credentials;
mod disconnect;
mod flow;
mod rotate;
mod settings;
pub mod state;

pub use credentials::{SealedReaders, open_webhook_secrets};
pub use disconnect::{Disconnected, Erased, disconnect, erase};
pub use flow::{ApiKeyRequest, CallbackParams, ConnectRequest, Connected, Connector};
pub use rotate::{Rotated, rotate_all};
pub use settings::{CALLBACK_PATH, ConnectSettings, method_name};

use crate::domain::connection::Mode;
use crate::domain::region::Region;
use crate::ports::keys::KeyError;
use crate::ports::secrets::SecretError;
use crate::ports::store::StoreError;
use crate::ports::stripe::StripeError;
use state::StateError;

/// Why a connect, callback, disconnect or erase was refused or failed. Nothing
/// is stored on any refusal; see `docs/errors.md` for each code.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The operator does not offer this method (`ERR_METHOD_DISABLED`).
    #[error("the {0} connection method is not offered by this deployment")]
    MethodDisabled(&'static str),
    /// A parameter is missing or malformed (`ERR_BAD_REQUEST`).
    #[error("{0}")]
    Invalid(String),
    /// The OAuth state is forged, expired, replayed or another workspace's (`ERR_OAUTH_STATE`).
    #[error(transparent)]
    State(#[from] StateError),
    /// The user denied access on Stripe's consent screen (`ERR_OAUTH_DENIED`).
    #[error("access was denied on Stripe's consent screen; nothing was connected")]
    Denied,
    /// The grant or key is for the other mode (`ERR_MODE_MISMATCH`).
    #[error("a {got:?} credential was given for a {wanted:?} connection")]
    ModeMismatch {
        /// The mode asked for.
        wanted: Mode,
        /// The mode of the grant or key.
        got: Mode,
    },
    /// An `sk_…` key where the operator allows restricted keys only (`ERR_SECRET_KEY_REFUSED`).
    #[error("a secret key (sk_…) is refused: create a restricted key (rk_…) with read permissions")]
    SecretKeyRefused,
    /// The Stripe account is connected to another workspace in this mode (`ERR_ACCOUNT_ALREADY_CONNECTED`).
    #[error("this Stripe account is already connected to another workspace")]
    AccountTaken,
    /// The workspace is connected to another account or mode: disconnect first (`ERR_CONFLICT`).
    #[error("the workspace is connected to another Stripe account or mode; disconnect first")]
    AlreadyConnected,
    /// The account's country belongs to the other region and no consent was given (`ERR_REGION_MISMATCH`).
    #[error(
        "the Stripe account's country belongs to the {account} region, this workspace to {workspace}; connect again with cross_region=accept to allow its data to cross regions"
    )]
    RegionMismatch {
        /// The account's region.
        account: Region,
        /// The workspace's region.
        workspace: Region,
    },
    /// The restricted key lacks read permissions (`ERR_ST_403`).
    #[error("the restricted key lacks read permissions: {}", .0.join(", "))]
    MissingPermissions(Vec<String>),
    /// No connection to act on (`ERR_NOT_FOUND`).
    #[error("the workspace has no Stripe connection")]
    NotConnected,
    /// Stripe refused or failed.
    #[error("Stripe: {0}")]
    Stripe(#[from] StripeError),
    /// Sealing or opening a credential failed.
    #[error("keys: {0}")]
    Keys(#[from] KeyError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// An operator secret (state key, platform key) could not be read.
    #[error("secrets: {0}")]
    Secrets(#[from] SecretError),
}
