//! Random secrets handed out once (API keys, survey tokens) and the hashes we keep instead.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
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

/// The server's own secret. It derives the link tokens of emailed and idempotent
/// invitations from their ids, so the outbox and a replayed request can rebuild the links
/// while no token is ever stored.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(…)")
    }
}

impl ServerKey {
    /// A key from configured text (`SECRET_KEY`) or a stored random value.
    pub fn from_secret(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// A fresh random secret, as text to store.
    pub fn generate_secret() -> String {
        random_text(KEY_BYTES)
    }

    fn mac(&self, parts: &[&str]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac.finalize().into_bytes().into()
    }

    /// The link token of invitation `invitation_id`: deterministic under this key,
    /// unguessable without it.
    pub fn derive_token(&self, invitation_id: &str) -> SurveyToken {
        let mac = self.mac(&["link-token", invitation_id]);
        SurveyToken(URL_SAFE_NO_PAD.encode(&mac[..TOKEN_BYTES]))
    }

    /// The unsubscribe token of emailed invitation `invitation_id`. It is bound to that
    /// purpose: the survey token cannot unsubscribe, and this one cannot answer.
    pub fn derive_unsubscribe_token(&self, invitation_id: &str) -> SurveyToken {
        let mac = self.mac(&["unsubscribe-token", invitation_id]);
        SurveyToken(URL_SAFE_NO_PAD.encode(&mac[..TOKEN_BYTES]))
    }

    /// The signing secret of webhook `webhook_id`: derived, never stored, so a copy of the
    /// database alone cannot forge deliveries. Changing `SECRET_KEY` changes every one.
    pub fn derive_webhook_secret(&self, webhook_id: &str) -> String {
        let mac = self.mac(&["webhook-secret", webhook_id]);
        format!("whsec_{}", URL_SAFE_NO_PAD.encode(mac))
    }
}

/// A client's `Idempotency-Key` (stored only as [`IdempotencyKey::hash`]).
#[derive(Debug, Clone)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Accepts 1 to 255 visible ASCII characters.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(raw.to_owned()))
    }

    /// The stored form, scoped to a workspace. It does not depend on the server key, so
    /// a retried request is recognised even after `SECRET_KEY` changed (and then refused,
    /// since its links cannot be rebuilt) rather than issuing a second invitation.
    pub fn hash(&self, workspace_id: &str) -> String {
        sha256_hex(&format!("idempotency-key\0{workspace_id}\0{}", self.0))
    }
}

/// SHA-256 of `text`, hex-encoded.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `bytes` random bytes from the operating system's CSPRNG, as URL-safe base64.
pub fn random_text(bytes: usize) -> String {
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
    fn derived_tokens_are_stable_per_key_and_id_and_valid_tokens() {
        let key = ServerKey::from_secret("correct horse battery staple, but longer");
        let a = key.derive_token("inv-1");
        assert_eq!(a, key.derive_token("inv-1"));
        assert_ne!(a, key.derive_token("inv-2"));
        assert_ne!(
            a,
            ServerKey::from_secret("another key entirely, also long").derive_token("inv-1")
        );
        assert_eq!(SurveyToken::parse(a.as_str()), Some(a.clone()));
        let unsubscribe = key.derive_unsubscribe_token("inv-1");
        assert_ne!(unsubscribe, a, "each purpose has its own token");
        assert_eq!(unsubscribe, key.derive_unsubscribe_token("inv-1"));
        let idem = IdempotencyKey::parse("ticket-4211-closed").unwrap();
        assert_ne!(idem.hash("ws1"), idem.hash("ws2"));
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
