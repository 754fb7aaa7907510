//! Setting exactly which services (and roles) a person has at one organisation: shared by
//! approvers (for their own organisation) and the helpdesk (for any), so both check the same
//! offer and roles and write the same audit events.

use super::{Directory, DirectoryError, HeldService, ServiceOffer};
use crate::audit::{Action, AuditEvent};
use crate::domain::UserId;
use crate::store::{OrganisationRow, Tx};

impl Directory {
    /// The services `user_id` holds at the organisation, with their roles.
    pub async fn services_held(
        &self,
        organisation_id: &str,
        user_id: &str,
    ) -> Result<Vec<HeldService>, DirectoryError> {
        let mut out = Vec::new();
        for service in self.store.services_held(user_id, organisation_id).await? {
            let roles = self
                .store
                .access_roles(user_id, organisation_id, &service.client_id)
                .await?;
            out.push(HeldService { service, roles });
        }
        Ok(out)
    }

    /// The services that may be granted at `organisation`, by name.
    pub async fn services_offered(
        &self,
        organisation: &OrganisationRow,
    ) -> Result<Vec<ServiceOffer>, DirectoryError> {
        let mut out = Vec::new();
        for client in self.store.list_clients().await? {
            let kinds = self.store.service_organisation_kinds(&client.id).await?;
            if !kinds.is_empty() && !kinds.contains(&organisation.kind) {
                continue;
            }
            let roles = self.store.roles(&client.id).await?;
            out.push(ServiceOffer {
                client_id: client.id,
                name: client.name,
                roles,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Refuses a service that cannot be granted at `organisation`.
    pub(super) async fn offered(
        &self,
        organisation: &OrganisationRow,
        client_id: &str,
    ) -> Result<(), DirectoryError> {
        let offered = self.services_offered(organisation).await?;
        if offered.iter().any(|s| s.client_id == client_id) {
            Ok(())
        } else {
            Err(DirectoryError::Field(
                "client",
                "Choose a service your organisation can use".into(),
            ))
        }
    }

    /// `services` with each service once and only roles its service defines (else a field
    /// error naming the role).
    pub(super) async fn checked_roles(
        &self,
        services: &[(String, Vec<String>)],
    ) -> Result<Vec<(String, Vec<String>)>, DirectoryError> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (client_id, codes) in services {
            if out.iter().any(|(c, _)| c == client_id) {
                continue;
            }
            let defined = self.store.roles(client_id).await?;
            let mut wanted = Vec::new();
            for code in codes {
                if !defined.iter().any(|d| d.code == *code) {
                    return Err(DirectoryError::Field(
                        "services",
                        format!("The service has no role called {code}"),
                    ));
                }
                if !wanted.contains(code) {
                    wanted.push(code.clone());
                }
            }
            out.push((client_id.clone(), wanted));
        }
        Ok(out)
    }

    /// Inside `tx`, sets exactly which services (and roles) `subject` has at `organisation`:
    /// ticked services are granted with their roles, unticked ones taken away. Each change is
    /// audited as `event` (its actor, context, reason and details) renamed, with before and
    /// after. Returns whether anything changed.
    pub async fn set_services_in(
        &self,
        tx: &mut Tx,
        organisation: &OrganisationRow,
        subject: &UserId,
        chosen: &[(String, Vec<String>)],
        event: &AuditEvent,
    ) -> Result<bool, DirectoryError> {
        for (client_id, _) in chosen {
            self.offered(organisation, client_id).await?;
        }
        let wanted = self.checked_roles(chosen).await?;
        let org = &organisation.id;
        let held = self.services_held(org, subject.as_str()).await?;
        let now = self.clock.now();
        let mut changed = false;
        for (client_id, codes) in &wanted {
            let before = held.iter().find(|h| h.service.client_id == *client_id);
            if before.is_some_and(|h| same_roles(&h.roles, codes)) {
                continue;
            }
            self.store
                .set_access(
                    tx,
                    subject.as_str(),
                    org,
                    client_id,
                    codes,
                    now.timestamp_millis(),
                )
                .await?;
            let mut granted = event.clone();
            granted.action = Action::AccessGranted;
            let granted = granted
                .subject(subject)
                .organisation(org)
                .client(client_id)
                .also(serde_json::json!({
                    "before": before.map(|h| &h.roles),
                    "after": codes,
                }));
            self.store.append_audit(tx, &granted, now).await?;
            changed = true;
        }
        for h in &held {
            if wanted.iter().any(|(c, _)| *c == h.service.client_id) {
                continue;
            }
            self.store
                .delete_access(tx, subject.as_str(), org, &h.service.client_id)
                .await?;
            let mut revoked = event.clone();
            revoked.action = Action::AccessRevoked;
            let revoked = revoked
                .subject(subject)
                .organisation(org)
                .client(&h.service.client_id)
                .also(serde_json::json!({ "before": h.roles, "after": null }));
            self.store.append_audit(tx, &revoked, now).await?;
            changed = true;
        }
        Ok(changed)
    }
}

fn same_roles(held: &[String], wanted: &[String]) -> bool {
    let mut a = held.to_vec();
    let mut b = wanted.to_vec();
    a.sort();
    b.sort();
    a == b
}
