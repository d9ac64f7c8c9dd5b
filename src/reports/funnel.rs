//! The funnel of one cell as served: how many invitations reached each step.

use serde::Serialize;

use crate::domain::stats::tally::Tally;

/// Issued → delivered → opened → answered → commented, with suspect answers counted apart
/// (they are in no step after `opened`, and in no score).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FunnelView {
    /// Invitations issued (failed and suppressed ones excluded).
    pub issued: u64,
    /// Of those, delivered: a link handed to the caller, an email the SMTP server accepted,
    /// or any invitation that was opened.
    pub delivered: u64,
    /// Opened: the page was shown to a browser not known as a link scanner, or answered.
    pub opened: u64,
    /// Answered, trusted answers only.
    pub answered: u64,
    /// Answered with a comment, trusted answers only.
    pub commented: u64,
    /// Answers that look automated (scanners), kept apart.
    pub suspect: u64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl From<&Tally> for FunnelView {
    fn from(t: &Tally) -> Self {
        Self {
            issued: count(t.issued),
            delivered: count(t.delivered),
            opened: count(t.opened),
            answered: count(t.responses()),
            commented: count(t.commented),
            suspect: count(t.suspect),
        }
    }
}
