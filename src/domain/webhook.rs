//! Outbound webhooks: the event types, the Stripe-style signature, and which addresses a
//! delivery may reach (the SSRF rules, checked on the resolved address at delivery time).

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Invalid;

/// The events a webhook can subscribe to.
pub const EVENTS: [&str; 5] = [
    "response.created",
    "response.updated",
    "invitation.failed",
    "recipient.unsubscribed",
    "challenge.resolved",
];

/// Most webhooks per workspace.
pub const MAX_WEBHOOKS: i64 = 20;

/// Validates a subscription's event list (at least one, each known; duplicates dropped).
pub fn parse_events(raw: &[String]) -> Result<Vec<&'static str>, Invalid> {
    if raw.is_empty() {
        return Err(Invalid::new("events", "name at least one event"));
    }
    let mut events = Vec::new();
    for (i, name) in raw.iter().enumerate() {
        let known = EVENTS.iter().find(|e| **e == name).ok_or_else(|| {
            Invalid::new(
                format!("events[{i}]"),
                format!("must be one of {}", EVENTS.join(", ")),
            )
        })?;
        if !events.contains(known) {
            events.push(*known);
        }
    }
    Ok(events)
}

/// Validates a webhook URL: absolute http(s), no credentials, at most 2,000 characters.
/// Where it resolves is checked at each delivery (DNS can change).
pub fn parse_url(raw: &str) -> Result<url::Url, Invalid> {
    let bad = |why: &str| Invalid::new("url", why.to_owned());
    if raw.len() > 2000 {
        return Err(bad("is longer than 2000 characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not hold credentials"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("must name a host"));
    }
    Ok(url)
}

/// The `Scorekeeper-Signature` header for `body` sent at Unix time `t`:
/// `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// Which targets deliveries may reach.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetPolicy {
    /// Allow loopback (single-host set-ups, tests).
    pub allow_loopback: bool,
    /// Refuse private ranges too (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7).
    pub block_private: bool,
}

impl TargetPolicy {
    /// Why `ip` may not be reached, if it may not. Link-local (the cloud metadata address
    /// 169.254.169.254 among them), unspecified, multicast and broadcast are always refused.
    pub fn refuses(self, ip: IpAddr) -> Option<&'static str> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => {
                if v4.is_loopback() && !self.allow_loopback {
                    Some("loopback")
                } else if v4.is_link_local() {
                    Some("link-local")
                } else if v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() {
                    Some("not a unicast address")
                } else if (v4.is_private() || is_shared(v4)) && self.block_private {
                    Some("private")
                } else {
                    None
                }
            }
            IpAddr::V6(v6) => {
                let seg = v6.segments()[0];
                if v6.is_loopback() && !self.allow_loopback {
                    Some("loopback")
                } else if seg & 0xffc0 == 0xfe80 {
                    Some("link-local")
                } else if v6.is_unspecified() || v6.is_multicast() {
                    Some("not a unicast address")
                } else if seg & 0xfe00 == 0xfc00 && self.block_private {
                    Some("private")
                } else {
                    None
                }
            }
        }
    }
}

/// Whether `v4` is in 100.64.0.0/10, the carrier-grade NAT range (RFC 6598): not public,
/// and where some clouds keep their metadata service.
fn is_shared(v4: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    a == 100 && (b & 0xc0) == 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_mode_refuses_the_shared_address_range_too() {
        let strict = TargetPolicy {
            allow_loopback: false,
            block_private: true,
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(strict.refuses(ip("100.100.100.200")), Some("private"));
        assert_eq!(strict.refuses(ip("100.64.0.1")), Some("private"));
        assert_eq!(strict.refuses(ip("100.128.0.1")), None);
        assert_eq!(strict.refuses(ip("100.63.255.255")), None);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let sig = signature("whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            sig,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(sig, signature("whsec_other", 1_700_000_000, br#"{"a":1}"#));
        assert_ne!(sig, signature("whsec_test", 1_700_000_001, br#"{"a":1}"#));
    }

    #[test]
    fn loopback_and_link_local_are_refused_by_default_and_private_on_request() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let default = TargetPolicy::default();
        for refused in [
            "127.0.0.1",
            "::1",
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(default.refuses(ip(refused)).is_some(), "{refused}");
        }
        for allowed in ["10.0.0.5", "192.168.1.2", "93.184.216.34", "2606:4700::1"] {
            assert_eq!(default.refuses(ip(allowed)), None, "{allowed}");
        }
        let loopback = TargetPolicy {
            allow_loopback: true,
            ..default
        };
        assert_eq!(loopback.refuses(ip("127.0.0.1")), None);
        assert!(loopback.refuses(ip("169.254.169.254")).is_some());
        let strict = TargetPolicy {
            block_private: true,
            ..default
        };
        assert_eq!(strict.refuses(ip("10.0.0.5")), Some("private"));
        assert_eq!(strict.refuses(ip("fd00::1")), Some("private"));
    }

    #[test]
    fn events_and_urls_are_validated() {
        assert_eq!(
            parse_events(&["response.created".into(), "response.created".into()]).unwrap(),
            vec!["response.created"]
        );
        assert!(parse_events(&[]).is_err());
        assert_eq!(
            parse_events(&["nope".into()]).unwrap_err().field,
            "events[0]"
        );
        assert!(parse_url("https://hooks.example.com/sk").is_ok());
        for bad in [
            "ftp://x.example",
            "https://u:p@x.example",
            "/relative",
            "https://",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
