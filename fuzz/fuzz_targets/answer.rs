//! An answer's body as the public `POST /r/{token}` receives it, as JSON and as a form, on
//! every scale: parsing never panics, and an accepted score lies on its scale.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scorekeeper::domain::answer::Answer;
use scorekeeper::domain::kind::Scale;

const SCALES: [Scale; 5] = [
    Scale::OneToFive,
    Scale::Thumbs,
    Scale::ZeroToTen,
    Scale::OneToSeven,
    Scale::EffortOneToFive,
];

fn check(scale: Scale, score: Option<&serde_json::Value>, comment: Option<&str>) {
    if let Ok(answer) = Answer::parse(scale, score, comment, false, Some("fuzz")) {
        if let Some(score) = answer.score {
            assert!((scale.min()..=scale.max()).contains(&score.value()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = scorekeeper::extract::parse_json::<serde_json::Value>(data) {
        for scale in SCALES {
            check(scale, body.get("score"), body.get("comment").and_then(|c| c.as_str()));
        }
    }
    if let Ok(form) = serde_urlencoded_pairs(data) {
        let score = form.iter().find(|(k, _)| k == "score").map(|(_, v)| serde_json::Value::String(v.clone()));
        let comment = form.iter().find(|(k, _)| k == "comment").map(|(_, v)| v.as_str());
        for scale in SCALES {
            check(scale, score.as_ref(), comment);
        }
    }
});

/// The form's pairs, decoded as the answer route decodes them.
fn serde_urlencoded_pairs(data: &[u8]) -> Result<Vec<(String, String)>, ()> {
    let text = std::str::from_utf8(data).map_err(|_| ())?;
    actix_web::web::Query::<Vec<(String, String)>>::from_query(text)
        .map(|q| q.into_inner())
        .map_err(|_| ())
}
