//! What the embeddable widget needs validated: the origins allowed to embed a survey, its
//! display rules (once per visitor every N days, a sampling rate), its brand colour and the
//! survey's public key.

use rand::Rng;

use super::Invalid;

/// The longest origin accepted.
pub const MAX_ORIGIN_CHARS: usize = 300;
/// Most origins one survey may allow.
pub const MAX_ORIGINS: usize = 20;
/// The longest "once per N days" window (ten years).
pub const MAX_ONCE_PER_DAYS: i64 = 3650;
/// Days between two showings to one visitor when a survey names none.
pub const DEFAULT_ONCE_PER_DAYS: i32 = 90;
/// The brand colour when a survey names none.
pub const DEFAULT_BRAND_COLOR: &str = "#2563eb";

/// A web origin, normalised: `scheme://host[:port]`, lower case, default port dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// Parses an origin as a survey lists it (`https://help.example.com`). A path, query,
    /// credentials or wildcard are refused: an origin is exactly what a browser sends.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let bad = |why: &str| Invalid::new(field, format!("{why} (e.g. https://help.example.com)"));
        if raw.len() > MAX_ORIGIN_CHARS {
            return Err(bad("is longer than 300 characters"));
        }
        let url = url::Url::parse(raw.trim()).map_err(|_| bad("is not an origin"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("must start with http:// or https://"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not hold credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
            return Err(bad("must be an origin alone, with no path"));
        }
        if url.host_str().is_none_or(|h| h.contains('*')) {
            return Err(bad("must name one host, without wildcards"));
        }
        let origin = url.origin().ascii_serialization();
        if origin == "null" {
            return Err(bad("is not an origin"));
        }
        Ok(Self(origin))
    }

    /// The normalised form, as browsers send it in `Origin`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The origins allowed to embed a survey.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<Origin>);

impl AllowedOrigins {
    /// Validates a list given through the API (field `allowed_origins`).
    pub fn parse(raw: &[String]) -> Result<Self, Invalid> {
        if raw.len() > MAX_ORIGINS {
            return Err(Invalid::new(
                "allowed_origins",
                format!("at most {MAX_ORIGINS} origins"),
            ));
        }
        let mut list: Vec<Origin> = Vec::with_capacity(raw.len());
        for (i, origin) in raw.iter().enumerate() {
            let origin = Origin::parse(&format!("allowed_origins[{i}]"), origin)?;
            if !list.contains(&origin) {
                list.push(origin);
            }
        }
        Ok(Self(list))
    }

    /// Reads the stored form (one origin per line).
    pub fn from_stored(stored: &str) -> Self {
        Self(
            stored
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| Origin(l.to_owned()))
                .collect(),
        )
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(Origin::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether a request's `Origin` header value is allowed (compared exactly, as browsers
    /// send origins already normalised).
    pub fn allows(&self, origin: &str) -> bool {
        self.0.iter().any(|o| o.as_str() == origin)
    }

    /// The origins, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(Origin::as_str)
    }
}

/// Validates "show at most once per visitor every N days" (0 = every time).
pub fn once_per_days(field: &str, days: i64) -> Result<i32, Invalid> {
    if !(0..=MAX_ONCE_PER_DAYS).contains(&days) {
        return Err(Invalid::new(
            field,
            format!("must be 0 (no limit) to {MAX_ONCE_PER_DAYS} days"),
        ));
    }
    Ok(days as i32)
}

/// Validates the share of visitors shown the widget, in percent.
pub fn sample_percent(field: &str, percent: i64) -> Result<i32, Invalid> {
    if !(0..=100).contains(&percent) {
        return Err(Invalid::new(field, "must be 0 to 100 (percent)"));
    }
    Ok(percent as i32)
}

/// Whether this visitor is in the sample (`percent` of visitors are).
pub fn sampled(percent: i32) -> bool {
    percent >= 100 || (percent > 0 && rand::rng().random_range(0..100) < percent)
}

/// Validates a brand colour: `#rrggbb`, stored lower case.
pub fn brand_color(raw: &str) -> Result<String, Invalid> {
    let hex = raw.strip_prefix('#').unwrap_or("");
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Invalid::new("brand_color", "must be a colour like #2563eb"));
    }
    Ok(raw.to_ascii_lowercase())
}

/// A new public survey key: names the survey to the widget. Not a secret (it is in every
/// page that embeds the widget); the allowed origins are what guard the survey.
pub fn new_public_key() -> String {
    format!("pk_{}", super::secret::random_text(18))
}

/// Whether `raw` could be a public key (so that junk is refused before any query).
pub fn looks_like_public_key(raw: &str) -> bool {
    raw.len() <= 64
        && raw.starts_with("pk_")
        && raw[3..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        let o = |s| Origin::parse("o", s).map(|o| o.as_str().to_owned());
        assert_eq!(
            o("https://Help.Example.com").unwrap(),
            "https://help.example.com"
        );
        assert_eq!(
            o("https://help.example.com/").unwrap(),
            "https://help.example.com"
        );
        assert_eq!(
            o("https://help.example.com:443").unwrap(),
            "https://help.example.com"
        );
        assert_eq!(o("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        for bad in [
            "help.example.com",
            "*",
            "https://*.example.com",
            "ftp://example.com",
            "https://example.com/path",
            "https://example.com?x=1",
            "https://user:pw@example.com",
            "https://example.com//",
            "",
            &format!("https://{}.example", "a".repeat(300)),
        ] {
            assert!(o(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allowed_origins_match_exactly_and_survive_storage() {
        let list =
            AllowedOrigins::parse(&["https://a.example".into(), "http://localhost:3000".into()])
                .unwrap();
        let stored = AllowedOrigins::from_stored(&list.to_stored());
        assert_eq!(stored, list);
        assert!(stored.allows("https://a.example"));
        assert!(stored.allows("http://localhost:3000"));
        assert!(!stored.allows("https://a.example.evil.com"));
        assert!(!stored.allows("http://a.example"));
        assert!(!stored.allows("null"));
        assert!(!AllowedOrigins::default().allows("https://a.example"));
    }

    #[test]
    fn display_rules_and_colours_are_bounded() {
        assert_eq!(once_per_days("d", 0), Ok(0));
        assert!(once_per_days("d", -1).is_err());
        assert!(once_per_days("d", 3651).is_err());
        assert!(sample_percent("s", 101).is_err());
        assert!(!sampled(0));
        assert!(sampled(100));
        assert_eq!(brand_color("#AABBCC").unwrap(), "#aabbcc");
        assert!(brand_color("red").is_err());
        assert!(brand_color("#abc").is_err());
        assert!(looks_like_public_key(&new_public_key()));
        assert!(!looks_like_public_key("pk_<script>"));
    }
}
