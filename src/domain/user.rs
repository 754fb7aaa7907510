//! Who a user is to the rest of the system: an opaque, stable id and an account status.

use std::fmt;
use std::str::FromStr;

/// The stable opaque subject identifier (`sub`): random, never reused, survives email change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Wraps an id read back from storage.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Account lifecycle status (PRODUCT.md, "Domain model").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Invited, has not yet set a password.
    Invited,
    Active,
    /// Too many failed sign-ins; needs a reset or a helpdesk unlock.
    Locked,
    /// Switched off by an approver, the helpdesk or inactivity.
    Deactivated,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Locked => "locked",
            Self::Deactivated => "deactivated",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown user status {0:?}")]
pub struct UnknownStatus(String);

impl FromStr for UserStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "invited" => Ok(Self::Invited),
            "active" => Ok(Self::Active),
            "locked" => Ok(Self::Locked),
            "deactivated" => Ok(Self::Deactivated),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
