//! Second factors: authenticator apps (TOTP), security keys and passkeys (WebAuthn) and
//! recovery codes — setting them up, using them to finish a sign-in or step up, and the rules
//! that keep them from being bypassed (PRODUCT.md "Policies", RFC 8176 for `amr`).

mod changes;
mod methods;
mod passkey;
mod recovery;
mod second_step;
mod totp;
mod webauthn;

pub use changes::Change;
pub use methods::{Amr, Method};
pub use recovery::RecoveryCodes;
pub use second_step::{PendingSignIn, PendingToken};
pub use totp::TotpSetup;
pub use webauthn::{CeremonyOptions, KeyKind, RelyingParty};

use chrono::Duration;

use super::{Auth, AuthError};
use crate::store::{CredentialRow, StoreError, TotpRow};

/// A change of sign-in methods needs the password or a factor within this long.
pub const RECENT_AUTHENTICATION: Duration = Duration::minutes(5);

/// Consecutive wrong codes that disable an authenticator app until recovery (issue 6).
pub const DISABLE_APP_AFTER: i64 = 100;

/// What a person has set up.
#[derive(Debug, Clone, Default)]
pub struct Factors {
    /// Confirmed authenticator apps (disabled ones included, so they can be seen and removed).
    pub apps: Vec<TotpRow>,
    pub keys: Vec<CredentialRow>,
    pub recovery_left: i64,
}

impl Factors {
    /// Whether signing in needs a second step.
    pub fn has_mfa(&self) -> bool {
        !self.apps.is_empty() || !self.keys.is_empty()
    }

    /// Apps that may still be used.
    pub fn usable_apps(&self) -> impl Iterator<Item = &TotpRow> {
        self.apps.iter().filter(|a| a.disabled_at.is_none())
    }

    /// The ways this person can finish a sign-in, in the order they are offered.
    pub fn methods(&self) -> Vec<Method> {
        let mut methods = Vec::new();
        if self.usable_apps().next().is_some() {
            methods.push(Method::Code);
        }
        if !self.keys.is_empty() {
            methods.push(Method::Key);
        }
        if self.recovery_left > 0 {
            methods.push(Method::Recovery);
        }
        methods
    }
}

/// Why a second factor was not accepted, or a change not made. Each has its own message for
/// the person; the audit trail records the reason code.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("Enter the 6-digit security code from your authenticator app")]
    CodeMissing,
    #[error("The security code must be 6 digits")]
    CodeFormat,
    #[error("The security code is not right. Check your authenticator app and try again")]
    CodeWrong,
    #[error("That security code has already been used. Wait for your app to show a new code")]
    CodeReused,
    #[error("Enter a recovery code")]
    RecoveryMissing,
    #[error("A recovery code is 16 letters and numbers, like abcd-efgh-jkmn-pqrs")]
    RecoveryFormat,
    #[error("That recovery code is not right or has already been used")]
    RecoveryWrong,
    #[error("Too many wrong codes. Wait {0} seconds and try again")]
    Throttled(i64),
    #[error("You have tried too many times. Sign in again")]
    TooManyAttempts,
    #[error(
        "Your authenticator app has been turned off after too many wrong codes. Use another method or a recovery code"
    )]
    AppDisabled,
    #[error("The security key or passkey could not be checked. Try again")]
    KeyRefused(String),
    #[error("That security key or passkey is already registered")]
    KeyAlreadyRegistered,
    #[error(
        "This security key may have been copied, so it cannot be used. Use another method and remove it"
    )]
    KeyCloned,
    #[error("Security keys and passkeys cannot be used at this address")]
    KeysUnavailable,
    #[error("This page has expired. Start again")]
    Expired,
    #[error("The security key or passkey took too long to answer. Try again")]
    ChallengeExpired,
    #[error("Enter a name")]
    NameMissing,
    #[error("The name must be 60 characters or fewer")]
    NameTooLong,
    #[error("Confirm your password before changing how you sign in")]
    NeedsRecentAuthentication,
    #[error(
        "You cannot remove your last sign-in method because your account must use 2-step verification"
    )]
    LastFactorRequired,
    #[error("That sign-in method was not found")]
    NotFound,
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<StoreError> for MfaError {
    fn from(e: StoreError) -> Self {
        Self::Auth(e.into())
    }
}

impl MfaError {
    /// The reason code written to the audit trail.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::CodeMissing | Self::CodeFormat => "code_format",
            Self::CodeWrong => "wrong_code",
            Self::CodeReused => "code_reused",
            Self::RecoveryMissing | Self::RecoveryFormat => "recovery_format",
            Self::RecoveryWrong => "wrong_recovery_code",
            Self::Throttled(_) => "throttled",
            Self::TooManyAttempts => "too_many_attempts",
            Self::AppDisabled => "app_disabled",
            Self::KeyRefused(_) => "webauthn_refused",
            Self::KeyAlreadyRegistered => "credential_taken",
            Self::KeyCloned => "counter_regressed",
            Self::KeysUnavailable => "webauthn_unavailable",
            Self::Expired => "expired",
            Self::ChallengeExpired => "challenge_expired",
            Self::NameMissing | Self::NameTooLong => "name",
            Self::NeedsRecentAuthentication => "not_recent",
            Self::LastFactorRequired => "last_factor",
            Self::NotFound => "not_found",
            Self::Auth(_) => "internal",
        }
    }
}

/// A name a person gives a factor: trimmed, 1–60 characters, no control characters.
pub fn factor_name(input: &str) -> Result<String, MfaError> {
    let name: String = input.trim().chars().filter(|c| !c.is_control()).collect();
    if name.is_empty() {
        return Err(MfaError::NameMissing);
    }
    if name.chars().count() > 60 {
        return Err(MfaError::NameTooLong);
    }
    Ok(name)
}

impl Auth {
    /// Everything a person has set up.
    pub async fn factors(&self, user_id: &str) -> Result<Factors, AuthError> {
        let apps = self
            .store
            .totp_factors(user_id)
            .await?
            .into_iter()
            .filter(|a| a.confirmed_at.is_some())
            .collect();
        Ok(Factors {
            apps,
            keys: self.store.credentials(user_id).await?,
            recovery_left: self.store.recovery_codes_left(user_id).await?,
        })
    }

    /// Whether `auth_time` (Unix ms) is recent enough to change sign-in methods.
    pub fn is_recent(&self, auth_time: i64) -> bool {
        self.clock.now().timestamp_millis() - auth_time <= RECENT_AUTHENTICATION.num_milliseconds()
    }
}
