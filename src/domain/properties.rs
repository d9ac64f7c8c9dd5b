//! Free-form invitation properties (`ticket_id`, `agent`, `team`, …), bounded and validated,
//! kept as rows so that scores can later be sliced by them.

use std::collections::BTreeMap;

use super::Invalid;

/// Most properties one invitation may carry.
pub const MAX_PROPERTIES: usize = 50;
/// Longest property key, in characters.
pub const MAX_KEY_CHARS: usize = 64;
/// Longest property value, in characters.
pub const MAX_VALUE_CHARS: usize = 500;

/// Checks a property key: 1 to [`MAX_KEY_CHARS`] letters, digits, `_`, `-` or `.`.
pub fn check_key(field: &str, key: &str) -> Result<(), Invalid> {
    let ok = !key.is_empty()
        && key.chars().count() <= MAX_KEY_CHARS
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("keys are 1 to {MAX_KEY_CHARS} letters, digits, '_', '-' or '.'"),
        ))
    }
}

/// A property key made from a label (a column header, a name sent to the Delighted facade)
/// that is not one already: lower case, with `_` for each run of anything but letters,
/// digits, `-` and `.`, trimmed of `_`, at most [`MAX_KEY_CHARS`]: `Purchase Experience` →
/// `purchase_experience`. Empty when nothing usable is left.
pub fn key_from_label(label: &str) -> String {
    let mut key = String::new();
    for c in label.trim().to_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
            c
        } else {
            '_'
        };
        if !(c == '_' && key.ends_with('_')) {
            key.push(c);
        }
    }
    key.trim_matches('_').chars().take(MAX_KEY_CHARS).collect()
}

/// Validated properties, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties(BTreeMap<String, String>);

impl Properties {
    /// Properties from JSON, where values may be strings, numbers or booleans (kept as
    /// text); then checks them as [`Properties::parse`] does.
    pub fn from_json(raw: BTreeMap<String, serde_json::Value>) -> Result<Self, Invalid> {
        // Helpdesks send ids as numbers as often as strings; both are kept as text.
        let text = raw
            .into_iter()
            .map(|(key, value)| {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(Invalid::new(
                            format!("properties.{key}"),
                            "must be a string, number or boolean",
                        ))
                    }
                };
                Ok((key, text))
            })
            .collect::<Result<_, _>>()?;
        Self::given(text)
    }

    /// Properties a caller gives an invitation (the API, the widget, a trigger, an import):
    /// checked as [`Properties::parse`] does, and never `cycle`, which campaigns set to the
    /// cycle's number. An anonymous survey may be reported by cycle beside its own property,
    /// because a cycle is a window; a caller's `cycle` could be anything (a site), and the two
    /// groupings would subtract.
    pub fn given(raw: BTreeMap<String, String>) -> Result<Self, Invalid> {
        if raw.contains_key(super::audience::CYCLE_PROPERTY) {
            return Err(Invalid::new(
                format!("properties.{}", super::audience::CYCLE_PROPERTY),
                "is set by campaigns (the cycle's number): name the property otherwise",
            ));
        }
        Self::parse(raw)
    }

    /// Checks the bounds and key syntax (letters, digits, `_`, `-`, `.`).
    pub fn parse(raw: BTreeMap<String, String>) -> Result<Self, Invalid> {
        if raw.len() > MAX_PROPERTIES {
            return Err(Invalid::new(
                "properties",
                format!("at most {MAX_PROPERTIES} properties are allowed"),
            ));
        }
        for (key, value) in &raw {
            let field = format!("properties.{key}");
            check_key(&field, key)?;
            if value.chars().count() > MAX_VALUE_CHARS {
                return Err(Invalid::new(
                    field,
                    format!("values are at most {MAX_VALUE_CHARS} characters"),
                ));
            }
        }
        Ok(Self(raw))
    }

    /// The properties in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The properties as a map.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_becomes_a_valid_key_or_nothing() {
        assert_eq!(key_from_label("Purchase Experience"), "purchase_experience");
        assert_eq!(key_from_label(" Plan (annual?) "), "plan_annual");
        assert_eq!(key_from_label("Région"), "r_gion");
        assert_eq!(key_from_label("?!"), "");
        for label in ["Purchase Experience", &"Long ".repeat(40), "a/b#c", "x"] {
            let key = key_from_label(label);
            assert!(check_key("k", &key).is_ok(), "{label:?} -> {key:?}");
        }
    }

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ordinary_properties_pass() {
        let p = Properties::parse(props(&[("ticket_id", "123"), ("agent", "ana")])).unwrap();
        assert_eq!(p.iter().count(), 2);
    }

    #[test]
    fn bad_keys_long_values_and_too_many_are_refused_naming_the_field() {
        assert_eq!(
            Properties::parse(props(&[("bad key", "x")]))
                .unwrap_err()
                .field,
            "properties.bad key"
        );
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        assert!(Properties::parse(props(&[("k", long.as_str())])).is_err());
        let many: BTreeMap<String, String> = (0..=MAX_PROPERTIES)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert_eq!(Properties::parse(many).unwrap_err().field, "properties");
    }
}
