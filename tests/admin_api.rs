//! The admin API, on both engines, as automation would use it: a service's own
//! client_credentials token with admin scopes finds accounts, reads one, lists organisations
//! and services and searches the audit trail; every call is audited under the service; a
//! token without the scope gets 403 insufficient_scope, no token or a person's token 401;
//! bad parameters 400; the OpenAPI document describes it all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::oidc::{PASSWORD, Spec};
use common::{Engine, TestApp};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::directory::Level;
use gatehouse::oidc::GrantType;

both_engines!(automation_reads_accounts_directory_and_audit);

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
