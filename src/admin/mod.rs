//! Helpdesk and admin use cases: finding accounts, reading one account whole, and the changes
//! staff make to it. Each starts from an [`OnDuty`] proof that the member of staff holds the
//! capability it needs, and each is audited, reads included.

mod account_file;
mod actions;
mod reasons;
mod retention;
mod search;
mod signing_keys;

pub use account_file::{AccountFile, Place, SignInLine, TimelinePage};
pub use actions::{ActionError, HelpdeskAction};
pub use reasons::{IdentityCheck, Reason, Why};
pub use retention::{Pruned, prune_audit};
pub use search::{EXPORT_LIMIT, Found, FoundAccount, PAGE_SIZE, Search};
pub use signing_keys::{KeyChangeError, retire_key, rotate_keys};

use crate::account::Lifecycle;
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::auth::session::SessionPolicy;
use crate::clock::SharedClock;
use crate::domain::UserId;
use crate::staff::{Capability, StaffRole};
use crate::store::{Store, StoreError, UserRow};

/// The helpdesk's and administrators' work on accounts.
#[derive(Debug, Clone)]
pub struct Helpdesk {
    store: Store,
    clock: SharedClock,
    lifecycle: Lifecycle,
    sessions: SessionPolicy,
}

/// Proof that a signed-in member of staff holds a capability; every use case takes one.
#[derive(Debug, Clone)]
pub struct OnDuty {
    pub user: UserRow,
    roles: Vec<StaffRole>,
}

impl OnDuty {
    pub fn id(&self) -> UserId {
        self.user.user_id()
    }

    pub fn can(&self, capability: Capability) -> bool {
        self.roles.iter().any(|r| r.grants(capability))
    }

    pub fn is_admin(&self) -> bool {
        self.roles.contains(&StaffRole::Admin)
    }
}

impl Helpdesk {
    pub fn new(
        store: Store,
        clock: SharedClock,
        lifecycle: Lifecycle,
        sessions: SessionPolicy,
    ) -> Self {
        Self {
            store,
            clock,
            lifecycle,
            sessions,
        }
    }

    /// `user` on duty with `capability`, or `None` when their roles do not give it.
    pub async fn on_duty(
        &self,
        user: &UserRow,
        capability: Capability,
    ) -> Result<Option<OnDuty>, StoreError> {
        let roles: Vec<StaffRole> = self
            .store
            .staff_roles(&user.id)
            .await?
            .iter()
            .filter_map(|r| StaffRole::parse(r))
            .collect();
        let on_duty = OnDuty {
            user: user.clone(),
            roles,
        };
        Ok(on_duty.can(capability).then_some(on_duty))
    }

    /// Records what a member of staff did that changed nothing (a search, a view, an export).
    async fn audit_read(&self, event: AuditEvent) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// An audit event whose actor is the member of staff.
fn by_staff(on_duty: &OnDuty, action: Action, ctx: &RequestContext) -> AuditEvent {
    AuditEvent::new(action)
        .actor(&on_duty.id())
        .context(ctx.clone())
}
