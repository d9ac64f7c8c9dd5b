//! What every public HTML page shares: its security headers, and errors shown as pages.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;
use crate::pages;

/// A rendered page and the nonce its inline script carries, if it has one.
#[derive(Debug)]
pub struct Page {
    /// The HTML.
    pub html: String,
    /// The CSP nonce of the page's script; `None` allows no script at all.
    pub script_nonce: Option<String>,
    /// The CSP nonce of the page's style sheet; `None` allows inline styles (the message
    /// pages' shared sheet).
    pub style_nonce: Option<String>,
}

impl Page {
    /// A page without script.
    pub fn static_html(html: String) -> Self {
        Self {
            html,
            script_nonce: None,
            style_nonce: None,
        }
    }
}

/// The client's address, which public pages and answers are rate-limited by: the TCP peer
/// (a proxy in front answers for its clients as one), as [`limit_key`] counts it.
pub fn peer(req: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| limit_key(a.ip()))
}

/// The address a limit counts for `ip`: an IPv4 address as it is, an IPv6 one as its /64
/// (one host is routinely given a whole /64, so counting its addresses one by one would
/// give it limits without end), an IPv4-mapped IPv6 one as its IPv4 address.
pub fn limit_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv6Addr};
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// Wraps a page with the headers every public page carries.
pub fn respond(status: StatusCode, page: Page) -> HttpResponse {
    let script_src = match &page.script_nonce {
        Some(nonce) => format!("'nonce-{nonce}'"),
        None => "'none'".to_owned(),
    };
    let style_src = match &page.style_nonce {
        Some(nonce) => format!("'nonce-{nonce}'"),
        None => "'unsafe-inline'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; style-src {style_src}; script-src {script_src}; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // The token is in the URL: never leak it to another site.
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header(("X-Robots-Tag", "noindex, nofollow"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        response.insert_header((header::CONTENT_SECURITY_POLICY, csp));
    }
    response.body(page.html)
}

/// Renders an error as a page for a person.
pub fn error(err: &ApiError) -> HttpResponse {
    let status = err.status_code();
    if status.is_server_error() {
        // Logs the cause.
        let _ = err.error_response();
    }
    let (title, message) = match err {
        ApiError::NotFound(_) => (
            "Link not found",
            "This link is not valid. Please check that you copied the whole link.".to_owned(),
        ),
        ApiError::Gone => (
            "Survey closed",
            "This survey link has expired. Thank you all the same.".to_owned(),
        ),
        ApiError::RateLimited(_) => (
            "Too many tries",
            "This page was asked for too often just now. Please try again in a minute.".to_owned(),
        ),
        ApiError::Invalid(_)
        | ApiError::MalformedBody(_)
        | ApiError::BadRequest(_)
        | ApiError::PayloadTooLarge(_) => ("Please check your answer", err.to_string()),
        _ => (
            "Something went wrong",
            "We could not record your answer just now. Please try again in a minute.".to_owned(),
        ),
    };
    let mut response = respond(status, Page::static_html(pages::message(title, &message)));
    let retry_after = match err {
        ApiError::Unavailable(_) => Some(u64::from(crate::error::RETRY_AFTER_SECS)),
        ApiError::RateLimited(secs) => Some(*secs),
        _ => None,
    };
    if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::limit_key;

    #[test]
    fn an_ipv6_host_is_limited_as_its_slash_64() {
        let a = limit_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = limit_key("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap());
        let other = limit_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::".parse::<std::net::IpAddr>().unwrap());
        assert_ne!(a, other);
        assert_eq!(
            limit_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(
            limit_key("192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<std::net::IpAddr>().unwrap()
        );
    }
}
