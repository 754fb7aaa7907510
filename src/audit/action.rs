//! The closed list of things the audit trail records.

use std::fmt;
use std::str::FromStr;

/// Something that happened to an account, a service or the system. Stored by its dotted name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    UserCreated,
    UserStatusChanged,
    SignInSucceeded,
    SignInFailed,
    AccountLocked,
    AccountUnlocked,
    PasswordChanged,
    SignedOut,
    SessionsRevoked,
    ClientCreated,
    ClientUpdated,
    ClientSecretRotated,
    ClientDeleted,
    KeyCreated,
    KeyRetired,
    PolicyChanged,
    AuthorizationGranted,
    ConsentGranted,
    ConsentWithdrawn,
    TokenReuseDetected,
    MailSent,
    MailFailed,
    MailDeadLettered,
    InvitationSent,
    AccountActivated,
    PasswordResetRequested,
    PasswordReset,
    EmailChangeRequested,
    EmailChanged,
    EmailChangeCancelled,
    MfaAdded,
    MfaRemoved,
    MfaFailed,
    MfaAppDisabled,
    RecoveryCodesGenerated,
    RecoveryCodeUsed,
    StepUpSucceeded,
    WebauthnCounterRegressed,
    Reauthenticated,
    OrganisationsImported,
    OrganisationCreated,
    OrganisationUpdated,
    MembershipAdded,
    MembershipRemoved,
    RoleDefined,
    RoleRemoved,
    ServiceRestricted,
    AccessGranted,
    AccessRevoked,
    MigrationImported,
    MigrationInvited,
    /// Someone asked to join an organisation or use a service there.
    AccessRequested,
    /// A request went to the helpdesk queue (overdue, or no approver).
    AccessRequestEscalated,
    /// A request was approved or rejected, with the reason.
    AccessRequestDecided,
    /// Someone tried to act on an organisation or person outside their own organisations.
    ApproverRefused,
    /// A staff role (helpdesk, admin, auditor) was granted.
    StaffRoleGranted,
    /// A staff role was taken away.
    StaffRoleRevoked,
    /// Staff searched for accounts (the terms and filters are in the details).
    AccountsSearched,
    /// Staff downloaded search results or an account timeline as CSV.
    AccountsExported,
    /// Staff opened an account page.
    AccountViewed,
    /// Staff tried something their roles do not allow, or on an account they may not touch.
    HelpdeskRefused,
    /// The helpdesk removed every second factor after checking who was asking.
    MfaReset,
    /// Someone's name was changed (by the helpdesk).
    UserRenamed,
    /// Events past their retention were blanked; the details say which (a checkpoint).
    AuditPruned,
    /// Audit events were read through the admin API.
    AuditRead,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::UserCreated,
        Action::UserStatusChanged,
        Action::SignInSucceeded,
        Action::SignInFailed,
        Action::AccountLocked,
        Action::AccountUnlocked,
        Action::PasswordChanged,
        Action::SignedOut,
        Action::SessionsRevoked,
        Action::ClientCreated,
        Action::ClientUpdated,
        Action::ClientSecretRotated,
        Action::ClientDeleted,
        Action::KeyCreated,
        Action::KeyRetired,
        Action::PolicyChanged,
        Action::AuthorizationGranted,
        Action::ConsentGranted,
        Action::ConsentWithdrawn,
        Action::TokenReuseDetected,
        Action::MailSent,
        Action::MailFailed,
        Action::MailDeadLettered,
        Action::InvitationSent,
        Action::AccountActivated,
        Action::PasswordResetRequested,
        Action::PasswordReset,
        Action::EmailChangeRequested,
        Action::EmailChanged,
        Action::EmailChangeCancelled,
        Action::MfaAdded,
        Action::MfaRemoved,
        Action::MfaFailed,
        Action::MfaAppDisabled,
        Action::RecoveryCodesGenerated,
        Action::RecoveryCodeUsed,
        Action::StepUpSucceeded,
        Action::WebauthnCounterRegressed,
        Action::Reauthenticated,
        Action::OrganisationsImported,
        Action::OrganisationCreated,
        Action::OrganisationUpdated,
        Action::MembershipAdded,
        Action::MembershipRemoved,
        Action::RoleDefined,
        Action::RoleRemoved,
        Action::ServiceRestricted,
        Action::AccessGranted,
        Action::AccessRevoked,
        Action::MigrationImported,
        Action::MigrationInvited,
        Action::AccessRequested,
        Action::AccessRequestEscalated,
        Action::AccessRequestDecided,
        Action::ApproverRefused,
        Action::StaffRoleGranted,
        Action::StaffRoleRevoked,
        Action::AccountsSearched,
        Action::AccountsExported,
        Action::AccountViewed,
        Action::HelpdeskRefused,
        Action::MfaReset,
        Action::UserRenamed,
        Action::AuditPruned,
        Action::AuditRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserStatusChanged => "user.status_changed",
            Self::SignInSucceeded => "sign_in.succeeded",
            Self::SignInFailed => "sign_in.failed",
            Self::AccountLocked => "account.locked",
            Self::AccountUnlocked => "account.unlocked",
            Self::PasswordChanged => "password.changed",
            Self::SignedOut => "session.signed_out",
            Self::SessionsRevoked => "session.revoked",
            Self::ClientCreated => "client.created",
            Self::ClientUpdated => "client.updated",
            Self::ClientSecretRotated => "client.secret_rotated",
            Self::ClientDeleted => "client.deleted",
            Self::KeyCreated => "key.created",
            Self::KeyRetired => "key.retired",
            Self::PolicyChanged => "policy.changed",
            Self::AuthorizationGranted => "authorization.granted",
            Self::ConsentGranted => "consent.granted",
            Self::ConsentWithdrawn => "consent.withdrawn",
            Self::TokenReuseDetected => "token.reuse_detected",
            Self::MailSent => "mail.sent",
            Self::MailFailed => "mail.failed",
            Self::MailDeadLettered => "mail.dead_lettered",
            Self::InvitationSent => "invitation.sent",
            Self::AccountActivated => "account.activated",
            Self::PasswordResetRequested => "password_reset.requested",
            Self::PasswordReset => "password_reset.completed",
            Self::EmailChangeRequested => "email_change.requested",
            Self::EmailChanged => "email_change.completed",
            Self::EmailChangeCancelled => "email_change.cancelled",
            Self::MfaAdded => "mfa.added",
            Self::MfaRemoved => "mfa.removed",
            Self::MfaFailed => "mfa.failed",
            Self::MfaAppDisabled => "mfa.app_disabled",
            Self::RecoveryCodesGenerated => "mfa.recovery_codes_generated",
            Self::RecoveryCodeUsed => "mfa.recovery_code_used",
            Self::StepUpSucceeded => "mfa.step_up",
            Self::WebauthnCounterRegressed => "mfa.counter_regressed",
            Self::Reauthenticated => "session.reauthenticated",
            Self::OrganisationsImported => "organisation.imported",
            Self::OrganisationCreated => "organisation.created",
            Self::OrganisationUpdated => "organisation.updated",
            Self::MembershipAdded => "membership.added",
            Self::MembershipRemoved => "membership.removed",
            Self::RoleDefined => "service_role.defined",
            Self::RoleRemoved => "service_role.removed",
            Self::ServiceRestricted => "service.organisation_kinds_set",
            Self::AccessGranted => "access.granted",
            Self::AccessRevoked => "access.revoked",
            Self::MigrationImported => "migration.imported",
            Self::MigrationInvited => "migration.invited",
            Self::AccessRequested => "access_request.created",
            Self::AccessRequestEscalated => "access_request.escalated",
            Self::AccessRequestDecided => "access_request.decided",
            Self::ApproverRefused => "approver.refused",
            Self::StaffRoleGranted => "staff.role_granted",
            Self::StaffRoleRevoked => "staff.role_revoked",
            Self::AccountsSearched => "staff.accounts_searched",
            Self::AccountsExported => "staff.accounts_exported",
            Self::AccountViewed => "staff.account_viewed",
            Self::HelpdeskRefused => "staff.refused",
            Self::MfaReset => "mfa.reset",
            Self::UserRenamed => "user.renamed",
            Self::AuditPruned => "audit.pruned",
            Self::AuditRead => "staff.audit_read",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown audit action {s:?}"))
    }
}

/// Whether the attempt succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_name() {
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(*action));
        }
    }
}
