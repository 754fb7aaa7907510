//! `gatehouse keys …`: listing, rotating and retiring signing keys. Rotation publishes the
//! new key at once and lets it sign only after `--publish-for` minutes, so services that
//! cache the JWKS already know it; a retired key stays published until every token it
//! signed has expired.

use std::sync::Arc;

use clap::Subcommand;

use crate::audit::{Action, AuditEvent};
use crate::clock::{Clock, SystemClock};
use crate::config::Sources;
use crate::crypto::{KeyState, SigningAlg};
use crate::server::{open_keys, open_store};

use super::Failure;
use super::commands::load;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys with their state (pending, signing, superseded, retired, expired)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create the next key for one algorithm, or for all three
    Rotate {
        /// RS256, ES256 or EdDSA [default: all]
        #[arg(long)]
        alg: Option<String>,
        /// Minutes the new key is published before it signs
        #[arg(long, default_value_t = 1440)]
        publish_for: u32,
    },
    /// Stop using a key; it stays published until its tokens have expired
    Retire { kid: String },
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn runtime(message: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: message.into(),
    }
}

pub async fn run(sources: &Sources, command: KeysCommand) -> Result<(), Failure> {
    let config = load(sources)?;
    crate::telemetry::init(config.log_format, "warn");
    let clock = Arc::new(SystemClock);
    let keys = open_keys(&config, clock.clone())?;
    let now = clock.now();
    match command {
        KeysCommand::List { json } => {
            let states = keys.states();
            if json {
                let list: Vec<_> = states
                    .iter()
                    .map(|(meta, state)| {
                        serde_json::json!({
                            "kid": meta.kid, "alg": meta.alg.as_str(), "state": state.as_str(),
                            "created_at": meta.created_at.to_rfc3339(),
                            "active_from": meta.active_from.to_rfc3339(),
                            "retired_at": meta.retired_at.map(|t| t.to_rfc3339()),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for (meta, state) in states {
                    println!(
                        "{}\t{}\t{}\tsigns from {}",
                        meta.kid,
                        meta.alg,
                        state.as_str(),
                        meta.active_from.format("%Y-%m-%d %H:%M UTC")
                    );
                }
            }
            Ok(())
        }
        KeysCommand::Rotate { alg, publish_for } => {
            let algs = match alg {
                Some(a) => vec![
                    a.parse::<SigningAlg>()
                        .map_err(|e| usage(format!("--alg: {e}")))?,
                ],
                None => SigningAlg::ALL.to_vec(),
            };
            let active_from = now + chrono::Duration::minutes(i64::from(publish_for));
            let store = open_store(&config).await?;
            for alg in algs {
                let meta = keys
                    .folder()
                    .create(alg, now, active_from)
                    .map_err(|e| runtime(e.to_string()))?;
                audit(&store, Action::KeyCreated, &meta.kid, alg, now).await?;
                println!(
                    "{}\t{}\tpublished now, signs from {}",
                    meta.kid,
                    alg,
                    active_from.format("%Y-%m-%d %H:%M UTC")
                );
            }
            store.close().await;
            Ok(())
        }
        KeysCommand::Retire { kid } => {
            let states = keys.states();
            let (meta, state) = states
                .iter()
                .find(|(meta, _)| meta.kid == kid)
                .ok_or_else(|| usage(format!("no key has id {kid:?}")))?;
            if matches!(state, KeyState::Retired | KeyState::Expired) {
                return Err(usage(format!("{kid} is already retired")));
            }
            let successor = states.iter().any(|(m, s)| {
                m.alg == meta.alg
                    && m.kid != meta.kid
                    && matches!(s, KeyState::Signing | KeyState::Superseded)
            });
            if !successor {
                return Err(usage(format!(
                    "{kid} is the only usable {} key; run `gatehouse keys rotate --alg {}` and wait until the new key signs",
                    meta.alg, meta.alg
                )));
            }
            let mut retired = meta.clone();
            retired.retired_at = Some(now);
            keys.folder()
                .save(&retired)
                .map_err(|e| runtime(e.to_string()))?;
            let store = open_store(&config).await?;
            audit(&store, Action::KeyRetired, &kid, meta.alg, now).await?;
            store.close().await;
            println!("{kid}\tretired; published until its tokens have expired");
            Ok(())
        }
    }
}

async fn audit(
    store: &crate::store::Store,
    action: Action,
    kid: &str,
    alg: SigningAlg,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Failure> {
    let event = AuditEvent::new(action)
        .by_cli()
        .details(serde_json::json!({ "kid": kid, "alg": alg.as_str() }));
    let fail = |e: crate::store::StoreError| runtime(format!("audit trail: {e}"));
    let mut tx = store.begin().await.map_err(fail)?;
    store
        .append_audit(&mut tx, &event, now)
        .await
        .map_err(fail)?;
    tx.commit().await.map_err(fail)
}
