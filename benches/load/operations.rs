//! Each operation the table measures, as one call a load-generator worker repeats. A call
//! answers 200 when the operation succeeded as a client would want, whatever the HTTP status
//! of its last step.

use std::sync::{Arc, Mutex};

use crate::drive::DONE;
use crate::estate::{EMAIL, PASSWORD, REDIRECT, Waiting, code_now};
use crate::support::{cookie, sign_in_form, sign_in_post, status};

type Answer = Result<u16, reqwest::Error>;

/// Refreshes one token of the pool and puts the new one back (each chain is used by one
/// worker at a time, as one service instance would).
pub async fn refresh(
    client: reqwest::Client,
    base: String,
    secret: &str,
    pool: Arc<Mutex<Vec<String>>>,
) -> Answer {
    let Some(old) = pool.lock().unwrap().pop() else {
        return Ok(DONE);
    };
    let answer = client
        .post(format!("{base}/token"))
        .basic_auth("portal", Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &old)])
        .send()
        .await?;
    let code = answer.status().as_u16();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    match body["refresh_token"].as_str() {
        Some(new) => pool.lock().unwrap().push(new.to_owned()),
        None => pool.lock().unwrap().push(old),
    }
    Ok(code)
}

pub fn authorize_url(base: &str, challenge: &str) -> String {
    format!(
        "{base}/authorize?client_id=portal&redirect_uri={}&response_type=code\
         &scope=openid%20email%20offline_access&code_challenge={challenge}\
         &code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    )
}

/// Asks for a code with a session, from the address `from` (as the balancer forwards it);
/// `None` when no code came back.
async fn code(
    client: &reqwest::Client,
    url: &str,
    session: &str,
    from: &str,
) -> Result<Option<String>, reqwest::Error> {
    let answer = client
        .get(url)
        .header("cookie", session)
        .header("x-forwarded-for", from)
        .send()
        .await?;
    let location = answer
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    answer.bytes().await?;
    Ok(url::Url::parse(&location).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
    }))
}

/// Redeems a code; returns the token response.
async fn redeem(
    client: &reqwest::Client,
    base: &str,
    secret: &str,
    code: &str,
    verifier: &str,
) -> Result<(u16, serde_json::Value), reqwest::Error> {
    let answer = client
        .post(format!("{base}/token"))
        .basic_auth("portal", Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await?;
    let code = answer.status().as_u16();
    Ok((code, answer.json().await.unwrap_or_default()))
}

/// A signed-in person's code exchanged for tokens; returns the token response.
pub async fn tokens_for_session(
    client: &reqwest::Client,
    base: &str,
    secret: &str,
    session: &str,
) -> serde_json::Value {
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let url = authorize_url(base, challenge.as_str());
    let code = code(client, &url, session, "10.0.0.1")
        .await
        .unwrap()
        .unwrap();
    redeem(client, base, secret, &code, verifier.secret())
        .await
        .unwrap()
        .1
}

/// Signs the bench person in with their password; the session cookie.
pub async fn session(client: &reqwest::Client, base: &str) -> String {
    let form = sign_in_form(client, base).await.unwrap();
    let answer = sign_in_post(client, base, &form, EMAIL, PASSWORD)
        .send()
        .await
        .unwrap();
    cookie(&answer, "gatehouse_session").unwrap()
}

/// The whole journey of a person arriving from a service: the sign-in form, the password,
/// the code, and the service's token request. Each journey comes from another school's
/// address, as a morning rush does (one address may start 300 and then 120 a minute).
pub async fn full_flow(client: reqwest::Client, base: String, secret: &str) -> Answer {
    let from = format!("10.{}.{}.{}", rand_byte(), rand_byte(), rand_byte());
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let url = authorize_url(&base, challenge.as_str());
    let form = sign_in_form(&client, &base).await?;
    let answer = sign_in_post(&client, &base, &form, EMAIL, PASSWORD)
        .send()
        .await?;
    let Some(session) = cookie(&answer, "gatehouse_session") else {
        return Ok(answer.status().as_u16());
    };
    answer.bytes().await?;
    let Some(code) = code(&client, &url, &session, &from).await? else {
        return Ok(1);
    };
    Ok(redeem(&client, &base, secret, &code, verifier.secret())
        .await?
        .0)
}

/// The sign-in form and a password sign-in; 200 when a session was opened.
pub async fn password_sign_in(client: reqwest::Client, base: String) -> Answer {
    let form = sign_in_form(&client, &base).await?;
    let answer = sign_in_post(&client, &base, &form, EMAIL, PASSWORD)
        .send()
        .await?;
    let opened = cookie(&answer, "gatehouse_session").is_some();
    let code = status(answer).await?;
    Ok(if opened && code == 303 { 200 } else { code })
}

/// One person waiting at the second step gives their app's code; 200 when it was accepted.
pub async fn totp(
    client: reqwest::Client,
    base: String,
    queue: Arc<Mutex<Vec<Waiting>>>,
) -> Answer {
    let Some(w) = queue.lock().unwrap().pop() else {
        return Ok(DONE);
    };
    let answer = client
        .post(format!("{base}/sign-in/verify"))
        .header("cookie", &w.cookies)
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", w.csrf_token.as_str()),
            ("method", "code"),
            ("return_to", "/account"),
            ("code", &code_now(&w.secret)),
        ])
        .send()
        .await?;
    let opened = cookie(&answer, "gatehouse_session").is_some();
    let code = status(answer).await?;
    Ok(if opened && code == 303 { 200 } else { code })
}

fn rand_byte() -> u8 {
    let mut b = [0u8; 1];
    getrandom::fill(&mut b).unwrap();
    b[0]
}
