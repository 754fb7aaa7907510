//! Adding and editing an organisation by hand (an administrator's job: a new trust, a
//! correction before the next extract), and finding one by id, URN or LA code. A later GIAS
//! import brings a school's fields back in step with the extract.

use super::{Directory, DirectoryError, OrgKind, OrgStatus, clean_text};
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::store::{OrganisationRow, StoreError};

/// An organisation to add.
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub kind: OrgKind,
    pub name: String,
    pub urn: Option<String>,
    pub ukprn: Option<String>,
    pub la_code: Option<String>,
    pub status: OrgStatus,
    pub town: Option<String>,
    pub postcode: Option<String>,
}

/// What to change; `None` leaves a field as it is, `Some("")` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct OrganisationChanges {
    pub name: Option<String>,
    pub status: Option<OrgStatus>,
    pub ukprn: Option<String>,
    pub la_code: Option<String>,
    pub town: Option<String>,
    pub postcode: Option<String>,
}

fn digits(value: &str, lengths: &[usize]) -> bool {
    lengths.contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit())
}

fn optional(value: Option<String>) -> Option<String> {
    value.map(|v| clean_text(&v)).filter(|v| !v.is_empty())
}

/// Checks a row before it is written; the same rules as an import.
fn validate(row: &OrganisationRow) -> Result<(), DirectoryError> {
    if row.name.is_empty() {
        return Err(DirectoryError::Field(
            "name",
            "Enter the organisation's name".into(),
        ));
    }
    if row.name.chars().count() > 200 {
        return Err(DirectoryError::Field(
            "name",
            "The name must be 200 characters or fewer".into(),
        ));
    }
    let kind = OrgKind::parse(&row.kind);
    match row.urn.as_deref() {
        Some(urn) if !digits(urn, &[6, 7]) => {
            return Err(DirectoryError::Field(
                "urn",
                "A URN is 6 or 7 digits".into(),
            ));
        }
        None if kind == Some(OrgKind::School) => {
            return Err(DirectoryError::Field(
                "urn",
                "Enter the school's URN".into(),
            ));
        }
        _ => {}
    }
    match row.la_code.as_deref() {
        Some(code) if !digits(code, &[3]) => {
            return Err(DirectoryError::Field(
                "la_code",
                "An LA code is 3 digits".into(),
            ));
        }
        None if kind == Some(OrgKind::LocalAuthority) => {
            return Err(DirectoryError::Field(
                "la_code",
                "Enter the local authority's LA code".into(),
            ));
        }
        _ => {}
    }
    if let Some(ukprn) = row.ukprn.as_deref()
        && !digits(ukprn, &[8])
    {
        return Err(DirectoryError::Field("ukprn", "A UKPRN is 8 digits".into()));
    }
    Ok(())
}

fn taken(e: StoreError) -> DirectoryError {
    match e {
        StoreError::Conflict(_) => DirectoryError::Field(
            "urn",
            "An organisation with that URN or LA code already exists".into(),
        ),
        other => DirectoryError::Store(other),
    }
}

impl Directory {
    /// The organisation with this id (32 hex digits), URN (6–7 digits) or LA code (3 digits).
    pub async fn find(&self, key: &str) -> Result<Option<OrganisationRow>, DirectoryError> {
        let key = key.trim();
        Ok(if digits(key, &[3]) {
            self.store.local_authority(key).await?
        } else if digits(key, &[6, 7]) {
            self.store.organisation_by_urn(key).await?
        } else {
            self.store.organisation_by_id(key).await?
        })
    }

    pub async fn create_organisation(
        &self,
        new: NewOrganisation,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<OrganisationRow, DirectoryError> {
        let now = self.clock.now();
        let name = clean_text(&new.name);
        let row = OrganisationRow {
            id: uuid::Uuid::new_v4().simple().to_string(),
            kind: new.kind.as_str().to_owned(),
            name_normalised: name.to_lowercase(),
            name,
            urn: optional(new.urn),
            ukprn: optional(new.ukprn),
            la_code: optional(new.la_code),
            establishment_number: None,
            type_code: None,
            type_name: None,
            phase_code: None,
            phase_name: None,
            status: new.status.as_str().to_owned(),
            street: None,
            town: optional(new.town),
            postcode: optional(new.postcode).map(|p| p.to_uppercase()),
            opened_on: None,
            closed_on: None,
            source: "manual".to_owned(),
            created_at: now.timestamp_millis(),
            updated_at: now.timestamp_millis(),
        };
        validate(&row)?;
        let mut tx = self.store.begin().await?;
        self.store
            .insert_organisation(&mut tx, &row)
            .await
            .map_err(taken)?;
        let mut event = AuditEvent::new(Action::OrganisationCreated)
            .organisation(&row.id)
            .context(ctx.clone())
            .details(serde_json::json!({ "after": &row }));
        event.actor = actor;
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Applies `changes` to the organisation `key` names; returns it as it now is.
    pub async fn update_organisation(
        &self,
        key: &str,
        changes: OrganisationChanges,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<OrganisationRow, DirectoryError> {
        let before = self.find(key).await?.ok_or(DirectoryError::NotFound)?;
        let now = self.clock.now();
        let mut after = before.clone();
        if let Some(name) = changes.name {
            after.name = clean_text(&name);
            after.name_normalised = after.name.to_lowercase();
        }
        if let Some(status) = changes.status {
            after.status = status.as_str().to_owned();
        }
        if let Some(ukprn) = changes.ukprn {
            after.ukprn = optional(Some(ukprn));
        }
        if let Some(code) = changes.la_code {
            after.la_code = optional(Some(code));
        }
        if let Some(town) = changes.town {
            after.town = optional(Some(town));
        }
        if let Some(postcode) = changes.postcode {
            after.postcode = optional(Some(postcode)).map(|p| p.to_uppercase());
        }
        validate(&after)?;
        if after == before {
            return Ok(before);
        }
        after.updated_at = now.timestamp_millis();
        let mut tx = self.store.begin().await?;
        self.store
            .update_organisation(&mut tx, &after)
            .await
            .map_err(taken)?;
        let mut event = AuditEvent::new(Action::OrganisationUpdated)
            .organisation(&after.id)
            .context(ctx.clone())
            .diff(
                serde_json::to_value(&before).unwrap_or_default(),
                serde_json::to_value(&after).unwrap_or_default(),
            );
        event.actor = actor;
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(after)
    }
}
