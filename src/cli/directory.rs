//! `gatehouse import gias FILE` and `gatehouse org …`: keeping organisations in step with
//! GIAS extracts, and adding or correcting one by hand. Audited with actor `cli`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::audit::{Actor, RequestContext};
use crate::config::Sources;
use crate::directory::{
    Directory, DirectoryError, ImportReport, NewOrganisation, OrgKind, OrgStatus,
    OrganisationChanges, Rejections,
};
use crate::server::{open_clock, open_store};
use crate::store::OrganisationRow;

use super::Failure;
use super::commands::load;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Create and update schools and local authorities from a GIAS establishments extract
    /// (Windows-1252 or UTF-8 CSV); re-importing the same file changes nothing
    Gias {
        file: PathBuf,
        /// Read and check everything, report what would change, save nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Bring people over from an Authentix contact export: invited accounts, memberships,
    /// approvers and service access (no invitation is sent; see `gatehouse migration`)
    Authentix {
        file: PathBuf,
        #[arg(long)]
        dry_run: bool,
        /// Map a legacy service code to a service's client id, e.g. --service sdt=school-data
        #[arg(long = "service", value_name = "CODE=CLIENT_ID")]
        services: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Add an organisation by hand
    Create {
        /// school, local_authority or other
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        urn: Option<String>,
        #[arg(long)]
        ukprn: Option<String>,
        #[arg(long)]
        la_code: Option<String>,
        /// open, closed, proposed_to_close or proposed_to_open
        #[arg(long, default_value = "open")]
        status: String,
        #[arg(long)]
        town: Option<String>,
        #[arg(long)]
        postcode: Option<String>,
    },
    /// Change an organisation, named by id, URN or LA code
    Edit {
        key: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        ukprn: Option<String>,
        #[arg(long)]
        la_code: Option<String>,
        #[arg(long)]
        town: Option<String>,
        #[arg(long)]
        postcode: Option<String>,
    },
    /// Show an organisation, named by id, URN or LA code
    Show { key: String },
}

fn failed(e: DirectoryError) -> Failure {
    match e {
        DirectoryError::Store(e) => Failure {
            code: 1,
            message: e.to_string(),
        },
        DirectoryError::Field(field, message) => Failure {
            code: 2,
            message: format!("--{}: {message}", field.replace('_', "-")),
        },
        other => Failure {
            code: 2,
            message: other.to_string(),
        },
    }
}

fn status(value: &str) -> Result<OrgStatus, Failure> {
    OrgStatus::parse(value).ok_or_else(|| Failure {
        code: 2,
        message: "--status: use open, closed, proposed_to_close or proposed_to_open".into(),
    })
}

async fn directory(sources: &Sources) -> Result<(Directory, crate::store::Store), Failure> {
    let config = load(sources)?;
    crate::telemetry::init(config.log_format, "warn");
    let store = open_store(&config).await?;
    let clock = open_clock(&config, &store).await?;
    Ok((Directory::new(store.clone(), clock), store))
}

/// Opens an import file; it is read as the import goes, never all at once.
fn open_file(file: &std::path::Path) -> Result<std::io::BufReader<std::fs::File>, Failure> {
    std::fs::File::open(file)
        .map(std::io::BufReader::new)
        .map_err(|e| Failure {
            code: 2,
            message: format!("cannot read {}: {e}", file.display()),
        })
}

pub async fn import(sources: &Sources, command: ImportCommand) -> Result<(), Failure> {
    match command {
        ImportCommand::Gias { file, dry_run } => {
            let input = open_file(&file)?;
            let (directory, store) = directory(sources).await?;
            let outcome = directory
                .import_gias(input, dry_run, Actor::Cli, &RequestContext::default())
                .await;
            store.close().await;
            let report = outcome.map_err(failed)?;
            print_report(&file, &report);
        }
        ImportCommand::Authentix {
            file,
            dry_run,
            services,
        } => {
            let mut map = std::collections::HashMap::new();
            for pair in services {
                let (code, client) = pair.split_once('=').ok_or_else(|| Failure {
                    code: 2,
                    message: format!("--service {pair:?}: write it as CODE=CLIENT_ID"),
                })?;
                map.insert(code.trim().to_lowercase(), client.trim().to_owned());
            }
            let input = open_file(&file)?;
            let (directory, store) = directory(sources).await?;
            let outcome = directory
                .import_authentix(input, &map, dry_run, Actor::Cli, &RequestContext::default())
                .await;
            store.close().await;
            let report = outcome.map_err(failed)?;
            print_migration(&file, &report);
        }
    }
    Ok(())
}

fn print_migration(file: &std::path::Path, report: &crate::directory::MigrationReport) {
    let title = if report.dry_run {
        " (dry run: nothing was saved)"
    } else {
        ""
    };
    println!("Authentix import of {}{title}", file.display());
    println!("  rows read:         {}", report.rows);
    println!("  accounts created:  {}", report.accounts_created);
    println!("  accounts existing: {}", report.accounts_existing);
    println!("  memberships:       {}", report.memberships);
    println!("  approvers:         {}", report.approvers);
    println!("  access granted:    {}", report.access_granted);
    println!("  rejected:          {}", report.rejected.total);
    for (code, mentions) in &report.unknown_services {
        let lines: Vec<String> = mentions.lines.iter().map(u64::to_string).collect();
        let more = mentions.total - mentions.lines.len();
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        println!(
            "unknown service code {code:?} (no such service) on lines {}{more}",
            lines.join(", ")
        );
    }
    print_rejected(&report.rejected);
}

fn print_report(file: &std::path::Path, report: &ImportReport) {
    let title = if report.dry_run {
        " (dry run: nothing was saved)"
    } else {
        ""
    };
    println!("GIAS import of {}{title}", file.display());
    println!("  rows read:         {}", report.rows);
    println!("  created:           {}", report.created);
    println!("  updated:           {}", report.updated);
    println!("  closed:            {}", report.closed);
    println!("  unchanged:         {}", report.unchanged);
    println!("  rejected:          {}", report.rejected.total);
    println!(
        "  local authorities: {} created, {} updated",
        report.local_authorities_created, report.local_authorities_updated
    );
    print_rejected(&report.rejected);
}

fn print_rejected(rejected: &Rejections) {
    for r in &rejected.shown {
        println!("line {}: {}", r.line, r.reason);
    }
    if rejected.more() > 0 {
        println!("… and {} more rejected rows", rejected.more());
    }
}

pub async fn org(sources: &Sources, command: OrgCommand) -> Result<(), Failure> {
    let (directory, store) = directory(sources).await?;
    let outcome = run_org(&directory, command).await;
    store.close().await;
    outcome
}

async fn run_org(directory: &Directory, command: OrgCommand) -> Result<(), Failure> {
    let ctx = RequestContext::default();
    let row = match command {
        OrgCommand::Create {
            kind,
            name,
            urn,
            ukprn,
            la_code,
            status: s,
            town,
            postcode,
        } => {
            let kind = OrgKind::parse(&kind).ok_or_else(|| Failure {
                code: 2,
                message: "--kind: use school, local_authority or other".into(),
            })?;
            let new = NewOrganisation {
                kind,
                name,
                urn,
                ukprn,
                la_code,
                status: status(&s)?,
                town,
                postcode,
            };
            let row = directory
                .create_organisation(new, Actor::Cli, &ctx)
                .await
                .map_err(failed)?;
            println!("Created {} ({})", row.name, row.id);
            row
        }
        OrgCommand::Edit {
            key,
            name,
            status: s,
            ukprn,
            la_code,
            town,
            postcode,
        } => {
            let changes = OrganisationChanges {
                name,
                status: s.as_deref().map(status).transpose()?,
                ukprn,
                la_code,
                town,
                postcode,
            };
            let row = directory
                .update_organisation(&key, changes, Actor::Cli, &ctx)
                .await
                .map_err(failed)?;
            println!("Saved {} ({})", row.name, row.id);
            row
        }
        OrgCommand::Show { key } => directory
            .find(&key)
            .await
            .map_err(failed)?
            .ok_or_else(|| failed(DirectoryError::NotFound))?,
    };
    print_organisation(&row);
    Ok(())
}

fn print_organisation(row: &OrganisationRow) {
    let field = |label: &str, value: Option<&str>| {
        if let Some(value) = value {
            println!("  {label:<13}{value}");
        }
    };
    println!("{}", row.name);
    field("id", Some(&row.id));
    field("kind", Some(&row.kind));
    field("status", Some(&row.status));
    field("URN", row.urn.as_deref());
    field("UKPRN", row.ukprn.as_deref());
    field("LA code", row.la_code.as_deref());
    field("type", row.type_name.as_deref());
    field("phase", row.phase_name.as_deref());
    field("town", row.town.as_deref());
    field("postcode", row.postcode.as_deref());
    field("opened", row.opened_on.as_deref());
    field("closed", row.closed_on.as_deref());
    field("source", Some(&row.source));
}
