//! `widget.js`, compiled into the binary, with its version (a hash of its content) for the
//! long-cached versioned URL and the `ETag`.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The widget's source.
pub const SOURCE: &str = include_str!("../../widget/widget.js");

/// The first 16 hex digits of the source's SHA-256: names this build of the script.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let digest = Sha256::digest(SOURCE.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    })
}

/// The `ETag` value (quoted, strong).
pub fn etag() -> String {
    format!("\"{}\"", version())
}
