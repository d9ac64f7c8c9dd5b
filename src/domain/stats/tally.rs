//! A tally: the counts behind every score of one cell (a survey or group, a time bucket).
//! Tallies add up, so rollups of any grain merge into the same figures as the raw answers.

use std::ops::AddAssign;

use crate::domain::kind::Scale;
use crate::domain::scoring::Distribution;

/// Scores are stored 0 to 10 (every scale fits).
pub const SCORE_SLOTS: usize = 11;

/// The funnel and the answers of one cell: issued → delivered → opened → answered →
/// commented, suspect answers apart, and trusted answers per score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Invitations issued (not failed or suppressed).
    pub issued: i64,
    /// Issued invitations that reached the person: a link handed to the caller, an email the
    /// SMTP server accepted, or any invitation that was opened.
    pub delivered: i64,
    /// Issued invitations whose page was opened by a browser not known as a scanner, or
    /// that were answered.
    pub opened: i64,
    /// Trusted answers with a comment.
    pub commented: i64,
    /// Answers flagged as automated, left out of scores and of `commented`.
    pub suspect: i64,
    /// Trusted answers per score 0..=10.
    pub scores: [i64; SCORE_SLOTS],
    /// Of `scores`, the answers whose rating a reviewer excluded by accepting a challenge.
    /// Not kept in the rollups: read from the few accepted challenges at report time.
    pub excluded: [i64; SCORE_SLOTS],
}

/// What is known about one invitation, from which its whole contribution follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// Issued (not failed or suppressed): nothing else counts otherwise.
    pub issued: bool,
    /// A link handed to the caller (delivered on issue).
    pub handed_over: bool,
    /// Its email was accepted by the SMTP server.
    pub sent: bool,
    /// Its page was opened (or it was answered).
    pub opened: bool,
    /// Its answer: score, suspect, has a comment.
    pub answer: Option<(i32, bool, bool)>,
}

impl Tally {
    /// What one invitation with `facts` contributes. Every change to the rollups is the
    /// difference of this before and after the change, so live updates, the backfill and
    /// the exact path agree by construction.
    pub fn of(facts: &Facts) -> Self {
        if !facts.issued {
            return Self::default();
        }
        let mut t = Self {
            issued: 1,
            delivered: i64::from(facts.handed_over || facts.sent || facts.opened),
            opened: i64::from(facts.opened),
            ..Self::default()
        };
        if let Some((score, suspect, commented)) = facts.answer {
            t += Self::answer(score, suspect, commented, 1);
        }
        t
    }

    /// The delta of one issued invitation (no funnel step beyond issue).
    pub fn issued(n: i64) -> Self {
        Self {
            issued: n,
            ..Self::default()
        }
    }

    /// The delta of one answer of `score` (`n` = +1 to add it, −1 to take it back).
    pub fn answer(score: i32, suspect: bool, commented: bool, n: i64) -> Self {
        let mut t = Self::default();
        if suspect {
            t.suspect = n;
        } else if let Some(slot) = usize::try_from(score).ok().filter(|s| *s < SCORE_SLOTS) {
            t.scores[slot] = n;
            t.commented = if commented { n } else { 0 };
        }
        t
    }

    /// The answers of `self` as excluded ones: what an invitation whose challenge was
    /// accepted takes out of the adjusted score.
    pub fn as_excluded(&self) -> Self {
        Self {
            excluded: self.scores,
            ..Self::default()
        }
    }

    /// The same cell with the excluded answers taken out of the scores: what the score
    /// excluding accepted challenges is made from.
    pub fn without_excluded(&self) -> Self {
        let mut scores = self.scores;
        for (n, x) in scores.iter_mut().zip(self.excluded) {
            *n = (*n - x).max(0);
        }
        Self {
            scores,
            excluded: [0; SCORE_SLOTS],
            ..*self
        }
    }

    /// Answers left out of the adjusted score.
    pub fn excluded_responses(&self) -> i64 {
        self.excluded.iter().sum()
    }

    /// Whether the delta changes nothing.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// Trusted answers.
    pub fn responses(&self) -> i64 {
        self.scores.iter().sum()
    }

    /// The trusted answers as a distribution over `scale`.
    pub fn distribution(&self, scale: Scale) -> Distribution {
        let mut d = Distribution::new(scale);
        for (score, n) in self.scores.iter().enumerate() {
            if *n > 0 {
                d.add(score as i32, *n as u64);
            }
        }
        d
    }
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        self.issued += other.issued;
        self.delivered += other.delivered;
        self.opened += other.opened;
        self.commented += other.commented;
        self.suspect += other.suspect;
        for (a, b) in self.scores.iter_mut().zip(other.scores) {
            *a += b;
        }
        for (a, b) in self.excluded.iter_mut().zip(other.excluded) {
            *a += b;
        }
    }
}

impl std::ops::Neg for Tally {
    type Output = Self;

    fn neg(self) -> Self {
        Self {
            issued: -self.issued,
            delivered: -self.delivered,
            opened: -self.opened,
            commented: -self.commented,
            suspect: -self.suspect,
            scores: self.scores.map(|n| -n),
            excluded: self.excluded.map(|n| -n),
        }
    }
}

impl std::ops::Add for Tally {
    type Output = Self;

    fn add(mut self, other: Self) -> Self {
        self += other;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_add_up_and_cancel() {
        let mut t = Tally::issued(2);
        t += Tally::answer(9, false, true, 1);
        t += Tally::answer(3, true, true, 1);
        assert_eq!(
            (t.issued, t.suspect, t.responses(), t.commented),
            (2, 1, 1, 1)
        );
        t += -Tally::answer(9, false, true, 1);
        t += Tally::answer(7, false, false, 1);
        assert_eq!(t.commented, 0);
        assert_eq!(t.scores[7], 1);
        assert_eq!(t.scores[9], 0);
        assert_eq!(t.distribution(Scale::ZeroToTen).total(), 1);
        assert!((Tally::issued(1) + -Tally::issued(1)).is_zero());
    }

    #[test]
    fn an_invitation_counts_only_while_issued_and_opening_implies_delivery() {
        let answered = Facts {
            issued: true,
            opened: true,
            answer: Some((4, false, true)),
            ..Facts::default()
        };
        let t = Tally::of(&answered);
        assert_eq!(
            (t.issued, t.delivered, t.opened, t.responses(), t.commented),
            (1, 1, 1, 1, 1)
        );
        let failed = Facts {
            issued: false,
            ..answered
        };
        assert!(Tally::of(&failed).is_zero());
        let queued = Facts {
            issued: true,
            ..Facts::default()
        };
        assert_eq!(Tally::of(&queued).delivered, 0);
        let link = Facts {
            handed_over: true,
            ..queued
        };
        assert_eq!(Tally::of(&link).delivered, 1);
        let suspect = Facts {
            answer: Some((4, true, true)),
            ..answered
        };
        let t = Tally::of(&suspect);
        assert_eq!((t.suspect, t.responses(), t.commented), (1, 0, 0));
    }

    #[test]
    fn excluded_answers_come_out_of_the_adjusted_scores_only() {
        let answer = Tally::of(&Facts {
            issued: true,
            answer: Some((1, false, true)),
            ..Facts::default()
        });
        let kept = Tally::of(&Facts {
            issued: true,
            answer: Some((5, false, false)),
            ..Facts::default()
        });
        let cell = answer + kept + answer.as_excluded();
        assert_eq!(cell.responses(), 2, "the raw counts keep every answer");
        assert_eq!(cell.excluded_responses(), 1);
        let adjusted = cell.without_excluded();
        assert_eq!((adjusted.responses(), adjusted.scores[5]), (1, 1));
        assert_eq!(adjusted.issued, 2, "the funnel is not adjusted");
        // A suspect answer is in no score, so there is nothing to exclude.
        let suspect = Tally::of(&Facts {
            issued: true,
            answer: Some((1, true, false)),
            ..Facts::default()
        });
        assert!(suspect.as_excluded().is_zero());
        assert!((cell + -cell).is_zero());
    }
}
