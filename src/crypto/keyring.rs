//! The keys in use: which key signs each algorithm now, which are published, and a cheap
//! re-read of the folder when it changes, so a rotation made by `gatehouse keys` on any node
//! reaches every node without a restart.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use openidconnect::JsonWebKeySet;
use openidconnect::core::CoreJsonWebKey;

use super::{KeyFolder, KeyFolderError, KeyMeta, KeyState, SigningAlg, SigningKey};
use crate::clock::SharedClock;

/// The longest an ID token or access token may live. A retired key stays published this
/// long, so every token it signed can still be checked until it expires.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// How often, at most, the folder is checked for changes.
const RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Ring {
    keys: Vec<(KeyMeta, Arc<SigningKey>)>,
    folder_modified: Option<SystemTime>,
}

/// Shared handle to the signing keys.
#[derive(Debug, Clone)]
pub struct Keys {
    folder: KeyFolder,
    clock: SharedClock,
    ring: Arc<RwLock<Arc<Ring>>>,
    checked: Arc<Mutex<Instant>>,
}

impl Keys {
    /// Loads the folder, creating a signing key for each algorithm that has none.
    pub fn open(folder: KeyFolder, clock: SharedClock) -> Result<Self, KeyFolderError> {
        let now = clock.now();
        let existing = folder.load()?;
        for alg in SigningAlg::ALL {
            let has = existing
                .iter()
                .any(|(meta, _)| meta.alg == alg && meta.retired_at.is_none());
            if !has {
                folder.create(alg, now, now)?;
            }
        }
        let ring = read_ring(&folder)?;
        Ok(Self {
            folder,
            clock,
            ring: Arc::new(RwLock::new(Arc::new(ring))),
            checked: Arc::new(Mutex::new(Instant::now())),
        })
    }

    fn current(&self) -> Arc<Ring> {
        self.maybe_reload();
        self.ring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the folder if it changed since the last look (at most once a second).
    /// A folder that has become unreadable keeps the keys already loaded, with a warning.
    fn maybe_reload(&self) {
        {
            let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
            if checked.elapsed() < RECHECK {
                return;
            }
            *checked = Instant::now();
        }
        let modified = folder_modified(&self.folder);
        let known = self
            .ring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .folder_modified;
        if modified.is_some() && modified == known {
            return;
        }
        self.reload();
    }

    /// Re-reads the folder now.
    pub fn reload(&self) {
        match read_ring(&self.folder) {
            Ok(ring) => {
                *self.ring.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(ring);
            }
            Err(e) => {
                tracing::warn!(error = %e, "keys folder could not be re-read; keeping the keys loaded")
            }
        }
    }

    /// The key that signs new tokens of this algorithm: the newest active one.
    pub fn signing_key(&self, alg: SigningAlg) -> Option<Arc<SigningKey>> {
        let now = self.clock.now();
        signer_of(&self.current().keys, alg, now).map(|(_, key)| key.clone())
    }

    /// A published key by id, for checking our own tokens.
    pub fn published(&self, kid: &str) -> Option<Arc<SigningKey>> {
        let now = self.clock.now();
        self.current()
            .keys
            .iter()
            .find(|(meta, _)| meta.kid == kid && meta.is_published_at(now))
            .map(|(_, key)| key.clone())
    }

    /// The JWKS document: public keys only (RFC 7517 §5).
    pub fn jwks(&self) -> JsonWebKeySet<CoreJsonWebKey> {
        let now = self.clock.now();
        let keys = self
            .current()
            .keys
            .iter()
            .filter(|(meta, _)| meta.is_published_at(now))
            .map(|(_, key)| key.public_jwk().clone())
            .collect();
        JsonWebKeySet::new(keys)
    }

    /// Every key with its state now, for `gatehouse keys list`.
    pub fn states(&self) -> Vec<(KeyMeta, KeyState)> {
        let now = self.clock.now();
        let ring = self.current();
        ring.keys
            .iter()
            .map(|(meta, _)| (meta.clone(), state_of(&ring.keys, meta, now)))
            .collect()
    }

    pub fn folder(&self) -> &KeyFolder {
        &self.folder
    }
}

/// Where `meta` is in its life at `now`.
pub fn state_of(
    keys: &[(KeyMeta, Arc<SigningKey>)],
    meta: &KeyMeta,
    now: DateTime<Utc>,
) -> KeyState {
    if meta.retired_at.is_some() {
        return if meta.is_published_at(now) {
            KeyState::Retired
        } else {
            KeyState::Expired
        };
    }
    if meta.active_from > now {
        return KeyState::Pending;
    }
    match signer_of(keys, meta.alg, now) {
        Some((signer, _)) if signer.kid == meta.kid => KeyState::Signing,
        _ => KeyState::Superseded,
    }
}

fn signer_of(
    keys: &[(KeyMeta, Arc<SigningKey>)],
    alg: SigningAlg,
    now: DateTime<Utc>,
) -> Option<&(KeyMeta, Arc<SigningKey>)> {
    keys.iter()
        .filter(|(meta, _)| meta.alg == alg && meta.is_usable_at(now))
        .max_by(|(a, _), (b, _)| (a.active_from, &a.kid).cmp(&(b.active_from, &b.kid)))
}

fn read_ring(folder: &KeyFolder) -> Result<Ring, KeyFolderError> {
    let folder_modified = folder_modified(folder);
    let keys = folder
        .load()?
        .into_iter()
        .map(|(meta, key)| (meta, Arc::new(key)))
        .collect();
    Ok(Ring {
        keys,
        folder_modified,
    })
}

fn folder_modified(folder: &KeyFolder) -> Option<SystemTime> {
    std::fs::metadata(folder.dir())
        .and_then(|m| m.modified())
        .ok()
}
