//! `gatehouse mail test --to ADDRESS`: sends one message straight through the configured
//! transport, so an operator sees at once whether mail gets out (and, if not, why).

use clap::Subcommand;

use crate::config::Sources;
use crate::domain::Email;
use crate::mail::{Mail, MailError};
use crate::server::{open_clock, open_mailer, open_store};

use super::Failure;
use super::commands::load;

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a test message now, bypassing the outbox
    Test {
        /// Who should receive it
        #[arg(long, value_name = "ADDRESS")]
        to: String,
    },
}

pub async fn run(sources: &Sources, command: MailCommand) -> Result<(), Failure> {
    let MailCommand::Test { to } = command;
    let to = Email::parse(&to).map_err(|e| Failure {
        code: 2,
        message: format!("--to: {e}"),
    })?;
    let config = load(sources)?;
    crate::telemetry::init(config.log_format, "warn");
    let store = open_store(&config).await?;
    let mailer = open_mailer(&config, store.clone(), open_clock(&config, &store).await?)?;
    let outcome = mailer.send_now(&to, &Mail::Test).await;
    store.close().await;
    match outcome {
        Ok(Some(path)) => println!(
            "No smtp_host is configured, so the test message was written to {}.",
            path.display()
        ),
        Ok(None) => println!("The SMTP relay accepted a test message for {to}."),
        Err(MailError::Send(e)) => {
            return Err(Failure {
                code: 1,
                message: format!("the test message was not sent: {e}"),
            });
        }
        Err(e) => {
            return Err(Failure {
                code: 1,
                message: format!("the test message was not sent: {e}"),
            });
        }
    }
    Ok(())
}
