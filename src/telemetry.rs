//! Logging set-up: structured logs to stderr, filtered by `RUST_LOG` (default `info`), as
//! text or, with `LOG_FORMAT=json`, one JSON object per line.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber with `info` unless `RUST_LOG` says otherwise.
pub fn init() {
    init_with_default("info");
}

/// Installs the global subscriber with `default` as the filter when `RUST_LOG` is unset;
/// later calls are ignored (tests build many apps).
pub fn init_with_default(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.trim().eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        logs.json().try_init()
    } else {
        logs.try_init()
    };
}

/// A request path fit for logs: the secret segment of `/r/{token}`, `/u/{token}`,
/// `/d/{token}` (a dashboard's share link) and `/w/{key}/answers/{token}` is replaced, so
/// survey tokens and share links never reach a log. Query strings
/// are never logged.
pub fn redact_path(path: &str) -> String {
    if let Some((widget, _)) = path
        .strip_prefix("/w/")
        .and_then(|rest| rest.split_once("/answers/"))
    {
        return format!("/w/{widget}/answers/<token>");
    }
    for prefix in ["/r/", "/u/", "/d/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            return format!("{prefix}<token>{tail}");
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survey_tokens_are_kept_out_of_logged_paths() {
        assert_eq!(redact_path("/r/AbC_123-xyz"), "/r/<token>");
        assert_eq!(redact_path("/u/AbC_123-xyz"), "/u/<token>");
        assert_eq!(redact_path("/d/AbC_123-xyz"), "/d/<token>");
        assert_eq!(
            redact_path("/d/AbC_123-xyz/responses.csv"),
            "/d/<token>/responses.csv"
        );
        assert_eq!(
            redact_path("/w/pk_abc/answers/AbC_123-xyz"),
            "/w/pk_abc/answers/<token>"
        );
        assert_eq!(
            redact_path("/w/pk_abc/impressions"),
            "/w/pk_abc/impressions"
        );
        assert_eq!(
            redact_path("/v1/surveys/abc/stats"),
            "/v1/surveys/abc/stats"
        );
    }
}
