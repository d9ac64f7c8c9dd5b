//! A single answer, checked against its survey's scale.

use super::kind::Scale;
use super::Invalid;

/// A JSON number as a whole number: `9` or `9.0` (JSON Schema counts both as integers), not
/// `9.5` nor a float too large to be exact.
pub fn whole(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// An answer known to lie on its scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    value: i32,
}

impl Score {
    /// Accepts `raw` only if it is a point of `scale`.
    pub fn new(scale: Scale, raw: i64) -> Result<Self, Invalid> {
        if raw < i64::from(scale.min()) || raw > i64::from(scale.max()) {
            return Err(Invalid::new(
                "score",
                format!(
                    "must be a whole number from {} to {} on this survey's scale",
                    scale.min(),
                    scale.max()
                ),
            ));
        }
        Ok(Self { value: raw as i32 })
    }

    /// The answer as stored.
    pub fn value(self) -> i32 {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_outside_the_scale_are_refused() {
        assert!(Score::new(Scale::ZeroToTen, 11).is_err());
        assert!(Score::new(Scale::ZeroToTen, -1).is_err());
        assert!(Score::new(Scale::OneToFive, 0).is_err());
        assert!(Score::new(Scale::Thumbs, 2).is_err());
        assert_eq!(Score::new(Scale::OneToSeven, 7).unwrap().value(), 7);
        assert_eq!(Score::new(Scale::Thumbs, 0).unwrap().value(), 0);
    }
}
