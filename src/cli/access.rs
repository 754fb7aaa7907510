//! `gatehouse member …`, `gatehouse role …` and `gatehouse access …`: who belongs to which
//! organisation, the roles each service defines, and who may use which service where.
//! Audited with actor `cli`.

use clap::Subcommand;

use crate::audit::{Actor, RequestContext};
use crate::config::Sources;
use crate::directory::{Directory, DirectoryError, Level, OrgKind};
use crate::domain::Email;
use crate::server::{open_clock, open_store};
use crate::store::{Store, UserRow};

use super::Failure;
use super::commands::load;

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Make someone a member (or, with --approver, an approver) of an organisation
    Add {
        email: String,
        /// The organisation's id, URN or LA code
        organisation: String,
        #[arg(long)]
        approver: bool,
    },
    /// Remove someone from an organisation; their access there ends at once
    Remove { email: String, organisation: String },
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Define (or rename) a role of a service
    Define {
        client_id: String,
        code: String,
        #[arg(long)]
        name: String,
    },
    /// Remove a role from a service and from everyone who holds it
    Remove { client_id: String, code: String },
    /// List a service's roles
    List { client_id: String },
}

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Let a member use a service at their organisation, with roles (replacing earlier ones)
    Grant {
        email: String,
        organisation: String,
        client_id: String,
        #[arg(long = "role", value_name = "CODE")]
        roles: Vec<String>,
    },
    /// End someone's access to a service at an organisation
    Revoke {
        email: String,
        organisation: String,
        client_id: String,
    },
    /// Where someone may use a service, with their roles
    Show { email: String, client_id: String },
    /// Allow a service only for these kinds of organisation (none: any)
    Restrict {
        client_id: String,
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
    },
}

fn failed(e: DirectoryError) -> Failure {
    match e {
        DirectoryError::Store(e) => Failure {
            code: 1,
            message: e.to_string(),
        },
        other => Failure {
            code: 2,
            message: other.to_string(),
        },
    }
}

async fn open(sources: &Sources) -> Result<(Directory, Store), Failure> {
    let config = load(sources)?;
    crate::telemetry::init(config.log_format, "warn");
    let store = open_store(&config).await?;
    let clock = open_clock(&config, &store).await?;
    Ok((Directory::new(store.clone(), clock), store))
}

pub(super) async fn person(store: &Store, email: &str) -> Result<UserRow, Failure> {
    let parsed = Email::parse(email).map_err(|e| Failure {
        code: 2,
        message: format!("{email:?}: {e}"),
    })?;
    store
        .user_by_email(&parsed)
        .await
        .map_err(|e| Failure {
            code: 1,
            message: e.to_string(),
        })?
        .ok_or_else(|| Failure {
            code: 2,
            message: format!("no account has the email address {email}"),
        })
}

pub async fn member(sources: &Sources, command: MemberCommand) -> Result<(), Failure> {
    let (directory, store) = open(sources).await?;
    let ctx = RequestContext::default();
    let outcome = async {
        match command {
            MemberCommand::Add {
                email,
                organisation,
                approver,
            } => {
                let user = person(&store, &email).await?;
                let level = if approver {
                    Level::Approver
                } else {
                    Level::Member
                };
                let org = directory
                    .add_member(&user, &organisation, level, Actor::Cli, &ctx)
                    .await
                    .map_err(failed)?;
                println!("{} is now {} of {}", user.email, article(level), org.name);
            }
            MemberCommand::Remove {
                email,
                organisation,
            } => {
                let user = person(&store, &email).await?;
                let org = directory
                    .remove_member(&user, &organisation, Actor::Cli, &ctx)
                    .await
                    .map_err(failed)?;
                println!("{} is no longer a member of {}", user.email, org.name);
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    outcome
}

fn article(level: Level) -> &'static str {
    match level {
        Level::Member => "a member",
        Level::Approver => "an approver",
    }
}

pub async fn role(sources: &Sources, command: RoleCommand) -> Result<(), Failure> {
    let (directory, store) = open(sources).await?;
    let ctx = RequestContext::default();
    let outcome = async {
        match command {
            RoleCommand::Define {
                client_id,
                code,
                name,
            } => {
                let role = directory
                    .define_role(&client_id, &code, &name, Actor::Cli, &ctx)
                    .await
                    .map_err(failed)?;
                println!("{client_id} has the role {} ({})", role.code, role.name);
            }
            RoleCommand::Remove { client_id, code } => {
                directory
                    .remove_role(&client_id, &code, Actor::Cli, &ctx)
                    .await
                    .map_err(failed)?;
                println!("Removed the role {code} from {client_id}");
            }
            RoleCommand::List { client_id } => {
                for role in store.roles(&client_id).await.map_err(|e| Failure {
                    code: 1,
                    message: e.to_string(),
                })? {
                    println!("{}\t{}", role.code, role.name);
                }
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    outcome
}

pub async fn access(sources: &Sources, command: AccessCommand) -> Result<(), Failure> {
    let (directory, store) = open(sources).await?;
    let ctx = RequestContext::default();
    let outcome = async {
        match command {
            AccessCommand::Grant {
                email,
                organisation,
                client_id,
                roles,
            } => {
                let user = person(&store, &email).await?;
                let org = directory
                    .grant_access(&user, &organisation, &client_id, &roles, Actor::Cli, &ctx)
                    .await
                    .map_err(failed)?;
                println!("{} may use {client_id} at {}", user.email, org.name);
            }
            AccessCommand::Revoke {
                email,
                organisation,
                client_id,
            } => {
                let user = person(&store, &email).await?;
                let org = directory
                    .revoke_access(&user, &organisation, &client_id, Actor::Cli, &ctx)
                    .await
                    .map_err(failed)?;
                println!(
                    "{} may no longer use {client_id} at {}",
                    user.email, org.name
                );
            }
            AccessCommand::Show { email, client_id } => {
                let user = person(&store, &email).await?;
                let access = directory
                    .access(&user.id, &client_id)
                    .await
                    .map_err(failed)?;
                if access.is_empty() {
                    println!("{} may not use {client_id} anywhere", user.email);
                }
                for a in access {
                    let key = a
                        .organisation
                        .urn
                        .clone()
                        .or(a.organisation.la_code.clone())
                        .unwrap_or_default();
                    println!("{}\t{}\t{}", key, a.organisation.name, a.roles.join(" "));
                }
            }
            AccessCommand::Restrict { client_id, kinds } => {
                let parsed = kinds
                    .iter()
                    .map(|k| {
                        OrgKind::parse(k).ok_or_else(|| Failure {
                            code: 2,
                            message: format!("--kind {k:?}: use school, local_authority or other"),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                directory
                    .restrict_service(&client_id, &parsed, Actor::Cli, &ctx)
                    .await
                    .map_err(failed)?;
                if parsed.is_empty() {
                    println!("{client_id} may be granted for any organisation");
                } else {
                    println!("{client_id} may be granted only for: {}", kinds.join(", "));
                }
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    outcome
}
