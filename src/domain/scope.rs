//! OAuth scopes (RFC 6749 §3.3) and the ones Gatehouse understands (OIDC Core §5.4).

use std::collections::BTreeSet;
use std::fmt;

/// The scopes a service may be allowed; all but the admin ones may be asked of a person.
pub const KNOWN_SCOPES: [&str; 9] = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "organisation",
    "admin.accounts",
    "admin.directory",
    "admin.audit",
    "admin.accounts.write",
];

/// The admin API's scopes start so. They are only ever granted to a service's own
/// `client_credentials` token, never to one that speaks for a person.
pub const ADMIN_SCOPE_PREFIX: &str = "admin.";

/// A set of known scopes, kept sorted so equal sets compare and print equally.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(BTreeSet<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scope {0:?}; known scopes are openid, profile, email, offline_access, organisation, \
     admin.accounts, admin.accounts.write, admin.directory and admin.audit"
)]
pub struct UnknownScope(pub String);

impl Scopes {
    /// Strictly parses a space-separated list: every scope must be known.
    pub fn parse_known(input: &str) -> Result<Self, UnknownScope> {
        let mut set = BTreeSet::new();
        for s in input.split([' ', ',']).filter(|s| !s.is_empty()) {
            if !KNOWN_SCOPES.contains(&s) {
                return Err(UnknownScope(s.to_owned()));
            }
            set.insert(s.to_owned());
        }
        Ok(Self(set))
    }

    /// Keeps only what was asked for and is allowed (RFC 6749 §3.3: the server may issue
    /// fewer scopes than requested); unknown values are dropped.
    pub fn requested(input: &str, allowed: &Scopes) -> Self {
        Self::requested_by(input, allowed, true)
    }

    /// As [`Scopes::requested`] for a flow that speaks for a person: admin scopes are
    /// dropped whatever the service may use.
    pub fn requested_for_person(input: &str, allowed: &Scopes) -> Self {
        Self::requested_by(input, allowed, false)
    }

    fn requested_by(input: &str, allowed: &Scopes, admin: bool) -> Self {
        Self(
            input
                .split(' ')
                .filter(|s| allowed.0.contains(*s))
                .filter(|s| admin || !s.starts_with(ADMIN_SCOPE_PREFIX))
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn from_stored(values: impl IntoIterator<Item = String>) -> Self {
        Self(values.into_iter().collect())
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }

    /// Both sets together.
    pub fn union(&self, other: &Scopes) -> Self {
        Self(self.0.union(&other.0).cloned().collect())
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_scopes_are_never_asked_of_a_person() {
        let allowed = Scopes::parse_known("openid admin.accounts admin.audit").unwrap();
        let person = Scopes::requested_for_person("openid admin.accounts", &allowed);
        assert_eq!(person.to_string(), "openid");
        let service = Scopes::requested("admin.accounts admin.audit", &allowed);
        assert_eq!(service.to_string(), "admin.accounts admin.audit");
    }
}
