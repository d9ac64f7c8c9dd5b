//! Turns `validator` errors into our field-naming [`Invalid`].

use validator::{ValidationErrors, ValidationErrorsKind};

use crate::domain::Invalid;

/// Validates `value`, reporting the first broken rule with its dotted field path.
pub fn check(value: &impl validator::Validate) -> Result<(), Invalid> {
    value.validate().map_err(|errors| first(&errors, ""))
}

fn first(errors: &ValidationErrors, prefix: &str) -> Invalid {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, kind) in fields {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                if let Some(e) = list.first() {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| describe(e));
                    return Invalid::new(path, message);
                }
            }
            ValidationErrorsKind::Struct(inner) => return first(inner, &path),
            ValidationErrorsKind::List(items) => {
                if let Some((i, inner)) = items.iter().next() {
                    return first(inner, &format!("{path}[{i}]"));
                }
            }
        }
    }
    Invalid::new("body", "is not valid")
}

fn describe(e: &validator::ValidationError) -> String {
    match e.code.as_ref() {
        "length" => match (e.params.get("min"), e.params.get("max")) {
            (Some(min), Some(max)) => format!("must be {min} to {max} characters long"),
            (None, Some(max)) => format!("must be at most {max} characters long"),
            (Some(min), None) => format!("must be at least {min} characters long"),
            _ => "has the wrong length".to_owned(),
        },
        "email" => "is not a valid email address".to_owned(),
        "blank" => "must not be blank".to_owned(),
        other => format!("is not valid ({other})"),
    }
}

/// A `validator` custom rule: text that is only white space is refused.
pub fn not_blank(text: &str) -> Result<(), validator::ValidationError> {
    if text.trim().is_empty() {
        Err(validator::ValidationError::new("blank"))
    } else {
        Ok(())
    }
}
