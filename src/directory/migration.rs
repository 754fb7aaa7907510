//! Moving schools off the Authentix shared password: one invited account per distinct person
//! (the same person at two schools gets two memberships), memberships to the right school or
//! local authority, service access mapped from legacy service codes, and the first contact of
//! each organisation made its approver unless the file says otherwise. All in one transaction
//! (none for a dry run); invitations go out later, in waves.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::authentix::{self, Contact, Workplace};
use super::csv_file::Rejected;
use super::{Directory, DirectoryError, OrgStatus};
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::domain::UserStatus;
use crate::store::{NewUser, OrganisationRow};

/// What a migration import did (or would do).
#[derive(Debug, Clone, Default)]
pub struct MigrationReport {
    pub rows: usize,
    pub accounts_created: usize,
    /// People who already had an account (from an earlier run or otherwise).
    pub accounts_existing: usize,
    pub memberships: usize,
    pub approvers: usize,
    pub access_granted: usize,
    pub rejected: Vec<Rejected>,
    /// Legacy service codes with no service, and the lines that used them.
    pub unknown_services: BTreeMap<String, Vec<u64>>,
    pub dry_run: bool,
}

impl Directory {
    /// Imports an Authentix contact export. `services` maps legacy codes to client ids; a code
    /// with no mapping is used as a client id itself when such a service exists.
    pub async fn import_authentix(
        &self,
        bytes: &[u8],
        services: &HashMap<String, String>,
        dry_run: bool,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<MigrationReport, DirectoryError> {
        let rows = authentix::read(bytes)?;
        let mut report = MigrationReport {
            rows: rows.len(),
            dry_run,
            ..MigrationReport::default()
        };
        let mut contacts: Vec<Contact> = Vec::new();
        for row in rows {
            match row {
                Ok(c) => contacts.push(c),
                Err(r) => report.rejected.push(r),
            }
        }
        // Which legacy codes name a service, decided once.
        let mut clients: HashMap<String, Option<String>> = HashMap::new();
        for code in contacts.iter().flat_map(|c| c.services.iter()) {
            if clients.contains_key(code) {
                continue;
            }
            let id = services.get(code).cloned().unwrap_or_else(|| code.clone());
            let exists = self.store.client_by_id(&id).await?.is_some();
            clients.insert(code.clone(), exists.then_some(id));
        }
        let mut kinds: HashMap<String, Vec<String>> = HashMap::new();
        for id in clients.values().flatten() {
            kinds.insert(id.clone(), self.store.service_organisation_kinds(id).await?);
        }
        let mut existing = HashMap::new();
        for c in &contacts {
            if let Some(user) = self.store.user_by_email(&c.email).await? {
                existing.insert(c.email.normalised().to_owned(), user.id);
            }
        }

        let now = self.clock.now();
        let millis = now.timestamp_millis();
        let mut tx = self.store.begin().await?;
        let orgs = self.store.organisations_for_import(&mut tx).await?;
        let find = |w: &Workplace| -> Option<&OrganisationRow> {
            orgs.iter().find(|o| match w {
                Workplace::School(urn) => o.urn.as_deref() == Some(urn.as_str()),
                Workplace::LocalAuthority(code) => {
                    o.kind == "local_authority" && o.la_code.as_deref() == Some(code.as_str())
                }
            })
        };
        let mut people: HashMap<String, String> = HashMap::new();
        let mut first_at_org: HashSet<String> = HashSet::new();
        for contact in &contacts {
            let org = match find(&contact.workplace) {
                None => {
                    report.rejected.push(Rejected {
                        line: contact.line,
                        reason: match &contact.workplace {
                            Workplace::School(urn) => format!("no school has the URN {urn}"),
                            Workplace::LocalAuthority(code) => {
                                format!("no local authority has the LA code {code}")
                            }
                        },
                    });
                    continue;
                }
                Some(org) if org.status == OrgStatus::Closed.as_str() => {
                    report.rejected.push(Rejected {
                        line: contact.line,
                        reason: format!("{} is closed", org.name),
                    });
                    continue;
                }
                Some(org) => org,
            };
            let key = contact.email.normalised().to_owned();
            let known = people.get(&key).or_else(|| existing.get(&key)).cloned();
            let user_id = match known {
                Some(id) => {
                    if !people.contains_key(&key) {
                        report.accounts_existing += 1;
                        people.insert(key.clone(), id.clone());
                    }
                    id
                }
                None => {
                    let new = NewUser {
                        email: contact.email.clone(),
                        given_name: contact.given_name.clone(),
                        family_name: contact.family_name.clone(),
                        job_title: contact.job_title.clone(),
                        status: UserStatus::Invited,
                    };
                    let id = self.store.insert_user(&mut tx, &new, now).await?;
                    let mut created = AuditEvent::new(Action::UserCreated)
                        .subject(&id)
                        .context(ctx.clone())
                        .details(serde_json::json!({ "status": "invited", "source": "authentix" }));
                    created.actor = actor.clone();
                    self.store.append_audit(&mut tx, &created, now).await?;
                    self.store
                        .insert_migration_contact(&mut tx, id.as_str(), "authentix", millis)
                        .await?;
                    report.accounts_created += 1;
                    people.insert(key.clone(), id.as_str().to_owned());
                    id.as_str().to_owned()
                }
            };
            let first = first_at_org.insert(org.id.clone());
            let approver = contact.approver.unwrap_or(first);
            let held = self.store.membership_in(&mut tx, &user_id, &org.id).await?;
            let level = match (&held, approver) {
                (Some(m), _) if m.level == "approver" => "approver",
                (_, true) => "approver",
                _ => "member",
            };
            if held.as_ref().is_none_or(|m| m.level != level) {
                self.store
                    .upsert_membership(&mut tx, &user_id, &org.id, level, millis)
                    .await?;
                report.memberships += 1;
                if level == "approver" {
                    report.approvers += 1;
                }
            }
            for code in &contact.services {
                let Some(Some(client)) = clients.get(code) else {
                    report
                        .unknown_services
                        .entry(code.clone())
                        .or_default()
                        .push(contact.line);
                    continue;
                };
                let allowed = kinds
                    .get(client)
                    .is_none_or(|k| k.is_empty() || k.contains(&org.kind));
                if !allowed {
                    report.rejected.push(Rejected {
                        line: contact.line,
                        reason: format!("{client} cannot be granted for {}", org.name),
                    });
                    continue;
                }
                if self
                    .store
                    .ensure_access(&mut tx, &user_id, &org.id, client, millis)
                    .await?
                {
                    report.access_granted += 1;
                }
            }
        }
        report.rejected.sort_by_key(|r| r.line);
        let mut event = AuditEvent::new(Action::MigrationImported)
            .context(ctx.clone())
            .details(serde_json::json!({
                "source": "authentix",
                "rows": report.rows,
                "accounts_created": report.accounts_created,
                "accounts_existing": report.accounts_existing,
                "memberships": report.memberships,
                "approvers": report.approvers,
                "access_granted": report.access_granted,
                "rejected": report.rejected.len(),
                "unknown_services": report.unknown_services.keys().collect::<Vec<_>>(),
            }));
        event.actor = actor;
        if dry_run {
            drop(tx);
        } else {
            self.store.append_audit(&mut tx, &event, now).await?;
            tx.commit().await?;
        }
        Ok(report)
    }
}
