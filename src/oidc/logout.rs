//! Logout: validating RP-initiated logout requests (RP-Initiated Logout 1.0 §2–§3) and
//! delivering back-channel logout tokens (Back-Channel Logout 1.0 §2.4–§2.8) from the
//! database queue, with retries, so a service that is down is told when it is back.

use std::time::Duration;

use serde::Serialize;

use super::{Client, Oidc};
use crate::auth::session::random_hex_256;
use crate::crypto::{sign_jwt, verify_jwt};
use crate::store::{NoticeRow, StoreError};

/// Give up on a notice after this many attempts (about a day of back-off).
const MAX_ATTEMPTS: i64 = 16;
/// How long one node owns a notice it is sending.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// A validated logout request.
#[derive(Debug)]
pub struct EndSession {
    pub client: Option<Client>,
    /// The person the `id_token_hint` names.
    pub hint_sub: Option<String>,
    /// Where to send the browser afterwards, with `state` added.
    pub redirect: Option<String>,
}

impl Oidc {
    /// Checks the parameters of /end_session; an error is shown to the person as a page.
    pub async fn validate_end_session(
        &self,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<EndSession, String> {
        let mut hint_sub = None;
        let mut hint_client = None;
        if let Some(hint) = id_token_hint.filter(|h| !h.is_empty()) {
            let claims = verify_jwt(hint, &self.keys, None)
                .map_err(|_| "The sign-out link is not valid.".to_owned())?
                .claims;
            if claims.get("iss").and_then(|v| v.as_str()) != Some(self.issuer.as_str()) {
                return Err("The sign-out link is not valid.".into());
            }
            hint_sub = claims
                .get("sub")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            hint_client = match claims.get("aud") {
                Some(serde_json::Value::String(a)) => Some(a.clone()),
                Some(serde_json::Value::Array(a)) => {
                    a.first().and_then(|v| v.as_str()).map(str::to_owned)
                }
                _ => None,
            };
        }
        let client_id = match (hint_client, client_id.filter(|c| !c.is_empty())) {
            (Some(a), Some(b)) if a != b => {
                return Err("The sign-out link names two different services.".into());
            }
            (a, b) => a.or_else(|| b.map(str::to_owned)),
        };
        let client = match &client_id {
            Some(id) => Some(
                self.client(id)
                    .await
                    .map_err(|_| "Sign-out is not available right now.".to_owned())?
                    .ok_or_else(|| {
                        "The service that sent you here is not registered.".to_owned()
                    })?,
            ),
            None => None,
        };
        let redirect = match post_logout_redirect_uri.filter(|u| !u.is_empty()) {
            None => None,
            Some(uri) => {
                let client = client.as_ref().ok_or_else(|| {
                    "The sign-out link does not say which service it came from.".to_owned()
                })?;
                let registered = client.post_logout_redirect_uri(uri).ok_or_else(|| {
                    "The service's return address is not one it registered.".to_owned()
                })?;
                let mut url = url::Url::parse(registered.as_str())
                    .map_err(|_| "The service's return address is not valid.".to_owned())?;
                if let Some(state) = state {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(url.to_string())
            }
        };
        Ok(EndSession {
            client,
            hint_sub,
            redirect,
        })
    }

    /// Removes notices delivered or given up more than a day ago.
    pub async fn sweep_logout_notices(&self) -> Result<u64, StoreError> {
        let before = self.clock.now() - chrono::Duration::days(1);
        self.store.delete_finished_logout_notices(before).await
    }

    /// Sends every due logout notice once; returns how many were delivered.
    pub async fn deliver_due_notices(&self, http: &reqwest::Client) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let due = self.store.due_logout_notices(now, 20).await?;
        let mut delivered = 0;
        for notice in due {
            if !self
                .store
                .claim_logout_notice(&notice, now, now + LEASE)
                .await?
            {
                continue; // another node took it
            }
            let result = self.send_notice(http, &notice).await;
            let now = self.clock.now();
            match result {
                Ok(()) => {
                    self.store.logout_notice_delivered(&notice.id, now).await?;
                    delivered += 1;
                }
                Err(why) => {
                    let attempts = notice.attempts + 1;
                    let backoff = chrono::Duration::seconds(5 * (1_i64 << attempts.min(13)));
                    let give_up = attempts >= MAX_ATTEMPTS;
                    tracing::warn!(client_id = %notice.client_id, attempts, error = %why, give_up, "back-channel logout not delivered");
                    self.store
                        .logout_notice_failed(
                            &notice.id,
                            &why,
                            now + backoff,
                            give_up.then_some(now),
                        )
                        .await?;
                }
            }
        }
        Ok(delivered)
    }

    async fn send_notice(&self, http: &reqwest::Client, notice: &NoticeRow) -> Result<(), String> {
        let client = self
            .client(&notice.client_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the service no longer exists")?;
        let uri = client
            .backchannel_logout_uri
            .as_ref()
            .ok_or("the service no longer listens for logouts")?;
        let token = self.logout_token(&client, notice)?;
        let response = http
            .post(uri.as_str())
            .form(&[("logout_token", token)])
            .send()
            .await
            .map_err(|e| format!("could not reach the service: {}", e.without_url()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the service answered {}", response.status()))
        }
    }

    /// Back-Channel Logout 1.0 §2.4: `iss`, `aud`, `iat`, `exp`, `jti`, `events`, `sid`,
    /// `sub`, and never a `nonce`; typed `logout+jwt` (§2.4, RFC 8725 §3.11).
    fn logout_token(&self, client: &Client, notice: &NoticeRow) -> Result<String, String> {
        #[derive(Serialize)]
        struct LogoutClaims<'a> {
            iss: &'a str,
            aud: &'a str,
            iat: i64,
            exp: i64,
            jti: String,
            sub: &'a str,
            sid: &'a str,
            events: serde_json::Value,
        }
        let key = self
            .keys
            .signing_key(client.id_token_alg)
            .ok_or("no signing key")?;
        let now = self.clock.now().timestamp();
        let jti = random_hex_256().map_err(|e| e.to_string())?;
        let claims = LogoutClaims {
            iss: self.issuer.as_str(),
            aud: &client.id,
            iat: now,
            exp: now + 120,
            jti: jti[..32].to_owned(),
            sub: &notice.user_id,
            sid: &notice.sid,
            events: serde_json::json!({ "http://schemas.openid.net/event/backchannel-logout": {} }),
        };
        sign_jwt("logout+jwt", &claims, &key).map_err(|e| e.to_string())
    }
}

/// The HTTP client logout tokens are sent with: short timeout, never follows redirects.
pub fn logout_http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Gatehouse back-channel logout")
        .build()
}

/// One pass of the queue, logging instead of failing (for the background task).
pub async fn deliver_due_notices(oidc: &Oidc, http: &reqwest::Client) {
    if let Err(e) = oidc.deliver_due_notices(http).await {
        tracing::error!(error = %e, "back-channel logout queue could not be read");
    }
}
