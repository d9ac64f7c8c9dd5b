//! The helpdesk triggers' rules: how long after a ticket is solved its survey goes out, and
//! what a ticket id may be.

use super::Invalid;

/// The default delay between a ticket being solved and its survey email (a day, as Zendesk).
pub const DEFAULT_SEND_DELAY_SECONDS: i32 = 86_400;
/// The longest delay (30 days).
pub const MAX_SEND_DELAY_SECONDS: i64 = 30 * 86_400;

/// Validates a survey's `send_delay_seconds`.
pub fn send_delay(seconds: i64) -> Result<i32, Invalid> {
    if !(0..=MAX_SEND_DELAY_SECONDS).contains(&seconds) {
        return Err(Invalid::new(
            "send_delay_seconds",
            format!("must be 0 to {MAX_SEND_DELAY_SECONDS} seconds (30 days)"),
        ));
    }
    Ok(seconds as i32)
}

/// Validates a ticket id (kept as the invitation's `ticket_id` property).
pub fn ticket_id(raw: &str) -> Result<String, Invalid> {
    let id = raw.trim();
    if id.is_empty() || id.chars().count() > 200 {
        return Err(Invalid::new("ticket_id", "must be 1 to 200 characters"));
    }
    super::text::check("ticket_id", id)?;
    Ok(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_and_ticket_ids_are_bounded() {
        assert_eq!(send_delay(0), Ok(0));
        assert_eq!(send_delay(86_400), Ok(86_400));
        assert!(send_delay(-1).is_err());
        assert!(send_delay(MAX_SEND_DELAY_SECONDS + 1).is_err());
        assert_eq!(ticket_id(" 4711 ").unwrap(), "4711");
        assert!(ticket_id("  ").is_err());
        assert!(ticket_id(&"x".repeat(201)).is_err());
        assert!(ticket_id("a\u{0}b").is_err());
    }
}
