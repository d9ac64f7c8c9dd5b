//! A tally: the counts behind every score of one cell (a survey or group, a time bucket).
//! Tallies add up, so rollups of any grain merge into the same figures as the raw answers.

use std::ops::AddAssign;

use crate::domain::kind::Scale;
use crate::domain::scoring::Distribution;

/// Scores are stored 0 to 10 (every scale fits).
pub const SCORE_SLOTS: usize = 11;

/// Issued invitations, suspect answers, and trusted answers per score, for one cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Invitations issued (not failed or suppressed).
    pub issued: i64,
    /// Answers flagged as automated, left out of scores.
    pub suspect: i64,
    /// Trusted answers per score 0..=10.
    pub scores: [i64; SCORE_SLOTS],
}

impl Tally {
    /// The delta of one issued invitation.
    pub fn issued(n: i64) -> Self {
        Self {
            issued: n,
            ..Self::default()
        }
    }

    /// The delta of one answer of `score` (`n` = +1 to add it, −1 to take it back).
    pub fn answer(score: i32, suspect: bool, n: i64) -> Self {
        let mut t = Self::default();
        if suspect {
            t.suspect = n;
        } else if let Some(slot) = usize::try_from(score).ok().filter(|s| *s < SCORE_SLOTS) {
            t.scores[slot] = n;
        }
        t
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
        self.suspect += other.suspect;
        for (a, b) in self.scores.iter_mut().zip(other.scores) {
            *a += b;
        }
    }
}

impl std::ops::Neg for Tally {
    type Output = Self;

    fn neg(self) -> Self {
        Self {
            issued: -self.issued,
            suspect: -self.suspect,
            scores: self.scores.map(|n| -n),
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
        t += Tally::answer(9, false, 1);
        t += Tally::answer(3, true, 1);
        assert_eq!((t.issued, t.suspect, t.responses()), (2, 1, 1));
        t += -Tally::answer(9, false, 1);
        t += Tally::answer(7, false, 1);
        assert_eq!(t.scores[7], 1);
        assert_eq!(t.scores[9], 0);
        assert_eq!(t.distribution(Scale::ZeroToTen).total(), 1);
        assert!((Tally::issued(1) + -Tally::issued(1)).is_zero());
    }
}
