//! Request bodies as Delighted took them: JSON, or form-encoded with bracket keys
//! (`properties[agent]=bo`, `expand[]=person`), or nothing; and query strings the same way.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use crate::db;
use crate::domain::email::EmailAddress;
use crate::domain::properties::{check_key, key_from_label, Properties};
use crate::domain::Invalid;
use crate::error::ApiError;

/// Most distinct keys read from one form or query string.
const MAX_PAIRS: usize = 200;

/// The parameters of a request: its body (JSON object or form) merged over its query string.
/// A GET's body is ignored (one official client sends `{}` with every GET).
pub fn params(
    method: &actix_web::http::Method,
    content_type: &str,
    query: &str,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let mut out = form(query.as_bytes())?;
    if method == actix_web::http::Method::GET || body.iter().all(u8::is_ascii_whitespace) {
        return Ok(out);
    }
    let from_body = if content_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        form(body)?
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(ApiError::MalformedBody(
                    "the body must be a JSON object".into(),
                ))
            }
            Err(e) => {
                return Err(ApiError::MalformedBody(format!(
                    "the body is not JSON: {e}"
                )))
            }
        }
    };
    out.extend(from_body);
    Ok(out)
}

/// A form or query string as JSON: `a=1` → `{"a": "1"}`, `p[k]=v` → `{"p": {"k": "v"}}`,
/// `e[]=x&e[]=y` → `{"e": ["x", "y"]}`, and a repeated plain key → an array.
fn form(raw: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw)
        .map_err(|e| ApiError::BadRequest(format!("the form is not valid: {e}")))?;
    if pairs.len() > MAX_PAIRS {
        return Err(Invalid::new("body", format!("at most {MAX_PAIRS} parameters")).into());
    }
    let mut out = Map::new();
    for (key, value) in pairs {
        crate::domain::text::check(&key, &value)?;
        match key.split_once('[') {
            Some((name, rest)) if rest.ends_with(']') => {
                let inner = &rest[..rest.len() - 1];
                let slot = out.entry(name.to_owned());
                if inner.is_empty() {
                    let list = slot.or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = list {
                        items.push(Value::String(value));
                    }
                } else {
                    let map = slot.or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(fields) = map {
                        fields.insert(inner.to_owned(), Value::String(value));
                    }
                }
            }
            _ => match out.get_mut(&key) {
                Some(Value::Array(items)) => items.push(Value::String(value)),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, Value::String(value)]);
                }
                None => {
                    out.insert(key, Value::String(value));
                }
            },
        }
    }
    Ok(out)
}

/// A text parameter.
pub fn text(params: &Map<String, Value>, key: &str) -> Result<Option<String>, Invalid> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Invalid::new(key, "must be a string")),
    }
}

/// A whole-number parameter (a JSON number or numeric text).
pub fn integer(params: &Map<String, Value>, key: &str) -> Result<Option<i64>, Invalid> {
    let bad = || Invalid::new(key, "must be a whole number");
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// A boolean parameter (`true`/`false` as JSON or text, any case).
pub fn boolean(params: &Map<String, Value>, key: &str) -> Result<Option<bool>, Invalid> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(Invalid::new(key, "must be true or false")),
        },
        Some(_) => Err(Invalid::new(key, "must be true or false")),
    }
}

/// A list parameter: `expand[]=person`, `expand=person`, or a JSON array.
pub fn list(params: &Map<String, Value>, key: &str) -> Vec<String> {
    match params.get(key) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The longest `delay` accepted (a year).
pub const MAX_DELAY_SECONDS: i64 = 365 * 86_400;

/// Delighted's page size limit.
pub const MAX_PER_PAGE: i64 = 100;

/// Delighted's default page size.
pub const DEFAULT_PER_PAGE: i64 = 20;

/// The last second of year 9999, the latest time a parameter may name.
pub const LAST_UNIX_SECOND: i64 = 253_402_300_799;

/// A properties object (`properties`, `person_properties`), validated as on `/v1`. Delighted
/// took any name (its own examples send `Purchase Experience`); a name that is not a key
/// here is stored under the key the history import gives that column
/// ([`key_from_label`]: `purchase_experience`), so old and new answers slice together.
pub fn properties(params: &Map<String, Value>, key: &str) -> Result<Properties, Invalid> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(Properties::default()),
        Some(value @ Value::Object(map)) => {
            // No control characters, as on `/v1` (Postgres refuses NUL): named `properties.k`.
            crate::domain::text::check_json(&Value::Object(Map::from_iter([(
                key.to_owned(),
                value.clone(),
            )])))?;
            let mut named = std::collections::BTreeMap::new();
            for (name, value) in map {
                let field = || format!("{key}.{name}");
                if name.chars().any(char::is_control) {
                    return Err(Invalid::new(field(), "names have no control characters"));
                }
                let stored = if check_key("k", name).is_ok() {
                    name.clone()
                } else {
                    key_from_label(name)
                };
                if stored.is_empty() {
                    return Err(Invalid::new(field(), "needs a letter or digit in its name"));
                }
                if named.insert(stored.clone(), value.clone()).is_some() {
                    return Err(Invalid::new(
                        field(),
                        format!("is stored as '{stored}', as another property here is"),
                    ));
                }
            }
            Properties::from_json(named)
        }
        Some(_) => Err(Invalid::new(key, "must be an object of properties")),
    }
}

/// A required email address parameter.
pub fn email(params: &Map<String, Value>, key: &str) -> Result<EmailAddress, Invalid> {
    match text(params, key)?.filter(|e| !e.trim().is_empty()) {
        Some(raw) => EmailAddress::parse(key, raw.trim()),
        None => Err(Invalid::new(key, "can't be blank")),
    }
}

/// A Unix-seconds parameter as a stored time.
pub fn unix_param(
    params: &Map<String, Value>,
    key: &str,
) -> Result<Option<NaiveDateTime>, Invalid> {
    integer(params, key)?
        .map(|secs| {
            DateTime::<Utc>::from_timestamp(secs, 0)
                .filter(|_| (0..=LAST_UNIX_SECOND).contains(&secs))
                .map(db::to_stored)
                .ok_or_else(|| Invalid::new(key, "must be a Unix timestamp"))
        })
        .transpose()
}

/// An inclusive `until`-style Unix timestamp, as Delighted means it ("on or before this
/// time"): the last microsecond of that second, since times are stored finer than the
/// whole seconds they are shown in.
pub fn unix_until(
    params: &Map<String, Value>,
    key: &str,
) -> Result<Option<NaiveDateTime>, Invalid> {
    Ok(unix_param(params, key)?
        .map(|at| at + chrono::Duration::seconds(1) - chrono::Duration::microseconds(1)))
}

/// `per_page`: 1 to 100, default 20.
pub fn per_page(params: &Map<String, Value>) -> Result<i64, Invalid> {
    let per_page = integer(params, "per_page")?.unwrap_or(DEFAULT_PER_PAGE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(Invalid::new("per_page", "must be 1 to 100"));
    }
    Ok(per_page)
}

/// `per_page` and `page` (from 1) as an offset and a limit.
pub fn page(params: &Map<String, Value>) -> Result<(i64, i64), Invalid> {
    let per_page = per_page(params)?;
    let page = integer(params, "page")?.unwrap_or(1);
    if !(1..=1_000_000).contains(&page) {
        return Err(Invalid::new("page", "must be 1 or more"));
    }
    Ok(((page - 1) * per_page, per_page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;

    #[test]
    fn forms_nest_bracket_keys_and_json_bodies_merge_over_the_query() {
        let p = params(
            &Method::POST,
            "application/x-www-form-urlencoded",
            "",
            b"email=a%40b.co&send=false&properties[agent]=bo&properties[team]=x&expand[]=person",
        )
        .unwrap();
        assert_eq!(p["email"], "a@b.co");
        assert_eq!(p["properties"]["agent"], "bo");
        assert_eq!(p["properties"]["team"], "x");
        assert_eq!(list(&p, "expand"), vec!["person"]);
        assert_eq!(boolean(&p, "send"), Ok(Some(false)));
        let p = params(
            &Method::POST,
            "application/json",
            "a=1",
            br#"{"delay": 60}"#,
        )
        .unwrap();
        assert_eq!(
            (integer(&p, "delay"), text(&p, "a")),
            (Ok(Some(60)), Ok(Some("1".into())))
        );
        // A GET's body is ignored; a body that is not an object is refused.
        assert!(params(&Method::GET, "", "", b"{}").unwrap().is_empty());
        assert!(params(&Method::POST, "application/json", "", b"[1]").is_err());
        assert!(integer(&p, "a").is_ok());
        assert!(boolean(&p, "a").is_ok());
    }
}
