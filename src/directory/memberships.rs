//! Who acts for which organisation (member or approver), the roles each service defines, and
//! access granted per person × organisation × service. Each change is one transaction with
//! its audit event.

use super::{Directory, DirectoryError, OrgKind, clean_text};
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::domain::UserId;
use crate::store::{OrganisationRow, RoleRow, UserRow};

/// A person's level in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Member,
    /// Manages the organisation's people and their access.
    Approver,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Approver => "approver",
        }
    }
}

/// An organisation where someone may use a service, with their roles there.
#[derive(Debug, Clone)]
pub struct Access {
    pub organisation: OrganisationRow,
    pub roles: Vec<String>,
}

fn role_code(code: &str) -> Result<String, DirectoryError> {
    let code = code.trim();
    let ok = !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(code.to_owned())
    } else {
        Err(DirectoryError::Field(
            "code",
            "A role code is 1 to 40 lower-case letters, digits, '-' or '_'".into(),
        ))
    }
}

fn event(action: Action, actor: Actor, ctx: &RequestContext) -> AuditEvent {
    let mut event = AuditEvent::new(action).context(ctx.clone());
    event.actor = actor;
    event
}

impl Directory {
    async fn organisation(&self, key: &str) -> Result<OrganisationRow, DirectoryError> {
        self.find(key).await?.ok_or(DirectoryError::NotFound)
    }

    async fn service_exists(&self, client_id: &str) -> Result<(), DirectoryError> {
        match self.store.client_by_id(client_id).await? {
            Some(_) => Ok(()),
            None => Err(DirectoryError::Field(
                "client",
                "No service has that client id".into(),
            )),
        }
    }

    /// Makes `user` a member (or approver) of the organisation `org_key` names.
    pub async fn add_member(
        &self,
        user: &UserRow,
        org_key: &str,
        level: Level,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<OrganisationRow, DirectoryError> {
        let org = self.organisation(org_key).await?;
        let before = self.store.membership(&user.id, &org.id).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.store
            .upsert_membership(
                &mut tx,
                &user.id,
                &org.id,
                level.as_str(),
                now.timestamp_millis(),
            )
            .await?;
        let e = event(Action::MembershipAdded, actor, ctx)
            .subject(&UserId::from_stored(user.id.clone()))
            .organisation(&org.id)
            .diff(
                serde_json::json!(before.map(|m| m.level)),
                serde_json::json!(level.as_str()),
            );
        self.store.append_audit(&mut tx, &e, now).await?;
        tx.commit().await?;
        Ok(org)
    }

    /// Removes `user` from an organisation, ending their access there at once.
    pub async fn remove_member(
        &self,
        user: &UserRow,
        org_key: &str,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<OrganisationRow, DirectoryError> {
        let org = self.organisation(org_key).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !self
            .store
            .delete_membership(&mut tx, &user.id, &org.id)
            .await?
        {
            return Err(DirectoryError::Field(
                "organisation",
                format!("{} is not a member of {}", user.email, org.name),
            ));
        }
        let e = event(Action::MembershipRemoved, actor, ctx)
            .subject(&UserId::from_stored(user.id.clone()))
            .organisation(&org.id);
        self.store.append_audit(&mut tx, &e, now).await?;
        tx.commit().await?;
        Ok(org)
    }

    /// Defines (or renames) a role of a service.
    pub async fn define_role(
        &self,
        client_id: &str,
        code: &str,
        name: &str,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<RoleRow, DirectoryError> {
        self.service_exists(client_id).await?;
        let code = role_code(code)?;
        let name = clean_text(name);
        if name.is_empty() || name.chars().count() > 100 {
            return Err(DirectoryError::Field(
                "name",
                "Enter a role name of 100 characters or fewer".into(),
            ));
        }
        let now = self.clock.now();
        let role = RoleRow {
            client_id: client_id.to_owned(),
            code,
            name,
            created_at: now.timestamp_millis(),
        };
        let mut tx = self.store.begin().await?;
        self.store.upsert_role(&mut tx, &role).await?;
        let e = event(Action::RoleDefined, actor, ctx)
            .client(client_id)
            .details(serde_json::json!({ "code": role.code, "name": role.name }));
        self.store.append_audit(&mut tx, &e, now).await?;
        tx.commit().await?;
        Ok(role)
    }

    /// Removes a role from a service, and from everyone who held it.
    pub async fn remove_role(
        &self,
        client_id: &str,
        code: &str,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<(), DirectoryError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !self.store.delete_role(&mut tx, client_id, code).await? {
            return Err(DirectoryError::Field(
                "code",
                "The service has no such role".into(),
            ));
        }
        let e = event(Action::RoleRemoved, actor, ctx)
            .client(client_id)
            .details(serde_json::json!({ "code": code }));
        self.store.append_audit(&mut tx, &e, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Limits a service to these kinds of organisation (none: any kind).
    pub async fn restrict_service(
        &self,
        client_id: &str,
        kinds: &[OrgKind],
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<(), DirectoryError> {
        self.service_exists(client_id).await?;
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.store
            .set_service_organisation_kinds(&mut tx, client_id, &names)
            .await?;
        let e = event(Action::ServiceRestricted, actor, ctx)
            .client(client_id)
            .details(serde_json::json!({ "kinds": names }));
        self.store.append_audit(&mut tx, &e, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives `user` access to a service at an organisation they belong to, with `roles`
    /// (replacing the roles they had there).
    pub async fn grant_access(
        &self,
        user: &UserRow,
        org_key: &str,
        client_id: &str,
        roles: &[String],
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<OrganisationRow, DirectoryError> {
        let org = self.organisation(org_key).await?;
        self.service_exists(client_id).await?;
        let member = self.store.membership(&user.id, &org.id).await?;
        if member.is_none_or(|m| m.status != "approved") {
            return Err(DirectoryError::Field(
                "organisation",
                format!(
                    "{} is not a member of {}; add them first",
                    user.email, org.name
                ),
            ));
        }
        let allowed = self.store.service_organisation_kinds(client_id).await?;
        if !allowed.is_empty() && !allowed.contains(&org.kind) {
            return Err(DirectoryError::Field(
                "organisation",
                format!(
                    "The service can only be granted for: {}",
                    allowed.join(", ").replace('_', " ")
                ),
            ));
        }
        let defined = self.store.roles(client_id).await?;
        let mut wanted = Vec::new();
        for role in roles {
            let code = role_code(role)?;
            if !defined.iter().any(|d| d.code == code) {
                return Err(DirectoryError::Field(
                    "role",
                    format!("The service has no role {code:?}"),
                ));
            }
            if !wanted.contains(&code) {
                wanted.push(code);
            }
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.store
            .set_access(
                &mut tx,
                &user.id,
                &org.id,
                client_id,
                &wanted,
                now.timestamp_millis(),
            )
            .await?;
        let e = event(Action::AccessGranted, actor, ctx)
            .subject(&UserId::from_stored(user.id.clone()))
            .organisation(&org.id)
            .client(client_id)
            .details(serde_json::json!({ "roles": wanted }));
        self.store.append_audit(&mut tx, &e, now).await?;
        tx.commit().await?;
        Ok(org)
    }

    /// Ends `user`'s access to a service at an organisation.
    pub async fn revoke_access(
        &self,
        user: &UserRow,
        org_key: &str,
        client_id: &str,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<OrganisationRow, DirectoryError> {
        let org = self.organisation(org_key).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !self
            .store
            .delete_access(&mut tx, &user.id, &org.id, client_id)
            .await?
        {
            return Err(DirectoryError::Field(
                "client",
                format!(
                    "{} has no access to that service at {}",
                    user.email, org.name
                ),
            ));
        }
        let e = event(Action::AccessRevoked, actor, ctx)
            .subject(&UserId::from_stored(user.id.clone()))
            .organisation(&org.id)
            .client(client_id);
        self.store.append_audit(&mut tx, &e, now).await?;
        tx.commit().await?;
        Ok(org)
    }

    /// Where `user_id` may use `client_id`, with their roles at each organisation.
    pub async fn access(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Vec<Access>, DirectoryError> {
        let mut out = Vec::new();
        for organisation in self.store.access_organisations(user_id, client_id).await? {
            let roles = self
                .store
                .access_roles(user_id, &organisation.id, client_id)
                .await?;
            out.push(Access {
                organisation,
                roles,
            });
        }
        Ok(out)
    }
}
