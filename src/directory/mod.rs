//! Organisations — the schools and local authorities people act for — kept in step with GIAS
//! extracts and editable by administrators. (Memberships, roles and the organisation people
//! choose at sign-in build on this.) No HTTP here.

mod access_requests;
mod approvals;
pub mod authentix;
mod counting;
mod csv_file;
mod dashboard;
pub mod gias;
mod import;
mod memberships;
mod migration;
mod organisations;
mod service_access;

pub use access_requests::{Decision, OVERDUE_AFTER};
pub use approvals::{
    Approvals, ApproverOf, Colleague, ColleagueInvite, ColleagueInvited, HeldService,
    PEOPLE_PER_PAGE, ServiceOffer,
};
pub use counting::keep_migration_counted;
pub use csv_file::Rejections;
pub use dashboard::{Dashboard, MigrationLine, spreadsheet_safe};
pub use import::ImportReport;
pub use memberships::{Access, Level};
pub use migration::{Mentions, MigrationReport};
pub use organisations::{NewOrganisation, OrganisationChanges};

use crate::clock::SharedClock;
use crate::store::{Store, StoreError};

/// What an organisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    School,
    LocalAuthority,
    Other,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::School => "school",
            Self::LocalAuthority => "local_authority",
            Self::Other => "other",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "school" => Some(Self::School),
            "local_authority" | "la" => Some(Self::LocalAuthority),
            "other" => Some(Self::Other),
            _ => None,
        }
    }
}

/// Whether it is open (GIAS "EstablishmentStatus").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgStatus {
    Open,
    Closed,
    ProposedToClose,
    ProposedToOpen,
}

impl OrgStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::ProposedToClose => "proposed_to_close",
            Self::ProposedToOpen => "proposed_to_open",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            "proposed_to_close" => Some(Self::ProposedToClose),
            "proposed_to_open" => Some(Self::ProposedToOpen),
            _ => None,
        }
    }

    /// From GIAS's status name ("Open", "Closed", "Open, but proposed to close", "Proposed to
    /// open"); the names are stable where the codes have varied between extracts.
    pub fn from_gias(name: &str) -> Option<Self> {
        let name = name.trim().to_lowercase();
        if name == "open" {
            Some(Self::Open)
        } else if name == "closed" {
            Some(Self::Closed)
        } else if name.contains("proposed to close") {
            Some(Self::ProposedToClose)
        } else if name.contains("proposed to open") {
            Some(Self::ProposedToOpen)
        } else {
            None
        }
    }
}

/// Text from a file or a form: control characters removed, runs of spaces made one.
pub fn clean_text(value: &str) -> String {
    value
        .split_whitespace()
        .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a directory change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Read(#[from] gias::ReadError),
    /// A value the person gave is not acceptable: (which field, why).
    #[error("{1}")]
    Field(&'static str, String),
    #[error("no organisation has that id, URN or LA code")]
    NotFound,
    #[error("you are not an approver for that organisation")]
    NotApprover,
    #[error("that person is not in this organisation")]
    NoSuchPerson,
    #[error("there is no such request for this organisation")]
    NoSuchRequest,
    #[error(transparent)]
    Flow(#[from] crate::account::FlowError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The directory use cases.
#[derive(Debug, Clone)]
pub struct Directory {
    pub(super) store: Store,
    pub(super) clock: SharedClock,
}

impl Directory {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock }
    }
}
