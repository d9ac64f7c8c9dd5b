//! Email addresses as recipients, and the key they are compared by.

use validator::ValidateEmail;

use super::Invalid;

/// Longest address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// A syntactically valid email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Accepts a trimmed, valid address of at most [`MAX_EMAIL_CHARS`] characters.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > MAX_EMAIL_CHARS || !trimmed.validate_email() {
            return Err(Invalid::new(field, "is not a valid email address"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used to match one person across invitations and the suppression list.
    /// Mail systems treat addresses case-insensitively in practice, so this is lower-cased.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// An address shown to whoever holds a link: enough for its owner to recognise it, too
/// little for anyone else to learn it (`a***@example.com`).
pub fn mask(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_validated_and_keyed_case_insensitively() {
        let a = EmailAddress::parse("email", "  Ana@Example.COM ").unwrap();
        assert_eq!(a.as_str(), "Ana@Example.COM");
        assert_eq!(a.key(), "ana@example.com");
        assert_eq!(
            EmailAddress::parse("recipient.email", "nope")
                .unwrap_err()
                .field,
            "recipient.email"
        );
        assert!(EmailAddress::parse("email", &format!("{}@x.io", "a".repeat(260))).is_err());
    }

    #[test]
    fn masked_addresses_keep_only_the_first_letter_and_the_domain() {
        assert_eq!(mask("ana.lopez@example.com"), "a***@example.com");
        assert_eq!(mask("x@y.z"), "x***@y.z");
        assert_eq!(mask("broken"), "***");
    }
}
