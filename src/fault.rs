//! Named points where the process aborts if the operator set `FAULT_POINT` to that
//! name, so the fault tests can kill Gatehouse in the middle of a multi-step change (say,
//! after a reset link is consumed but before its transaction commits) and show the database
//! is left wholly before or wholly after the change. Unset — always, in production — a point
//! costs one comparison; set, it can only stop this one process, which the environment's
//! owner could do anyway.

use std::sync::OnceLock;

/// The environment variable naming the point to abort at.
pub const VARIABLE: &str = "FAULT_POINT";

static CHOSEN: OnceLock<Option<String>> = OnceLock::new();

/// Aborts the process here if this is the chosen point.
pub fn point(name: &str) {
    let chosen = CHOSEN.get_or_init(|| std::env::var(VARIABLE).ok().filter(|v| !v.is_empty()));
    if chosen.as_deref() == Some(name) {
        tracing::error!(point = name, "{VARIABLE} reached: aborting");
        std::process::abort();
    }
}
