//! Settings, read once from the environment. Every variable is optional:
//!
//! | variable            | meaning                                                        | default                    |
//! |---------------------|----------------------------------------------------------------|----------------------------|
//! | `DATABASE_URL`      | `sqlite://PATH` or a plain path → SQLite; `postgres://…` → PostgreSQL | `sqlite://scorekeeper.db` |
//! | `LISTEN_ADDR`       | address to bind                                                | `127.0.0.1:8080`           |
//! | `PUBLIC_URL`        | base URL for links in emails and widgets                      | `http://` + bound address  |
//! | `SMTP_URL`          | e.g. `smtp://127.0.0.1:2525`; unset disables the email channel | —                          |
//! | `MAIL_FROM`         | sender address                                                 | `surveys@localhost`        |
//! | `DATABASE_POOL_SIZE`| connections kept in the pool                                   | `8`                        |
//! | `DATABASE_POOL_TIMEOUT_MS` | how long a request waits for a free connection before it answers 503 | `5000` |
//! | `SECRET_KEY`        | at least 32 characters; derives the links of emailed and idempotent invitations | — (key file) |
//! | `SECRET_KEY_FILE`   | file holding the key; created with mode 0600 on first start when missing. Used when `SECRET_KEY` is unset | `<sqlite file>.key`, or `./scorekeeper.key` with PostgreSQL |
//! | `SQLITE_BUSY_TIMEOUT_MS` | how long an SQLite writer waits for the lock before answering 503 | `10000` |
//! | `SMTP_POOL_SIZE`    | SMTP connections kept open; at most this many emails are sent at once | `4`                        |
//! | `SMTP_TIMEOUT_SECS` | timeout of opening an SMTP session (connect, greeting, STARTTLS, login) and of checking a kept one; a whole send is bounded by half of `OUTBOX_LEASE_SECS` | `30` |
//! | `OUTBOX_POLL_MS`    | how often the email worker looks for due emails               | `1000`                     |
//! | `OUTBOX_MAX_ATTEMPTS`| delivery attempts before an email is marked failed           | `8`                        |
//! | `OUTBOX_RETRY_BASE_MS`| first retry delay; it doubles per attempt (with jitter)     | `30000`                    |
//! | `OUTBOX_RETRY_MAX_MS`| longest retry delay                                           | `3600000`                  |
//! | `OUTBOX_LEASE_SECS` | how long a worker owns a claimed email before others may retry it | `120`                  |
//! | `OUTBOX_BATCH`      | emails a worker has in flight at once (claimed, then each sent on a free SMTP connection) | `32`                       |
//! | `PUBLIC_RATE_PER_MINUTE_IP` | widget requests one client address may make a minute (bursts of a quarter) | `120` |
//! | `PUBLIC_RATE_PER_MINUTE_KEY` | widget requests for one survey key a minute, all clients together | `6000` |
//! | `WEBHOOK_ALLOW_LOOPBACK` | `true` lets webhooks reach loopback addresses (single-host set-ups, tests) | `false` |
//! | `WEBHOOK_BLOCK_PRIVATE` | `true` also refuses private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) | `false` |
//! | `WEBHOOK_TIMEOUT_SECS` | timeout of one delivery (connect and answer) | `10` |
//! | `WEBHOOK_POLL_MS`   | how often the webhook worker looks for due deliveries          | `1000` |
//! | `WEBHOOK_RETRY_BASE_MS` | first retry delay; it doubles per attempt (with jitter)   | `10000` |
//! | `WEBHOOK_RETRY_MAX_MS` | longest retry delay                                        | `3600000` |
//! | `WEBHOOK_MAX_AGE_SECS` | retry a delivery for this long, then mark it failed        | `86400` |
//! | `ANSWER_RATE_PER_MINUTE_IP` | survey and unsubscribe page views and answers one client address may make a minute, an IPv6 address counted as its /64 (an office behind one NAT answers a pulse at once) | `6000` |
//! | `ANSWER_RATE_PER_MINUTE_LINK` | answers (and page-open beacons) of one survey link a minute; page views are not counted, since mail scanners fetch every rating link | `60` |
//! | `API_RATE_PER_MINUTE_KEY` | API calls one key may make a minute (bursts of a quarter) | `6000` |
//! | `METRICS_TOKEN`     | if set, `GET /metrics` wants `Authorization: Bearer <it>`; unset, it is open (keep it on a private network) | — |
//! | `CAMPAIGN_POLL_MS`  | how often campaigns start due cycles and queue due reminders    | `30000` |
//! | `ANSWER_WRITERS`    | writer lanes that commit batches of answers (group commit); lanes beyond two contend for the same rollup rows | `1` on SQLite; `2` on PostgreSQL (`1` with a pool under 4) |
//! | `ANSWER_BATCH_MAX`  | the most answers committed in one transaction                  | `256` |
//! | `UPLOADS_AT_ONCE`   | audience uploads read and parsed at once (a JSON upload takes many times its size while parsed); another waits up to 5 s, then answers 503 | `2` |
//! | `SHUTDOWN_GRACE_SECS` | on SIGTERM/SIGINT, how long in-flight requests may take to finish before the server stops anyway | `30` |
//! | `LOG_FORMAT`        | `json` for one JSON object per log line; otherwise text          | text |
//! | `RUST_LOG`          | log filter (tracing-subscriber syntax)                        | `info`                     |

use std::time::Duration;

use anyhow::{bail, Context};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// How webhooks are delivered.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Let deliveries reach loopback.
    pub allow_loopback: bool,
    /// Refuse private ranges too.
    pub block_private: bool,
    /// Timeout of one delivery.
    pub timeout: Duration,
    /// How often the worker looks for due deliveries.
    pub poll_interval: Duration,
    /// First retry delay.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long a delivery is retried.
    pub max_age: Duration,
}

/// Where the data lives: an SQLite file or a PostgreSQL server.
#[derive(Clone, Debug)]
pub enum DatabaseUrl {
    /// A path to an SQLite file, created if missing.
    Sqlite(String),
    /// A `postgres://` URL, which may carry a password.
    Postgres(SecretString),
}

impl DatabaseUrl {
    /// Parses `DATABASE_URL`: `postgres://` or `postgresql://` selects PostgreSQL, anything else SQLite.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            bail!("DATABASE_URL is empty");
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Url::parse(raw).context("DATABASE_URL is not a valid postgres:// URL")?;
            return Ok(Self::Postgres(SecretString::from(raw.to_owned())));
        }
        let path = raw.strip_prefix("sqlite://").unwrap_or(raw);
        if path.is_empty() {
            bail!("DATABASE_URL names no SQLite file");
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// The string handed to Diesel. It may contain a password: never log it.
    pub fn connection_string(&self) -> &str {
        match self {
            Self::Sqlite(path) => path,
            Self::Postgres(url) => url.expose_secret(),
        }
    }

    /// A form safe to log, with any password replaced.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{path}"),
            Self::Postgres(url) => match Url::parse(url.expose_secret()) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    url.to_string()
                }
                Err(_) => "postgres://(unparseable)".to_owned(),
            },
        }
    }
}

/// Everything the service reads from its environment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The database to use.
    pub database_url: DatabaseUrl,
    /// The address to bind, `host:port`; port 0 picks a free port.
    pub listen_addr: String,
    /// Base URL for public links; `None` means `http://` + the bound address.
    pub public_url: Option<Url>,
    /// SMTP server for the email channel; `None` disables email.
    pub smtp_url: Option<SecretString>,
    /// Sender address for survey emails.
    pub mail_from: String,
    /// Connections kept in the database pool.
    pub pool_size: u32,
    /// How long a request waits for a pooled connection.
    pub pool_timeout: Duration,
    /// Email delivery tuning.
    pub outbox: OutboxSettings,
    /// The server key's secret; `None` means the key file.
    pub secret_key: Option<SecretString>,
    /// Where the key file is; `None` means [`crate::keyfile::default_path`].
    pub secret_key_file: Option<std::path::PathBuf>,
    /// How long an SQLite writer waits for the write lock.
    pub sqlite_busy_timeout_ms: u32,
    /// Webhook delivery settings.
    pub webhooks: WebhookSettings,
    /// Every rate limit, in requests a minute.
    pub limits: crate::limits::LimitSettings,
    /// How often the campaign worker starts due cycles and sends due reminders.
    pub campaign_poll: Duration,
    /// The bearer token `GET /metrics` wants; `None` serves it to anyone who reaches it.
    pub metrics_token: Option<String>,
    /// How answers are batched into transactions.
    pub ingest: crate::ingest::IngestSettings,
    /// How long a stopping server lets in-flight requests finish.
    pub shutdown_grace: Duration,
    /// Audience uploads read and parsed at once.
    pub uploads_at_once: usize,
}

/// Shortest accepted server key, in characters.
pub const MIN_SECRET_KEY_CHARS: usize = 32;

/// How the email worker and its SMTP transport behave.
#[derive(Clone, Debug)]
pub struct OutboxSettings {
    /// SMTP connections kept open, and the most emails sent at once.
    pub smtp_pool_size: u32,
    /// Timeout of opening an SMTP session and of checking a kept one.
    pub smtp_timeout: Duration,
    /// Pause between looks for due emails when idle.
    pub poll_interval: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
    /// First retry delay.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long a claim lasts.
    pub lease: Duration,
    /// Emails a worker has in flight at once.
    pub batch: u32,
}

impl Settings {
    /// Reads settings from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can supply their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database_url = DatabaseUrl::parse(
            &get("DATABASE_URL").unwrap_or_else(|| "sqlite://scorekeeper.db".to_owned()),
        )?;
        let listen_addr = get("LISTEN_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let public_url = get("PUBLIC_URL")
            .map(|raw| parse_public_url(&raw))
            .transpose()?;
        let smtp_url = get("SMTP_URL").map(SecretString::from);
        let mail_from = get("MAIL_FROM").unwrap_or_else(|| "surveys@localhost".to_owned());
        let pool_size = match get("DATABASE_POOL_SIZE") {
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .context("DATABASE_POOL_SIZE must be a whole number from 1 to 256")?,
            None => 8,
        };
        let number = |name: &str,
                      default: u64,
                      range: std::ops::RangeInclusive<u64>|
         -> anyhow::Result<u64> {
            match get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .with_context(|| {
                        format!(
                            "{name} must be a whole number from {} to {}",
                            range.start(),
                            range.end()
                        )
                    }),
            }
        };
        let outbox = OutboxSettings {
            smtp_pool_size: number("SMTP_POOL_SIZE", 4, 1..=64)? as u32,
            smtp_timeout: Duration::from_secs(number("SMTP_TIMEOUT_SECS", 30, 1..=600)?),
            poll_interval: Duration::from_millis(number("OUTBOX_POLL_MS", 1000, 10..=60_000)?),
            max_attempts: number("OUTBOX_MAX_ATTEMPTS", 8, 1..=100)? as u32,
            retry_base: Duration::from_millis(number(
                "OUTBOX_RETRY_BASE_MS",
                30_000,
                1..=86_400_000,
            )?),
            retry_max: Duration::from_millis(number(
                "OUTBOX_RETRY_MAX_MS",
                3_600_000,
                1..=604_800_000,
            )?),
            lease: Duration::from_secs(number("OUTBOX_LEASE_SECS", 120, 1..=86_400)?),
            batch: number("OUTBOX_BATCH", 32, 1..=500)? as u32,
        };
        // A claim must outlast a slow send, or a second worker could send the same email.
        if outbox.lease < outbox.smtp_timeout * 2 {
            bail!("OUTBOX_LEASE_SECS must be at least twice SMTP_TIMEOUT_SECS");
        }
        if let Err(err) = mail_from.parse::<lettre::Address>() {
            bail!("MAIL_FROM is not a valid email address: {err}");
        }
        let secret_key = get("SECRET_KEY").map(SecretString::from);
        if secret_key
            .as_ref()
            .is_some_and(|k| k.expose_secret().chars().count() < MIN_SECRET_KEY_CHARS)
        {
            bail!("SECRET_KEY must be at least {MIN_SECRET_KEY_CHARS} characters long");
        }
        let secret_key_file = get("SECRET_KEY_FILE").map(std::path::PathBuf::from);
        if secret_key.is_some() && secret_key_file.is_some() {
            bail!("set SECRET_KEY or SECRET_KEY_FILE, not both");
        }
        let sqlite_busy_timeout_ms = number("SQLITE_BUSY_TIMEOUT_MS", 10_000, 1..=600_000)? as u32;
        let rate = |name: &str, default: u64| -> anyhow::Result<std::num::NonZeroU32> {
            let n = number(name, default, 1..=1_000_000)?;
            std::num::NonZeroU32::new(n as u32).context("rates are at least 1")
        };
        let flag = |name: &str| -> anyhow::Result<bool> {
            match get(name).map(|v| v.trim().to_ascii_lowercase()) {
                None => Ok(false),
                Some(v) if v == "true" || v == "1" => Ok(true),
                Some(v) if v == "false" || v == "0" => Ok(false),
                Some(_) => bail!("{name} must be true or false"),
            }
        };
        let webhooks = WebhookSettings {
            allow_loopback: flag("WEBHOOK_ALLOW_LOOPBACK")?,
            block_private: flag("WEBHOOK_BLOCK_PRIVATE")?,
            timeout: Duration::from_secs(number("WEBHOOK_TIMEOUT_SECS", 10, 1..=120)?),
            poll_interval: Duration::from_millis(number("WEBHOOK_POLL_MS", 1000, 10..=60_000)?),
            retry_base: Duration::from_millis(number(
                "WEBHOOK_RETRY_BASE_MS",
                10_000,
                1..=86_400_000,
            )?),
            retry_max: Duration::from_millis(number(
                "WEBHOOK_RETRY_MAX_MS",
                3_600_000,
                1..=86_400_000,
            )?),
            max_age: Duration::from_secs(number("WEBHOOK_MAX_AGE_SECS", 86_400, 1..=604_800)?),
        };
        let limits = crate::limits::LimitSettings {
            widget_per_ip: rate("PUBLIC_RATE_PER_MINUTE_IP", 120)?,
            widget_per_key: rate("PUBLIC_RATE_PER_MINUTE_KEY", 6000)?,
            answer_per_ip: rate("ANSWER_RATE_PER_MINUTE_IP", 6000)?,
            answer_per_link: rate("ANSWER_RATE_PER_MINUTE_LINK", 60)?,
            api_per_key: rate("API_RATE_PER_MINUTE_KEY", 6000)?,
        };
        let ingest = crate::ingest::IngestSettings {
            writers: number(
                "ANSWER_WRITERS",
                match database_url {
                    DatabaseUrl::Sqlite(_) => 1,
                    // Two lanes overlap one batch's statements with the other's commit;
                    // more only queue on the same rollup rows (bench-ingest: 1 lane
                    // 2,520/s, 2 lanes 3,103/s, 4 lanes 2,200/s).
                    DatabaseUrl::Postgres(_) => u64::from(pool_size / 2).clamp(1, 2),
                },
                1..=64,
            )? as usize,
            batch_max: number("ANSWER_BATCH_MAX", 256, 1..=4096)? as usize,
        };
        if ingest.writers as u32 >= pool_size {
            bail!("ANSWER_WRITERS must be below DATABASE_POOL_SIZE ({pool_size}): requests need connections too");
        }
        Ok(Self {
            pool_timeout: Duration::from_millis(number(
                "DATABASE_POOL_TIMEOUT_MS",
                5_000,
                10..=600_000,
            )?),
            ingest,
            shutdown_grace: Duration::from_secs(number("SHUTDOWN_GRACE_SECS", 30, 1..=3600)?),
            uploads_at_once: number("UPLOADS_AT_ONCE", 2, 1..=64)? as usize,
            database_url,
            listen_addr,
            public_url,
            smtp_url,
            mail_from,
            pool_size,
            outbox,
            secret_key,
            secret_key_file,
            sqlite_busy_timeout_ms,
            webhooks,
            limits,
            campaign_poll: Duration::from_millis(number(
                "CAMPAIGN_POLL_MS",
                30_000,
                10..=3_600_000,
            )?),
            metrics_token: get("METRICS_TOKEN"),
        })
    }
}

/// Parses `PUBLIC_URL`, which must be an absolute http(s) URL; a trailing slash is dropped.
pub fn parse_public_url(raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw.trim_end_matches('/')).context("PUBLIC_URL is not a valid URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("PUBLIC_URL must start with http:// or https://");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_use_the_embedded_sqlite_file() {
        let s = settings(&[]).unwrap();
        assert!(matches!(s.database_url, DatabaseUrl::Sqlite(ref p) if p == "scorekeeper.db"));
        assert_eq!(s.listen_addr, "127.0.0.1:8080");
        assert!(s.public_url.is_none());
        assert!(s.smtp_url.is_none());
        assert_eq!(s.mail_from, "surveys@localhost");
    }

    #[test]
    fn postgres_urls_select_postgres_and_are_redacted_in_logs() {
        let s = settings(&[("DATABASE_URL", "postgres://u:hunter2@db:5432/x")]).unwrap();
        assert!(matches!(s.database_url, DatabaseUrl::Postgres(_)));
        assert!(!s.database_url.redacted().contains("hunter2"));
    }

    #[test]
    fn a_plain_path_is_an_sqlite_file() {
        let s = settings(&[("DATABASE_URL", "/tmp/x.db")]).unwrap();
        assert!(matches!(s.database_url, DatabaseUrl::Sqlite(ref p) if p == "/tmp/x.db"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = settings(&[("DATABASE_POOL_SIZE", "lots")]).unwrap_err();
        assert!(err.to_string().contains("DATABASE_POOL_SIZE"));
        let err = settings(&[("PUBLIC_URL", "ftp://x")]).unwrap_err();
        assert!(err.to_string().contains("PUBLIC_URL"));
        let err = settings(&[("OUTBOX_MAX_ATTEMPTS", "0")]).unwrap_err();
        assert!(err.to_string().contains("OUTBOX_MAX_ATTEMPTS"));
        let err =
            settings(&[("OUTBOX_LEASE_SECS", "30"), ("SMTP_TIMEOUT_SECS", "30")]).unwrap_err();
        assert!(err.to_string().contains("OUTBOX_LEASE_SECS"));
        let err = settings(&[("SQLITE_BUSY_TIMEOUT_MS", "0")]).unwrap_err();
        assert!(err.to_string().contains("SQLITE_BUSY_TIMEOUT_MS"));
        let both = [
            ("SECRET_KEY", "k".repeat(40)),
            ("SECRET_KEY_FILE", "/k".into()),
        ];
        let both: Vec<(&str, &str)> = both.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert!(settings(&both)
            .unwrap_err()
            .to_string()
            .contains("SECRET_KEY_FILE"));
        let err = settings(&[("SECRET_KEY", "short")]).unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY"));
        let err = settings(&[("MAIL_FROM", "not an address")]).unwrap_err();
        assert!(err.to_string().contains("MAIL_FROM"));
    }
}
