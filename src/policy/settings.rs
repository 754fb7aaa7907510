//! Each policy setting: its stored name, its words on the console, its default and the range
//! an administrator may choose from (never weaker than PRODUCT.md and NIST SP 800-63B allow).

use std::ops::RangeInclusive;

use chrono::Duration;

/// One setting an administrator may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    PasswordMinLength,
    PasswordMinLengthWithMfa,
    LockAfterFailures,
    InvitationDays,
    ResetLinkMinutes,
    UnusedAccountDays,
}

impl Setting {
    pub const ALL: [Self; 6] = [
        Self::PasswordMinLength,
        Self::PasswordMinLengthWithMfa,
        Self::LockAfterFailures,
        Self::InvitationDays,
        Self::ResetLinkMinutes,
        Self::UnusedAccountDays,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The name it is stored and audited under, and its form field.
    pub fn name(self) -> &'static str {
        match self {
            Self::PasswordMinLength => "password_min_length",
            Self::PasswordMinLengthWithMfa => "password_min_length_with_mfa",
            Self::LockAfterFailures => "lock_after_failures",
            Self::InvitationDays => "invitation_days",
            Self::ResetLinkMinutes => "reset_link_minutes",
            Self::UnusedAccountDays => "unused_account_days",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The label on the console.
    pub fn label(self) -> &'static str {
        match self {
            Self::PasswordMinLength => {
                "Shortest password (characters), without 2-step verification"
            }
            Self::PasswordMinLengthWithMfa => {
                "Shortest password (characters), with 2-step verification"
            }
            Self::LockAfterFailures => "Lock an account after this many failed sign-ins in a row",
            Self::InvitationDays => "Invitation links last (days)",
            Self::ResetLinkMinutes => "Password reset links last (minutes)",
            Self::UnusedAccountDays => "Deactivate accounts not used for (days)",
        }
    }

    /// PRODUCT.md's default.
    pub fn default_value(self) -> i64 {
        match self {
            Self::PasswordMinLength => 15,
            Self::PasswordMinLengthWithMfa => 8,
            Self::LockAfterFailures => 100,
            Self::InvitationDays => 14,
            Self::ResetLinkMinutes => 30,
            Self::UnusedAccountDays => 730,
        }
    }

    /// What an administrator may choose: never below NIST's minimum lengths, never more
    /// than 100 failures before a lock, never longer-lived links than the defaults.
    pub fn range(self) -> RangeInclusive<i64> {
        match self {
            Self::PasswordMinLength => 15..=64,
            Self::PasswordMinLengthWithMfa => 8..=64,
            Self::LockAfterFailures => 10..=100,
            Self::InvitationDays => 1..=14,
            Self::ResetLinkMinutes => 5..=30,
            Self::UnusedAccountDays => 90..=1095,
        }
    }

    /// The error shown beside the field for a value outside the range.
    pub fn range_message(self) -> String {
        let range = self.range();
        format!(
            "Enter a whole number from {} to {}",
            range.start(),
            range.end()
        )
    }
}

/// The settings in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    values: [i64; Setting::ALL.len()],
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            values: Setting::ALL.map(Setting::default_value),
        }
    }
}

impl Policy {
    pub fn get(&self, setting: Setting) -> i64 {
        self.values[setting.index()]
    }

    /// Sets `setting`, bringing a value from outside its range (a hand-edited row) inside it.
    pub fn set_clamped(&mut self, setting: Setting, value: i64) {
        let range = setting.range();
        self.values[setting.index()] = value.clamp(*range.start(), *range.end());
    }

    /// The shortest new password allowed, in characters.
    pub fn password_min(&self, has_mfa: bool) -> usize {
        let setting = if has_mfa {
            Setting::PasswordMinLengthWithMfa
        } else {
            Setting::PasswordMinLength
        };
        usize::try_from(self.get(setting)).unwrap_or(usize::MAX)
    }

    /// Consecutive failed sign-ins that lock an account.
    pub fn lock_after_failures(&self) -> i64 {
        self.get(Setting::LockAfterFailures)
    }

    pub fn invitation_lifetime(&self) -> Duration {
        Duration::days(self.get(Setting::InvitationDays))
    }

    pub fn reset_lifetime(&self) -> Duration {
        Duration::minutes(self.get(Setting::ResetLinkMinutes))
    }

    /// How long without a sign-in before an account is deactivated.
    pub fn unused_after(&self) -> Duration {
        Duration::days(self.get(Setting::UnusedAccountDays))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_in_range_and_names_round_trip() {
        for setting in Setting::ALL {
            assert!(setting.range().contains(&setting.default_value()));
            assert_eq!(Setting::from_name(setting.name()), Some(setting));
        }
        let policy = Policy::default();
        assert_eq!(policy.password_min(false), 15);
        assert_eq!(policy.password_min(true), 8);
        assert_eq!(policy.lock_after_failures(), 100);
        assert_eq!(policy.reset_lifetime(), Duration::minutes(30));
    }

    #[test]
    fn a_stored_value_outside_the_range_is_brought_inside() {
        let mut policy = Policy::default();
        policy.set_clamped(Setting::PasswordMinLength, 4);
        policy.set_clamped(Setting::LockAfterFailures, 1_000_000);
        assert_eq!(policy.password_min(false), 15);
        assert_eq!(policy.lock_after_failures(), 100);
    }
}
