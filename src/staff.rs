//! Gatehouse's own staff: the roles (helpdesk, admin, auditor) and the typed capabilities
//! each gives. Pages ask for a capability, never for a role name; staff must use 2-step
//! verification. Roles are granted by an operator (`gatehouse staff grant`) or an admin,
//! never by the person themselves.

use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::clock::SharedClock;
use crate::store::{Store, StoreError, UserRow};

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRole {
    Helpdesk,
    Admin,
    /// Reads the audit trail, changes nothing.
    Auditor,
}

impl StaffRole {
    pub const ALL: [StaffRole; 3] = [Self::Helpdesk, Self::Admin, Self::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Helpdesk => "helpdesk",
            Self::Admin => "admin",
            Self::Auditor => "auditor",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    /// What the role may do.
    pub fn grants(self, capability: Capability) -> bool {
        match capability {
            Capability::ViewMigration
            | Capability::ViewRequestQueue
            | Capability::AnswerRequests
            | Capability::FindAccounts
            | Capability::HelpAccounts => matches!(self, Self::Helpdesk | Self::Admin),
            Capability::CheckAuditTrail | Capability::ReadAudit => {
                matches!(self, Self::Auditor | Self::Admin)
            }
            Capability::ManageStaff
            | Capability::ManageServices
            | Capability::ManageKeys
            | Capability::ManagePolicy
            | Capability::ManageOrganisations
            | Capability::ReadDirectory => {
                matches!(self, Self::Admin)
            }
        }
    }
}

/// Something a staff page does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// See the Authentix migration dashboard.
    ViewMigration,
    /// See access requests escalated to the helpdesk.
    ViewRequestQueue,
    /// Approve or reject an access request for any organisation.
    AnswerRequests,
    /// See whether the audit trail's hash chain is intact.
    CheckAuditTrail,
    /// Search accounts and open any account's page (both audited).
    FindAccounts,
    /// Grant and revoke staff roles (never one's own).
    ManageStaff,
    /// Register and change services, rotate their secrets, define their roles.
    ManageServices,
    /// Create the next signing key, retire an old one.
    ManageKeys,
    /// Change the policy settings (password lengths, lock, link lifetimes, unused accounts).
    ManagePolicy,
    /// Add an organisation by hand, correct one.
    ManageOrganisations,
    /// Read organisations and services through the admin API.
    ReadDirectory,
    /// Read the audit trail's events through the admin API.
    ReadAudit,
    /// Make the helpdesk's changes to an account (unlock, send a reset link, reset 2-step
    /// verification…), never to one's own or, unless an admin, to a staff account.
    HelpAccounts,
}

/// Why a staff change was refused.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("the account already has the {0} role")]
    AlreadyHeld(&'static str),
    #[error("the account does not have the {0} role")]
    NotHeld(&'static str),
    /// Nobody grants or takes away their own roles.
    #[error("nobody can change their own staff roles")]
    OwnRoles,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Staff roles: who holds which, granting and revoking.
#[derive(Debug, Clone)]
pub struct Staff {
    store: Store,
    clock: SharedClock,
}

impl Staff {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// The roles `user_id` holds.
    pub async fn roles(&self, user_id: &str) -> Result<Vec<StaffRole>, StoreError> {
        Ok(self
            .store
            .staff_roles(user_id)
            .await?
            .iter()
            .filter_map(|r| StaffRole::parse(r))
            .collect())
    }

    /// Whether `user_id` may do `capability`.
    pub async fn can(&self, user_id: &str, capability: Capability) -> Result<bool, StoreError> {
        Ok(self
            .roles(user_id)
            .await?
            .into_iter()
            .any(|r| r.grants(capability)))
    }

    pub async fn grant(
        &self,
        user: &UserRow,
        role: StaffRole,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<(), StaffError> {
        self.change(user, role, true, actor, ctx).await
    }

    pub async fn revoke(
        &self,
        user: &UserRow,
        role: StaffRole,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<(), StaffError> {
        self.change(user, role, false, actor, ctx).await
    }

    async fn change(
        &self,
        user: &UserRow,
        role: StaffRole,
        grant: bool,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<(), StaffError> {
        if matches!(&actor, Actor::User(id) if id.as_str() == user.id) {
            return Err(StaffError::OwnRoles);
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let changed = if grant {
            let at = now.timestamp_millis();
            self.store
                .grant_staff_role(&mut tx, &user.id, role.as_str(), at)
                .await?
        } else {
            self.store
                .revoke_staff_role(&mut tx, &user.id, role.as_str())
                .await?
        };
        if !changed {
            return Err(match grant {
                true => StaffError::AlreadyHeld(role.as_str()),
                false => StaffError::NotHeld(role.as_str()),
            });
        }
        let action = match grant {
            true => Action::StaffRoleGranted,
            false => Action::StaffRoleRevoked,
        };
        let mut event = AuditEvent::new(action)
            .subject(&user.user_id())
            .context(ctx.clone())
            .details(serde_json::json!({ "role": role.as_str() }));
        event.actor = actor;
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditors_see_no_helpdesk_pages() {
        for role in StaffRole::ALL {
            assert_eq!(StaffRole::parse(role.as_str()), Some(role));
        }
        assert!(StaffRole::Helpdesk.grants(Capability::ViewMigration));
        assert!(StaffRole::Admin.grants(Capability::ViewRequestQueue));
        assert!(!StaffRole::Auditor.grants(Capability::ViewMigration));
        assert!(!StaffRole::Auditor.grants(Capability::AnswerRequests));
        assert!(!StaffRole::Auditor.grants(Capability::FindAccounts));
        assert!(!StaffRole::Auditor.grants(Capability::HelpAccounts));
        assert!(StaffRole::Helpdesk.grants(Capability::HelpAccounts));
        assert!(!StaffRole::Helpdesk.grants(Capability::ManageStaff));
        assert!(StaffRole::Admin.grants(Capability::ManageStaff));
        assert!(StaffRole::Auditor.grants(Capability::CheckAuditTrail));
        assert!(!StaffRole::Helpdesk.grants(Capability::CheckAuditTrail));
        assert_eq!(StaffRole::parse("root"), None);
    }
}
