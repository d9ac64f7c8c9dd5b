//! A real SMTP server on loopback for the email tests: `tests/support/smtp_sink.py`
//! (aiosmtpd), started per test, writing each message it accepts to a temp directory.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running SMTP sink.
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

/// One received message, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    /// Subject.
    pub subject: String,
    /// First To address.
    pub to: String,
    /// From display name and address, as `Name <addr>`.
    pub from: String,
    /// The HTML part.
    pub html: String,
    /// The text part.
    pub text: String,
    /// The Message-ID.
    pub message_id: String,
    /// `List-Unsubscribe`.
    pub list_unsubscribe: String,
    /// `List-Unsubscribe-Post`.
    pub list_unsubscribe_post: String,
    /// The top-level Content-Type.
    pub content_type: String,
}

/// A port on loopback that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Why a sink did not start, for the panic.
const NOT_STARTED: &str =
    "the SMTP sink did not start (is aiosmtpd installed? scripts/setup-test-tools)";

impl SmtpSink {
    /// Starts a sink on a free port.
    pub fn start() -> Self {
        Self::spawn_on_a_free_port(&[])
    }

    /// Starts a sink on `port`, waiting until it listens.
    pub fn start_on(port: u16) -> Self {
        Self::spawn(port, &[]).unwrap_or_else(|| panic!("{NOT_STARTED} on port {port}"))
    }

    /// Starts a slow sink: its first `transactions` answer MAIL, RCPT and DATA `delay` late.
    pub fn start_slow(transactions: u32, delay: Duration) -> Self {
        let args = [
            "--slow-first".to_owned(),
            transactions.to_string(),
            "--delay".to_owned(),
            delay.as_secs_f64().to_string(),
        ];
        Self::spawn_on_a_free_port(&args)
    }

    /// Spawns a sink on a port that was free a moment ago, and on another if something else
    /// took it meanwhile (tests running beside it bind ports too).
    fn spawn_on_a_free_port(extra: &[String]) -> Self {
        (0..5)
            .find_map(|_| Self::spawn(free_port(), extra))
            .unwrap_or_else(|| panic!("{NOT_STARTED} on any of 5 free ports"))
    }

    /// The sink on `port` once it listens, or `None` if it could not (it has exited).
    fn spawn(port: u16, extra: &[String]) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .args([script, "--port", &port.to_string(), "--dir"])
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3 (run scripts/setup-test-tools to install aiosmtpd)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read from the SMTP sink");
        if line.trim() != "READY" {
            let _ = child.wait();
            return None;
        }
        Some(Self { port, dir, child })
    }

    /// `SMTP_URL` for this sink.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                out.push(parse(&std::fs::read(&path).unwrap()));
            }
        }
        out
    }

    /// How many distinct connections the messages received so far came on.
    pub fn connections(&self) -> usize {
        let log =
            std::fs::read_to_string(self.dir.path().join("connections.log")).unwrap_or_default();
        log.lines().collect::<std::collections::HashSet<_>>().len()
    }

    /// Waits until at least `n` messages arrived (or `timeout` passes) and returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let messages = self.messages();
            if messages.len() >= n || start.elapsed() > timeout {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(bytes: &[u8]) -> Received {
    let message = mail_parser::MessageParser::default()
        .parse(bytes)
        .expect("a parseable message");
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let addr = |a: Option<&mail_parser::Address>| {
        a.and_then(|a| a.first())
            .map(|a| match (a.name(), a.address()) {
                (Some(n), Some(e)) => format!("{n} <{e}>"),
                (None, Some(e)) => e.to_owned(),
                _ => String::new(),
            })
            .unwrap_or_default()
    };
    Received {
        subject: message.subject().unwrap_or_default().to_owned(),
        to: addr(message.to()),
        from: addr(message.from()),
        html: message
            .body_html(0)
            .map(|c| c.into_owned())
            .unwrap_or_default(),
        text: message
            .body_text(0)
            .map(|c| c.into_owned())
            .unwrap_or_default(),
        message_id: message.message_id().unwrap_or_default().to_owned(),
        list_unsubscribe: header("List-Unsubscribe"),
        list_unsubscribe_post: header("List-Unsubscribe-Post"),
        content_type: header("Content-Type"),
    }
}
