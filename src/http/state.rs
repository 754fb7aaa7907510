//! What every handler can reach: configuration, the store, the clock and the metrics.
//!
//! Axum clones the state for every request and layer, so it is one `Arc`: a clone is one
//! reference count, not one per service (profiling showed those clones and drops at about a
//! tenth of the server's CPU under token load).

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use super::cookies::CookiePolicy;
use crate::account::Lifecycle;
use crate::admin::Helpdesk;
use crate::auth::Auth;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::directory::{Approvals, Directory};
use crate::oidc::Oidc;
use crate::staff::Staff;
use crate::store::Store;

/// A cheap handle on [`Services`].
#[derive(Debug, Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

#[derive(Debug)]
pub struct Services {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub metrics: PrometheusHandle,
    pub auth: Auth,
    pub cookies: CookiePolicy,
    pub oidc: Oidc,
    /// Invitations, activation, password reset and change of email.
    pub lifecycle: Lifecycle,
    /// Organisations and the migration dashboard.
    pub directory: Directory,
    /// What approvers do, and access requests.
    pub approvals: Approvals,
    /// Gatehouse staff roles and what they allow.
    pub staff: Staff,
    /// Finding and helping accounts from the console.
    pub helpdesk: Helpdesk,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        clock: SharedClock,
        auth: Auth,
        oidc: Oidc,
        lifecycle: Lifecycle,
    ) -> Self {
        let directory = Directory::new(store.clone(), clock.clone());
        let approvals = Approvals::new(directory.clone(), lifecycle.clone());
        let staff = Staff::new(store.clone(), clock.clone());
        let helpdesk = Helpdesk::new(
            store.clone(),
            clock.clone(),
            lifecycle.clone(),
            auth.session_policy(),
        );
        let cookies = CookiePolicy {
            secure: config.issuer.is_https(),
        };
        Self(Arc::new(Services {
            config,
            store,
            clock,
            metrics: super::metrics::handle(),
            auth,
            cookies,
            oidc,
            lifecycle,
            directory,
            approvals,
            staff,
            helpdesk,
        }))
    }
}
