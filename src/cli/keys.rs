//! `gatehouse keys …`: listing, rotating and retiring signing keys. Rotation publishes the
//! new key at once and lets it sign only after `--publish-for` minutes, so services that
//! cache the JWKS already know it; a retired key stays published until every token it
//! signed has expired.

use std::sync::Arc;

use clap::Subcommand;

use crate::admin::{KeyChangeError, retire_key, rotate_keys};
use crate::audit::{Actor, RequestContext};
use crate::clock::{Clock, SystemClock};
use crate::config::Sources;
use crate::crypto::SigningAlg;
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
            let ctx = RequestContext::default();
            let created =
                rotate_keys(&keys, &store, &algs, now, active_from, Actor::Cli, &ctx).await;
            store.close().await;
            for meta in created.map_err(failed)? {
                println!(
                    "{}\t{}\tpublished now, signs from {}",
                    meta.kid,
                    meta.alg,
                    active_from.format("%Y-%m-%d %H:%M UTC")
                );
            }
            Ok(())
        }
        KeysCommand::Retire { kid } => {
            let store = open_store(&config).await?;
            let ctx = RequestContext::default();
            let retired = retire_key(&keys, &store, &kid, now, Actor::Cli, &ctx).await;
            store.close().await;
            retired.map_err(failed)?;
            println!("{kid}\tretired; published until its tokens have expired");
            Ok(())
        }
    }
}

/// Usage errors exit 2; failures of the folder or database exit 1.
fn failed(e: KeyChangeError) -> Failure {
    match e {
        KeyChangeError::Folder(_) | KeyChangeError::Store(_) => runtime(e.to_string()),
        KeyChangeError::OnlyUsable { kid, alg } => usage(format!(
            "{kid} is the only usable {alg} key; run `gatehouse keys rotate --alg {alg}` and wait until the new key signs"
        )),
        other => usage(other.to_string()),
    }
}
