//! Administrators run the service from the console, on both engines: register a service (its
//! secret shown once and stored only hashed, so it works at the token endpoint), change its
//! redirect URIs, 2-step requirement and token lifetime with errors beside the fields, rotate
//! the secret, define and remove roles; rotate and retire signing keys; add and correct
//! organisations. Everything audited; helpdesk staff are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::keys::{ISSUER, admin_browser};
use common::oidc::PASSWORD;
use common::{Browser, Engine, TestApp, location};

both_engines!(
    administrators_register_and_change_services,
    administrators_rotate_and_retire_signing_keys,
    administrators_add_and_correct_organisations
);

const ADA: &str = "ada.admin@dfe.example";

/// Submits a form on `page` to `action` with `fields` (the page's CSRF token added).
async fn submit(
    me: &Browser,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = me.csrf(page).await;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    me.post(action, &form).await
}

/// The secret shown on a secret page.
fn secret_on(html: &str) -> String {
    let at = html.find("<p class=\"secret\"><code>").unwrap() + "<p class=\"secret\"><code>".len();
    html[at..].chars().take_while(|c| *c != '<').collect()
}

/// Whether `secret` gets a client_credentials token for `census` (a grant the service is
/// not registered for answers `unauthorized_client`; a wrong secret `invalid_client`).
async fn secret_works(app: &TestApp, secret: &str) -> bool {
    let answer = app
        .client
        .post(app.url("/token"))
        .basic_auth("census", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body = answer.text().await.unwrap();
    !body.contains("invalid_client")
}

async fn administrators_register_and_change_services(engine: Engine) {
    let app = TestApp::spawn_with(engine, ISSUER).await;
    let me = admin_browser(&app, ADA, PASSWORD).await;
    let page = me.get("/manage/services").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("No service is registered yet")
    );

    let fields = |uris: &'static str| {
        vec![
            ("client_id", "census"),
            ("name", "School Census"),
            ("kind", "confidential"),
            ("redirect_uris", uris),
            ("post_logout_redirect_uris", ""),
            ("scopes", "openid profile organisation"),
            ("access_token_minutes", "10"),
            ("id_token_minutes", "10"),
            ("refresh_token_days", "30"),
        ]
    };
    let refused = submit(
        &me,
        "/manage/services",
        "/manage/services",
        &fields("http://census.example/cb#x"),
    )
    .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"redirect_uris-error\""), "{html}");
    let registered = submit(
        &me,
        "/manage/services",
        "/manage/services",
        &fields("https://census.example.gov.uk/callback"),
    )
    .await;
    assert_eq!(registered.status(), 200);
    let secret = secret_on(&registered.text().await.unwrap());
    assert_eq!(secret.len(), 64);
    assert!(secret_works(&app, &secret).await);
    assert!(!secret_works(&app, &"0".repeat(64)).await);
    let again = submit(
        &me,
        "/manage/services",
        "/manage/services",
        &fields("https://census.example.gov.uk/callback"),
    )
    .await;
    assert_eq!(again.status(), 422);
    assert!(again.text().await.unwrap().contains("already exists"));

    // Change it: errors beside the fields, then saved.
    let refused = submit(
        &me,
        "/manage/services/census",
        "/manage/services/census",
        &[
            ("name", "School Census"),
            ("redirect_uris", "https://census.example.gov.uk/callback"),
            ("scopes", "openid nonsense"),
            ("access_token_minutes", "600"),
            ("id_token_minutes", "ten"),
            ("refresh_token_days", "401"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    for field in [
        "scopes",
        "access_token_minutes",
        "id_token_minutes",
        "refresh_token_days",
    ] {
        assert!(html.contains(&format!("id=\"{field}-error\"")), "{field}");
    }
    let saved = submit(
        &me,
        "/manage/services/census",
        "/manage/services/census",
        &[
            ("name", "School Census 2027"),
            (
                "redirect_uris",
                "https://census.example.gov.uk/callback\nhttps://census.example.gov.uk/cb2",
            ),
            ("scopes", "openid profile organisation"),
            ("mfa_required", "on"),
            ("access_token_minutes", "5"),
            ("id_token_minutes", "2"),
            ("refresh_token_days", "7"),
        ],
    )
    .await;
    assert_eq!(location(&saved), "/manage/services/census?notice=saved");
    let client = app.store.client_by_id("census").await.unwrap().unwrap();
    assert_eq!(client.name, "School Census 2027");
    assert!(client.mfa_required);
    assert_eq!(
        (
            client.access_token_seconds,
            client.id_token_seconds,
            client.refresh_token_seconds
        ),
        (300, 120, 7 * 24 * 3600)
    );
    let shown = me
        .get("/manage/services/census")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        shown.contains(
            "name=\"refresh_token_days\" type=\"text\" inputmode=\"numeric\" value=\"7\""
        )
    );

    // A new secret, shown once; the old one keeps working for the grace period.
    let rotated = submit(
        &me,
        "/manage/services/census",
        "/manage/services/census/rotate-secret",
        &[],
    )
    .await;
    let new = secret_on(&rotated.text().await.unwrap());
    assert_ne!(new, secret);
    assert!(secret_works(&app, &new).await && secret_works(&app, &secret).await);
    let page = me
        .get("/manage/services/census")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains(&new) && !page.contains(&secret),
        "shown once"
    );

    // Roles.
    let bad = submit(
        &me,
        "/manage/services/census",
        "/manage/services/census/roles",
        &[("code", "has space"), ("name", "Submits")],
    )
    .await;
    assert_eq!(bad.status(), 422);
    let added = submit(
        &me,
        "/manage/services/census",
        "/manage/services/census/roles",
        &[("code", "submitter"), ("name", "Submits returns")],
    )
    .await;
    assert_eq!(
        location(&added),
        "/manage/services/census?notice=role-saved"
    );
    assert_eq!(app.store.roles("census").await.unwrap().len(), 1);
    let removed = submit(
        &me,
        "/manage/services/census",
        "/manage/services/census/roles/remove",
        &[("code", "submitter")],
    )
    .await;
    assert_eq!(
        location(&removed),
        "/manage/services/census?notice=role-removed"
    );
    assert!(app.store.roles("census").await.unwrap().is_empty());

    // All of it in the trail under the administrator.
    let ada = app
        .store
        .user_by_email(&gatehouse::domain::Email::parse(ADA).unwrap())
        .await
        .unwrap()
        .unwrap();
    let trail = app.store.audit_for_user(&ada.user_id(), 50).await.unwrap();
    for action in [
        "client.created",
        "client.updated",
        "client.secret_rotated",
        "service_role.defined",
        "service_role.removed",
    ] {
        assert!(trail.iter().any(|e| e.action == action), "{action} missing");
    }
    assert!(
        trail
            .iter()
            .all(|e| e.details.as_deref().is_none_or(|d| !d.contains(&new)))
    );

    // Helpdesk staff do not run services.
    let hal = "hal@helpdesk.example";
    let hal_id = app.create_user(hal, PASSWORD).await;
    let hal_browser = app.verified_browser(hal, PASSWORD).await;
    let row = app.store.user_by_id(&hal_id).await.unwrap().unwrap();
    gatehouse::staff::Staff::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()))
        .grant(
            &row,
            gatehouse::staff::StaffRole::Helpdesk,
            gatehouse::audit::Actor::Cli,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(hal_browser.get("/manage/services").await.status(), 403);
}

/// The key ids of `alg` listed on the keys page, with their states.
fn listed_keys(html: &str, alg: &str) -> Vec<(String, String)> {
    html.split("<tr><td><code>")
        .skip(1)
        .filter_map(|row| {
            let kid: String = row.chars().take_while(|c| *c != '<').collect();
            let cells: Vec<&str> = row.split("</td><td>").collect();
            (cells.get(1) == Some(&alg)).then(|| (kid, cells[2].to_owned()))
        })
        .collect()
}

async fn administrators_rotate_and_retire_signing_keys(engine: Engine) {
    let app = TestApp::spawn_with(engine, ISSUER).await;
    let me = admin_browser(&app, ADA, PASSWORD).await;
    let html = me.get("/manage/keys").await.text().await.unwrap();
    let before = listed_keys(&html, "RS256");
    assert_eq!(before.len(), 1, "{html}");
    let es256 = listed_keys(&html, "ES256");

    let refused = submit(
        &me,
        "/manage/keys",
        "/manage/keys/rotate",
        &[("alg", "HS256"), ("publish_minutes", "-1")],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"alg-error\"") && html.contains("id=\"publish_minutes-error\""));
    let rotated = submit(
        &me,
        "/manage/keys",
        "/manage/keys/rotate",
        &[("alg", "RS256"), ("publish_minutes", "0")],
    )
    .await;
    assert_eq!(location(&rotated), "/manage/keys?notice=rotated");
    let html = me.get("/manage/keys").await.text().await.unwrap();
    let after = listed_keys(&html, "RS256");
    assert_eq!(after.len(), 2);
    let jwks = app.get("/jwks").await.text().await.unwrap();
    assert!(
        after.iter().all(|(kid, _)| jwks.contains(kid.as_str())),
        "both published"
    );

    // The old key retires (the new one signs); the only ES256 key cannot.
    let old = &before[0].0;
    let retired = submit(&me, "/manage/keys", "/manage/keys/retire", &[("kid", old)]).await;
    assert_eq!(location(&retired), "/manage/keys?notice=retired");
    let html = me.get("/manage/keys").await.text().await.unwrap();
    assert!(
        listed_keys(&html, "RS256")
            .iter()
            .any(|(kid, state)| kid == old && state == "retired")
    );
    let refused = submit(
        &me,
        "/manage/keys",
        "/manage/keys/retire",
        &[("kid", &es256[0].0)],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("is the only usable ES256 key")
    );

    let ada = app
        .store
        .user_by_email(&gatehouse::domain::Email::parse(ADA).unwrap())
        .await
        .unwrap()
        .unwrap();
    let trail = app.store.audit_for_user(&ada.user_id(), 50).await.unwrap();
    assert!(trail.iter().any(|e| e.action == "key.created"));
    assert!(
        trail
            .iter()
            .any(|e| e.action == "key.retired"
                && e.details.as_deref().unwrap().contains(old.as_str()))
    );
}

async fn administrators_add_and_correct_organisations(engine: Engine) {
    let app = TestApp::spawn_with(engine, ISSUER).await;
    app.directory_with_schools().await;
    let me = admin_browser(&app, ADA, PASSWORD).await;
    let html = me
        .get("/manage/organisations?q=100019")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Oakhurst CofE Primary School"));

    let refused = submit(
        &me,
        "/manage/organisations",
        "/manage/organisations",
        &[
            ("kind", "school"),
            ("name", "Riverside Free School"),
            ("urn", "12"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("A URN is 6 or 7 digits")
    );
    let taken = submit(
        &me,
        "/manage/organisations",
        "/manage/organisations",
        &[
            ("kind", "school"),
            ("name", "Another Oakhurst"),
            ("urn", "100019"),
        ],
    )
    .await;
    assert_eq!(taken.status(), 422);
    assert!(taken.text().await.unwrap().contains("already exists"));
    let created = submit(
        &me,
        "/manage/organisations",
        "/manage/organisations",
        &[
            ("kind", "other"),
            ("name", "Regional Schools Group"),
            ("town", "Brampton"),
        ],
    )
    .await;
    assert_eq!(created.status(), 303);
    let page = location(&created);
    assert!(page.ends_with("?notice=created"));
    let path = page.trim_end_matches("?notice=created").to_owned();
    let saved = submit(
        &me,
        &path,
        &path,
        &[
            ("name", "Regional Schools Trust"),
            ("status", "closed"),
            ("town", "Brampton"),
            ("postcode", "br1 2ab"),
        ],
    )
    .await;
    assert_eq!(location(&saved), format!("{path}?notice=saved"));
    let html = me.get(&path).await.text().await.unwrap();
    assert!(html.contains("Regional Schools Trust") && html.contains("BR1 2AB"));
    let id = path.rsplit('/').next().unwrap();
    let org = app.store.organisation_by_id(id).await.unwrap().unwrap();
    assert_eq!(org.status, "closed");
    let ada = app
        .store
        .user_by_email(&gatehouse::domain::Email::parse(ADA).unwrap())
        .await
        .unwrap()
        .unwrap();
    let trail = app.store.audit_for_user(&ada.user_id(), 50).await.unwrap();
    assert!(trail.iter().any(|e| e.action == "organisation.created"));
    assert!(trail.iter().any(|e| e.action == "organisation.updated"));
}
