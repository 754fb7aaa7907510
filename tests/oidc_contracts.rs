//! The contracts services build against, pinned as snapshots in `tests/snapshots/`: the
//! discovery document, the shape of the JWKS, and OAuth error bodies. A change shows up as
//! a diff to review; run with `UPDATE_SNAPSHOTS=1` to accept it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::oidc::Spec;
use common::{Engine, TestApp};

both_engines!(discovery_jwks_and_errors_match_their_snapshots);

fn check(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "snapshot {name} differs");
}

async fn discovery_jwks_and_errors_match_their_snapshots(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let discovery = app.get("/.well-known/openid-configuration").await;
    assert_eq!(discovery.status().as_u16(), 200);
    let text = discovery.text().await.unwrap();
    let document: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        document["issuer"],
        app.base.as_str(),
        "byte-identical issuer"
    );
    let pretty = serde_json::to_string_pretty(&document).unwrap() + "\n";
    check("discovery.json", &pretty.replace(&app.base, "{issuer}"));

    let jwks: serde_json::Value = app.get("/jwks").await.json().await.unwrap();
    let mut shape = String::new();
    for key in jwks["keys"].as_array().unwrap() {
        let mut fields: Vec<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        shape.push_str(&format!(
            "{} {} {} use={} fields={}\n",
            key["alg"].as_str().unwrap(),
            key["kty"].as_str().unwrap(),
            key["crv"].as_str().unwrap_or("-"),
            key["use"].as_str().unwrap(),
            fields.join(",")
        ));
    }
    let mut lines: Vec<&str> = shape.lines().collect();
    lines.sort_unstable();
    check("jwks_shape.txt", &(lines.join("\n") + "\n"));

    let service = app.register(Spec::confidential("portal")).await;
    let mut errors = serde_json::Map::new();
    let token = |form: Vec<(&'static str, &'static str)>, secret: Option<String>| {
        let request = app.client.post(app.url("/token")).form(&form);
        match secret {
            Some(secret) => request.basic_auth("portal", Some(secret)),
            None => request,
        }
        .send()
    };
    let secret = service.secret.clone();
    for (name, response) in [
        (
            "token_invalid_grant",
            token(
                vec![("grant_type", "authorization_code"), ("code", "nope")],
                secret.clone(),
            )
            .await
            .unwrap(),
        ),
        (
            "token_unsupported_grant_type",
            token(vec![("grant_type", "password")], secret.clone())
                .await
                .unwrap(),
        ),
        (
            "token_invalid_client",
            token(vec![("grant_type", "client_credentials")], None)
                .await
                .unwrap(),
        ),
        (
            "userinfo_invalid_token",
            app.client
                .get(app.url("/userinfo"))
                .bearer_auth("x.y.z")
                .send()
                .await
                .unwrap(),
        ),
    ] {
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: serde_json::Value = response.json().await.unwrap();
        errors.insert(
            name.to_owned(),
            serde_json::json!({ "status": status, "www-authenticate": challenge, "body": body }),
        );
    }
    check(
        "error_bodies.json",
        &(serde_json::to_string_pretty(&serde_json::Value::Object(errors)).unwrap() + "\n"),
    );
}
