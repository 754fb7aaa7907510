//! Start-up and shutdown: prepares folders, opens and migrates the database, binds the
//! listener, then serves until told to stop. Every failure is one readable sentence.

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::account::Lifecycle;
use crate::auth::Auth;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::crypto::{DataKey, KeyFolder, KeyFolderError, Keys};
use crate::directory::{Approvals, keep_migration_counted};
use crate::http::{self, AppState};
use crate::mail::{Mailer, run_worker};
use crate::oidc::{Oidc, deliver_due_notices, logout_http_client};
use crate::store::{ConnectError, Store, StoreError};
use crate::timekeeping::{Timekeeper, keep_time};

/// Why the process could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Fix the configuration (exit code 2).
    #[error("{0}")]
    Config(String),
    /// Fix the environment: the database, the folders, the port (exit code 1).
    #[error("{0}")]
    Runtime(String),
}

impl StartupError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => 2,
            Self::Runtime(_) => 1,
        }
    }
}

impl From<ConnectError> for StartupError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::BadUrl(_) => Self::Config(e.to_string()),
            ConnectError::Unreachable { .. } => Self::Runtime(format!(
                "{e}; check that the database is running and database_url is right"
            )),
        }
    }
}

/// A server that has bound its port and is ready to run.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
    local_addr: SocketAddr,
    timekeeper: Option<Timekeeper>,
}

impl Server {
    /// Prepares everything the server needs, failing early with a clear message.
    pub async fn build(config: Config, clock: SharedClock) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| bind_error(config.listen, &e))?;
        Self::build_on(config, clock, listener).await
    }

    /// Like [`Server::build`] on a listener the caller already bound (tests bind first so
    /// the issuer can name the port).
    pub async fn build_on(
        config: Config,
        clock: SharedClock,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        let store = open_store(&config).await?;
        let (clock, timekeeper) = keep_time(&config, &store, clock)
            .await
            .map_err(clock_error)?;
        let local_addr = listener.local_addr().map_err(|e| {
            StartupError::Runtime(format!("cannot read the listening address: {e}"))
        })?;
        let keys = open_keys(&config, clock.clone())?;
        let mailer = open_mailer(&config, store.clone(), clock.clone())?;
        let auth = Auth::new(&config, store.clone(), clock.clone(), mailer.clone())
            .map_err(|e| StartupError::Config(format!("password hashing: {e}")))?;
        let lifecycle = Lifecycle::new(store.clone(), clock.clone(), auth.clone(), mailer);
        let oidc = Oidc::new(store.clone(), keys, clock.clone(), config.issuer.clone());
        let state = AppState::new(Arc::new(config), store, clock, auth, oidc, lifecycle);
        Ok(Self {
            listener,
            state,
            local_addr,
            timekeeper,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and closes the
    /// database.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let store = self.state.store.clone();
        let sweeper = tokio::spawn(sweep_sessions(
            self.state.auth.clone(),
            self.state.oidc.clone(),
            self.state.lifecycle.clone(),
            self.state.approvals.clone(),
        ));
        let logouts = tokio::spawn(deliver_logouts(self.state.oidc.clone()));
        let mail = tokio::spawn(run_worker(self.state.lifecycle.mailer().clone()));
        let time = self.timekeeper.map(|t| tokio::spawn(t.run(store.clone())));
        let counting = tokio::spawn(keep_migration_counted(
            self.state.directory.clone(),
            std::time::Duration::from_secs(self.state.config.migration_count_seconds),
        ));
        let app = http::router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        sweeper.abort();
        logouts.abort();
        mail.abort();
        counting.abort();
        if let Some(time) = time {
            time.abort();
        }
        store.close().await;
        served.map_err(|e| StartupError::Runtime(format!("server stopped: {e}")))
    }
}

/// How often expired sessions are removed.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// Removes expired sessions (revoking their grants and queueing logouts), finished logout
/// notices, expired links and old sent mail now and then, and moves overdue access requests
/// to the helpdesk queue, on every node (each step is idempotent).
async fn sweep_sessions(auth: Auth, oidc: Oidc, lifecycle: Lifecycle, approvals: Approvals) {
    let mut interval = tokio::time::interval(SWEEP_EVERY);
    loop {
        interval.tick().await;
        match auth.sweep().await {
            Ok(0) => {}
            Ok(ended) => tracing::info!(ended, "removed expired sessions"),
            Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
        }
        if let Err(e) = oidc.sweep_logout_notices().await {
            tracing::warn!(error = %e, "could not remove finished logout notices");
        }
        if let Err(e) = lifecycle.sweep().await {
            tracing::warn!(error = %e, "could not remove expired links or old sent messages");
        }
        match approvals.escalate_overdue().await {
            Ok(0) => {}
            Ok(moved) => tracing::info!(moved, "sent overdue access requests to the helpdesk"),
            Err(e) => tracing::warn!(error = %e, "could not escalate overdue access requests"),
        }
    }
}

/// How often the back-channel logout queue is checked.
const LOGOUT_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Delivers back-channel logout notices on every node (each notice is claimed by one).
async fn deliver_logouts(oidc: Oidc) {
    let http = match logout_http_client() {
        Ok(http) => http,
        Err(e) => {
            tracing::error!(error = %e, "back-channel logout is disabled: no HTTP client");
            return;
        }
    };
    let mut interval = tokio::time::interval(LOGOUT_POLL);
    loop {
        interval.tick().await;
        deliver_due_notices(&oidc, &http).await;
    }
}

/// The outbox and its transport, with the data key that seals queued messages.
pub fn open_mailer(
    config: &Config,
    store: Store,
    clock: SharedClock,
) -> Result<Mailer, StartupError> {
    ensure_folder("keys_dir", &config.keys_dir, true)?;
    let key = DataKey::open(&config.keys_dir).map_err(|e| match e {
        KeyFolderError::Unsafe(why) => StartupError::Config(format!("data key: {why}")),
        other => StartupError::Runtime(format!("data key: {other}")),
    })?;
    Mailer::new(config, store, clock, key).map_err(StartupError::Config)
}

/// Loads the signing keys, creating any that are missing. A key file others can read
/// stops the start-up: a leaked key lets anyone mint tokens.
pub fn open_keys(config: &Config, clock: SharedClock) -> Result<Keys, StartupError> {
    ensure_folder("keys_dir", &config.keys_dir, true)?;
    Keys::open(KeyFolder::new(&config.keys_dir), clock).map_err(|e| match e {
        KeyFolderError::Unsafe(why) => StartupError::Config(format!("signing keys: {why}")),
        other => StartupError::Runtime(format!("signing keys: {other}")),
    })
}

/// Creates the data folder when SQLite needs it, connects and applies migrations.
pub async fn open_store(config: &Config) -> Result<Store, StartupError> {
    if config.database_url_redacted().starts_with("sqlite:") {
        ensure_folder("data_dir", &config.data_dir, true)?;
    }
    let store = Store::connect(
        &config.database_url,
        &config.database_url_redacted(),
        config.database_max_connections,
    )
    .await?;
    store
        .migrate()
        .await
        .map_err(|e| StartupError::Runtime(format!("cannot prepare the database: {e}")))?;
    Ok(store)
}

/// The clock a command-line tool should use: this machine's, kept on the database's time as
/// the servers' is (read once: a command is short).
pub async fn open_clock(config: &Config, store: &Store) -> Result<SharedClock, StartupError> {
    let (clock, _) = keep_time(config, store, Arc::new(SystemClock))
        .await
        .map_err(clock_error)?;
    Ok(clock)
}

fn clock_error(e: StoreError) -> StartupError {
    StartupError::Runtime(format!("cannot read the database's clock: {e}"))
}

/// Makes sure `path` exists and can be written, creating it if it is missing. A `private`
/// folder (keys, database) is made, or tightened to, mode 0700: a fresh clone checks `keys/`
/// out as 0755, and nothing in it should be readable by other users.
fn ensure_folder(key: &str, path: &Path, private: bool) -> Result<(), StartupError> {
    let fail = |what: &str, e: std::io::Error| {
        StartupError::Runtime(format!(
            "{key} {}: {what}: {e}; create it with write permission or set {key} to another folder",
            path.display()
        ))
    };
    if !path.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        if private {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(path)
            .map_err(|e| fail("cannot create it", e))?;
    }
    if private {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| fail("cannot read its permissions", e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| fail("cannot make it private (mode 0700)", e))?;
            tracing::warn!(folder = %path.display(), "{key} was readable by other users; made it private (0700)");
        }
    }
    let probe = path.join(".gatehouse-write-test");
    std::fs::write(&probe, b"").map_err(|e| fail("cannot write to it", e))?;
    std::fs::remove_file(&probe).map_err(|e| fail("cannot write to it", e))?;
    Ok(())
}

fn bind_error(addr: SocketAddr, e: &std::io::Error) -> StartupError {
    let hint = match e.kind() {
        ErrorKind::AddrInUse => {
            "the address is already in use; stop the other program or choose another with --listen"
        }
        ErrorKind::PermissionDenied => "permission denied; choose a port above 1024 with --listen",
        _ => "choose another address with --listen",
    };
    StartupError::Runtime(format!("cannot listen on {addr}: {hint}"))
}
