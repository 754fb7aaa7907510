//! Opening an emailed link and accepting an invitation: the person chooses a password, which
//! also proves the address works, and is signed in.

use super::flows::{ACTIVATION, FlowError, Lifecycle, new_link_secret, plausible_secret};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::auth::password::{Password, PersonalDetails, check_new_password};
use crate::auth::session::{SessionToken, hash_secret};
use crate::domain::{UserId, UserStatus};
use crate::mail::Mail;
use crate::store::{AccountTokenRow, UserRow};

/// A finished activation: the new session, and where to go next.
#[derive(Debug)]
pub struct Activated {
    pub user_id: UserId,
    pub session: SessionToken,
    /// The inviting service's registered address, if it still has it.
    pub return_to: Option<String>,
}

impl Lifecycle {
    /// Swaps the secret from an emailed link for a handle the browser keeps in a cookie, so
    /// the link works once and its secret leaves the address bar. Returns the handle.
    pub async fn open_link(&self, purpose: &str, secret: &str) -> Result<String, FlowError> {
        if !plausible_secret(secret) {
            return Err(FlowError::LinkExpired);
        }
        let (handle, handle_hash) = new_link_secret()?;
        let now = self.clock.now();
        self.store
            .open_account_token(&hash_secret(secret), &handle_hash, purpose, now)
            .await?
            .ok_or(FlowError::LinkExpired)?;
        Ok(handle)
    }

    /// The live link behind a browser handle, and whose it is, without using it.
    pub async fn link_for(
        &self,
        purpose: &str,
        handle: &str,
    ) -> Result<(AccountTokenRow, UserRow), FlowError> {
        if !plausible_secret(handle) {
            return Err(FlowError::LinkExpired);
        }
        let now = self.clock.now();
        let row = self
            .store
            .account_token_by_handle(&hash_secret(handle), purpose, now)
            .await?
            .ok_or(FlowError::LinkExpired)?;
        let user = self
            .store
            .user_by_id(&UserId::from_stored(row.user_id.clone()))
            .await?
            .ok_or(FlowError::LinkExpired)?;
        Ok((row, user))
    }

    /// Accepts an invitation: sets the password, activates the account, signs the person in,
    /// tells them by email. All in one transaction; the link is used even if two tabs race.
    pub async fn activate(
        &self,
        handle: &str,
        password: &Password,
        ctx: &RequestContext,
    ) -> Result<Activated, FlowError> {
        let (row, user) = self.link_for(ACTIVATION, handle).await?;
        if user.status()? != UserStatus::Invited {
            return Err(FlowError::LinkExpired);
        }
        let min = self.auth.policies().current().await?.password_min(false);
        check_new_password(password, min, &details(&user))?;
        let phc = self
            .auth
            .hasher()
            .hash(password)
            .await
            .map_err(crate::auth::AuthError::from)?;
        let return_to = match &row.return_to {
            // Only if the service still registers it.
            Some(url) => self.service_registering(url).await?.map(|_| url.clone()),
            None => None,
        };
        let id = user.user_id();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let used = self
            .store
            .consume_account_token(&mut tx, &hash_secret(handle), ACTIVATION, now)
            .await?;
        let current = self.store.user_in(&mut tx, &id).await?;
        let still_invited = current
            .as_ref()
            .is_some_and(|u| u.status.as_str() == UserStatus::Invited.as_str());
        if used.is_none() || !still_invited {
            return Err(FlowError::LinkExpired);
        }
        self.store
            .set_password_hash(&mut tx, &id, &phc, now)
            .await?;
        self.store
            .set_user_status(&mut tx, &id, UserStatus::Active, None, now)
            .await?;
        let session = self.auth.open_session(&mut tx, &id, ctx, now).await?;
        let mut event = AuditEvent::new(Action::AccountActivated)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone())
            .details(serde_json::json!({ "amr": ["pwd"], "email_verified": true }));
        if let Some(client_id) = &row.client_id {
            event = event.client(client_id);
        }
        self.store.append_audit(&mut tx, &event, now).await?;
        let mail = Mail::AccountActivated {
            given_name: user.given_name.clone(),
        };
        self.mail_user(&mut tx, &user, mail, now).await?;
        tx.commit().await?;
        self.mailer.nudge();
        Ok(Activated {
            user_id: id,
            session,
            return_to,
        })
    }
}

/// What a new password must not be built from.
pub(super) fn details(user: &UserRow) -> PersonalDetails<'_> {
    PersonalDetails {
        email: &user.email,
        given_name: &user.given_name,
        family_name: &user.family_name,
        organisations: &[],
    }
}
