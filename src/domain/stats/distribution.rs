//! A distribution: how many answers each point of a scale received. Distributions merge,
//! so any grain of counts adds up to the same figures.

use crate::domain::kind::Scale;

/// How many answers each point of a scale received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    scale: Scale,
    counts: Vec<u64>,
}

impl Distribution {
    /// An empty distribution over `scale`.
    pub fn new(scale: Scale) -> Self {
        Self {
            scale,
            counts: vec![0; scale.point_count()],
        }
    }

    /// Adds `n` answers of `score`; scores off the scale are ignored (they cannot be stored).
    pub fn add(&mut self, score: i32, n: u64) {
        if let Some(slot) = self.slot(score) {
            self.counts[slot] += n;
        }
    }

    /// Combines two distributions over the same scale.
    pub fn merge(&self, other: &Self) -> Self {
        debug_assert_eq!(self.scale, other.scale);
        let counts = self
            .counts
            .iter()
            .zip(&other.counts)
            .map(|(a, b)| a + b)
            .collect();
        Self {
            scale: self.scale,
            counts,
        }
    }

    /// The scale the counts are over.
    pub fn scale(&self) -> Scale {
        self.scale
    }

    /// `(score, count)` for every point of the scale, zeros included, lowest first.
    pub fn points(&self) -> impl Iterator<Item = (i32, u64)> + Clone + '_ {
        self.scale.points().zip(self.counts.iter().copied())
    }

    /// The number of answers.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// How many answers lie in `lo..=hi`.
    pub(crate) fn count_between(&self, lo: i32, hi: i32) -> u64 {
        self.points()
            .filter(|(s, _)| (lo..=hi).contains(s))
            .map(|(_, n)| n)
            .sum()
    }

    fn slot(&self, score: i32) -> Option<usize> {
        (self.scale.min()..=self.scale.max())
            .contains(&score)
            .then(|| (score - self.scale.min()) as usize)
    }
}
