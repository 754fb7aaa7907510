//! `gatehouse client …`: registering and managing services from the command line. Secrets
//! are printed once, at creation or rotation; `--json` gives scripts a stable shape.

use std::time::Duration;

use clap::{Args, Subcommand};
use secrecy::ExposeSecret;

use crate::audit::{Actor, RequestContext};
use crate::config::Sources;
use crate::crypto::SigningAlg;
use crate::domain::{RedirectUri, Scopes};
use crate::oidc::{AuthMethod, Client, ClientAdminError, ClientKind, GrantType, Oidc, describe};
use crate::server::{open_clock, open_keys, open_store};

use super::Failure;
use super::commands::load;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a service; prints its secret once
    Create {
        #[command(flatten)]
        options: ClientOptions,
        #[arg(long)]
        json: bool,
    },
    /// List services
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one service
    Show {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a service; lists given replace the old ones
    Update {
        #[command(flatten)]
        options: ClientOptions,
        #[arg(long)]
        json: bool,
    },
    /// Issue a new secret; the old one keeps working for --grace-hours
    RotateSecret {
        client_id: String,
        #[arg(long, default_value_t = 24)]
        grace_hours: u32,
        #[arg(long)]
        json: bool,
    },
    /// Remove a service and everything issued to it
    Delete { client_id: String },
}

/// Settings of a service. On create, anything left out takes its default.
#[derive(Debug, Args)]
pub struct ClientOptions {
    /// The OAuth client_id [create: generated when left out]
    #[arg(long)]
    client_id: Option<String>,
    #[arg(long)]
    name: Option<String>,
    /// confidential (keeps a secret or key) or public (browser or native app)
    #[arg(long = "type", value_name = "TYPE")]
    kind: Option<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt or none
    #[arg(long)]
    auth_method: Option<String>,
    /// authorization_code, refresh_token, client_credentials (repeat for several)
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// openid, profile, email, offline_access (repeat, or space-separated)
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Where to send back-channel logout tokens ("" removes it)
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// The service's public keys (JWKS JSON file) for private_key_jwt
    #[arg(long, value_name = "FILE")]
    jwks: Option<std::path::PathBuf>,
    /// Skip the consent page (services run by the Department)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    first_party: Option<bool>,
    /// Require multi-factor authentication for this service
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    mfa_required: Option<bool>,
    /// Issue session-bound refresh tokens even without offline_access
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    refresh_tokens: Option<bool>,
    #[arg(long)]
    id_token_alg: Option<String>,
    #[arg(long)]
    access_token_alg: Option<String>,
    /// Seconds [default: 600]
    #[arg(long)]
    access_token_lifetime: Option<u64>,
    /// Seconds [default: 600]
    #[arg(long)]
    id_token_lifetime: Option<u64>,
    /// Seconds: the refresh tokens' absolute lifetime [default: 2592000, 30 days]
    #[arg(long)]
    refresh_token_lifetime: Option<u64>,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn failed(e: ClientAdminError) -> Failure {
    let code = match e {
        ClientAdminError::Store(_) | ClientAdminError::Internal(_) => 1,
        _ => 2,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

pub async fn run(sources: &Sources, command: ClientCommand) -> Result<(), Failure> {
    let config = load(sources)?;
    crate::telemetry::init(config.log_format, "warn");
    let store = open_store(&config).await?;
    let clock = open_clock(&config, &store).await?;
    let keys = open_keys(&config, clock.clone())?;
    let oidc = Oidc::new(store.clone(), keys, clock, config.issuer.clone());
    let outcome = dispatch(&oidc, command).await;
    store.close().await;
    outcome
}

async fn dispatch(oidc: &Oidc, command: ClientCommand) -> Result<(), Failure> {
    let ctx = RequestContext::default();
    match command {
        ClientCommand::Create { options, json } => {
            let client = options.apply(new_client()?)?;
            let (client, secret) = oidc
                .register_client(client, Actor::Cli, &ctx)
                .await
                .map_err(failed)?;
            print_client(&client, secret.as_ref().map(|s| s.expose_secret()), json);
        }
        ClientCommand::List { json } => {
            let clients = oidc.clients().await.map_err(|e| failed(e.into()))?;
            if json {
                let all: Vec<_> = clients.iter().map(describe).collect();
                println!("{}", serde_json::Value::Array(all));
            } else {
                for c in clients {
                    println!("{}\t{}\t{}", c.id, c.kind.as_str(), c.name);
                }
            }
        }
        ClientCommand::Show { client_id, json } => {
            let client = find(oidc, &client_id).await?;
            print_client(&client, None, json);
        }
        ClientCommand::Update { options, json } => {
            let id = options
                .client_id
                .clone()
                .ok_or_else(|| usage("--client-id is required"))?;
            let client = options.apply(find(oidc, &id).await?)?;
            let (client, secret) = oidc
                .update_client(client, Actor::Cli, &ctx)
                .await
                .map_err(failed)?;
            print_client(&client, secret.as_ref().map(|s| s.expose_secret()), json);
        }
        ClientCommand::RotateSecret {
            client_id,
            grace_hours,
            json,
        } => {
            let secret = oidc
                .rotate_client_secret(
                    &client_id,
                    chrono::Duration::hours(i64::from(grace_hours)),
                    Actor::Cli,
                    &ctx,
                )
                .await
                .map_err(failed)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "client_id": client_id, "client_secret": secret.expose_secret() })
                );
            } else {
                println!(
                    "New secret for {client_id} (shown once; the old one works for {grace_hours} more hours):"
                );
                println!("{}", secret.expose_secret());
            }
        }
        ClientCommand::Delete { client_id } => {
            oidc.delete_client(&client_id, Actor::Cli, &ctx)
                .await
                .map_err(failed)?;
            println!("Deleted {client_id}");
        }
    }
    Ok(())
}

async fn find(oidc: &Oidc, id: &str) -> Result<Client, Failure> {
    oidc.client(id)
        .await
        .map_err(|e| failed(e.into()))?
        .ok_or_else(|| failed(ClientAdminError::NotFound(id.to_owned())))
}

fn print_client(client: &Client, secret: Option<&str>, json: bool) {
    let mut body = describe(client);
    if json {
        if let (Some(secret), Some(map)) = (secret, body.as_object_mut()) {
            map.insert("client_secret".into(), secret.into());
        }
        println!("{body}");
        return;
    }
    if let Some(map) = body.as_object() {
        for (k, v) in map {
            println!("{k}: {v}");
        }
    }
    if let Some(secret) = secret {
        println!();
        println!("client_secret (shown once, store it now): {secret}");
    }
}

fn new_client() -> Result<Client, Failure> {
    Client::draft().map_err(usage)
}

impl ClientOptions {
    /// Applies the given options over `client`.
    fn apply(self, mut client: Client) -> Result<Client, Failure> {
        if let Some(id) = self.client_id {
            client.id = id;
        } else if client.id.is_empty() {
            let random =
                crate::auth::session::random_hex_256().map_err(|e| usage(e.to_string()))?;
            client.id = random[..24].to_owned();
        }
        if let Some(name) = self.name {
            client.name = name;
        }
        if let Some(kind) = self.kind {
            client.kind = ClientKind::parse(&kind)
                .ok_or_else(|| usage("--type must be confidential or public"))?;
            if self.auth_method.is_none() && client.kind == ClientKind::Public {
                client.auth_method = AuthMethod::None;
            }
        }
        if let Some(method) = self.auth_method {
            client.auth_method = AuthMethod::parse(&method).ok_or_else(|| {
                usage("--auth-method must be client_secret_basic, client_secret_post, private_key_jwt or none")
            })?;
        }
        if !self.grant_types.is_empty() {
            client.grant_types = self
                .grant_types
                .iter()
                .map(|g| {
                    GrantType::parse(g).ok_or_else(|| {
                        usage(format!("--grant-type {g:?}: use authorization_code, refresh_token or client_credentials"))
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        let uris = |list: Vec<String>, flag: &str| -> Result<Vec<RedirectUri>, Failure> {
            list.iter()
                .map(|u| RedirectUri::parse(u).map_err(|e| usage(format!("--{flag}: {e}"))))
                .collect()
        };
        if !self.redirect_uris.is_empty() {
            client.redirect_uris = uris(self.redirect_uris, "redirect-uri")?;
        }
        if !self.post_logout_redirect_uris.is_empty() {
            client.post_logout_redirect_uris =
                uris(self.post_logout_redirect_uris, "post-logout-redirect-uri")?;
        }
        if !self.scopes.is_empty() {
            client.scopes = Scopes::parse_known(&self.scopes.join(" "))
                .map_err(|e| usage(format!("--scope: {e}")))?;
        }
        if let Some(uri) = self.backchannel_logout_uri {
            client.backchannel_logout_uri = if uri.is_empty() {
                None
            } else {
                Some(
                    RedirectUri::parse(&uri)
                        .map_err(|e| usage(format!("--backchannel-logout-uri: {e}")))?,
                )
            };
        }
        if let Some(path) = self.jwks {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| usage(format!("--jwks {}: {e}", path.display())))?;
            client.jwks = Some(serde_json::from_str(&text).map_err(|e| {
                usage(format!(
                    "--jwks {}: not a JWKS document: {e}",
                    path.display()
                ))
            })?);
        }
        if let Some(v) = self.first_party {
            client.first_party = v;
        }
        if let Some(v) = self.mfa_required {
            client.mfa_required = v;
        }
        if let Some(v) = self.refresh_tokens {
            client.refresh_tokens = v;
        }
        let alg = |v: String, flag: &str| {
            v.parse::<SigningAlg>()
                .map_err(|e| usage(format!("--{flag}: {e}")))
        };
        if let Some(v) = self.id_token_alg {
            client.id_token_alg = alg(v, "id-token-alg")?;
        }
        if let Some(v) = self.access_token_alg {
            client.access_token_alg = alg(v, "access-token-alg")?;
        }
        if let Some(v) = self.access_token_lifetime {
            client.access_token_ttl = Duration::from_secs(v);
        }
        if let Some(v) = self.id_token_lifetime {
            client.id_token_ttl = Duration::from_secs(v);
        }
        if let Some(v) = self.refresh_token_lifetime {
            client.refresh_token_ttl = Duration::from_secs(v);
        }
        Ok(client)
    }
}
