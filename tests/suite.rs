//! The integration suite, linked as one test binary: each module is one area of Gatehouse
//! driven over HTTP, the CLI or the store against a real server and a fresh database. One
//! binary instead of one per file keeps link time and disk use small (decision 0015).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

mod access_requests;
mod admin_api;
mod admin_policy;
mod admin_services;
mod approvers;
mod audit_page;
mod audit_retention;
mod authentix_migration;
mod cli;
mod cli_services;
mod email_change;
mod fault_clock_skew;
mod fault_database;
mod fault_reset;
mod fault_two_nodes;
mod fuzz_regressions;
mod gias_import;
mod health;
mod helpdesk_account;
mod helpdesk_search;
mod invitations;
mod mail_outbox;
mod memberships;
mod mfa_authenticator_app;
mod mfa_security_keys;
mod mfa_services;
mod migration_dashboard;
mod migrations;
mod oidc_client_auth;
mod oidc_code_flow;
mod oidc_contracts;
mod oidc_keys;
mod oidc_logout;
mod oidc_negative;
mod oidc_organisation;
mod pages;
mod password_reset;
mod security_pages;
mod security_tokens;
mod sessions;
mod several_nodes;
mod sign_in;
mod store_audit;
mod store_users;
mod throttling;

/// A file under `tests/` that is not a module here would never be compiled or run.
#[test]
fn every_test_file_is_a_module_of_the_suite() {
    let listing = include_str!("suite.rs");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(module) = name.strip_suffix(".rs") else {
            continue;
        };
        if module != "suite" {
            assert!(
                listing.contains(&format!("\nmod {module};\n")),
                "tests/{name} is not listed in tests/suite.rs"
            );
        }
    }
}
