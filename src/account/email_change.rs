//! Changing the email address from `/account`: the password again, a code to the new
//! address (8 characters, 1 hour, 5 tries), a notice to the old one, and a pending change
//! the person can see and cancel.

use subtle::ConstantTimeEq;

use super::flows::{
    EMAIL_CHANGE, EMAIL_CODE_ATTEMPTS, EMAIL_CODE_LIFETIME, FlowError, Lifecycle, stored_email,
};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::auth::password::Password;
use crate::auth::session::{RandomError, hash_secret};
use crate::domain::{Email, UserId};
use crate::mail::Mail;
use crate::store::{NewAccountToken, Tx, UserRow};

/// Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LENGTH: usize = 8;

/// A change waiting for its code.
#[derive(Debug, Clone)]
pub struct PendingEmailChange {
    pub new_email: String,
    pub expires_at: i64,
}

impl Lifecycle {
    /// Starts a change of address: checks the password, sends a code to the new address and
    /// a notice to the old one.
    pub async fn request_email_change(
        &self,
        user: &UserRow,
        password: &Password,
        new_email: &Email,
        ctx: &RequestContext,
    ) -> Result<(), FlowError> {
        let id = user.user_id();
        if new_email.normalised() == user.email_normalised {
            return Err(FlowError::field(
                "new_email",
                "Enter a different email address from the one you use now",
            ));
        }
        if !self
            .auth
            .confirm_password(user, password, Action::EmailChangeRequested, ctx)
            .await?
        {
            return Err(FlowError::field("password", "Your password is not right"));
        }
        let event = AuditEvent::new(Action::EmailChangeRequested)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone());
        let mut tx = self.store.begin().await?;
        self.start_email_change_in(&mut tx, user, new_email, event)
            .await?;
        tx.commit().await?;
        self.mailer.nudge();
        Ok(())
    }

    /// Sends a code to `new_email` and a notice to the current address inside `tx`, and
    /// appends `event` (with the new address added to its details). The person confirms
    /// with the code while signed in; the caller commits and nudges the mailer.
    pub async fn start_email_change_in(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        new_email: &Email,
        event: AuditEvent,
    ) -> Result<(), FlowError> {
        let id = user.user_id();
        if new_email.normalised() == user.email_normalised {
            return Err(FlowError::field(
                "new_email",
                "Enter a different email address from the one they use now",
            ));
        }
        if self.store.user_by_email(new_email).await?.is_some() {
            return Err(FlowError::field(
                "new_email",
                "An account with that email address already exists",
            ));
        }
        let code = new_code()?;
        let now = self.clock.now();
        let old_email = stored_email(user)?;
        self.store
            .replace_account_token(
                tx,
                &NewAccountToken {
                    user_id: id.as_str(),
                    purpose: EMAIL_CHANGE,
                    token_hash: &code_hash(&id, &code),
                    new_email: Some(new_email.as_str()),
                    client_id: None,
                    return_to: None,
                    expires_at: now + EMAIL_CODE_LIFETIME,
                },
                now,
            )
            .await?;
        let to_new = Mail::EmailChangeCode {
            given_name: user.given_name.clone(),
            code,
        };
        self.mailer
            .queue(tx, new_email, Some(id.as_str()), to_new, now)
            .await?;
        let to_old = Mail::EmailChangeNotice {
            given_name: user.given_name.clone(),
            new_email: new_email.as_str().to_owned(),
        };
        self.mailer
            .queue(tx, &old_email, Some(id.as_str()), to_old, now)
            .await?;
        let event = event.also(serde_json::json!({ "new_email": new_email.as_str() }));
        self.store.append_audit(tx, &event, now).await?;
        Ok(())
    }

    /// The change waiting for its code, if any.
    pub async fn pending_email_change(
        &self,
        id: &UserId,
    ) -> Result<Option<PendingEmailChange>, FlowError> {
        let now = self.clock.now();
        Ok(self
            .store
            .account_token_for(id.as_str(), EMAIL_CHANGE, now)
            .await?
            .filter(|t| t.attempts < EMAIL_CODE_ATTEMPTS)
            .and_then(|t| {
                t.new_email.map(|new_email| PendingEmailChange {
                    new_email,
                    expires_at: t.expires_at,
                })
            }))
    }

    /// Checks the code and, if it is right, moves the account to the new address. Every
    /// try counts, whether or not it is right; the fifth wrong one ends the change.
    pub async fn confirm_email_change(
        &self,
        user: &UserRow,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Email, FlowError> {
        let code: String = code
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_uppercase)
            .collect();
        if code.is_empty() {
            return Err(FlowError::field("code", "Enter the code from the email"));
        }
        let id = user.user_id();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some(row) = self
            .store
            .attempt_account_token(&mut tx, id.as_str(), EMAIL_CHANGE, EMAIL_CODE_ATTEMPTS, now)
            .await?
        else {
            return Err(FlowError::field(
                "code",
                "The code has expired or has been entered wrongly too many times. Start again to get a new code",
            ));
        };
        let expected = row.token_hash.as_deref().unwrap_or_default();
        let right: bool = code_hash(&id, &code)
            .as_bytes()
            .ct_eq(expected.as_bytes())
            .into();
        if !right {
            let event = AuditEvent::new(Action::EmailChanged)
                .failed("wrong_code")
                .actor(&id)
                .subject(&id)
                .context(ctx.clone())
                .details(serde_json::json!({ "attempts": row.attempts }));
            self.store.append_audit(&mut tx, &event, now).await?;
            tx.commit().await?;
            let left = EMAIL_CODE_ATTEMPTS - row.attempts;
            return Err(FlowError::field(
                "code",
                if left > 0 {
                    format!(
                        "The code is not right. You can try {left} more time{}",
                        if left == 1 { "" } else { "s" }
                    )
                } else {
                    "The code is not right, and it has now been entered wrongly too many times. Start again to get a new code".to_owned()
                },
            ));
        }
        let new_email = row
            .new_email
            .as_deref()
            .and_then(|e| Email::parse(e).ok())
            .ok_or(FlowError::LinkExpired)?;
        self.store.delete_account_token_id(&mut tx, &row.id).await?;
        self.store
            .set_user_email(&mut tx, &id, &new_email, now)
            .await?;
        let event = AuditEvent::new(Action::EmailChanged)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone())
            .diff(
                serde_json::json!({ "email": user.email }),
                serde_json::json!({ "email": new_email.as_str() }),
            );
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(new_email)
    }

    /// Drops a pending change; the code stops working.
    pub async fn cancel_email_change(
        &self,
        user: &UserRow,
        ctx: &RequestContext,
    ) -> Result<bool, FlowError> {
        let id = user.user_id();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let removed = self
            .store
            .delete_account_token(&mut tx, id.as_str(), EMAIL_CHANGE)
            .await?;
        if removed > 0 {
            let event = AuditEvent::new(Action::EmailChangeCancelled)
                .actor(&id)
                .subject(&id)
                .context(ctx.clone());
            self.store.append_audit(&mut tx, &event, now).await?;
        }
        tx.commit().await?;
        Ok(removed > 0)
    }
}

/// Eight characters from [`CODE_ALPHABET`], drawn without bias.
fn new_code() -> Result<String, RandomError> {
    let mut code = String::with_capacity(CODE_LENGTH);
    let limit = 256 - (256 % CODE_ALPHABET.len());
    while code.len() < CODE_LENGTH {
        let mut bytes = [0u8; 16];
        crate::auth::session::fill_random(&mut bytes)?;
        for b in bytes {
            if usize::from(b) < limit && code.len() < CODE_LENGTH {
                code.push(char::from(
                    CODE_ALPHABET[usize::from(b) % CODE_ALPHABET.len()],
                ));
            }
        }
    }
    Ok(code)
}

/// Codes are short, so the hash is bound to the account: one stored hash says nothing about
/// another account's code.
fn code_hash(id: &UserId, code: &str) -> String {
    hash_secret(&format!("email-change:{id}:{code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_unambiguous_characters() {
        for _ in 0..50 {
            let code = new_code().unwrap();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
        }
    }
}
