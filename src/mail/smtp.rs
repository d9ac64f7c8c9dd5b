//! The SMTP connections: a few kept open and reused for one email after another, with
//! Nagle's algorithm off. lettre's own pool opens a connection per concurrent send beyond its
//! size (and closes it again), and its sockets keep Nagle's algorithm on, so on a reused
//! connection the end-of-data line waits for the server's delayed acknowledgement of the body
//! (40 ms on Linux) before it leaves: a kept connection could then send about 20 emails a
//! second. Here lettre still speaks SMTP, STARTTLS and AUTH on each connection; this module
//! only opens the sockets and decides which connection a send takes.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// A kept connection idle longer than this is checked with `NOOP` before it is used again
/// (the server may have closed it); one used more recently is taken as it is.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(5);
/// A kept connection idle longer than this is closed instead of reused.
const MAX_IDLE: Duration = Duration::from_secs(60);

/// How a connection is secured, from `SMTP_URL`.
enum Security {
    /// `smtp://`: plain text.
    Plain,
    /// `smtp://…?tls=required` or `?tls=opportunistic`: STARTTLS after the greeting.
    StartTls {
        required: bool,
        parameters: TlsParameters,
    },
    /// `smtps://`: TLS from the first byte.
    Implicit(TlsParameters),
}

/// Where and how to connect, parsed from `SMTP_URL` with lettre's rules (the same schemes,
/// `tls` parameter, default ports, credentials and EHLO name in the path).
struct Target {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
}

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server could not be reached.
    #[error("could not connect to the SMTP server: {0}")]
    Connect(String),
    /// The SMTP conversation failed or the server refused the email.
    #[error(transparent)]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl SendError {
    /// Whether the server refused the email for good (a 5xx reply): retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Smtp(err) if err.is_permanent())
    }
}

/// An open connection put back after a send.
struct Kept {
    connection: AsyncSmtpConnection,
    since: Instant,
}

/// A bounded set of SMTP connections: at most `size` sends at once, each on a kept
/// connection when one is free.
pub struct SmtpPool {
    target: Target,
    timeout: Duration,
    permits: Semaphore,
    kept: Mutex<Vec<Kept>>,
}

impl SmtpPool {
    /// A pool of `size` connections to the server of `url`; `timeout` bounds each connect.
    pub fn from_url(url: &str, size: u32, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            target: Target::parse(url)?,
            timeout,
            permits: Semaphore::new(size.max(1) as usize),
            kept: Mutex::new(Vec::new()),
        })
    }

    /// Sends `message` (already formatted) to the envelope's recipients, waiting for a free
    /// connection first. The caller bounds the whole call with its own deadline; dropping it
    /// mid-send closes that connection before the end of DATA, so the server keeps nothing.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        // The semaphore is never closed, so acquiring cannot fail.
        let _permit = self.permits.acquire().await.ok();
        let mut connection = self.checkout().await?;
        let sent = connection.send(envelope, message).await;
        if !connection.has_broken() {
            self.keep(connection);
        }
        sent.map(drop).map_err(SendError::from)
    }

    fn keep(&self, connection: AsyncSmtpConnection) {
        let kept = Kept {
            connection,
            since: Instant::now(),
        };
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(kept);
    }

    /// A kept connection that is still good, or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let kept = self
                .kept
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop();
            let Some(Kept {
                mut connection,
                since,
            }) = kept
            else {
                return self.connect().await;
            };
            let idle = since.elapsed();
            if idle > MAX_IDLE {
                let _ = connection.quit().await;
                continue;
            }
            if idle <= CHECK_AFTER_IDLE
                || tokio::time::timeout(self.timeout, connection.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Ok(connection);
            }
            tracing::debug!("dropping an SMTP connection the server closed");
        }
    }

    /// Opens, greets, secures and authenticates a new connection, within the timeout: a
    /// server that accepts and never greets must not hold a send until its deadline.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        tokio::time::timeout(self.timeout, self.open())
            .await
            .map_err(|_| SendError::Connect("timed out opening the session".to_owned()))?
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let target = &self.target;
        let address = (target.host.as_str(), target.port);
        let mut connection = match &target.security {
            // lettre opens TLS-from-the-start sockets itself (Nagle's algorithm stays on there).
            Security::Implicit(parameters) => {
                AsyncSmtpConnection::connect_tokio1(
                    address,
                    Some(self.timeout),
                    &target.hello,
                    Some(parameters.clone()),
                    None,
                )
                .await?
            }
            Security::Plain | Security::StartTls { .. } => {
                let stream = tokio::time::timeout(self.timeout, TcpStream::connect(address))
                    .await
                    .map_err(|_| SendError::Connect("timed out".to_owned()))?
                    .map_err(|err| SendError::Connect(err.to_string()))?;
                stream
                    .set_nodelay(true)
                    .map_err(|err| SendError::Connect(err.to_string()))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &target.hello).await?
            }
        };
        if let Security::StartTls {
            required,
            parameters,
        } = &target.security
        {
            if *required || connection.can_starttls() {
                connection
                    .starttls(parameters.clone(), &target.hello)
                    .await?;
            }
        }
        if let Some(credentials) = &target.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(url).context("SMTP_URL is not a valid URL")?;
        let host = url
            .host_str()
            .context("SMTP_URL has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let parameters = || TlsParameters::new(host.clone()).context("TLS set-up for SMTP_URL");
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some(mode @ ("required" | "opportunistic"))) => (
                Security::StartTls {
                    required: mode == "required",
                    parameters: parameters()?,
                },
                587,
            ),
            ("smtps", _) => (Security::Implicit(parameters()?), 465),
            (scheme, tls) => bail!(
                "SMTP_URL: unknown scheme {scheme:?} or tls parameter {tls:?} \
                 (smtp://, smtp://…?tls=required, smtp://…?tls=opportunistic or smtps://)"
            ),
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        let credentials = match url.password() {
            Some(password) => {
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .map(|s| s.into_owned())
                        .context("SMTP_URL credentials are not UTF-8")
                };
                Some(Credentials::new(decode(url.username())?, decode(password)?))
            }
            None => None,
        };
        Ok(Self {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            hello,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Security, SmtpPool, Target};
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn a_server_that_never_greets_fails_the_send_within_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (_silent, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let pool = SmtpPool::from_url(
            &format!("smtp://127.0.0.1:{port}"),
            1,
            Duration::from_millis(300),
        )
        .unwrap();
        let envelope = lettre::address::Envelope::new(
            Some("a@example.com".parse().unwrap()),
            vec!["b@example.com".parse().unwrap()],
        )
        .unwrap();
        let started = Instant::now();
        let sent = pool.send(&envelope, b"Subject: x\r\n\r\nhi\r\n").await;
        assert!(sent.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn smtp_urls_are_read_with_lettres_rules() {
        let plain = Target::parse("smtp://mail.example.com").unwrap();
        assert_eq!((plain.host.as_str(), plain.port), ("mail.example.com", 25));
        assert!(matches!(plain.security, Security::Plain));
        assert!(plain.credentials.is_none());

        let starttls = Target::parse("smtp://u%40x:p%2Fw@mail.example.com?tls=required").unwrap();
        assert_eq!(starttls.port, 587);
        assert!(matches!(
            starttls.security,
            Security::StartTls { required: true, .. }
        ));
        assert!(starttls.credentials.is_some());

        let opportunistic =
            Target::parse("smtp://127.0.0.1:2525/relay.example?tls=opportunistic").unwrap();
        assert_eq!(opportunistic.port, 2525);
        assert!(matches!(
            opportunistic.security,
            Security::StartTls {
                required: false,
                ..
            }
        ));
        assert_eq!(opportunistic.hello.to_string(), "relay.example");

        let implicit = Target::parse("smtps://mail.example.com").unwrap();
        assert_eq!(implicit.port, 465);
        assert!(matches!(implicit.security, Security::Implicit(_)));

        for bad in [
            "http://mail.example.com",
            "smtp://mail.example.com?tls=always",
            "smtp://",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
