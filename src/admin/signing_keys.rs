//! Rotating and retiring signing keys, for `gatehouse keys` and the console alike. A new key
//! is published at once and signs only from `active_from`, so services that cache the JWKS
//! know it first; a retired key stays published until every token it signed has expired,
//! and the last usable key of an algorithm cannot be retired.

use chrono::{DateTime, Utc};

use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::crypto::{KeyMeta, KeyState, Keys, SigningAlg};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum KeyChangeError {
    #[error("no key has id {0:?}")]
    NoSuchKey(String),
    #[error("{0} is already retired")]
    AlreadyRetired(String),
    #[error(
        "{kid} is the only usable {alg} key; rotate {alg} first and wait until the new key signs"
    )]
    OnlyUsable { kid: String, alg: SigningAlg },
    #[error("keys folder: {0}")]
    Folder(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn audit(
    store: &Store,
    action: Action,
    meta: &KeyMeta,
    actor: &Actor,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut event = AuditEvent::new(action).context(ctx.clone()).details(
        serde_json::json!({ "kid": meta.kid, "alg": meta.alg.as_str(),
            "active_from": meta.active_from.to_rfc3339() }),
    );
    event.actor = actor.clone();
    let mut tx = store.begin().await?;
    store.append_audit(&mut tx, &event, now).await?;
    tx.commit().await
}

/// Creates the next key for each of `algs`, signing from `active_from`; audited.
pub async fn rotate_keys(
    keys: &Keys,
    store: &Store,
    algs: &[SigningAlg],
    now: DateTime<Utc>,
    active_from: DateTime<Utc>,
    actor: Actor,
    ctx: &RequestContext,
) -> Result<Vec<KeyMeta>, KeyChangeError> {
    let mut created = Vec::new();
    for alg in algs {
        let meta = keys
            .folder()
            .create(*alg, now, active_from)
            .map_err(|e| KeyChangeError::Folder(e.to_string()))?;
        audit(store, Action::KeyCreated, &meta, &actor, ctx, now).await?;
        created.push(meta);
    }
    keys.reload();
    Ok(created)
}

/// Stops `kid` signing; it stays published until its tokens have expired. Audited.
pub async fn retire_key(
    keys: &Keys,
    store: &Store,
    kid: &str,
    now: DateTime<Utc>,
    actor: Actor,
    ctx: &RequestContext,
) -> Result<KeyMeta, KeyChangeError> {
    let states = keys.states();
    let (meta, state) = states
        .iter()
        .find(|(meta, _)| meta.kid == kid)
        .ok_or_else(|| KeyChangeError::NoSuchKey(kid.to_owned()))?;
    if matches!(state, KeyState::Retired | KeyState::Expired) {
        return Err(KeyChangeError::AlreadyRetired(kid.to_owned()));
    }
    let successor = states.iter().any(|(m, s)| {
        m.alg == meta.alg
            && m.kid != meta.kid
            && matches!(s, KeyState::Signing | KeyState::Superseded)
    });
    if !successor {
        return Err(KeyChangeError::OnlyUsable {
            kid: kid.to_owned(),
            alg: meta.alg,
        });
    }
    let mut retired = meta.clone();
    retired.retired_at = Some(now);
    keys.folder()
        .save(&retired)
        .map_err(|e| KeyChangeError::Folder(e.to_string()))?;
    audit(store, Action::KeyRetired, &retired, &actor, ctx, now).await?;
    keys.reload();
    Ok(retired)
}
