//! The directory as most organisation tests start it: the fixture's schools and local
//! authorities imported, and a service with the roles the test names.
#![allow(dead_code)]

use std::sync::Arc;

use gatehouse::audit::{Actor, RequestContext};
use gatehouse::directory::Directory;

use super::TestApp;
use super::oidc::{Registered, Spec};

impl TestApp {
    /// A directory over this app's store, holding `fixtures/gias_establishments.csv`.
    pub async fn directory_with_schools(&self) -> Directory {
        let directory = Directory::new(self.store.clone(), Arc::new(self.clock.clone()));
        let extract = include_bytes!("../fixtures/gias_establishments.csv");
        directory
            .import_gias(
                std::io::Cursor::new(extract),
                false,
                Actor::Cli,
                &RequestContext::default(),
            )
            .await
            .unwrap();
        directory
    }

    /// Registers `client_id` with the `organisation` scope (and `extra_scopes`) and defines
    /// its `roles` as (code, name).
    pub async fn organisation_service(
        &self,
        directory: &Directory,
        client_id: &'static str,
        scopes: &'static str,
        roles: &[(&str, &str)],
    ) -> Registered {
        let service = self
            .register(Spec {
                scopes,
                ..Spec::confidential(client_id)
            })
            .await;
        for (code, name) in roles {
            directory
                .define_role(
                    client_id,
                    code,
                    name,
                    Actor::Cli,
                    &RequestContext::default(),
                )
                .await
                .unwrap();
        }
        service
    }
}
