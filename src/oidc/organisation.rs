//! The `organisation` scope: the organisation a person chose to act for (or their only one)
//! and their roles there in the requesting service, read fresh whenever tokens or /userinfo
//! describe them — so a removed membership or role shows at the next refresh.

use super::{OAuthError, OAuthErrorCode, Oidc};
use crate::store::{GrantRow, OrganisationRow, StoreError};

/// What the scope releases: `organisation` (an object) and `roles` (codes).
#[derive(Debug, Clone)]
pub struct OrganisationClaims {
    pub organisation: serde_json::Value,
    pub roles: Vec<String>,
}

fn describe(org: &OrganisationRow) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("id".into(), org.id.clone().into());
    o.insert("name".into(), org.name.clone().into());
    o.insert("category".into(), org.kind.clone().into());
    o.insert("status".into(), org.status.clone().into());
    for (key, value) in [
        ("urn", &org.urn),
        ("ukprn", &org.ukprn),
        ("la_code", &org.la_code),
        ("type", &org.type_name),
        ("phase", &org.phase_name),
    ] {
        if let Some(value) = value {
            o.insert(key.into(), value.clone().into());
        }
    }
    o.into()
}

impl Oidc {
    /// The claims for a grant made with the `organisation` scope, if the person still has
    /// access there; a grant whose access has ended gets `invalid_grant`.
    pub(super) async fn organisation_claims(
        &self,
        grant: &GrantRow,
    ) -> Result<Option<OrganisationClaims>, OAuthError> {
        let Some(org_id) = &grant.organisation_id else {
            return Ok(None);
        };
        let access = self
            .store
            .access_organisations(&grant.user_id, &grant.client_id)
            .await?;
        let Some(org) = access.into_iter().find(|o| &o.id == org_id) else {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "the person no longer has access to this service at that organisation",
            ));
        };
        let roles = self
            .store
            .access_roles(&grant.user_id, org_id, &grant.client_id)
            .await?;
        Ok(Some(OrganisationClaims {
            organisation: describe(&org),
            roles,
        }))
    }

    /// The organisation claims for /userinfo, from the access token's grant (none when the
    /// access has ended).
    pub async fn userinfo_organisation(
        &self,
        grant_id: &str,
    ) -> Result<Option<OrganisationClaims>, StoreError> {
        let Some(grant) = self.store.grant(grant_id).await? else {
            return Ok(None);
        };
        match self.organisation_claims(&grant).await {
            Ok(claims) => Ok(claims),
            Err(_) => Ok(None),
        }
    }
}

/// Adds the organisation claims to a /userinfo object.
pub fn add_to(claims: &mut serde_json::Map<String, serde_json::Value>, org: OrganisationClaims) {
    claims.insert("organisation".into(), org.organisation);
    claims.insert("roles".into(), org.roles.into());
}
