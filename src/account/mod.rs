//! The account lifecycle: creating people, locking, unlocking, deactivating and reactivating
//! them, and the email-driven journeys (invitation, activation, password reset, change of
//! email). Every change is audited in the same transaction.

mod activation;
mod email_change;
mod flows;
mod invitations;
mod recovery;
mod unused;

pub use activation::Activated;
pub use email_change::PendingEmailChange;
pub(crate) use flows::stored_email;
pub use flows::{EMAIL_CODE_ATTEMPTS, EMAIL_CODE_LIFETIME, FlowError, Lifecycle, plausible_secret};
pub use invitations::{Invite, Invited};
pub use unused::UnusedReport;

/// What each emailed link is for, as the pages name them.
pub mod purpose {
    pub use super::flows::{ACTIVATION, EMAIL_CHANGE, RESET};
}

use crate::policy::Policies;
use chrono::{DateTime, Utc};

use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::auth::AuthError;
use crate::auth::password::{
    Password, PasswordHasher, PersonalDetails, PolicyViolation, check_new_password,
};
use crate::clock::SharedClock;
use crate::domain::{Email, UserId, UserStatus};
use crate::store::{NewUser, Store, StoreError, UserRow};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("An account with that email address already exists")]
    EmailTaken,
    #[error("There is no account with that email address")]
    NoSuchAccount,
    #[error("{0}")]
    Policy(#[from] PolicyViolation),
    #[error("{0}")]
    Transition(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::EmailTaken,
            StoreError::NotFound => Self::NoSuchAccount,
            other => Self::Auth(other.into()),
        }
    }
}

/// Someone to create.
#[derive(Debug)]
pub struct NewAccount {
    pub email: Email,
    pub given_name: String,
    pub family_name: String,
    pub job_title: Option<String>,
    /// With a password the account is active at once; without, it waits for an invitation.
    pub password: Option<Password>,
}

/// A change of status someone can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Lock,
    Unlock,
    Deactivate,
    Reactivate,
}

#[derive(Debug, Clone)]
pub struct Accounts {
    store: Store,
    hasher: PasswordHasher,
    clock: SharedClock,
    policies: Policies,
}

/// Names are shown to services and on screen: present, short, and free of control characters.
pub(crate) fn clean_name(field: &str, value: &str, max: usize) -> Result<String, AccountError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AccountError::Invalid(format!("Enter a {field}")));
    }
    if value.chars().count() > max {
        return Err(AccountError::Invalid(format!(
            "{field} must be {max} characters or fewer"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(AccountError::Invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(value.to_owned())
}

impl Accounts {
    pub fn new(store: Store, hasher: PasswordHasher, clock: SharedClock) -> Self {
        Self {
            policies: Policies::new(store.clone(), clock.clone()),
            store,
            hasher,
            clock,
        }
    }

    /// Creates an account, checking any password against the policy first.
    pub async fn create(
        &self,
        new: NewAccount,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<UserRow, AccountError> {
        let given_name = clean_name("given name", &new.given_name, 100)?;
        let family_name = clean_name("family name", &new.family_name, 100)?;
        let job_title = match new.job_title.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(title) => Some(clean_name("job title", title, 200)?),
        };
        let phc = match &new.password {
            Some(password) => {
                let details = PersonalDetails {
                    email: new.email.as_str(),
                    given_name: &given_name,
                    family_name: &family_name,
                    organisations: &[],
                };
                let min = self.policies.current().await?.password_min(false);
                check_new_password(password, min, &details)?;
                Some(self.hasher.hash(password).await.map_err(AuthError::from)?)
            }
            None => None,
        };
        let status = if phc.is_some() {
            UserStatus::Active
        } else {
            UserStatus::Invited
        };
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let id = self
            .store
            .insert_user(
                &mut tx,
                &NewUser {
                    email: new.email.clone(),
                    given_name,
                    family_name,
                    job_title,
                    status,
                },
                now,
            )
            .await?;
        if let Some(phc) = &phc {
            self.store.set_password_hash(&mut tx, &id, phc, now).await?;
        }
        let event = audit(actor, &id, Action::UserCreated, ctx)
            .details(serde_json::json!({ "status": status.as_str() }));
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        self.store
            .user_by_id(&id)
            .await?
            .ok_or(AccountError::NoSuchAccount)
    }

    pub async fn find(&self, email: &Email) -> Result<UserRow, AccountError> {
        self.store
            .user_by_email(email)
            .await?
            .ok_or(AccountError::NoSuchAccount)
    }

    pub async fn list(&self, limit: i64, offset: i64) -> Result<Vec<UserRow>, AccountError> {
        Ok(self.store.list_users(limit, offset).await?)
    }

    /// Locks, unlocks, deactivates or reactivates an account. Locking and deactivating end
    /// every session at once.
    pub async fn change_status(
        &self,
        email: &Email,
        change: StatusChange,
        reason: &str,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<UserRow, AccountError> {
        let reason = clean_name("reason", reason, 500)?;
        let user = self.find(email).await?;
        let id = user.user_id();
        let from = user.status()?;
        let to = next_status(from, change, user.password_hash.is_some())?;
        let now: DateTime<Utc> = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.store
            .set_user_status(&mut tx, &id, to, Some(&reason), now)
            .await?;
        let ended = match to {
            UserStatus::Locked | UserStatus::Deactivated => {
                self.store.delete_user_sessions(&mut tx, &id, now).await?
            }
            UserStatus::Active | UserStatus::Invited => 0,
        };
        let action = match change {
            StatusChange::Lock => Action::AccountLocked,
            StatusChange::Unlock => Action::AccountUnlocked,
            StatusChange::Deactivate | StatusChange::Reactivate => Action::UserStatusChanged,
        };
        let event = audit(actor, &id, action, ctx).diff(
            serde_json::json!({ "status": from.as_str() }),
            serde_json::json!({ "status": to.as_str(), "reason": reason, "sessions_ended": ended }),
        );
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        self.find(email).await
    }
}

fn audit(actor: Actor, subject: &UserId, action: Action, ctx: &RequestContext) -> AuditEvent {
    let mut event = AuditEvent::new(action)
        .subject(subject)
        .context(ctx.clone());
    event.actor = actor;
    event
}

/// Which status a change leads to, or why it cannot happen.
pub(crate) fn next_status(
    from: UserStatus,
    change: StatusChange,
    has_password: bool,
) -> Result<UserStatus, AccountError> {
    let refuse = |why: &str| Err(AccountError::Transition(why.to_owned()));
    match (change, from) {
        (StatusChange::Lock, UserStatus::Active) => Ok(UserStatus::Locked),
        (StatusChange::Lock, UserStatus::Locked) => refuse("The account is already locked"),
        (StatusChange::Lock, _) => refuse("Only an active account can be locked"),
        (StatusChange::Unlock, UserStatus::Locked) => Ok(UserStatus::Active),
        (StatusChange::Unlock, _) => refuse("The account is not locked"),
        (StatusChange::Deactivate, UserStatus::Deactivated) => {
            refuse("The account is already deactivated")
        }
        (StatusChange::Deactivate, _) => Ok(UserStatus::Deactivated),
        (StatusChange::Reactivate, UserStatus::Deactivated) if has_password => {
            Ok(UserStatus::Active)
        }
        (StatusChange::Reactivate, UserStatus::Deactivated) => Ok(UserStatus::Invited),
        (StatusChange::Reactivate, _) => refuse("The account is not deactivated"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sensible_status_changes_are_allowed() {
        use StatusChange::*;
        use UserStatus::*;
        assert_eq!(next_status(Active, Lock, true).unwrap(), Locked);
        assert_eq!(next_status(Locked, Unlock, true).unwrap(), Active);
        assert_eq!(
            next_status(Invited, Deactivate, false).unwrap(),
            Deactivated
        );
        assert_eq!(next_status(Deactivated, Reactivate, true).unwrap(), Active);
        assert_eq!(
            next_status(Deactivated, Reactivate, false).unwrap(),
            Invited
        );
        assert!(next_status(Active, Unlock, true).is_err());
        assert!(next_status(Locked, Lock, true).is_err());
        assert!(next_status(Invited, Lock, false).is_err());
        assert!(next_status(Active, Reactivate, true).is_err());
    }
}
