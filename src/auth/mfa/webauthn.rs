//! Security keys and passkeys (W3C WebAuthn Level 3 with `webauthn-rs`). The relying-party id
//! and origin come from the issuer; ceremony state stays on the server, single use, for two
//! minutes. Registrations and assertions are checked by the library; this file decides what
//! to ask for and what to keep.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;
use webauthn_rs::prelude::{
    AuthenticationResult, Credential, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication,
    SecurityKeyRegistration, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use webauthn_rs_proto::ResidentKeyRequirement;

use super::super::session::{hash_secret, random_hex_256};
use super::{Auth, AuthError, MfaError};
use crate::store::{CredentialRow, UserRow};

/// How long a ceremony may take, and how long its state is kept.
const CEREMONY: Duration = Duration::minutes(2);

const REGISTER: &str = "register";
const SECOND_FACTOR: &str = "second_factor";
const PASSKEY_SIGN_IN: &str = "passkey_sign_in";

/// This server as a WebAuthn relying party, when its issuer has a domain name (browsers
/// refuse WebAuthn on bare IP addresses).
#[derive(Clone)]
pub struct RelyingParty(Arc<Webauthn>);

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelyingParty")
    }
}

impl RelyingParty {
    pub fn for_issuer(issuer: &str, name: &str) -> Option<Self> {
        let url = Url::parse(issuer).ok()?;
        let rp_id = url.domain()?.to_owned();
        let origin = Url::parse(&url.origin().ascii_serialization()).ok()?;
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .ok()?
            .rp_name(name)
            .timeout(StdDuration::from_secs(120))
            .build()
            .ok()?;
        Some(Self(Arc::new(webauthn)))
    }
}

/// Security keys are a second factor; passkeys (discoverable, user-verifying) also sign in
/// on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    SecurityKey,
    Passkey,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecurityKey => "security_key",
            Self::Passkey => "passkey",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "security_key" => Some(Self::SecurityKey),
            "passkey" => Some(Self::Passkey),
            _ => None,
        }
    }

    /// How the kind is named on screen and in email.
    pub fn label(self) -> &'static str {
        match self {
            Self::SecurityKey => "security key",
            Self::Passkey => "passkey",
        }
    }
}

/// What the browser needs for a ceremony: the options for `navigator.credentials`, and the
/// handle that names the server-side state when the answer comes back.
#[derive(Debug)]
pub struct CeremonyOptions {
    pub handle: SecretString,
    pub options_json: String,
}

#[derive(Serialize, Deserialize)]
enum RegistrationState {
    SecurityKey(SecurityKeyRegistration),
    Passkey(PasskeyRegistration),
}

/// A checked assertion: the credential used, its updated form, and what it proved.
pub(super) struct Asserted {
    pub row: CredentialRow,
    pub updated: Credential,
    pub result: AuthenticationResult,
}

impl Asserted {
    /// RFC 8176 methods: synced passkeys are software keys, others hardware; `user` when the
    /// authenticator verified the person (PIN or biometric).
    pub fn amr(&self) -> Vec<&'static str> {
        let mut methods = vec![if self.result.backup_eligible() {
            "swk"
        } else {
            "hwk"
        }];
        if self.result.user_verified() {
            methods.push("user");
        }
        methods
    }
}

/// The credential id as stored: base64url without padding.
pub(super) fn credential_key(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn refused(e: &WebauthnError) -> MfaError {
    match e {
        WebauthnError::CredentialPossibleCompromise => MfaError::KeyCloned,
        other => MfaError::KeyRefused(other.to_string()),
    }
}

fn stored(row: &CredentialRow) -> Result<Credential, AuthError> {
    serde_json::from_str(&row.credential)
        .map_err(|e| AuthError::Store(crate::store::StoreError::Corrupt(e.to_string())))
}

fn json<T: Serialize>(value: &T) -> Result<String, AuthError> {
    serde_json::to_string(value).map_err(|e| AuthError::Mail(format!("webauthn state: {e}")))
}

fn user_handle(user: &UserRow) -> Uuid {
    Uuid::parse_str(&user.id).unwrap_or_default()
}

impl Auth {
    fn relying_party(&self) -> Result<&Webauthn, MfaError> {
        self.webauthn
            .as_ref()
            .map(|rp| rp.0.as_ref())
            .ok_or(MfaError::KeysUnavailable)
    }

    /// Whether this server can offer security keys and passkeys at all.
    pub fn keys_available(&self) -> bool {
        self.webauthn.is_some()
    }

    async fn save_ceremony(
        &self,
        user_id: Option<&str>,
        purpose: &str,
        state: String,
        options_json: String,
    ) -> Result<CeremonyOptions, AuthError> {
        let now = self.clock.now();
        let handle = random_hex_256()?;
        self.store
            .insert_challenge(
                &hash_secret(&handle),
                user_id,
                purpose,
                &state,
                now,
                now + CEREMONY,
            )
            .await?;
        Ok(CeremonyOptions {
            handle: SecretString::from(handle),
            options_json,
        })
    }

    /// Takes the ceremony named by `handle` (once), checking it belongs to `user_id`.
    async fn take_ceremony(
        &self,
        handle: &str,
        purpose: &str,
        user_id: Option<&str>,
    ) -> Result<String, MfaError> {
        if handle.len() != 64 {
            return Err(MfaError::ChallengeExpired);
        }
        let (owner, state) = self
            .store
            .take_challenge(&hash_secret(handle), purpose, self.clock.now())
            .await?
            .ok_or(MfaError::ChallengeExpired)?;
        if owner.as_deref() != user_id {
            return Err(MfaError::KeyRefused(
                "the challenge belongs to another account".to_owned(),
            ));
        }
        Ok(state)
    }

    /// Starts registering a security key or passkey for `user`.
    pub async fn start_key_registration(
        &self,
        user: &UserRow,
        kind: KeyKind,
    ) -> Result<CeremonyOptions, MfaError> {
        let rp = self.relying_party()?;
        let existing = self.store.credentials(&user.id).await?;
        let exclude = existing
            .iter()
            .map(stored)
            .map(|c| c.map(|c| c.cred_id))
            .collect::<Result<Vec<_>, _>>()?;
        let display = format!("{} {}", user.given_name, user.family_name);
        let handle = user_handle(user);
        let (options, state) = match kind {
            KeyKind::SecurityKey => {
                let (ccr, state) = rp
                    .start_securitykey_registration(
                        handle,
                        &user.email,
                        &display,
                        Some(exclude),
                        None,
                        None,
                    )
                    .map_err(|e| refused(&e))?;
                (ccr, RegistrationState::SecurityKey(state))
            }
            KeyKind::Passkey => {
                let (mut ccr, state) = rp
                    .start_passkey_registration(handle, &user.email, &display, Some(exclude))
                    .map_err(|e| refused(&e))?;
                // A passkey must be discoverable, so it can sign in without an email address.
                if let Some(selection) = ccr.public_key.authenticator_selection.as_mut() {
                    selection.require_resident_key = true;
                    selection.resident_key = Some(ResidentKeyRequirement::Required);
                }
                (ccr, RegistrationState::Passkey(state))
            }
        };
        Ok(self
            .save_ceremony(Some(&user.id), REGISTER, json(&state)?, json(&options)?)
            .await?)
    }

    /// Checks a registration response against its ceremony.
    pub(super) async fn check_registration(
        &self,
        user: &UserRow,
        handle: &str,
        response: &str,
    ) -> Result<(KeyKind, Credential), MfaError> {
        let rp = self.relying_party()?;
        let state = self.take_ceremony(handle, REGISTER, Some(&user.id)).await?;
        let state: RegistrationState = serde_json::from_str(&state)
            .map_err(|e| AuthError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
        let response: RegisterPublicKeyCredential = serde_json::from_str(response)
            .map_err(|_| MfaError::KeyRefused("the response could not be read".to_owned()))?;
        match state {
            RegistrationState::SecurityKey(state) => rp
                .finish_securitykey_registration(&response, &state)
                .map(|k| (KeyKind::SecurityKey, Credential::from(k))),
            RegistrationState::Passkey(state) => rp
                .finish_passkey_registration(&response, &state)
                .map(|k| (KeyKind::Passkey, Credential::from(k))),
        }
        .map_err(|e| refused(&e))
    }

    /// Starts a second-factor assertion with any of the person's keys.
    pub async fn start_key_assertion(
        &self,
        user_id: &str,
        keys: &[CredentialRow],
    ) -> Result<CeremonyOptions, MfaError> {
        let rp = self.relying_party()?;
        let creds = keys
            .iter()
            .map(|k| stored(k).map(SecurityKey::from))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = rp
            .start_securitykey_authentication(&creds)
            .map_err(|e| refused(&e))?;
        Ok(self
            .save_ceremony(Some(user_id), SECOND_FACTOR, json(&state)?, json(&options)?)
            .await?)
    }

    /// Checks a second-factor assertion.
    pub(super) async fn check_assertion(
        &self,
        user_id: &str,
        keys: &[CredentialRow],
        handle: &str,
        response: &str,
    ) -> Result<Asserted, MfaError> {
        let rp = self.relying_party()?;
        let state = self
            .take_ceremony(handle, SECOND_FACTOR, Some(user_id))
            .await?;
        let state: SecurityKeyAuthentication = serde_json::from_str(&state)
            .map_err(|e| AuthError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
        let response: PublicKeyCredential = serde_json::from_str(response)
            .map_err(|_| MfaError::KeyRefused("the response could not be read".to_owned()))?;
        let used = credential_key(response.get_credential_id());
        let row = keys
            .iter()
            .find(|k| k.credential_id == used)
            .cloned()
            .ok_or_else(|| MfaError::KeyRefused("not one of this account's keys".to_owned()))?;
        let result = rp.finish_securitykey_authentication(&response, &state);
        let result = match result {
            Ok(result) => result,
            Err(e) => return Err(self.counter_aware(&e, &row).await),
        };
        let mut key = SecurityKey::from(stored(&row)?);
        key.update_credential(&result);
        Ok(Asserted {
            row,
            updated: Credential::from(key),
            result,
        })
    }

    /// A counter that went backwards suggests a cloned key: recorded on the credential and
    /// in the audit trail, and the assertion refused.
    async fn counter_aware(&self, e: &WebauthnError, row: &CredentialRow) -> MfaError {
        let error = refused(e);
        if matches!(error, MfaError::KeyCloned) {
            let now = self.clock.now();
            let id = crate::domain::UserId::from_stored(row.user_id.clone());
            let recorded = async {
                let mut tx = self.store.begin().await?;
                self.store
                    .credential_counter_regressed(&mut tx, &row.id, now)
                    .await?;
                let event =
                    crate::audit::AuditEvent::new(crate::audit::Action::WebauthnCounterRegressed)
                        .subject(&id)
                        .details(serde_json::json!({ "credential": row.id, "name": row.name }));
                self.store.append_audit(&mut tx, &event, now).await?;
                tx.commit().await
            };
            if let Err(e) = recorded.await {
                return MfaError::from(e);
            }
        }
        error
    }

    /// Starts a passwordless sign-in: any passkey of any account may answer.
    pub async fn start_passkey_sign_in(&self) -> Result<CeremonyOptions, MfaError> {
        let rp = self.relying_party()?;
        let (mut options, state) = rp
            .start_discoverable_authentication()
            .map_err(|e| refused(&e))?;
        // Started by a button, not by autofill.
        options.mediation = None;
        Ok(self
            .save_ceremony(None, PASSKEY_SIGN_IN, json(&state)?, json(&options)?)
            .await?)
    }

    /// Checks a passwordless assertion: the passkey must be registered as one, belong to the
    /// account its user handle names, and have verified the person.
    pub(super) async fn check_passkey_sign_in(
        &self,
        handle: &str,
        response: &str,
    ) -> Result<Asserted, MfaError> {
        let rp = self.relying_party()?;
        let state = self.take_ceremony(handle, PASSKEY_SIGN_IN, None).await?;
        let state: DiscoverableAuthentication = serde_json::from_str(&state)
            .map_err(|e| AuthError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
        let response: PublicKeyCredential = serde_json::from_str(response)
            .map_err(|_| MfaError::KeyRefused("the response could not be read".to_owned()))?;
        let (handle_uuid, cred_id) = rp
            .identify_discoverable_authentication(&response)
            .map_err(|e| refused(&e))?;
        let row = self
            .store
            .credential_by_id(&credential_key(cred_id))
            .await?
            .filter(|row| row.kind == KeyKind::Passkey.as_str())
            .ok_or_else(|| MfaError::KeyRefused("not a registered passkey".to_owned()))?;
        if Uuid::parse_str(&row.user_id).ok() != Some(handle_uuid) {
            return Err(MfaError::KeyRefused(
                "the passkey names another account".to_owned(),
            ));
        }
        let credential = stored(&row)?;
        let result = match rp.finish_discoverable_authentication_v2(&response, state, &credential) {
            Ok(result) => result,
            Err(e) => return Err(self.counter_aware(&e, &row).await),
        };
        let mut key = Passkey::from(credential);
        key.update_credential(&result);
        Ok(Asserted {
            row,
            updated: Credential::from(key),
            result,
        })
    }
}
