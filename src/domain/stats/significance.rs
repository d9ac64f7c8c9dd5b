//! Is a change real or noise? Two-sided tests at 95% between two independent samples:
//! the two-proportion z-test for percentages, the difference over √(Var₁ + Var₂) for NPS
//! (with the adjusted-Wald variances) and for means.

use super::intervals::{nps_adjusted, Moments, Z_95};

/// A change between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// `after − before`, in the score's units.
    pub change: f64,
    /// Whether it is significant at 95% (two-sided).
    pub significant: bool,
}

fn judged(change: f64, se: f64) -> Change {
    Change {
        change,
        significant: se > 0.0 && (change / se).abs() > Z_95,
    }
}

/// Two percentages, `hits/n` before and after (`None` unless both have answers).
pub fn proportions(before: (u64, u64), after: (u64, u64)) -> Option<Change> {
    let ((h1, n1), (h2, n2)) = (before, after);
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (h1 as f64 / n1 as f64, h2 as f64 / n2 as f64);
    let pooled = (h1 + h2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    Some(judged(100.0 * (p2 - p1), 100.0 * se))
}

/// Two NPS samples, `(promoters, detractors, n)` before and after.
pub fn nps(before: (u64, u64, u64), after: (u64, u64, u64)) -> Option<Change> {
    if before.2 == 0 || after.2 == 0 {
        return None;
    }
    let net = |(p, d, n): (u64, u64, u64)| (p as f64 - d as f64) / n as f64;
    // The test uses the adjusted-Wald estimates throughout (net scores and variances), so
    // that tiny samples cannot look certain; the change reported is the plain one.
    let (net_before, var_before, n_before) = nps_adjusted(before.0, before.1, before.2);
    let (net_after, var_after, n_after) = nps_adjusted(after.0, after.1, after.2);
    let se = (var_before / n_before + var_after / n_after).sqrt();
    let significant = se > 0.0 && ((net_after - net_before) / se).abs() > Z_95;
    Some(Change {
        change: 100.0 * (net(after) - net(before)),
        significant,
    })
}

/// Two means.
pub fn means(before: Option<Moments>, after: Option<Moments>) -> Option<Change> {
    let (a, b) = (before?, after?);
    let se = (a.variance / a.n as f64 + b.variance / b.n as f64).sqrt();
    Some(judged(b.mean - a.mean, se))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_drop_is_significant_and_noise_is_not() {
        // CSAT from 85% to 70% on 400 answers each: z ≈ 5.2.
        let real = proportions((340, 400), (280, 400)).unwrap();
        assert!((real.change + 15.0).abs() < 1e-9 && real.significant);
        // 85% to 83% on 100 answers each: z ≈ 0.39.
        let noise = proportions((85, 100), (83, 100)).unwrap();
        assert!(!noise.significant);
        assert!(proportions((0, 0), (3, 4)).is_none());
        // Everyone satisfied both times: no change, and no division by zero.
        assert!(!proportions((10, 10), (20, 20)).unwrap().significant);
    }

    #[test]
    fn nps_changes_are_judged_against_both_variances() {
        // +40 to −10 on 300 answers each is real; +40 to +35 on 50 each is not.
        let real = nps((150, 30, 300), (90, 120, 300)).unwrap();
        assert!((real.change + 50.0).abs() < 1e-9 && real.significant);
        assert!(!nps((25, 5, 50), (22, 4, 50)).unwrap().significant);
        assert!(
            !nps((1, 0, 1), (0, 1, 1)).unwrap().significant,
            "n = 1 proves nothing"
        );
    }

    #[test]
    fn mean_changes_use_the_floored_variances() {
        let before = Moments::from_counts([(6, 40), (7, 60)].into_iter());
        let after = Moments::from_counts([(3, 60), (4, 40)].into_iter());
        assert!(means(before, after).unwrap().significant);
        let one = Moments::from_counts([(7, 1)].into_iter());
        let other = Moments::from_counts([(6, 1)].into_iter());
        assert!(!means(one, other).unwrap().significant);
    }
}
