//! Authenticator apps (RFC 6238 TOTP with `totp-rs`): 160-bit secrets from the operating
//! system's CSPRNG, sealed with the data key, accepted for the current and previous 30-second
//! step only, each step once per person.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use subtle::ConstantTimeEq;
use totp_rs::{Builder, Totp};

use super::super::session::fill_random;
use super::super::throttle::account_delay;
use super::{Auth, AuthError, MfaError};
use crate::store::{TotpRow, UserRow};

/// Seconds per step (RFC 6238 §5.2's recommended default, and what every app assumes).
const STEP_SECONDS: i64 = 30;
/// An unconfirmed set-up is shown again for this long, then replaced.
const SETUP_LIFETIME_MINUTES: i64 = 15;

/// What the set-up page shows, once: the QR code and the same secret as text.
#[derive(Debug)]
pub struct TotpSetup {
    pub id: String,
    /// Base32, in groups of four for reading aloud or typing.
    pub secret_text: SecretString,
    /// The QR code of the `otpauth://` URI, as an SVG image.
    pub qr_svg: SecretString,
}

fn seal_context(id: &str) -> String {
    format!("totp:{id}")
}

fn totp_for(secret: Vec<u8>, account: &str) -> Result<Totp, AuthError> {
    Builder::new()
        .with_secret(secret)
        .with_skew(0)
        .with_account_name(account.replace(':', ""))
        .with_issuer(Some("Gatehouse"))
        .build()
        .map_err(|e| AuthError::Mail(format!("totp: {e}")))
}

/// A typed code, cleaned of the spaces people copy with it.
pub(super) fn parse_code(input: &str) -> Result<String, MfaError> {
    let code: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() {
        return Err(MfaError::CodeMissing);
    }
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MfaError::CodeFormat);
    }
    Ok(code)
}

/// The step (current first, then the previous one) whose code `code` is, if any.
fn matching_step(totp: &Totp, code: &str, now: DateTime<Utc>) -> Option<i64> {
    let current = now.timestamp().div_euclid(STEP_SECONDS);
    [current, current - 1].into_iter().find(|step| {
        let expected = totp.generate(u64::try_from(step * STEP_SECONDS).unwrap_or(0));
        bool::from(expected.to_string().as_bytes().ct_eq(code.as_bytes()))
    })
}

impl Auth {
    /// The set-up in progress for this person (started now if there is none, or it is old).
    pub async fn totp_setup(&self, user: &UserRow) -> Result<TotpSetup, AuthError> {
        let now = self.clock.now();
        let fresh_after = now.timestamp_millis() - SETUP_LIFETIME_MINUTES * 60_000;
        let existing = self
            .store
            .totp_factors(&user.id)
            .await?
            .into_iter()
            .find(|a| a.confirmed_at.is_none() && a.created_at > fresh_after);
        let (id, secret) = match existing {
            Some(row) => {
                let secret = self.unseal(&row)?;
                (row.id, secret)
            }
            None => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                let mut secret = vec![0u8; 20];
                fill_random(&mut secret)?;
                let sealed = self
                    .mailer
                    .data_key()
                    .seal(&secret, &seal_context(&id))
                    .map_err(|e| AuthError::Mail(e.to_string()))?;
                self.store
                    .insert_unconfirmed_totp(&id, &user.id, &sealed, now)
                    .await?;
                (id, secret)
            }
        };
        let totp = totp_for(secret, &user.email)?;
        let uri = totp
            .to_url()
            .map_err(|e| AuthError::Mail(format!("totp: {e}")))?;
        let qr = qrcode::QrCode::new(uri.as_bytes())
            .map_err(|e| AuthError::Mail(format!("qr: {e}")))?
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build();
        let base32 = totp.secret().to_base32();
        let grouped = base32
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(TotpSetup {
            id,
            secret_text: SecretString::from(grouped),
            qr_svg: SecretString::from(qr),
        })
    }

    fn unseal(&self, row: &TotpRow) -> Result<Vec<u8>, AuthError> {
        self.mailer
            .data_key()
            .open_sealed(&row.secret_sealed, &seal_context(&row.id))
            .map_err(|e| AuthError::Mail(format!("totp secret: {e}")))
    }

    /// Checks `code` against the unconfirmed set-up `id`; the step found is claimed later,
    /// in the transaction that confirms it.
    pub(super) async fn setup_step(
        &self,
        user: &UserRow,
        id: &str,
        code: &str,
    ) -> Result<i64, MfaError> {
        let row = self
            .store
            .totp_factors(&user.id)
            .await?
            .into_iter()
            .find(|a| a.id == id && a.confirmed_at.is_none())
            .ok_or(MfaError::Expired)?;
        let totp = totp_for(self.unseal(&row)?, &user.email)?;
        matching_step(&totp, code, self.clock.now()).ok_or(MfaError::CodeWrong)
    }

    /// Finds which usable app (and step) `code` belongs to, after the failure throttle.
    pub(super) async fn app_step(
        &self,
        user: &UserRow,
        apps: &[TotpRow],
        code: &str,
    ) -> Result<Option<(String, i64)>, MfaError> {
        let now = self.clock.now();
        let usable: Vec<&TotpRow> = apps.iter().filter(|a| a.disabled_at.is_none()).collect();
        if usable.is_empty() {
            return Err(MfaError::AppDisabled);
        }
        for app in &usable {
            if let Some(last) = app.last_failure_at {
                let wait = account_delay(app.failures).num_milliseconds();
                let left = last + wait - now.timestamp_millis();
                if left > 0 {
                    return Err(MfaError::Throttled(left.div_euclid(1000) + 1));
                }
            }
        }
        for app in usable {
            let totp = totp_for(self.unseal(app)?, &user.email)?;
            if let Some(step) = matching_step(&totp, code, now) {
                return Ok(Some((app.id.clone(), step)));
            }
        }
        Ok(None)
    }
}
