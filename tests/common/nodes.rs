//! Two Gatehouse nodes on one database, keys folder and issuer, as behind a load balancer
//! that sends each request wherever it likes; each node has its own process state and clock.
#![allow(dead_code)]

use std::sync::Arc;

use super::smtp::SmtpSink;
use super::{Browser, Engine, FreshDb, TestApp};

pub struct Pair {
    pub a: TestApp,
    pub b: TestApp,
    pub sink: SmtpSink,
}

/// Node A, then node B on the same database and keys, both answering as A's issuer (the
/// balancer's address) and mailing the same sink; `extra_toml` goes to both.
pub async fn pair(engine: Engine, extra_toml: &str) -> Pair {
    let sink = SmtpSink::start().await;
    let db = Arc::new(FreshDb::new(engine).await);
    let a = TestApp::spawn_on(db.clone(), &format!("{}\n{extra_toml}", sink.toml())).await;
    let b = TestApp::spawn_on(
        db,
        &format!("issuer = \"{}\"\n{}\n{extra_toml}", a.base, sink.toml()),
    )
    .await;
    Pair { a, b, sink }
}

impl Pair {
    /// Moves both nodes' clocks on together.
    pub fn advance(&self, by: chrono::Duration) {
        self.a.clock.advance(by);
        self.b.clock.advance(by);
    }

    /// Node A for even `i`, node B for odd: a balancer taking turns.
    pub fn turn(&self, i: usize) -> &TestApp {
        if i.is_multiple_of(2) {
            &self.a
        } else {
            &self.b
        }
    }
}

/// The same browser (one cookie jar) pointed at another node.
pub fn on(node: &TestApp, browser: &Browser) -> Browser {
    Browser {
        client: browser.client.clone(),
        base: node.base.clone(),
    }
}
