//! Rating challenges: why an agent disputes a rating, what a reviewer decides, and the states
//! a challenge passes through (open → accepted or rejected, once).

use super::Invalid;

/// Why a rating is disputed: causes outside the agent's control, as helpdesks group them.
pub const REASONS: [&str; 7] = [
    "company_policy",
    "product_issue",
    "other_team",
    "wrong_agent",
    "customer_mistake",
    "abusive",
    "other",
];

/// Where a challenge stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Filed, waiting for a reviewer.
    Open,
    /// A reviewer agreed: the rating is left out of the adjusted score.
    Accepted,
    /// A reviewer disagreed: the rating counts everywhere.
    Rejected,
}

impl Status {
    /// The stored and served name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }

    /// Parses a stored name or a `status` query parameter.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        match raw {
            "open" => Ok(Self::Open),
            "accepted" => Ok(Self::Accepted),
            "rejected" => Ok(Self::Rejected),
            _ => Err(Invalid::new(field, "must be open, accepted or rejected")),
        }
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Leave the rating out of the adjusted score.
    Accept,
    /// Keep it.
    Reject,
}

impl Decision {
    /// Parses `decision`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "accept" => Ok(Self::Accept),
            "reject" => Ok(Self::Reject),
            _ => Err(Invalid::new("decision", "must be accept or reject")),
        }
    }

    /// The status it leads to.
    pub fn status(self) -> Status {
        match self {
            Self::Accept => Status::Accepted,
            Self::Reject => Status::Rejected,
        }
    }
}

/// Validates a reason category.
pub fn reason(raw: &str) -> Result<&'static str, Invalid> {
    REASONS
        .iter()
        .find(|r| **r == raw)
        .copied()
        .ok_or_else(|| Invalid::new("reason", format!("must be one of {}", REASONS.join(", "))))
}

/// Validates who acts (an agent's or reviewer's name, email or helpdesk id): 1 to 200
/// characters after trimming, no control characters.
pub fn actor(field: &str, raw: &str) -> Result<String, Invalid> {
    let who = raw.trim();
    if who.is_empty() || who.chars().count() > 200 {
        return Err(Invalid::new(field, "must be 1 to 200 characters"));
    }
    super::text::check(field, who)?;
    Ok(who.to_owned())
}

/// Validates an optional note: at most 2,000 characters; blank counts as none.
pub fn note(field: &str, raw: Option<&str>) -> Result<Option<String>, Invalid> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > 2_000 {
        return Err(Invalid::new(field, "must be at most 2000 characters"));
    }
    super::text::check(field, text)?;
    Ok(Some(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_decisions_and_statuses_parse_only_known_names() {
        assert_eq!(reason("company_policy"), Ok("company_policy"));
        assert_eq!(reason("Company_Policy").unwrap_err().field, "reason");
        assert_eq!(Decision::parse("accept"), Ok(Decision::Accept));
        assert_eq!(Decision::Reject.status(), Status::Rejected);
        assert!(Decision::parse("approve").is_err());
        for s in [Status::Open, Status::Accepted, Status::Rejected] {
            assert_eq!(Status::parse("status", s.as_str()), Ok(s));
        }
        assert!(Status::parse("status", "closed").is_err());
    }

    #[test]
    fn actors_and_notes_are_trimmed_and_bounded() {
        assert_eq!(actor("challenged_by", "  bo "), Ok("bo".to_owned()));
        assert!(actor("challenged_by", "   ").is_err());
        assert!(actor("challenged_by", &"x".repeat(201)).is_err());
        assert!(actor("challenged_by", "a\u{0}b").is_err());
        assert_eq!(note("note", Some("  ")), Ok(None));
        assert_eq!(note("note", Some(" why ")), Ok(Some("why".to_owned())));
        assert!(note("note", Some(&"x".repeat(2_001))).is_err());
    }
}
