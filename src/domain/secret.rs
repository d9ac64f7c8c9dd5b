//! Random secrets handed out once (API keys, survey tokens) and the hashes we keep instead.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Random bytes in a survey token: 192 bits, well above the 128 the contract asks for.
const TOKEN_BYTES: usize = 24;
/// Random bytes in an API key.
const KEY_BYTES: usize = 32;
/// Prefix that makes API keys recognisable to secret scanners and people.
const KEY_PREFIX: &str = "sk_";

/// The secret in a survey link: URL-safe base64 of random bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyToken(String);

impl SurveyToken {
    /// Draws a fresh token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self(random_text(TOKEN_BYTES))
    }

    /// Accepts only strings shaped like a token, so junk never reaches the database.
    pub fn parse(raw: &str) -> Option<Self> {
        let expected = URL_SAFE_NO_PAD.encode([0u8; TOKEN_BYTES]).len();
        let ok = raw.len() == expected
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    /// The token as it appears in URLs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hash stored in place of the token.
    pub fn hash(&self) -> String {
        sha256_hex(&self.0)
    }
}

/// A workspace API key: `sk_` followed by URL-safe base64 of random bytes.
#[derive(Debug, Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Draws a fresh key.
    pub fn generate() -> Self {
        Self(format!("{KEY_PREFIX}{}", random_text(KEY_BYTES)))
    }

    /// Wraps a key presented by a client; anything not shaped like a key is refused early.
    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(KEY_PREFIX)?;
        let ok = body.len() == URL_SAFE_NO_PAD.encode([0u8; KEY_BYTES]).len()
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    /// The key itself, shown to its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash stored in place of the key. Keys carry 256 random bits, so a fast hash
    /// is enough: there is nothing to brute-force.
    pub fn hash(&self) -> String {
        sha256_hex(&self.0)
    }
}

/// A client's `Idempotency-Key`. It is stored only as a hash, and the survey token of the
/// first answer is kept XOR-wrapped with a pad derived from the key, so a retried request
/// can get its links back while the database alone reveals no token.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Accepts 1 to 255 visible ASCII characters.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(raw.to_owned()))
    }

    /// The stored form of the key, scoped to a workspace.
    pub fn hash(&self, workspace_id: &str) -> String {
        sha256_hex(&format!(
            "scorekeeper-idempotency-key\0{workspace_id}\0{}",
            self.0
        ))
    }

    fn pad(&self, workspace_id: &str) -> [u8; 32] {
        Sha256::digest(
            format!("scorekeeper-idempotency-pad\0{workspace_id}\0{}", self.0).as_bytes(),
        )
        .into()
    }

    /// Wraps a survey token for storage (tokens are 32 characters, the pad 32 bytes).
    pub fn wrap(&self, workspace_id: &str, token: &SurveyToken) -> String {
        let pad = self.pad(workspace_id);
        token
            .as_str()
            .bytes()
            .zip(pad)
            .map(|(b, p)| format!("{:02x}", b ^ p))
            .collect()
    }

    /// Recovers a token wrapped by [`wrap`](Self::wrap) with the same key and workspace.
    pub fn unwrap(&self, workspace_id: &str, wrapped: &str) -> Option<SurveyToken> {
        let pad = self.pad(workspace_id);
        if wrapped.len() % 2 != 0 || wrapped.len() / 2 > pad.len() {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..wrapped.len())
            .step_by(2)
            .zip(pad)
            .map(|(i, p)| {
                u8::from_str_radix(wrapped.get(i..i + 2)?, 16)
                    .ok()
                    .map(|b| b ^ p)
            })
            .collect();
        SurveyToken::parse(std::str::from_utf8(&bytes?).ok()?)
    }
}

/// SHA-256 of `text`, hex-encoded.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_text(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_long_enough_and_distinct() {
        let a = SurveyToken::generate();
        let b = SurveyToken::generate();
        assert_ne!(a, b);
        assert!(a.as_str().len() * 6 >= 128);
        assert_eq!(SurveyToken::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.hash().len(), 64);
        assert_ne!(a.hash(), a.as_str());
    }

    #[test]
    fn a_wrapped_token_comes_back_only_with_the_same_key_and_workspace() {
        let token = SurveyToken::generate();
        let key = IdempotencyKey::parse("ticket-4211-closed").unwrap();
        let wrapped = key.wrap("ws1", &token);
        assert!(!wrapped.contains(token.as_str()));
        assert_eq!(key.unwrap("ws1", &wrapped), Some(token.clone()));
        assert_ne!(key.unwrap("ws2", &wrapped), Some(token.clone()));
        let other = IdempotencyKey::parse("ticket-4212-closed").unwrap();
        assert_ne!(other.unwrap("ws1", &wrapped), Some(token));
        assert_ne!(key.hash("ws1"), key.hash("ws2"));
        assert!(IdempotencyKey::parse("").is_none());
        assert!(IdempotencyKey::parse("has space").is_none());
    }

    #[test]
    fn malformed_tokens_and_keys_are_refused() {
        assert!(SurveyToken::parse("short").is_none());
        assert!(SurveyToken::parse(&"a/".repeat(16)).is_none());
        assert!(ApiKey::parse("sk_nope").is_none());
        let key = ApiKey::generate();
        assert!(ApiKey::parse(key.expose()).is_some());
        assert!(ApiKey::parse(&key.expose()[3..]).is_none());
    }
}
