//! How long each category of audit event is kept whole. Sign-ins, mail deliveries and staff
//! reads are many and carry addresses and browsers; after their limit they are blanked in
//! place (see migration 0013), leaving the chain verifiable. Everything else is kept.

use super::Action;

/// A category of events with a retention limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Signing in and out, second steps, re-authentication, tokens granted.
    SignIns,
    /// Email sent or failed (a dead letter is kept).
    Mail,
    /// Staff searching, opening and exporting accounts.
    StaffReads,
}

impl Category {
    pub const ALL: [Category; 3] = [Self::SignIns, Self::Mail, Self::StaffReads];

    pub fn name(self) -> &'static str {
        match self {
            Self::SignIns => "sign_ins",
            Self::Mail => "mail",
            Self::StaffReads => "staff_reads",
        }
    }

    /// The actions in this category.
    pub fn actions(self) -> &'static [Action] {
        match self {
            Self::SignIns => &[
                Action::SignInSucceeded,
                Action::SignInFailed,
                Action::SignedOut,
                Action::MfaFailed,
                Action::StepUpSucceeded,
                Action::Reauthenticated,
                Action::AuthorizationGranted,
            ],
            Self::Mail => &[Action::MailSent, Action::MailFailed],
            Self::StaffReads => &[
                Action::AccountsSearched,
                Action::AccountViewed,
                Action::AccountsExported,
                Action::AuditRead,
            ],
        }
    }
}

/// Days each category is kept whole; 0 keeps it for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub sign_ins_days: u32,
    pub mail_days: u32,
    pub staff_reads_days: u32,
}

impl Retention {
    pub fn days(&self, category: Category) -> u32 {
        match category {
            Category::SignIns => self.sign_ins_days,
            Category::Mail => self.mail_days,
            Category::StaffReads => self.staff_reads_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_action_is_in_two_categories_and_changes_are_in_none() {
        let mut seen = Vec::new();
        for category in Category::ALL {
            for action in category.actions() {
                assert!(!seen.contains(action), "{action} twice");
                seen.push(*action);
            }
        }
        for kept in [
            Action::PasswordChanged,
            Action::UserStatusChanged,
            Action::MfaReset,
            Action::StaffRoleGranted,
            Action::AuditPruned,
        ] {
            assert!(!seen.contains(&kept), "{kept} must be kept");
        }
    }
}
