//! Moving schools off the Authentix shared password: one invited account per distinct person
//! (the same person at two schools gets two memberships), memberships to the right school or
//! local authority, service access mapped from legacy service codes, and the first contact of
//! each organisation made its approver unless the file says otherwise. All in one transaction
//! (none for a dry run); invitations go out later, in waves.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek};

use super::authentix::{self, Contact, Workplace};
use super::csv_file::{Rejected, Rejections};
use super::{Directory, DirectoryError, OrgStatus};
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::domain::UserId;
use crate::store::{BULK_ROWS, InvitedRow, OrganisationRow, Store, Tx};

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
        let mut writer = Writer {
            store: &self.store,
            now,
            actor: &actor,
            ctx,
            kinds: &kinds,
            client_for: &client_for,
            counted: HashSet::new(),
            first_at_org: HashSet::new(),
        };
        let mut batch: Vec<(Contact, Place)> = Vec::with_capacity(BULK_ROWS);
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
                Some(org) => Place {
                    id: org.id.clone(),
                    kind: org.kind.clone(),
                    name: org.name.clone(),
                },
            };
            batch.push((contact, org));
            if batch.len() == BULK_ROWS {
                writer.write(&mut tx, &batch, &mut report).await?;
                batch.clear();
            }
        }
        writer.write(&mut tx, &batch, &mut report).await?;
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

/// The organisation a contact row names.
#[derive(Debug, Clone)]
struct Place {
    id: String,
    kind: String,
    name: String,
}

/// Writes contacts a batch at a time: a handful of multi-row statements per batch rather than
/// several per row, which is what lets a national export go in within a minute.
struct Writer<'a> {
    store: &'a Store,
    now: chrono::DateTime<chrono::Utc>,
    actor: &'a Actor,
    ctx: &'a RequestContext,
    kinds: &'a HashMap<String, Vec<String>>,
    client_for: &'a dyn Fn(&str) -> Option<String>,
    /// Accounts found that existed before this import, counted once each (16 bytes apiece:
    /// who is who is always read from the database, not kept here).
    counted: HashSet<u128>,
    /// Organisations whose first contact has been seen (and made approver).
    first_at_org: HashSet<String>,
}

impl Writer<'_> {
    async fn write(
        &mut self,
        tx: &mut Tx,
        batch: &[(Contact, Place)],
        report: &mut MigrationReport,
    ) -> Result<(), DirectoryError> {
        if batch.is_empty() {
            return Ok(());
        }
        let millis = self.now.timestamp_millis();
        // People: those with an account already (from before, or an earlier batch), then new
        // invited accounts.
        let mut emails: Vec<&str> = batch.iter().map(|(c, _)| c.email.normalised()).collect();
        emails.sort_unstable();
        emails.dedup();
        let mut people: HashMap<String, String> = HashMap::new();
        for (email, id, created_at) in self.store.user_ids_by_emails_in(tx, &emails).await? {
            let key = u128::from_str_radix(&id, 16).unwrap_or_default();
            if created_at != millis && self.counted.insert(key) {
                report.accounts_existing += 1;
            }
            people.insert(email, id);
        }
        let mut created = Vec::new();
        let mut events = Vec::new();
        for (c, _) in batch {
            let key = c.email.normalised();
            if people.contains_key(key) {
                continue;
            }
            let id = UserId::generate();
            let mut event = AuditEvent::new(Action::UserCreated)
                .subject(&id)
                .context(self.ctx.clone())
                .details(serde_json::json!({ "status": "invited", "source": "authentix" }));
            event.actor = self.actor.clone();
            events.push(event);
            created.push(InvitedRow {
                id: id.as_str().to_owned(),
                email: c.email.as_str().to_owned(),
                email_normalised: key.to_owned(),
                given_name: c.given_name.clone(),
                family_name: c.family_name.clone(),
                job_title: c.job_title.clone(),
            });
            people.insert(key.to_owned(), id.as_str().to_owned());
        }
        report.accounts_created += created.len();
        self.store
            .insert_invited_users_in(tx, &created, millis)
            .await?;
        let new_ids: Vec<&str> = created.iter().map(|r| r.id.as_str()).collect();
        self.store
            .insert_migration_contacts_in(tx, &new_ids, "authentix", millis)
            .await?;
        self.store.append_audit_batch(tx, &events, self.now).await?;

        // Memberships: what earlier people already hold, then this batch's changes in order.
        let mut earlier: Vec<&str> = batch
            .iter()
            .map(|(c, _)| people[c.email.normalised()].as_str())
            .filter(|id| !new_ids.contains(id))
            .collect();
        earlier.sort_unstable();
        earlier.dedup();
        let mut levels: HashMap<(String, String), String> = HashMap::new();
        for (user, org, level) in self.store.memberships_of_users_in(tx, &earlier).await? {
            levels.insert((user, org), level);
        }
        let mut changes: Vec<(String, String, &'static str)> = Vec::new();
        let mut changed: HashMap<(String, String), usize> = HashMap::new();
        let mut access: Vec<(String, String, String)> = Vec::new();
        let mut seen: HashSet<(String, String, String)> = HashSet::new();
        for (c, org) in batch {
            let user = people[c.email.normalised()].clone();
            let first = self.first_at_org.insert(org.id.clone());
            let approver = c.approver.unwrap_or(first);
            let pair = (user.clone(), org.id.clone());
            let held = levels.get(&pair).map(String::as_str);
            let level = if held == Some("approver") || approver {
                "approver"
            } else {
                "member"
            };
            if held != Some(level) {
                levels.insert(pair.clone(), level.to_owned());
                match changed.get(&pair) {
                    Some(at) => changes[*at].2 = level,
                    None => {
                        changed.insert(pair.clone(), changes.len());
                        changes.push((pair.0.clone(), pair.1.clone(), level));
                    }
                }
                report.memberships += 1;
                if level == "approver" {
                    report.approvers += 1;
                }
            }
            for code in &c.services {
                let Some(client) = (self.client_for)(code) else {
                    let mentions = report.unknown_services.entry(code.clone()).or_default();
                    mentions.total += 1;
                    if mentions.lines.len() < LINES_SHOWN {
                        mentions.lines.push(c.line);
                    }
                    continue;
                };
                let allowed = self
                    .kinds
                    .get(&client)
                    .is_none_or(|k| k.is_empty() || k.contains(&org.kind));
                if !allowed {
                    report.rejected.push(Rejected {
                        line: c.line,
                        reason: format!("{client} cannot be granted for {}", org.name),
                    });
                    continue;
                }
                let row = (user.clone(), org.id.clone(), client);
                if seen.insert(row.clone()) {
                    access.push(row);
                }
            }
        }
        self.store
            .upsert_memberships_in(tx, &changes, millis)
            .await?;
        for rows in access.chunks(BULK_ROWS) {
            let granted = self.store.ensure_access_many_in(tx, rows, millis).await?;
            report.access_granted += usize::try_from(granted).unwrap_or(usize::MAX);
        }
        Ok(())
    }
}
