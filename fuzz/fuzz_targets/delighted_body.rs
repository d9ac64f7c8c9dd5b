//! Delighted-style request parameters (form bodies with `properties[agent]=bo`, JSON bodies,
//! query strings) and the typed reads the facade makes of them: nothing panics.
#![no_main]

use actix_web::http::Method;
use libfuzzer_sys::fuzz_target;
use scorekeeper::delighted::body;

fuzz_target!(|input: (&str, &[u8])| {
    let (query, data) = input;
    for content_type in ["application/x-www-form-urlencoded", "application/json"] {
        if let Ok(params) = body::params(&Method::POST, content_type, query, data) {
            let _ = body::text(&params, "name");
            let _ = body::integer(&params, "delay");
            let _ = body::boolean(&params, "send");
            let _ = body::list(&params, "tags");
            let _ = body::properties(&params, "properties");
            let _ = body::email(&params, "email");
            let _ = body::per_page(&params);
            let _ = body::page(&params);
        }
    }
});
