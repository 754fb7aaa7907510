//! A TCP relay between the server and PostgreSQL that a test can cut and restore, to show
//! what the server does when its database goes away and comes back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug)]
pub struct Relay {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    /// Relays 127.0.0.1:<random> to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let up = up.clone();
            let links = links.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Self {
            addr,
            up,
            links,
            accept,
        }
    }

    /// Drops every open connection and refuses new ones, as a stopped database would.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// A fresh PostgreSQL database reached through a [`Relay`] the test can cut and restore.
pub async fn postgres_behind_relay() -> (super::FreshDb, Relay) {
    let mut db = super::FreshDb::new(super::Engine::Postgres).await;
    let mut url = url::Url::parse(&db.url).unwrap();
    let target = tokio::net::lookup_host(format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let relay = Relay::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.addr.port())).unwrap();
    db.url = url.to_string();
    (db, relay)
}
