//! The audit trail's vocabulary and its hash chain: what can be recorded (a closed set of
//! [`Action`]s, never free text) and how each event is sealed to the one before it.
//!
//! Events are written by the store in the same transaction as the change they describe; they
//! never carry passwords, codes, tokens or secrets.

mod action;
mod chain;
mod export;
mod retention;

pub use action::{Action, Outcome};
pub use chain::{ChainedEvent, GENESIS_HASH};
pub use export::{ExportFormat, Exporter};
pub use retention::{Category, Retention};

use crate::domain::UserId;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person, by account id (for a visitor who is not signed in, the account they tried).
    User(UserId),
    /// An operator at the `gatehouse` command line.
    Cli,
    /// Gatehouse itself (expiry, background tasks).
    System,
    /// A service through the admin API, stored as `service:<client_id>`.
    Service(String),
}

impl Actor {
    /// As stored: the user id, or `cli` / `system` (user ids are 32 hex digits, so these
    /// never collide with one).
    pub fn as_str(&self) -> &str {
        match self {
            Self::User(id) => id.as_str(),
            Self::Cli => "cli",
            Self::System => "system",
            Self::Service(stored) => stored,
        }
    }
}

/// Where a request came from, as far as the audit trail is concerned. Values are cleaned of
/// control characters and cut to length, so a hostile user agent cannot forge log lines.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl RequestContext {
    pub fn new(ip: Option<&str>, user_agent: Option<&str>, request_id: Option<&str>) -> Self {
        Self {
            ip: ip.map(|v| clean(v, 64)),
            user_agent: user_agent.map(|v| clean(v, 512)),
            request_id: request_id.map(|v| clean(v, 64)),
        }
    }
}

/// Drops control characters (CR, LF, ANSI escapes…) and keeps at most `max` characters.
pub fn clean(value: &str, max: usize) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

/// One thing that happened, before it is sealed into the chain.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: Action,
    pub outcome: Outcome,
    /// A short machine-readable reason (`wrong_password`, `locked`…), mostly for failures.
    pub reason: Option<&'static str>,
    /// Who did it.
    pub actor: Actor,
    /// Whose account it was about.
    pub subject: Option<UserId>,
    pub organisation_id: Option<String>,
    pub client_id: Option<String>,
    pub context: RequestContext,
    /// JSON details, such as `{"before": …, "after": …}` for changes; never secrets.
    pub details: Option<serde_json::Value>,
}

impl AuditEvent {
    /// A successful `action` with nothing else filled in yet.
    pub fn new(action: Action) -> Self {
        Self {
            action,
            outcome: Outcome::Success,
            reason: None,
            actor: Actor::System,
            subject: None,
            organisation_id: None,
            client_id: None,
            context: RequestContext::default(),
            details: None,
        }
    }

    /// Marks the attempt as failed, for `reason` (a short code such as `wrong_password`).
    pub fn failed(mut self, reason: &'static str) -> Self {
        self.outcome = Outcome::Failure;
        self.reason = Some(reason);
        self
    }

    /// Records a reason on a successful event (e.g. why an account was unlocked).
    pub fn reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// A signed-in person did it.
    pub fn actor(mut self, actor: &UserId) -> Self {
        self.actor = Actor::User(actor.clone());
        self
    }

    /// An operator did it with the `gatehouse` command line.
    pub fn by_cli(mut self) -> Self {
        self.actor = Actor::Cli;
        self
    }

    pub fn subject(mut self, subject: &UserId) -> Self {
        self.subject = Some(subject.clone());
        self
    }

    pub fn organisation(mut self, organisation_id: &str) -> Self {
        self.organisation_id = Some(organisation_id.to_owned());
        self
    }

    pub fn client(mut self, client_id: &str) -> Self {
        self.client_id = Some(client_id.to_owned());
        self
    }

    pub fn context(mut self, context: RequestContext) -> Self {
        self.context = context;
        self
    }

    /// Adds the keys of `extra` (an object) to the details; anything else is ignored.
    pub fn also(mut self, extra: serde_json::Value) -> Self {
        if let serde_json::Value::Object(extra) = extra {
            let details = self
                .details
                .get_or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let serde_json::Value::Object(map) = details {
                map.extend(extra);
            }
        }
        self
    }

    pub fn diff(mut self, before: serde_json::Value, after: serde_json::Value) -> Self {
        self.details = Some(serde_json::json!({ "before": before, "after": after }));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_context_strips_control_characters() {
        let ctx = RequestContext::new(None, Some("Mozilla\r\nFAKE LOG LINE\u{1b}[31m"), None);
        assert_eq!(ctx.user_agent.as_deref(), Some("MozillaFAKE LOG LINE[31m"));
    }
}
