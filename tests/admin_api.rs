//! The admin API, on both engines, as automation would use it: a service's own
//! client_credentials token with admin scopes finds accounts, reads one, lists organisations
//! and services and searches the audit trail; every call is audited under the service; a
//! token without the scope gets 403 insufficient_scope, no token or a person's token 401;
//! bad parameters 400; the OpenAPI document describes it all. With `admin.accounts.write` it
//! makes the helpdesk's changes, with the same reasons, refusals and audit; unknown body
//! fields are a 400. A signed-in person's browser session is refused and audited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::oidc::{PASSWORD, Spec};
use common::{Engine, TestApp};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::directory::Level;
use gatehouse::oidc::GrantType;

both_engines!(
    automation_reads_accounts_directory_and_audit,
    automation_changes_accounts_as_the_helpdesk_would,
    a_signed_in_session_is_refused_and_audited
);

const ANA: &str = "ana.lopez@oakhurst.example";

/// A client_credentials access token for `id` with `scope`.
async fn token(app: &TestApp, id: &str, secret: &str, scope: &str) -> String {
    let answer = app
        .client
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = answer.json().await.unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, serde_json::Value, String) {
    let mut request = app.client.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let challenge = answer
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = answer.json().await.unwrap_or(serde_json::Value::Null);
    (status, body, challenge)
}

async fn automation_reads_accounts_directory_and_audit(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let directory = app.directory_with_schools().await;
    let ana_id = app.create_named_user(ANA, "Ana", "Lopez", PASSWORD).await;
    let ana = app.store.user_by_id(&ana_id).await.unwrap().unwrap();
    let ctx = RequestContext::default();
    directory
        .add_member(&ana, "100019", Level::Approver, Actor::Cli, &ctx)
        .await
        .unwrap();
    let robot = app
        .register(Spec {
            grants: vec![GrantType::ClientCredentials],
            scopes: "admin.accounts admin.directory admin.audit",
            ..Spec::confidential("automation")
        })
        .await;
    let reader = app
        .register(Spec {
            grants: vec![GrantType::ClientCredentials],
            scopes: "admin.directory",
            ..Spec::confidential("reader")
        })
        .await;
    let all = token(
        &app,
        "automation",
        robot.secret.as_deref().unwrap(),
        "admin.accounts admin.directory admin.audit",
    )
    .await;
    let directory_only = token(
        &app,
        "reader",
        reader.secret.as_deref().unwrap(),
        "admin.directory",
    )
    .await;

    // Accounts.
    let (status, body, _) = get(&app, "/manage/api/accounts?q=ana", Some(&all)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accounts"][0]["email"], ANA);
    assert_eq!(
        body["accounts"][0]["organisations"][0],
        "Oakhurst CofE Primary School"
    );
    assert!(body["next_page"].is_null());
    let (status, body, _) = get(&app, &format!("/manage/api/accounts/{ana_id}"), Some(&all)).await;
    assert_eq!(status, 200);
    assert_eq!(body["organisations"][0]["level"], "approver");
    assert_eq!(body["organisations"][0]["code"], "100019");
    let (status, _, _) = get(&app, "/manage/api/accounts/nobody", Some(&all)).await;
    assert_eq!(status, 404);
    let (status, body, _) = get(&app, "/manage/api/accounts?status=root", Some(&all)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");

    // Directory.
    let (status, body, _) = get(
        &app,
        "/manage/api/organisations?q=100019",
        Some(&directory_only),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["name"], "Oakhurst CofE Primary School");
    let (_, body, _) = get(&app, "/manage/api/services", Some(&directory_only)).await;
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["client_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"automation") && ids.contains(&"reader"));
    assert!(!body.to_string().contains("secret"));

    // Scopes and tokens.
    let (status, body, challenge) =
        get(&app, "/manage/api/accounts?q=ana", Some(&directory_only)).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "insufficient_scope");
    assert!(challenge.contains("insufficient_scope"));
    let (status, _, challenge) = get(&app, "/manage/api/accounts?q=ana", None).await;
    assert_eq!(status, 401);
    assert!(challenge.starts_with("Bearer"));
    let (status, _, _) = get(&app, "/manage/api/audit", Some("not.a.token")).await;
    assert_eq!(status, 401);

    // The audit trail, through the API, shows the service's own reads.
    let (status, body, _) = get(
        &app,
        &format!("/manage/api/audit?account={ana_id}"),
        Some(&all),
    )
    .await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"staff.account_viewed"), "{actions:?}");
    let viewed = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "staff.account_viewed")
        .unwrap();
    assert_eq!(viewed["actor"], "service:automation");
    let (status, _, _) = get(&app, "/manage/api/audit?since=yesterday", Some(&all)).await;
    assert_eq!(status, 400);
    let (status, body, _) = get(
        &app,
        "/manage/api/audit?since=2000-01-01T00:00:00Z",
        Some(&all),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["events"][0]["seq"] == 1 && body["events"][0]["hash"].is_string());
    assert!(app.store.verify_audit_chain().await.unwrap().is_ok());

    // Described by the code.
    let (status, doc, _) = get(&app, "/manage/api/openapi.json", None).await;
    assert_eq!(status, 200);
    for path in [
        "/manage/api/accounts",
        "/manage/api/accounts/{id}",
        "/manage/api/organisations",
        "/manage/api/services",
        "/manage/api/audit",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// Sends `body` as JSON with `method` to `path` with `token`; (status, JSON answer).
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let answer = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (
        status,
        answer.json().await.unwrap_or(serde_json::Value::Null),
    )
}

async fn automation_changes_accounts_as_the_helpdesk_would(engine: Engine) {
    use reqwest::Method;
    use serde_json::json;

    let app = TestApp::spawn(engine).await;
    let directory = app.directory_with_schools().await;
    app.organisation_service(
        &directory,
        "census",
        "openid organisation",
        &[("submitter", "Submitter")],
    )
    .await;
    let ana_id = app.create_named_user(ANA, "Ana", "Lopez", PASSWORD).await;
    let ana = ana_id.to_string();
    let robot = app
        .register(Spec {
            grants: vec![GrantType::ClientCredentials],
            scopes: "admin.accounts admin.accounts.write",
            ..Spec::confidential("automation")
        })
        .await;
    let secret = robot.secret.as_deref().unwrap();
    let read_only = token(&app, "automation", secret, "admin.accounts").await;
    let write = token(&app, "automation", secret, "admin.accounts.write").await;
    let why = |extra: serde_json::Value| {
        let mut body = json!({ "reason": "correcting_records", "note": "HR feed 2026-11-27" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let path = format!("/manage/api/accounts/{ana}");

    // Reading is not writing.
    let (status, body) = send(
        &app,
        Method::PATCH,
        &path,
        &read_only,
        why(json!({ "given_name": "Anna", "family_name": "Lopez" })),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );

    // Mass assignment: a field the endpoint does not take is a 400, nothing changes.
    let (status, body) = send(
        &app,
        Method::PATCH,
        &path,
        &write,
        why(
            json!({ "given_name": "Anna", "family_name": "Lopez", "status": "active",
            "email_verified": true }),
        ),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("unknown field")
    );
    let (status, body) = send(
        &app,
        Method::POST,
        &format!("{path}/actions"),
        &write,
        why(json!({ "action": "deactivate", "role": "admin" })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let row = || async { app.store.user_by_id(&ana_id).await.unwrap().unwrap() };
    assert_eq!(
        (row().await.given_name, row().await.status),
        ("Ana".into(), "active".into())
    );

    // A reason from the fixed list and a note are required.
    let (status, body) = send(
        &app,
        Method::POST,
        &format!("{path}/actions"),
        &write,
        json!({ "action": "deactivate", "reason": "because", "note": "" }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("reason: Select a reason")
    );

    // Changes: a name, an organisation, its services, a deactivation; each audited once
    // under the service.
    let (status, body) = send(
        &app,
        Method::PATCH,
        &path,
        &write,
        why(json!({ "given_name": "Anna", "family_name": "López" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(row().await.given_name, "Anna");
    let (status, body) = send(
        &app,
        Method::POST,
        &format!("{path}/memberships"),
        &write,
        why(json!({ "organisation": "100019", "level": "member" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let school = app
        .store
        .organisation_by_urn("100019")
        .await
        .unwrap()
        .unwrap();
    let services = format!("{path}/memberships/{}/services", school.id);
    let (status, body) = send(
        &app,
        Method::PUT,
        &services,
        &write,
        why(json!({ "services": [{ "service": "census", "roles": ["owner"] }] })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = send(
        &app,
        Method::PUT,
        &services,
        &write,
        why(json!({ "services": [{ "service": "census", "roles": ["submitter"] }] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.store
            .access_roles(&ana, &school.id, "census")
            .await
            .unwrap(),
        vec!["submitter".to_owned()]
    );
    let (status, _) = send(
        &app,
        Method::POST,
        "/manage/api/accounts/nobody/actions",
        &write,
        why(json!({ "action": "unlock" })),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = send(
        &app,
        Method::POST,
        &format!("{path}/actions"),
        &write,
        why(json!({ "action": "unlock" })),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let (status, _) = send(
        &app,
        Method::POST,
        &format!("{path}/actions"),
        &write,
        why(json!({ "action": "deactivate" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(row().await.status, "deactivated");
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("{path}/memberships/{}", school.id),
        &write,
        why(json!({})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        app.store
            .membership(&ana, &school.id)
            .await
            .unwrap()
            .is_none()
    );

    let trail = app.audit_of(&ana_id).await;
    for action in [
        "user.renamed",
        "membership.added",
        "access.granted",
        "user.status_changed",
        "membership.removed",
    ] {
        let found: Vec<_> = trail.iter().filter(|e| e.action == action).collect();
        assert_eq!(found.len(), 1, "{action}");
        assert_eq!(found[0].actor, "service:automation", "{action}");
        assert_eq!(
            found[0].reason.as_deref(),
            Some("correcting_records"),
            "{action}"
        );
    }

    // Described by the code.
    let (_, doc, _) = get(&app, "/manage/api/openapi.json", None).await;
    assert!(doc["paths"]["/manage/api/accounts/{id}"]["patch"].is_object());
    assert!(doc["paths"]["/manage/api/accounts/{id}/actions"]["post"].is_object());
    assert!(
        doc["paths"]["/manage/api/accounts/{id}/memberships/{organisation_id}/services"]["put"]
            .is_object()
    );
}

async fn a_signed_in_session_is_refused_and_audited(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let hana = app
        .create_named_user("hana.ito@helpdesk.example", "Hana", "Ito", PASSWORD)
        .await;
    let browser = app
        .verified_browser("hana.ito@helpdesk.example", PASSWORD)
        .await;
    let answer = browser.get("/manage/api/accounts?q=ana").await;
    assert_eq!(answer.status(), 403);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    let refused: Vec<_> = app
        .audit_of(&hana)
        .await
        .into_iter()
        .filter(|e| e.action == "staff.refused")
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].reason.as_deref(), Some("session_on_admin_api"));
}
