//! Survey, unsubscribe and dashboard tokens from URLs: parsing never panics, and a parsed
//! token hashes and prints back to what was parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scorekeeper::domain::secret::SurveyToken;

fuzz_target!(|raw: &str| {
    if let Some(token) = SurveyToken::parse(raw) {
        assert_eq!(token.as_str(), raw);
        let _ = token.hash();
    }
});
