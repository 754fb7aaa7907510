//! Moving schools off the Authentix shared password: one invited account per distinct person
//! (the same person at two schools gets two memberships), memberships to the right school or
//! local authority, service access mapped from legacy service codes, and the first contact of
//! each organisation made its approver unless the file says otherwise. All in one transaction
//! (none for a dry run); invitations go out later, in waves.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek};

use super::authentix::{self, Workplace};
use super::csv_file::{Rejected, Rejections};
use super::{Directory, DirectoryError, OrgStatus};
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::domain::UserStatus;
use crate::store::{NewUser, OrganisationRow};

/// Lines listed for each unknown service code; beyond this they are only counted.
const LINES_SHOWN: usize = 100;

/// Where a legacy service code with no service was used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    /// The first lines it was on.
    pub lines: Vec<u64>,
    pub total: usize,
}

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
    pub rejected: Rejections,
    /// Legacy service codes with no service, and the lines that used them.
    pub unknown_services: BTreeMap<String, Mentions>,
    pub dry_run: bool,
}

impl Directory {
    /// Imports an Authentix contact export, reading it as it goes, in one transaction.
    /// `services` maps legacy codes to client ids; a code with no mapping is used as a client
    /// id itself when such a service exists.
    pub async fn import_authentix<R: Read + Seek>(
        &self,
        input: R,
        services: &HashMap<String, String>,
        dry_run: bool,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<MigrationReport, DirectoryError> {
        let mut rows = authentix::rows(input)?;
        let mut report = MigrationReport {
            dry_run,
            ..MigrationReport::default()
        };
        // Every service and the kinds of organisation it allows, read once.
        let mut kinds: HashMap<String, Vec<String>> = HashMap::new();
        for client in self.store.list_clients().await? {
            let allowed = self.store.service_organisation_kinds(&client.id).await?;
            kinds.insert(client.id, allowed);
        }
        let client_for = |code: &str| -> Option<String> {
            let id = services.get(code).map_or(code, String::as_str);
            kinds.contains_key(id).then(|| id.to_owned())
        };

        let now = self.clock.now();
        let millis = now.timestamp_millis();
        let mut tx = self.store.begin().await?;
        let orgs = self.store.organisations_for_import(&mut tx).await?;
        let mut schools: HashMap<&str, &OrganisationRow> = HashMap::new();
        let mut authorities: HashMap<&str, &OrganisationRow> = HashMap::new();
        for o in &orgs {
            if o.kind == "local_authority" {
                if let Some(code) = o.la_code.as_deref() {
                    authorities.insert(code, o);
                }
            } else if let Some(urn) = o.urn.as_deref() {
                schools.insert(urn, o);
            }
        }
        let find = |w: &Workplace| -> Option<&OrganisationRow> {
            match w {
                Workplace::School(urn) => schools.get(urn.as_str()).copied(),
                Workplace::LocalAuthority(code) => authorities.get(code.as_str()).copied(),
            }
        };
        let mut people: HashMap<String, String> = HashMap::new();
        let mut first_at_org: HashSet<String> = HashSet::new();
        while let Some(row) = rows.next_row()? {
            let contact = match row {
                Ok(contact) => contact,
                Err(rejected) => {
                    report.rejected.push(rejected);
                    continue;
                }
            };
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
            let known = match people.get(&key) {
                Some(id) => Some(id.clone()),
                None => {
                    let found = self.store.user_id_by_email_in(&mut tx, &key).await?;
                    if let Some(id) = &found {
                        report.accounts_existing += 1;
                        people.insert(key.clone(), id.clone());
                    }
                    found
                }
            };
            let user_id = match known {
                Some(id) => id,
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
                let Some(client) = client_for(code) else {
                    let mentions = report.unknown_services.entry(code.clone()).or_default();
                    mentions.total += 1;
                    if mentions.lines.len() < LINES_SHOWN {
                        mentions.lines.push(contact.line);
                    }
                    continue;
                };
                let allowed = kinds
                    .get(&client)
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
                    .ensure_access(&mut tx, &user_id, &org.id, &client, millis)
                    .await?
                {
                    report.access_granted += 1;
                }
            }
        }
        report.rows = rows.read;
        report.rejected.sort();
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
                "rejected": report.rejected.total,
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
