//! Services as client authentication sees them, kept in memory (decision 0022). The token,
//! introspection and revocation endpoints authenticate a service on every call; reading it
//! from the database each time was a round trip per token. A change made on this node
//! empties the cache at once; a change made anywhere else (another node, the command line)
//! moves `client_changes.generation` through a trigger, which each node rereads at most
//! once a second, so no node uses a changed service for more than a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{Client, Oidc};
use crate::store::{SecretHash, StoreError};

/// The longest a node may use a service after another writer changed it. Real time, like
/// the keys folder's rereading: a cache's freshness, not a token's validity.
const RECHECK: Duration = Duration::from_secs(1);

/// A service with all its secrets (expired ones are filtered at each use).
#[derive(Debug)]
pub struct CachedClient {
    pub client: Client,
    secrets: Vec<SecretHash>,
}

impl CachedClient {
    /// The hashes of the secrets that work at `now`.
    pub fn live_secrets(&self, now: DateTime<Utc>) -> impl Iterator<Item = &str> {
        let now = now.timestamp_millis();
        self.secrets
            .iter()
            .filter(move |(_, until)| until.is_none_or(|until| until > now))
            .map(|(hash, _)| hash.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    /// The database's generation when the entries were last known good, and when that was.
    checked: Option<(i64, Instant)>,
    /// Moves on every local clear, so a read that raced a change is not kept.
    epoch: u64,
    entries: HashMap<String, Arc<CachedClient>>,
}

/// Shared by every clone of [`Oidc`] on this node.
#[derive(Debug, Clone, Default)]
pub struct ClientCache(Arc<Mutex<State>>);

impl ClientCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets every service: called after this node changes one.
    pub fn clear(&self) {
        let mut state = self.state();
        state.entries.clear();
        state.epoch += 1;
    }
}

impl Oidc {
    /// The service `id` with its secrets, from memory when it is known to be current (or,
    /// with `fresh`, from the database).
    pub(super) async fn authenticating_client(
        &self,
        id: &str,
        fresh: bool,
    ) -> Result<Option<Arc<CachedClient>>, StoreError> {
        let now = Instant::now();
        let due = self
            .client_cache
            .state()
            .checked
            .is_none_or(|(_, at)| now.duration_since(at) >= RECHECK);
        if due {
            let generation = self.store.client_generation().await?;
            let mut state = self.client_cache.state();
            if state.checked.is_none_or(|(known, _)| known != generation) {
                state.entries.clear();
                state.epoch += 1;
            }
            state.checked = Some((generation, now));
        }
        let epoch = {
            let state = self.client_cache.state();
            if let Some(hit) = state.entries.get(id).filter(|_| !fresh) {
                return Ok(Some(hit.clone()));
            }
            state.epoch
        };
        let Some((row, secrets)) = self.store.client_with_secrets(id).await? else {
            return Ok(None);
        };
        let cached = Arc::new(CachedClient {
            client: Client::from_row(row)?,
            secrets,
        });
        let mut state = self.client_cache.state();
        if state.epoch == epoch {
            state.entries.insert(id.to_owned(), cached.clone());
        }
        Ok(Some(cached))
    }
}
