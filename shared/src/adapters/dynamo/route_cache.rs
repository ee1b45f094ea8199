//! A short-lived, per-process cache of connected account routes, so a warm
//! webhook function routes most events without reading the route (one store
//! request fewer per event). Safe because every commit made on a cached route
//! carries its [`RouteGuard`]: a route changed since it was cached fails the
//! commit, and the caller re-reads it.

use crate::domain::ids::StripeAccountId;
use crate::ports::connections::Routed;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached route is used before it is read again. The guard keeps
/// writes right whatever this is; it bounds how long reads (credentials, catalog)
/// may follow a route that has since changed.
const TTL: Duration = Duration::from_secs(60);
/// Routes kept at most; when full the cache starts over (a platform endpoint sees
/// many accounts, a container lives minutes: recency buys little here).
const CAPACITY: usize = 4096;

/// The cache. Shared by the store's clones.
#[derive(Debug, Default)]
pub struct RouteCache {
    routes: Mutex<HashMap<StripeAccountId, (Routed, Instant)>>,
}

impl RouteCache {
    /// The cached route of `account`, if still fresh, marked `cached`.
    pub fn get(&self, account: &StripeAccountId) -> Option<Routed> {
        let routes = self.routes.lock().ok()?;
        let (routed, at) = routes.get(account)?;
        (at.elapsed() < TTL).then(|| Routed {
            cached: true,
            ..routed.clone()
        })
    }

    /// Keeps `routed` (a connected route just read).
    pub fn put(&self, routed: &Routed) {
        if let Ok(mut routes) = self.routes.lock() {
            if routes.len() >= CAPACITY {
                routes.clear();
            }
            routes.insert(
                routed.guard.account.clone(),
                (routed.clone(), Instant::now()),
            );
        }
    }

    /// Drops `account`'s route (this process changed or re-read it).
    pub fn forget(&self, account: &StripeAccountId) {
        if let Ok(mut routes) = self.routes.lock() {
            routes.remove(account);
        }
    }
}
