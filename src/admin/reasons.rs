//! Why the helpdesk changed an account: a reason from a fixed list and a note in the staff
//! member's own words, both kept in the audit trail; and, before a second-factor reset, how
//! the caller proved who they are.

/// The fixed list of reasons for a helpdesk change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The account holder asked.
    HolderAsked,
    /// An approver at the person's organisation asked.
    ApproverAsked,
    /// Someone may be using the account who should not.
    SecurityConcern,
    /// The person has left their organisation.
    LeftOrganisation,
    /// Our records are wrong.
    CorrectingRecords,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Self::HolderAsked,
        Self::ApproverAsked,
        Self::SecurityConcern,
        Self::LeftOrganisation,
        Self::CorrectingRecords,
        Self::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::HolderAsked => "holder_asked",
            Self::ApproverAsked => "approver_asked",
            Self::SecurityConcern => "security_concern",
            Self::LeftOrganisation => "left_organisation",
            Self::CorrectingRecords => "correcting_records",
            Self::Other => "other",
        }
    }

    /// The words on the form.
    pub fn label(self) -> &'static str {
        match self {
            Self::HolderAsked => "The account holder asked",
            Self::ApproverAsked => "An approver at their organisation asked",
            Self::SecurityConcern => "Security concern",
            Self::LeftOrganisation => "They have left their organisation",
            Self::CorrectingRecords => "Correcting our records",
            Self::Other => "Other",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// How the helpdesk made sure the caller is the account holder before resetting their
/// second factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityCheck {
    /// We called back the school's number as published in GIAS and asked for the person.
    CalledBackPublishedNumber,
    /// An approver of the person's organisation confirmed who they are.
    ApproverConfirmed,
    /// The person's line manager confirmed from their own verified account.
    ManagerConfirmed,
}

impl IdentityCheck {
    pub const ALL: [IdentityCheck; 3] = [
        Self::CalledBackPublishedNumber,
        Self::ApproverConfirmed,
        Self::ManagerConfirmed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::CalledBackPublishedNumber => "called_back_published_number",
            Self::ApproverConfirmed => "approver_confirmed",
            Self::ManagerConfirmed => "manager_confirmed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::CalledBackPublishedNumber => {
                "I called back the organisation's published phone number and spoke to them"
            }
            Self::ApproverConfirmed => "An approver of their organisation confirmed who they are",
            Self::ManagerConfirmed => {
                "Their line manager confirmed who they are from their own account"
            }
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// A reason and the staff member's note, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    pub reason: Reason,
    pub note: String,
}

/// The longest note kept.
pub const NOTE_MAX: usize = 500;

impl Why {
    /// Checks the form's fields; each error names its field and says what to do.
    pub fn parse(reason: &str, note: &str) -> Result<Self, Vec<(&'static str, &'static str)>> {
        let mut errors = Vec::new();
        let reason = Reason::parse(reason);
        if reason.is_none() {
            errors.push(("reason", "Select a reason"));
        }
        let note = note.trim();
        if note.is_empty() {
            errors.push(("note", "Enter a note saying what happened"));
        } else if note.chars().count() > NOTE_MAX {
            errors.push(("note", "Note must be 500 characters or fewer"));
        }
        match reason {
            Some(reason) if errors.is_empty() => Ok(Self {
                reason,
                note: crate::audit::clean(note, NOTE_MAX),
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_checks_come_from_the_fixed_lists() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.code()), Some(r));
        }
        for c in IdentityCheck::ALL {
            assert_eq!(IdentityCheck::parse(c.code()), Some(c));
        }
        assert_eq!(
            Why::parse("made_up", " "),
            Err(vec![
                ("reason", "Select a reason"),
                ("note", "Enter a note saying what happened")
            ])
        );
        assert_eq!(
            Why::parse("other", &"x".repeat(501)).unwrap_err()[0].0,
            "note"
        );
        assert_eq!(
            Why::parse("other", " called in ").unwrap().note,
            "called in"
        );
    }
}
