//! The command line: `serve` (the default), `migrate`, `check-config`, `audit verify`, and
//! the `user`, `client`, `keys`, `mail`, `import`, `org`, `member`, `role`, `access`
//! and `migration` administration commands.
//! Each command shares the library code the server uses; failures print one line and exit
//! non-zero (2 for configuration, 1 for everything else).

mod access;
mod client;
mod commands;
mod directory;
mod keys;
mod mail;
mod migration;
mod staff;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigFile, LogFormat, Overrides, Sources};

/// Gatehouse: the sign-in service for Department for Education services.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file [default: ./gatehouse.toml if present]
    #[arg(long, env = "GATEHOUSE_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub flags: Flags,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags that override the file and the environment.
#[derive(Debug, Args)]
pub struct Flags {
    /// Address to listen on, e.g. 127.0.0.1:8080
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Public issuer URL, e.g. https://sso.example.gov.uk
    #[arg(long, global = true, value_name = "URL")]
    pub issuer: Option<String>,
    /// sqlite://… or postgres://… (prefer GATEHOUSE_DATABASE_URL_FILE for passwords)
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Folder for the SQLite database and development mail
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Folder for signing keys
    #[arg(long, global = true, value_name = "DIR")]
    pub keys_dir: Option<PathBuf>,
    /// Log format
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,
    /// Log level or tracing filter, e.g. info or gatehouse=debug
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Pretty,
    Json,
}

// Parsed once per process; boxing the large `client` options would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default)
    Serve,
    /// Apply database migrations, then exit
    Migrate,
    /// Print the effective configuration, secrets redacted
    CheckConfig,
    /// Work with the audit trail
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Create, find and manage accounts (audited, actor "cli")
    #[command(subcommand)]
    User(UserCommand),
    /// Register and manage services (OAuth clients; audited, actor "cli")
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// List, rotate and retire signing keys
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Check that email reaches people
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Import organisations from outside sources (GIAS extracts)
    #[command(subcommand)]
    Import(directory::ImportCommand),
    /// Add, change and show organisations (audited, actor "cli")
    #[command(subcommand)]
    Org(directory::OrgCommand),
    /// Add people to organisations as members or approvers, or remove them
    #[command(subcommand)]
    Member(access::MemberCommand),
    /// Define the roles a service offers
    #[command(subcommand)]
    Role(access::RoleCommand),
    /// Grant, revoke and show who may use which service at which organisation
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Invite people brought over from Authentix in waves, remind them, see progress
    #[command(subcommand)]
    Migration(migration::MigrationCommand),
    /// Grant and revoke Gatehouse staff roles: helpdesk, admin, auditor (audited)
    #[command(subcommand)]
    Staff(staff::StaffCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account: active with --password-stdin, otherwise invited
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        given_name: String,
        #[arg(long)]
        family_name: String,
        #[arg(long)]
        job_title: Option<String>,
        /// Read the password from standard input (one line), never from the command line
        #[arg(long)]
        password_stdin: bool,
    },
    /// Invite someone: an invited account and a single-use activation link by email
    Invite {
        #[arg(long)]
        email: String,
        #[arg(long)]
        given_name: String,
        #[arg(long)]
        family_name: String,
        /// Where to send them once active: a redirect URI of the inviting service, exactly
        #[arg(long, value_name = "URL")]
        return_to: Option<String>,
    },
    /// List accounts in email order
    List {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Show one account
    Show { email: String },
    /// Lock an active account (it can sign in again after an unlock)
    Lock {
        email: String,
        #[arg(long)]
        reason: String,
    },
    /// Unlock a locked account and clear its failed sign-ins
    Unlock {
        email: String,
        #[arg(long)]
        reason: String,
    },
    /// Deactivate an account and end its sessions
    Deactivate {
        email: String,
        #[arg(long)]
        reason: String,
    },
    /// Reactivate a deactivated account
    Reactivate {
        email: String,
        #[arg(long)]
        reason: String,
    },
    /// Deactivate every account unused for longer than the policy allows (run it daily)
    DeactivateUnused {
        /// Only count them
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Re-compute the hash chain and report the first break, if any
    Verify,
    /// Write events since a date to standard output, for an external store
    Export {
        /// A date (2026-11-01) or an RFC 3339 time
        #[arg(long)]
        since: String,
        /// jsonl (one JSON object per line) or csv
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
    /// Blank events past their category's retention (audit_keep_*_days), leaving a
    /// checkpoint so the chain still verifies; run it as the database's owner
    Prune {
        /// Only count what would be blanked
        #[arg(long)]
        dry_run: bool,
    },
}

impl Cli {
    fn sources(&self) -> Sources {
        let f = &self.flags;
        Sources {
            file: self
                .config
                .clone()
                .map_or(ConfigFile::Default, ConfigFile::Named),
            environment: true,
            overrides: Overrides {
                listen: f.listen.clone(),
                issuer: f.issuer.clone(),
                database_url: f.database_url.clone(),
                data_dir: f.data_dir.clone(),
                keys_dir: f.keys_dir.clone(),
                log_format: f.log_format.map(|f| match f {
                    LogFormatArg::Pretty => LogFormat::Pretty,
                    LogFormatArg::Json => LogFormat::Json,
                }),
                log_level: f.log_level.clone(),
            },
        }
    }
}

/// A command's failure: the one line to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(&Failure {
                code: 1,
                message: format!("cannot start: {e}"),
            });
        }
    };
    let sources = cli.sources();
    let outcome = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => commands::serve(&sources).await,
            Command::Migrate => commands::migrate(&sources).await,
            Command::CheckConfig => commands::check_config(&sources),
            Command::Audit(AuditCommand::Verify) => commands::audit_verify(&sources).await,
            Command::Audit(AuditCommand::Export { since, format }) => {
                commands::audit_export(&sources, &since, &format).await
            }
            Command::Audit(AuditCommand::Prune { dry_run }) => {
                commands::audit_prune(&sources, dry_run).await
            }
            Command::User(command) => user::run(&sources, command).await,
            Command::Client(command) => client::run(&sources, command).await,
            Command::Keys(command) => keys::run(&sources, command).await,
            Command::Mail(command) => mail::run(&sources, command).await,
            Command::Import(command) => directory::import(&sources, command).await,
            Command::Org(command) => directory::org(&sources, command).await,
            Command::Member(command) => access::member(&sources, command).await,
            Command::Role(command) => access::role(&sources, command).await,
            Command::Access(command) => access::access(&sources, command).await,
            Command::Migration(command) => migration::run(&sources, command).await,
            Command::Staff(command) => staff::run(&sources, command).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(&failure),
    }
}

fn fail(failure: &Failure) -> ExitCode {
    eprintln!("gatehouse: {}", failure.message);
    ExitCode::from(failure.code)
}
