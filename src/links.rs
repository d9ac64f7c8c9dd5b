//! Public links: the survey page and its one-click rating links.

use url::Url;

/// Builds links under the service's public base URL.
#[derive(Debug, Clone)]
pub struct Links {
    base: Url,
}

impl Links {
    /// Links under `base` (no trailing slash needed).
    pub fn new(base: Url) -> Self {
        Self { base }
    }

    /// The survey page for `token`: `PUBLIC_URL/r/{token}`.
    pub fn survey(&self, token: &str) -> String {
        format!("{}/r/{token}", self.base.as_str().trim_end_matches('/'))
    }

    /// The unsubscribe page for an unsubscribe token: `PUBLIC_URL/u/{token}`.
    pub fn unsubscribe(&self, token: &str) -> String {
        format!("{}/u/{token}", self.base.as_str().trim_end_matches('/'))
    }

    /// A shared dashboard: `PUBLIC_URL/d/{token}`.
    pub fn dashboard(&self, token: &str) -> String {
        format!("{}/d/{token}", self.base.as_str().trim_end_matches('/'))
    }

    /// `PUBLIC_URL` without a trailing slash.
    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The one-click link for `score`: `PUBLIC_URL/r/{token}?score=N`.
    pub fn rating(&self, token: &str, score: i32) -> String {
        format!("{}?score={score}", self.survey(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_contract_with_or_without_a_path_prefix() {
        let links = Links::new(Url::parse("https://x.example/surveys/").unwrap());
        assert_eq!(links.survey("t"), "https://x.example/surveys/r/t");
        assert_eq!(
            links.rating("t", 9),
            "https://x.example/surveys/r/t?score=9"
        );
        let links = Links::new(Url::parse("http://127.0.0.1:8080").unwrap());
        assert_eq!(links.survey("t"), "http://127.0.0.1:8080/r/t");
    }
}
