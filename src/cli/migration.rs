//! `gatehouse migration …`: sending the Authentix migration's invitations in throttled waves
//! (so a helpdesk is not flooded), reminding those who have not activated, and progress.

use std::time::Duration;

use clap::Subcommand;

use crate::account::Lifecycle;
use crate::audit::{Actor, RequestContext};
use crate::auth::Auth;
use crate::config::Sources;
use crate::domain::UserId;
use crate::server::{open_clock, open_mailer, open_store};

use super::Failure;
use super::commands::load;

#[derive(Debug, Subcommand)]
pub enum MigrationCommand {
    /// Send invitations to people brought over who have not had one yet
    Invite {
        /// How fast, e.g. 30/min
        #[arg(long, default_value = "30/min")]
        rate: String,
        /// Only people at this local authority or its schools
        #[arg(long, value_name = "LA_CODE")]
        la: Option<String>,
        /// At most this many in this run
        #[arg(long)]
        limit: Option<i64>,
    },
    /// Invite again those who have not activated this many days after their invitation
    Remind {
        #[arg(long, default_value_t = 7)]
        after_days: i64,
        #[arg(long, default_value = "30/min")]
        rate: String,
        #[arg(long)]
        limit: Option<i64>,
    },
    /// How many were brought over, invited and activated
    Status,
}

fn usage(message: String) -> Failure {
    Failure { code: 2, message }
}

fn runtime(e: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        message: e.to_string(),
    }
}

/// "30/min" (or "30") as the pause between two messages.
fn pause(rate: &str) -> Result<Duration, Failure> {
    let count = rate.trim().trim_end_matches("/min");
    match count.parse::<u32>() {
        Ok(n) if n > 0 && n <= 6000 => Ok(Duration::from_millis(60_000 / u64::from(n))),
        _ => Err(usage(format!(
            "--rate {rate:?}: give messages per minute, from 1/min to 6000/min"
        ))),
    }
}

pub async fn run(sources: &Sources, command: MigrationCommand) -> Result<(), Failure> {
    let config = load(sources)?;
    crate::telemetry::init(config.log_format, "warn");
    let store = open_store(&config).await?;
    let clock = open_clock(&config, &store).await?;
    let mailer = open_mailer(&config, store.clone(), clock.clone())?;
    let auth = Auth::new(&config, store.clone(), clock.clone(), mailer.clone())
        .map_err(|e| usage(format!("password hashing: {e}")))?;
    let lifecycle = Lifecycle::new(store.clone(), clock.clone(), auth, mailer);
    let outcome = async {
        let (ids, wait, reminder) = match command {
            MigrationCommand::Status => {
                let (all, invited, active) = store.migration_progress().await.map_err(runtime)?;
                println!("brought over: {all}\ninvited:      {invited}\nactivated:    {active}");
                return Ok(());
            }
            MigrationCommand::Invite { rate, la, limit } => {
                let wait = pause(&rate)?;
                let ids = store
                    .migration_not_invited(la.as_deref().unwrap_or(""), limit.unwrap_or(i64::MAX))
                    .await
                    .map_err(runtime)?;
                (ids, wait, false)
            }
            MigrationCommand::Remind {
                after_days,
                rate,
                limit,
            } => {
                let wait = pause(&rate)?;
                let before = clock.now() - chrono::Duration::days(after_days.max(0));
                let ids = store
                    .migration_due_reminders(before.timestamp_millis(), limit.unwrap_or(i64::MAX))
                    .await
                    .map_err(runtime)?;
                (ids, wait, true)
            }
        };
        let ctx = RequestContext::default();
        let mut sent = 0;
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(wait).await;
            }
            let Some(user) = store
                .user_by_id(&UserId::from_stored(id.clone()))
                .await
                .map_err(runtime)?
            else {
                continue;
            };
            lifecycle
                .resend_invitation(&user, Actor::Cli, &ctx)
                .await
                .map_err(runtime)?;
            store
                .mark_migration_invited(id, clock.now().timestamp_millis(), reminder)
                .await
                .map_err(runtime)?;
            lifecycle.mailer().deliver_due().await.map_err(runtime)?;
            sent += 1;
        }
        let what = if reminder { "Reminded" } else { "Invited" };
        println!(
            "{what} {sent} {}",
            if sent == 1 { "person" } else { "people" }
        );
        Ok(())
    }
    .await;
    store.close().await;
    outcome
}
