//! One delivery attempt: resolve, check the address, POST the signed body with a timeout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::db::webhook_deliveries::{Attempt, Outgoing};
use crate::domain::webhook::{signature, TargetPolicy};

/// Longest error text kept.
const MAX_ERROR_CHARS: usize = 300;

/// POSTs `out`'s body to its URL, signed with `secret`, and says what happened. The host is
/// resolved here and the connection pinned to an address the policy allows, so a DNS answer
/// cannot point the request elsewhere between the check and the call.
pub async fn deliver(
    out: &Outgoing,
    secret: &str,
    policy: TargetPolicy,
    timeout: Duration,
    now_unix: i64,
) -> Attempt {
    let started = Instant::now();
    let result = attempt(out, secret, policy, timeout, now_unix).await;
    let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    match result {
        Ok(status) if (200..300).contains(&status) => Attempt {
            status: Some(status),
            latency_ms,
            error: None,
        },
        Ok(status) => Attempt {
            status: Some(status),
            latency_ms,
            error: Some(if (300..400).contains(&status) {
                format!("the receiver answered {status}; redirects are not followed")
            } else {
                format!("the receiver answered {status}")
            }),
        },
        Err(error) => Attempt {
            status: None,
            latency_ms,
            error: Some(error.chars().take(MAX_ERROR_CHARS).collect()),
        },
    }
}

async fn attempt(
    out: &Outgoing,
    secret: &str,
    policy: TargetPolicy,
    timeout: Duration,
    now_unix: i64,
) -> Result<i32, String> {
    let url = url::Url::parse(&out.url).map_err(|e| format!("bad URL: {e}"))?;
    let host = url.host_str().ok_or("the URL has no host")?.to_owned();
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let lookup = tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), port)))
        .await
        .map_err(|_| format!("resolving {host} timed out"))?
        .map_err(|e| format!("could not resolve {host}: {e}"))?;
    let mut refusal = None;
    let mut target: Option<SocketAddr> = None;
    for addr in lookup {
        match policy.refuses(addr.ip()) {
            None => {
                target = Some(addr);
                break;
            }
            Some(why) => {
                refusal = Some(format!(
                    "{host} resolves to a {why} address ({})",
                    addr.ip()
                ))
            }
        }
    }
    let target = target
        .ok_or_else(|| refusal.unwrap_or_else(|| format!("{host} resolves to no address")))?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // Straight to the checked address: a proxy from the environment would resolve the
        // host itself, past the checks above.
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .resolve(&host, target)
        .user_agent("Scorekeeper-Webhooks/1")
        .build()
        .map_err(|e| format!("could not build the client: {e}"))?;
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(
            "Scorekeeper-Signature",
            signature(secret, now_unix, out.body.as_bytes()),
        )
        .header("Scorekeeper-Event-Id", &out.claimed.event_id)
        .body(out.body.clone())
        .send()
        .await
        .map_err(|e| format!("delivery failed: {e}"))?;
    Ok(i32::from(response.status().as_u16()))
}
