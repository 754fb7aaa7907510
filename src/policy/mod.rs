//! The policy settings an administrator may change in the console — password lengths, the
//! lock after repeated failures, link lifetimes, when unused accounts are switched off —
//! each with a default from PRODUCT.md and a range that keeps it safe. Sign-in, password and
//! link flows read the current values through [`Policies`].

mod settings;

pub use settings::{Policy, Setting};

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::clock::SharedClock;
use crate::store::{Store, StoreError};

/// How long a node keeps the settings it read before reading them again, so a change made on
/// one node reaches the others within this time.
pub const CACHE_SECONDS: i64 = 5;

/// Why a policy change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A value is not a whole number in its setting's range: (which setting, what to do).
    #[error("{1}")]
    OutOfRange(Setting, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The settings a node last read, and when.
type Cached = Option<(DateTime<Utc>, Policy)>;

/// Reads and changes the policy settings; cheap to clone (the cache is shared).
#[derive(Debug, Clone)]
pub struct Policies {
    store: Store,
    clock: SharedClock,
    cache: Arc<Mutex<Cached>>,
}

impl Policies {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self {
            store,
            clock,
            cache: Arc::default(),
        }
    }

    /// The settings in force: stored values over the defaults, at most [`CACHE_SECONDS`] old.
    pub async fn current(&self) -> Result<Policy, StoreError> {
        let now = self.clock.now();
        if let Some((read_at, policy)) = *self.cache.lock().unwrap_or_else(|e| e.into_inner())
            && now - read_at < Duration::seconds(CACHE_SECONDS)
            && now >= read_at
        {
            return Ok(policy);
        }
        let policy = self.read().await?;
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, policy));
        Ok(policy)
    }

    async fn read(&self) -> Result<Policy, StoreError> {
        let mut policy = Policy::default();
        for (name, value) in self.store.policy_settings().await? {
            match Setting::from_name(&name) {
                Some(setting) => policy.set_clamped(setting, value),
                None => tracing::warn!(setting = %name, "ignoring an unknown policy setting"),
            }
        }
        Ok(policy)
    }

    /// Sets each of `changes` (checked against its range first, nothing saved if any is out
    /// of range) and audits the change with before and after, in one transaction. Returns the
    /// settings that changed.
    pub async fn change(
        &self,
        changes: &[(Setting, i64)],
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<Vec<Setting>, PolicyError> {
        for &(setting, value) in changes {
            if !setting.range().contains(&value) {
                return Err(PolicyError::OutOfRange(setting, setting.range_message()));
            }
        }
        let now = self.clock.now();
        let before = self.read().await?;
        let mut tx = self.store.begin().await?;
        let mut after = before;
        let mut changed = Vec::new();
        for &(setting, value) in changes {
            if before.get(setting) != value {
                self.store
                    .set_policy_setting(&mut tx, setting.name(), value, now.timestamp_millis())
                    .await?;
                after.set_clamped(setting, value);
                changed.push(setting);
            }
        }
        if changed.is_empty() {
            return Ok(changed);
        }
        let values = |p: &Policy| {
            changed
                .iter()
                .map(|s| (s.name().to_owned(), p.get(*s).into()))
                .collect::<serde_json::Map<_, _>>()
        };
        let mut event = AuditEvent::new(Action::PolicyChanged).context(ctx.clone());
        event.actor = actor;
        let event = event.diff(values(&before).into(), values(&after).into());
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, after));
        Ok(changed)
    }
}
