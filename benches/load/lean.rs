//! A lean load generator for operations whose request never changes (discovery, JWKS,
//! `client_credentials`, /userinfo, /introspect): one keep-alive HTTP/1.1 connection per
//! worker straight on hyper, the request's parts built once. The generator shares the
//! machine's cores with the server it measures, so every microsecond it spends is one the
//! server cannot; reqwest's per-request work (URL parsing, header maps, form encoding, the
//! connection pool) cost the servers about a fifth of the `client_credentials` throughput.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use crate::drive::{Phase, gather, measured};
use crate::support::Load;

/// One request, repeated as is.
#[derive(Clone)]
pub struct Fixed {
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

impl Fixed {
    pub fn get(path: &str) -> Self {
        Self {
            method: Method::GET,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// A form POST (`fields` already encoded: `a=b&c=d`).
    pub fn form(path: &str, fields: &str) -> Self {
        Self {
            method: Method::POST,
            path: path.to_owned(),
            headers: vec![(
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: Bytes::from(fields.to_owned()),
        }
    }

    /// With HTTP Basic authentication (RFC 7617).
    pub fn basic(mut self, id: &str, secret: &str) -> Self {
        use base64::Engine;
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        self.headers
            .push(("authorization", format!("Basic {pair}")));
        self
    }

    pub fn bearer(mut self, token: &str) -> Self {
        self.headers
            .push(("authorization", format!("Bearer {token}")));
        self
    }

    fn request(&self, host: &str) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.path.as_str())
            .header("host", host);
        for (name, value) in &self.headers {
            builder = builder.header(*name, value.as_str());
        }
        builder.body(Full::new(self.body.clone())).unwrap()
    }
}

/// Sends `request` to `base` (`http://host:port`) from `clients` connections for `run_for`;
/// a 200 counts as done, any other status as refused, a broken connection as an error.
pub async fn saturate_fixed(
    name: &str,
    pid: u32,
    base: &str,
    clients: usize,
    run_for: Duration,
    request: Fixed,
) -> Phase {
    let host = base.trim_start_matches("http://").to_owned();
    measured(name, pid, move |started| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                let (host, request) = (host.clone(), request.clone());
                tokio::spawn(async move {
                    let mut load = Load::default();
                    let mut sender = None;
                    while started.elapsed() < run_for {
                        let send = match sender.as_mut() {
                            Some(send) => send,
                            None => match connect(&host).await {
                                Some(send) => sender.insert(send),
                                None => {
                                    load.errors += 1;
                                    tokio::time::sleep(Duration::from_millis(10)).await;
                                    continue;
                                }
                            },
                        };
                        let t = Instant::now();
                        match call(send, request.request(&host)).await {
                            Some(200) => {
                                load.ok += 1;
                                load.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                            }
                            Some(_) => load.refused += 1,
                            None => {
                                load.errors += 1;
                                sender = None;
                            }
                        }
                    }
                    load
                })
            })
            .collect();
        gather(workers)
    })
    .await
}

async fn connect(host: &str) -> Option<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(host).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (send, conn) = http1::handshake(TokioIo::new(stream)).await.ok()?;
    tokio::spawn(conn);
    Some(send)
}

/// The status, after reading the whole body; `None` if the connection broke.
async fn call(send: &mut SendRequest<Full<Bytes>>, request: Request<Full<Bytes>>) -> Option<u16> {
    send.ready().await.ok()?;
    let response = send.send_request(request).await.ok()?;
    let status = response.status().as_u16();
    response.into_body().collect().await.ok()?;
    Some(status)
}
