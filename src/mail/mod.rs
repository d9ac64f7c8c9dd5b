//! Email delivery: composing survey emails, the SMTP transport, and the outbox worker.

pub mod compose;
mod context;
mod smtp;
pub mod unsubscribe;
pub mod worker;

use std::sync::Arc;

use anyhow::Context;
use lettre::{Address, Message};
use secrecy::{ExposeSecret, SecretString};

use crate::config::OutboxSettings;
pub use smtp::SendError;

/// Why email work is refused when `SMTP_URL` is not set: queued, it would wait forever.
pub const DISABLED: &str = "the email channel is disabled on this server (SMTP_URL is not set)";

/// The configured SMTP server, through a small pool of kept connections.
#[derive(Clone)]
pub struct Mailer {
    pool: Arc<smtp::SmtpPool>,
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
    /// Connects (lazily) to the server of `SMTP_URL`: `smtp://` (plain), `smtp://…?tls=required`
    /// (STARTTLS), or `smtps://` (TLS), with credentials in the URL if the server wants them.
    pub fn new(url: &SecretString, from: &str, settings: &OutboxSettings) -> anyhow::Result<Self> {
        let pool = smtp::SmtpPool::from_url(
            url.expose_secret(),
            settings.smtp_pool_size,
            settings.smtp_timeout,
        )?;
        let from = from
            .parse()
            .context("MAIL_FROM is not a valid email address")?;
        Ok(Self {
            pool: Arc::new(pool),
            from,
        })
    }

    /// The sender address.
    pub fn from(&self) -> &Address {
        &self.from
    }

    /// Hands `message` to the SMTP server over one of the pool's connections, waiting for
    /// one to be free (the caller's deadline bounds the wait).
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        self.pool
            .send(message.envelope(), &message.formatted())
            .await
    }
}
