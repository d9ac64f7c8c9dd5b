//! Rules every piece of incoming text obeys, whatever the field: no NUL and no control
//! characters other than tab and line breaks. PostgreSQL refuses NUL in text while SQLite
//! stores it, so without this rule the same request would be a 422 on one backend and a
//! 500 on the other; the other controls have no business in names, comments or templates.

use serde_json::Value;

use super::Invalid;

/// Whether `c` may appear in stored text.
pub fn is_allowed(c: char) -> bool {
    let c0_or_del = c <= '\u{1f}' || c == '\u{7f}';
    !c0_or_del || matches!(c, '\t' | '\n' | '\r')
}

/// Checks one text field.
pub fn check(field: &str, text: &str) -> Result<(), Invalid> {
    match text.chars().find(|c| !is_allowed(*c)) {
        None => Ok(()),
        Some(c) => Err(Invalid::new(
            field,
            format!(
                "must not contain control characters (found U+{:04X})",
                u32::from(c)
            ),
        )),
    }
}

/// Checks every string and object key in a JSON document, naming the first bad one by its
/// dotted path (`recipient.name`, `properties.agent`, `items[2]`).
pub fn check_json(value: &Value) -> Result<(), Invalid> {
    walk(value, "")
}

fn walk(value: &Value, path: &str) -> Result<(), Invalid> {
    match value {
        Value::String(s) => check(if path.is_empty() { "body" } else { path }, s),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| walk(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            // A key with a control character is named by its parent (or `body`).
            check(if path.is_empty() { "body" } else { path }, key)?;
            walk(item, &child)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn nul_and_c0_controls_are_refused_naming_the_field() {
        assert_eq!(check("comment", "a\u{0}b").unwrap_err().field, "comment");
        assert!(check("comment", "bell\u{7}").is_err());
        assert!(check("comment", "del\u{7f}").is_err());
        assert!(check("comment", "line one\nline two\r\n\ttabbed").is_ok());
        assert!(check("comment", "émoji 👍 and C1 \u{85} next-line").is_ok());
    }

    #[test]
    fn json_documents_are_walked_with_paths() {
        let doc = json!({"recipient": {"name": "Ana\u{0}"}, "properties": {"agent": "bo"}});
        assert_eq!(check_json(&doc).unwrap_err().field, "recipient.name");
        let doc = json!({"properties": {"ag\u{0}ent": "bo"}});
        assert_eq!(check_json(&doc).unwrap_err().field, "properties");
        let doc = json!({"tags": ["ok", "bad\u{1b}"]});
        assert_eq!(check_json(&doc).unwrap_err().field, "tags[1]");
        assert!(check_json(&json!({"score": 9, "ok": true, "n": null})).is_ok());
    }

    proptest! {
        #[test]
        fn text_without_c0_controls_always_passes(s in "[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*") {
            prop_assert!(check("f", &s).is_ok());
        }

        #[test]
        fn any_c0_control_other_than_tab_and_line_breaks_fails(
            pre in ".{0,8}", c in prop::sample::select(vec![0u8, 1, 7, 8, 11, 12, 14, 27, 31, 127]), post in ".{0,8}"
        ) {
            let s = format!("{pre}{}{post}", char::from(c));
            prop_assert!(check("f", &s).is_err());
        }
    }
}
