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
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::auth::session::SessionPolicy;
use crate::clock::SharedClock;
use crate::directory::Directory;
use crate::staff::{Capability, StaffRole};
use crate::store::{Store, StoreError, UserRow};

/// The helpdesk's and administrators' work on accounts.
#[derive(Debug, Clone)]
pub struct Helpdesk {
    store: Store,
    clock: SharedClock,
    lifecycle: Lifecycle,
    sessions: SessionPolicy,
    directory: Directory,
}

/// Proof that a signed-in member of staff, or a service calling the admin API, holds a
/// capability; every use case takes one.
#[derive(Debug, Clone)]
pub struct OnDuty {
    /// Who the audit trail names.
    pub actor: Actor,
    /// The member of staff's account id (none for a service).
    pub person: Option<String>,
    roles: Vec<StaffRole>,
    /// What a service's admin scopes allow (staff get theirs from their roles).
    granted: Vec<Capability>,
}

impl OnDuty {
    /// A service acting through the admin API with `granted` from its token's scopes.
    pub fn service(client_id: &str, granted: Vec<Capability>) -> Self {
        Self {
            actor: Actor::Service(format!("service:{client_id}")),
            person: None,
            roles: Vec::new(),
            granted,
        }
    }

    pub fn can(&self, capability: Capability) -> bool {
        self.granted.contains(&capability) || self.roles.iter().any(|r| r.grants(capability))
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
            directory: Directory::new(store.clone(), clock.clone()),
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
            actor: Actor::User(user.user_id()),
            person: Some(user.id.clone()),
            roles,
            granted: Vec::new(),
        };
        Ok(on_duty.can(capability).then_some(on_duty))
    }

    /// Records a read made outside these use cases (the admin API's audit search).
    pub async fn record(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.audit_read(event).await
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
    let mut event = AuditEvent::new(action).context(ctx.clone());
    event.actor = on_duty.actor.clone();
    event
}
