//! `gatehouse staff grant|revoke|show EMAIL [ROLE]`: who is Gatehouse helpdesk, admin or
//! auditor staff. Audited with actor `cli`.

use clap::Subcommand;

use crate::audit::{Actor, RequestContext};
use crate::config::Sources;
use crate::server::{open_clock, open_store};
use crate::staff::{Staff, StaffError, StaffRole};

use super::Failure;
use super::access::person;
use super::commands::load;

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Give an account a staff role: helpdesk, admin or auditor
    Grant { email: String, role: String },
    /// Take a staff role away
    Revoke { email: String, role: String },
    /// List an account's staff roles
    Show { email: String },
}

fn role(value: &str) -> Result<StaffRole, Failure> {
    StaffRole::parse(value.trim()).ok_or_else(|| Failure {
        code: 2,
        message: format!("{value:?} is not a staff role; use helpdesk, admin or auditor"),
    })
}

fn failed(e: StaffError) -> Failure {
    let code = match e {
        StaffError::Store(_) => 1,
        _ => 2,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

pub async fn run(sources: &Sources, command: StaffCommand) -> Result<(), Failure> {
    let config = load(sources)?;
    crate::telemetry::init(config.log_format, "warn");
    let store = open_store(&config).await?;
    let staff = Staff::new(store.clone(), open_clock(&config, &store).await?);
    let ctx = RequestContext::default();
    let outcome = async {
        match command {
            StaffCommand::Grant { email, role: name } => {
                let role = role(&name)?;
                let user = person(&store, &email).await?;
                staff
                    .grant(&user, role, Actor::Cli, &ctx)
                    .await
                    .map_err(failed)?;
                println!("{} now has the {} role", user.email, role.as_str());
            }
            StaffCommand::Revoke { email, role: name } => {
                let role = role(&name)?;
                let user = person(&store, &email).await?;
                staff
                    .revoke(&user, role, Actor::Cli, &ctx)
                    .await
                    .map_err(failed)?;
                println!("{} no longer has the {} role", user.email, role.as_str());
            }
            StaffCommand::Show { email } => {
                let user = person(&store, &email).await?;
                let roles = staff.roles(&user.id).await.map_err(|e| Failure {
                    code: 1,
                    message: e.to_string(),
                })?;
                if roles.is_empty() {
                    println!("{} has no staff roles", user.email);
                }
                for r in roles {
                    println!("{}", r.as_str());
                }
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    outcome
}
