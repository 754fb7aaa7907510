//! `gatehouse user …`: account administration from the command line, for operators. Every
//! change goes through the same use cases as the web and is audited with actor `cli`.

use std::io::BufRead;

use crate::account::{
    AccountError, Accounts, FlowError, Invite, Invited, Lifecycle, NewAccount, StatusChange,
};
use crate::audit::{Actor, RequestContext};
use crate::auth::Auth;
use crate::auth::password::Password;
use crate::config::Sources;
use crate::domain::Email;
use crate::server::{open_clock, open_mailer, open_store};
use crate::store::UserRow;

use super::commands::load;
use super::{Failure, UserCommand};

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn failed(e: AccountError) -> Failure {
    let code = match e {
        AccountError::Auth(_) => 1,
        _ => 2,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

fn flow_failed(e: FlowError) -> Failure {
    let code = match e {
        FlowError::Internal(_) => 1,
        _ => 2,
    };
    let message = match e {
        FlowError::Field { field, message } => format!("--{}: {message}", field.replace('_', "-")),
        other => other.to_string(),
    };
    Failure { code, message }
}

fn email(text: &str) -> Result<Email, Failure> {
    Email::parse(text).map_err(|e| usage(format!("--email: {e}")))
}

pub async fn run(sources: &Sources, command: UserCommand) -> Result<(), Failure> {
    let config = load(sources)?;
    crate::telemetry::init(config.log_format, "warn");
    let store = open_store(&config).await?;
    let clock = open_clock(&config, &store).await?;
    let mailer = open_mailer(&config, store.clone(), clock.clone())?;
    let auth = Auth::new(&config, store.clone(), clock.clone(), mailer.clone())
        .map_err(|e| usage(format!("password hashing: {e}")))?;
    let accounts = Accounts::new(store.clone(), auth.hasher().clone(), clock.clone());
    let lifecycle = Lifecycle::new(store.clone(), clock, auth, mailer);
    let ctx = RequestContext::default();
    let outcome = dispatch(&accounts, &lifecycle, command, &ctx).await;
    store.close().await;
    outcome
}

async fn dispatch(
    accounts: &Accounts,
    lifecycle: &Lifecycle,
    command: UserCommand,
    ctx: &RequestContext,
) -> Result<(), Failure> {
    match command {
        UserCommand::Invite {
            email: e,
            given_name,
            family_name,
            return_to,
        } => {
            let invite = Invite {
                email: email(&e)?,
                given_name,
                family_name,
                return_to,
            };
            let outcome = lifecycle
                .invite(invite, Actor::Cli, ctx)
                .await
                .map_err(flow_failed)?;
            let (user, what) = match &outcome {
                Invited::Created(user) => (user, "Invited"),
                Invited::Resent(user) => (user, "Sent a new invitation to"),
                Invited::AlreadyHasAccount(user) => {
                    println!(
                        "{} already has an account ({}), so no invitation was sent. They can sign in, or use \"Forgotten your password?\".",
                        user.email, user.status
                    );
                    return Ok(());
                }
            };
            // Hand the message over now rather than waiting for a server's worker; a
            // running server cannot send it twice, since each message is claimed once.
            let sent = lifecycle.mailer().deliver_due().await.unwrap_or(0);
            let when = if sent > 0 {
                "the email has been sent"
            } else {
                "the email is queued and the server will send it"
            };
            println!("{what} {} ({}); {when}.", user.email, user.id);
        }
        UserCommand::Create {
            email: e,
            given_name,
            family_name,
            job_title,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let new = NewAccount {
                email: email(&e)?,
                given_name,
                family_name,
                job_title,
                password,
            };
            let user = accounts
                .create(new, Actor::Cli, ctx)
                .await
                .map_err(failed)?;
            println!(
                "Created {} ({}), status {}.",
                user.email, user.id, user.status
            );
        }
        UserCommand::List {
            json,
            limit,
            offset,
        } => {
            let users = accounts
                .list(limit.clamp(1, 10_000), offset.max(0))
                .await
                .map_err(failed)?;
            if json {
                let rows: Vec<_> = users.iter().map(summary).collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!("{:<40} {:<30} {:<12} id", "email", "name", "status");
                for u in &users {
                    let name = format!("{} {}", u.given_name, u.family_name);
                    println!("{:<40} {:<30} {:<12} {}", u.email, name, u.status, u.id);
                }
            }
        }
        UserCommand::Show { email: e } => {
            let user = accounts.find(&email(&e)?).await.map_err(failed)?;
            for (key, value) in summary(&user).as_object().into_iter().flatten() {
                let shown = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                println!("{key}: {shown}");
            }
        }
        UserCommand::Lock { email: e, reason } => {
            change(accounts, &e, StatusChange::Lock, &reason, ctx).await?;
        }
        UserCommand::Unlock { email: e, reason } => {
            change(accounts, &e, StatusChange::Unlock, &reason, ctx).await?;
        }
        UserCommand::Deactivate { email: e, reason } => {
            change(accounts, &e, StatusChange::Deactivate, &reason, ctx).await?;
        }
        UserCommand::Reactivate { email: e, reason } => {
            change(accounts, &e, StatusChange::Reactivate, &reason, ctx).await?;
        }
        UserCommand::DeactivateUnused { dry_run } => {
            let report = lifecycle
                .deactivate_unused(dry_run, ctx)
                .await
                .map_err(flow_failed)?;
            // As for invitations: hand the notices over now rather than waiting for a
            // server's worker (each message is claimed once, so none goes twice).
            if report.deactivated > 0 {
                lifecycle.mailer().deliver_due().await.unwrap_or(0);
            }
            let days = report.after_days;
            if dry_run {
                println!(
                    "{} accounts not used for more than {days} days would be deactivated",
                    report.found
                );
            } else {
                println!(
                    "{} accounts not used for more than {days} days deactivated",
                    report.deactivated
                );
            }
        }
    }
    Ok(())
}

async fn change(
    accounts: &Accounts,
    address: &str,
    change: StatusChange,
    reason: &str,
    ctx: &RequestContext,
) -> Result<(), Failure> {
    let user = accounts
        .change_status(&email(address)?, change, reason, Actor::Cli, ctx)
        .await
        .map_err(failed)?;
    println!("{} is now {}.", user.email, user.status);
    Ok(())
}

/// One line from standard input, without its line ending; never echoed or logged.
fn read_password() -> Result<Password, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| usage(format!("cannot read the password from standard input: {e}")))?;
    let typed = line.trim_end_matches(['\r', '\n']);
    Password::from_input(typed).map_err(|e| usage(format!("password: {e}")))
}

/// What operators may see of an account: never the password hash.
fn summary(u: &UserRow) -> serde_json::Value {
    let time = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339())
    };
    serde_json::json!({
        "id": u.id,
        "email": u.email,
        "given_name": u.given_name,
        "family_name": u.family_name,
        "job_title": u.job_title,
        "status": u.status,
        "status_reason": u.status_reason,
        "has_password": u.password_hash.is_some(),
        "failed_sign_ins": u.failed_sign_ins,
        "created_at": time(Some(u.created_at)),
        "last_sign_in_at": time(u.last_sign_in_at),
        "password_changed_at": time(u.password_changed_at),
    })
}
