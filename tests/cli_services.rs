//! `gatehouse client` and `gatehouse keys` as an operator uses them: secrets shown once,
//! JSON for scripts, clear one-line refusals, and keys that rotate without a gap.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::cli::{assert_one_line_failure, run, stdout};
use common::{Engine, FreshDb};

both_engines!(
    operators_register_and_manage_services,
    operators_rotate_and_retire_keys
);

fn json(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout(output)).unwrap()
}

async fn operators_register_and_manage_services(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let env = [("GATEHOUSE_DATABASE_URL", db.url.as_str())];
    let created = json(&run(
        d,
        &[
            "client",
            "create",
            "--client-id",
            "pupil-data",
            "--name",
            "Pupil data service",
            "--redirect-uri",
            "https://pupils.example.gov.uk/callback",
            "--post-logout-redirect-uri",
            "https://pupils.example.gov.uk/",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid email",
            "--backchannel-logout-uri",
            "https://pupils.example.gov.uk/backchannel",
            "--json",
        ],
        &env,
    ));
    assert_eq!(created["client_id"], "pupil-data");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64, "256 bits");
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");

    let shown = stdout(&run(d, &["client", "show", "pupil-data"], &env));
    assert!(shown.contains("Pupil data service"));
    assert!(!shown.contains(&secret), "a secret is shown only once");
    let listed = json(&run(d, &["client", "list", "--json"], &env));
    assert_eq!(listed.as_array().unwrap().len(), 1);

    for (args, needle) in [
        (
            vec!["--redirect-uri", "https://pupils.example.gov.uk/*"],
            "wildcard",
        ),
        (
            vec!["--redirect-uri", "http://pupils.example.gov.uk/cb"],
            "must use https",
        ),
        (
            vec!["--redirect-uri", "https://pupils.example.gov.uk/cb#x"],
            "fragment",
        ),
        (vec!["--redirect-uri", "/cb"], "not an absolute URI"),
        (vec!["--scope", "openid admin"], "unknown scope"),
        (
            vec!["--type", "public", "--grant-type", "client_credentials"],
            "public service cannot use client_credentials",
        ),
    ] {
        let mut all = vec!["client", "create", "--name", "Bad"];
        all.extend(args);
        assert_one_line_failure(&run(d, &all, &env), 2, needle);
    }
    assert_one_line_failure(
        &run(
            d,
            &[
                "client",
                "create",
                "--client-id",
                "pupil-data",
                "--name",
                "Again",
                "--redirect-uri",
                "https://x.example/cb",
            ],
            &env,
        ),
        2,
        "already exists",
    );

    let updated = json(&run(
        d,
        &[
            "client",
            "update",
            "--client-id",
            "pupil-data",
            "--first-party",
            "--access-token-alg",
            "ES256",
            "--json",
        ],
        &env,
    ));
    assert_eq!(updated["first_party"], true);
    assert_eq!(updated["access_token_signed_response_alg"], "ES256");
    assert_eq!(
        updated["redirect_uris"][0], "https://pupils.example.gov.uk/callback",
        "kept"
    );

    let rotated = json(&run(
        d,
        &["client", "rotate-secret", "pupil-data", "--json"],
        &env,
    ));
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);

    let deleted = run(d, &["client", "delete", "pupil-data"], &env);
    assert!(deleted.status.success());
    assert_one_line_failure(
        &run(d, &["client", "show", "pupil-data"], &env),
        2,
        "no service has client id",
    );

    let audit = run(d, &["audit", "verify"], &env);
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
}

async fn operators_rotate_and_retire_keys(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let env = [("GATEHOUSE_DATABASE_URL", db.url.as_str())];
    let keys = json(&run(d, &["keys", "list", "--json"], &env));
    let keys = keys.as_array().unwrap();
    assert_eq!(
        keys.len(),
        3,
        "one key per algorithm on first use: {keys:?}"
    );
    assert!(keys.iter().all(|k| k["state"] == "signing"));
    let old_es = keys.iter().find(|k| k["alg"] == "ES256").unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_one_line_failure(
        &run(d, &["keys", "retire", &old_es], &env),
        2,
        "only usable ES256 key",
    );
    let rotated = run(
        d,
        &["keys", "rotate", "--alg", "ES256", "--publish-for", "60"],
        &env,
    );
    assert!(stdout(&rotated).contains("published now"));
    let keys = json(&run(d, &["keys", "list", "--json"], &env));
    let states: Vec<_> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "ES256")
        .map(|k| k["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states.len(), 2);
    assert!(
        states.contains(&"pending".to_owned()) && states.contains(&"signing".to_owned()),
        "{states:?}"
    );
    assert_one_line_failure(
        &run(d, &["keys", "retire", &old_es], &env),
        2,
        "only usable ES256 key",
    );

    let now = run(
        d,
        &["keys", "rotate", "--alg", "ES256", "--publish-for", "0"],
        &env,
    );
    assert!(now.status.success());
    let retired = run(d, &["keys", "retire", &old_es], &env);
    assert!(
        stdout(&retired).contains("retired"),
        "{}",
        String::from_utf8_lossy(&retired.stderr)
    );
    let keys = json(&run(d, &["keys", "list", "--json"], &env));
    let old = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == old_es.as_str())
        .unwrap();
    assert_eq!(old["state"], "retired");
    assert_one_line_failure(
        &run(d, &["keys", "rotate", "--alg", "HS256"], &env),
        2,
        "unknown signing algorithm",
    );

    // A key other users can read stops everything that would use it.
    use std::os::unix::fs::PermissionsExt;
    let pem = d.join("keys").join(format!("{old_es}.pem"));
    std::fs::set_permissions(&pem, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_one_line_failure(
        &run(d, &["keys", "list"], &env),
        2,
        "can be read by other users",
    );
}
