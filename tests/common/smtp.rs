//! A real SMTP server on loopback for the tests: it speaks enough of RFC 5321 for lettre
//! (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps every message it accepts, and can be
//! stopped and started again on the same port to play an outage.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    /// A header's value (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        let prefix = format!("{}:", name.to_ascii_lowercase());
        unfolded
            .split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// Every MIME part's body, decoded from quoted-printable or base64, joined.
    pub fn text(&self) -> String {
        use base64::Engine;
        let mut out = String::new();
        for part in self.data.split("\r\n--") {
            let Some((head, body)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let head = head.to_ascii_lowercase();
            if head.contains("content-transfer-encoding: quoted-printable") {
                out.push_str(&decode_qp(body));
            } else if head.contains("content-transfer-encoding: base64") {
                let joined: String = body.split_whitespace().collect();
                let cut = joined.find("--").map_or(joined.as_str(), |i| &joined[..i]);
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(cut) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                }
            } else {
                out.push_str(body);
            }
            out.push('\n');
        }
        out
    }

    /// The first `{base}{path}<64 hex>` link in the message.
    pub fn link(&self, base: &str, path: &str) -> Option<String> {
        let text = self.text();
        let start = format!("{base}{path}");
        let at = text.find(&start)?;
        let rest = &text[at + start.len()..];
        let secret: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
        if secret.len() == 64 {
            super::leaks::remember(&secret);
        }
        (secret.len() == 64).then(|| format!("{start}{secret}"))
    }
}

fn decode_qp(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The running sink.
#[derive(Debug)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts (again) on `addr`, keeping nothing from an earlier run.
    pub async fn start_on(addr: SocketAddr) -> Self {
        Self::serve(TcpListener::bind(addr).await.unwrap())
    }

    fn serve(listener: TcpListener) -> Self {
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept(listener, received.clone()));
        Self {
            addr,
            received,
            task: Some(task),
        }
    }

    /// A port for an SMTP server that is down from the start: bound but not listening, so
    /// every connection is refused and no other test's server can be given the port meanwhile
    /// (a port merely found free once can be, and then mail "to the down server" arrives).
    pub fn down() -> Down {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        Down { socket, addr }
    }
}

/// A held port where nothing answers yet; see [`SmtpSink::down`].
pub struct Down {
    socket: tokio::net::TcpSocket,
    pub addr: SocketAddr,
}

impl Down {
    /// The server comes up on the held port.
    pub fn start(self) -> SmtpSink {
        SmtpSink::serve(self.socket.listen(128).unwrap())
    }
}

impl SmtpSink {
    /// Configuration lines that point Gatehouse at `addr`.
    pub fn toml_for(addr: SocketAddr) -> String {
        format!(
            "smtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\nmail_from = \"Gatehouse <no-reply@gatehouse.test>\"\nmail_retry_seconds = 1\n",
            addr.port()
        )
    }

    pub fn toml(&self) -> String {
        Self::toml_for(self.addr)
    }

    /// Stops listening and drops open connections (the server is "down").
    pub fn stop(mut self) -> SocketAddr {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.addr
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Messages for `to`, in arrival order.
    pub fn messages_to(&self, to: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }

    /// Waits (up to 10 s) until `count` messages have arrived for `to`, and returns them.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.messages_to(to);
            if got.len() >= count {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 10 s for {count} message(s) to {to}; got {}: {:?}",
                got.len(),
                got.iter().map(Received::subject).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept(listener: TcpListener, received: Arc<Mutex<Vec<Received>>>) {
    let mut sessions = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        sessions.spawn(session(stream, received.clone()));
    }
}

async fn session(stream: TcpStream, received: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 sink.test ESMTP ready\r\n").await;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-sink.test\r\n250 8BITMIME\r\n"
        } else if command.starts_with("HELO") || command.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if command.starts_with("MAIL FROM") {
            to.clear();
            b"250 OK\r\n"
        } else if command.starts_with("RCPT TO") {
            let address = line.trim_end()[8..]
                .trim()
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or_default()
                .to_owned();
            to.push(address);
            b"250 OK\r\n"
        } else if command == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let unstuffed = line
                    .strip_prefix('.')
                    .filter(|_| line.starts_with(".."))
                    .unwrap_or(&line);
                data.push_str(unstuffed);
            }
            received.lock().unwrap().push(Received {
                to: std::mem::take(&mut to),
                data,
            });
            b"250 OK queued\r\n"
        } else if command.starts_with("RSET") {
            to.clear();
            b"250 OK\r\n"
        } else if command.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

impl super::TestApp {
    /// Gatehouse with its mail going to a fresh sink.
    pub async fn spawn_with_sink(engine: super::Engine) -> (Self, SmtpSink) {
        let sink = SmtpSink::start().await;
        let app = Self::spawn_with(engine, &sink.toml()).await;
        (app, sink)
    }

    /// The path (and query) of a link in a message, to follow on this server.
    pub fn path_of(link: &str) -> String {
        let url = url::Url::parse(link).unwrap();
        url.path().to_owned()
    }
}

impl super::Browser {
    /// Fills in and submits "Reset your password".
    pub async fn request_reset(&self, email: &str) -> reqwest::Response {
        let token = self.csrf("/forgot-password").await;
        self.post(
            "/forgot-password",
            &[("csrf_token", token.as_str()), ("email", email)],
        )
        .await
    }

    /// Opens an emailed link as a browser would: follows it to the form, returns the form's
    /// CSRF token.
    pub async fn open_link(&self, link: &str, expect_form_at: &str) -> String {
        let path = super::TestApp::path_of(link);
        let opened = self.get(&path).await;
        assert_eq!(opened.status(), 303, "opening {path}");
        assert_eq!(super::location(&opened), expect_form_at);
        assert_eq!(opened.headers()["referrer-policy"], "no-referrer");
        let form = self.get(expect_form_at).await;
        assert_eq!(form.status(), 200);
        let html = form.text().await.unwrap();
        super::csrf_in(&html)
    }

    /// Submits a new-password form at `path`.
    pub async fn save_password(
        &self,
        path: &str,
        token: &str,
        password: &str,
        confirm: &str,
    ) -> reqwest::Response {
        super::leaks::remember(password);
        self.post(
            path,
            &[
                ("csrf_token", token),
                ("new_password", password),
                ("confirm_password", confirm),
            ],
        )
        .await
    }
}
