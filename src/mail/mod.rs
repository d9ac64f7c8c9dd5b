//! Email delivery: composing survey emails, the SMTP transport, and the outbox worker.

pub mod compose;
pub mod unsubscribe;
pub mod worker;

use anyhow::Context;
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::config::OutboxSettings;

/// A pooled SMTP connection to the configured server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Builds the transport from `SMTP_URL`: `smtp://` (plain), `smtp://…?tls=required`
    /// (STARTTLS), or `smtps://` (TLS), with credentials in the URL if the server wants them.
    pub fn new(url: &SecretString, from: &str, settings: &OutboxSettings) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .context("SMTP_URL is not a valid smtp:// or smtps:// URL")?
            .pool_config(PoolConfig::new().max_size(settings.smtp_pool_size))
            .timeout(Some(settings.smtp_timeout))
            .build();
        let from = from
            .parse()
            .context("MAIL_FROM is not a valid email address")?;
        Ok(Self { transport, from })
    }

    /// The sender address.
    pub fn from(&self) -> &Address {
        &self.from
    }

    /// Hands `message` to the SMTP server.
    pub async fn send(&self, message: Message) -> Result<(), lettre::transport::smtp::Error> {
        self.transport.send(message).await.map(drop)
    }
}
