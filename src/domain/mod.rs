//! Domain types, validated when they are parsed, and the pure scoring maths. No I/O here.

pub mod answer;
pub mod audience;
pub mod backoff;
pub mod challenge;
pub mod email;
pub mod ids;
pub mod kind;
pub mod locale;
pub mod page;
pub mod properties;
pub mod scanner;
pub mod schedule;
pub mod score;
pub mod scoring;
pub mod secret;
pub mod segments;
pub mod stats;
pub mod text;
pub mod throttle;
pub mod trigger;
pub mod webhook;
pub mod widget;

/// A value that broke a rule, naming the request field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// The request field, e.g. `scale` or `recipient.email`.
    pub field: String,
    /// What was wrong, as a sentence for a person.
    pub message: String,
}

impl Invalid {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
