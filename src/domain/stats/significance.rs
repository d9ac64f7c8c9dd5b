//! Is a change real or noise? Two-sided tests at 95% between two independent samples:
//! for percentages the two-proportion z-test, or Fisher's exact test when a cell of the 2×2
//! table would expect fewer than 5 answers (where z is not to be trusted); for NPS the
//! difference over √(Var₁ + Var₂) with the adjusted-Wald variances; for means Welch's t-test.
//! Each is one comparison on its own: a series of them (a trend's buckets, each against the
//! one before) is not corrected for how many it makes.

use statrs::function::factorial::ln_factorial;

use super::intervals::{nps_adjusted, t_95, Moments, Z_95};

/// A change between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// `after − before`, in the score's units.
    pub change: f64,
    /// Whether it is significant at 95% (two-sided).
    pub significant: bool,
}

/// Two percentages, `hits/n` before and after (`None` unless both have answers).
pub fn proportions(before: (u64, u64), after: (u64, u64)) -> Option<Change> {
    let ((h1, n1), (h2, n2)) = (before, after);
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (h1 as f64 / n1 as f64, h2 as f64 / n2 as f64);
    let change = 100.0 * (p2 - p1);
    let (hits, total) = (h1 + h2, n1 + n2);
    let expected_least = n1.min(n2) as f64 * hits.min(total - hits) as f64 / total as f64;
    if expected_least < 5.0 {
        // The test is the same read from either sample; from the smaller one it sums at
        // most that sample's size of tables (one answer against a million: two, not a
        // million).
        let (h_small, n_small) = if n1 <= n2 { (h1, n1) } else { (h2, n2) };
        return Some(Change {
            change,
            significant: fisher_exact(h_small, n_small, hits, total) < 0.05,
        });
    }
    let pooled = hits as f64 / total as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    Some(Change {
        change,
        significant: se > 0.0 && (p2 - p1).abs() / se > Z_95,
    })
}

/// The two-sided p-value of Fisher's exact test for `h1` hits among `n1` of `total`
/// answers holding `hits` in all: the chance, with the margins fixed, of a table at most as
/// likely as this one.
fn fisher_exact(h1: u64, n1: u64, hits: u64, total: u64) -> f64 {
    let ln_choose = |n: u64, k: u64| ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k);
    let ln_total = ln_choose(total, n1);
    let ln_p = |x: u64| ln_choose(hits, x) + ln_choose(total - hits, n1 - x) - ln_total;
    let observed = ln_p(h1);
    let lowest = (n1 + hits).saturating_sub(total);
    let highest = n1.min(hits);
    // A relative tolerance, so that tables exactly as likely as this one count despite
    // rounding (R's fisher.test does the same).
    (lowest..=highest)
        .map(ln_p)
        .filter(|&p| p <= observed + 1e-7)
        .map(f64::exp)
        .sum::<f64>()
        .min(1.0)
}

/// Two NPS samples, `(promoters, detractors, n)` before and after. Significant when both
/// the plain change (the one served) and the change in the adjusted-Wald estimates exceed
/// 1.96 standard errors of the adjusted estimates: the adjusted estimates keep a tiny
/// sample from looking certain, the plain one keeps a change of 0 from being flagged.
pub fn nps(before: (u64, u64, u64), after: (u64, u64, u64)) -> Option<Change> {
    if before.2 == 0 || after.2 == 0 {
        return None;
    }
    let net = |(p, d, n): (u64, u64, u64)| (p as f64 - d as f64) / n as f64;
    let (net_before, var_before, n_before) = nps_adjusted(before.0, before.1, before.2);
    let (net_after, var_after, n_after) = nps_adjusted(after.0, after.1, after.2);
    let se = (var_before / n_before + var_after / n_after).sqrt();
    let plain = net(after) - net(before);
    let beyond = |d: f64| se > 0.0 && (d / se).abs() > Z_95;
    Some(Change {
        change: 100.0 * plain,
        significant: beyond(plain) && beyond(net_after - net_before),
    })
}

/// Two means, by Welch's t-test (the samples' variances need not be equal), with the
/// Welch–Satterthwaite degrees of freedom. One answer says nothing about spread: a sample of
/// fewer than two is never significantly different.
pub fn means(before: Option<Moments>, after: Option<Moments>) -> Option<Change> {
    let (a, b) = (before?, after?);
    let change = b.mean - a.mean;
    if a.n < 2 || b.n < 2 {
        return Some(Change {
            change,
            significant: false,
        });
    }
    let (va, vb) = (a.variance / a.n as f64, b.variance / b.n as f64);
    let se = (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64);
    Some(Change {
        change,
        significant: se > 0.0 && (change / se).abs() > t_95(df),
    })
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
        // All promoters both times: a change of 0 is never significant, however unlike the
        // adjusted estimates of 1 and 400 answers are.
        let none = nps((1, 0, 1), (400, 0, 400)).unwrap();
        assert_eq!((none.change, none.significant), (0.0, false));
    }

    #[test]
    fn tiny_percentages_are_judged_by_fishers_exact_test() {
        // 0 of 2 then 2 of 2: z = 2.0 would call it real; Fisher's p is 1/3.
        let tiny = proportions((0, 2), (2, 2)).unwrap();
        assert!((tiny.change - 100.0).abs() < 1e-9 && !tiny.significant);
        // 5 of 5 then 2 of 5: Fisher's p = 0.167.
        assert!(!proportions((5, 5), (2, 5)).unwrap().significant);
        // 0 of 10 then 10 of 10: Fisher's p = 1.08e-5.
        assert!(proportions((0, 10), (10, 10)).unwrap().significant);
        // The two-sided p as scipy.stats.fisher_exact gives it.
        // Read from either sample, the test is the same.
        for (h1, n1, hits, total) in [(1, 10, 7, 20), (0, 10, 10, 20), (2, 3, 40, 1_000)] {
            let (h2, n2) = (hits - h1, total - n1);
            assert!(
                (fisher_exact(h1, n1, hits, total) - fisher_exact(h2, n2, hits, total)).abs()
                    < 1e-9
            );
        }
        assert!((fisher_exact(0, 2, 2, 4) - 1.0 / 3.0).abs() < 1e-12);
        assert!((fisher_exact(5, 5, 7, 10) - 0.166_666_666_666_666_66).abs() < 1e-9);
        assert!((fisher_exact(1, 10, 7, 20) - 0.057_275_541_795_665_64).abs() < 1e-9);
        assert!((fisher_exact(0, 10, 10, 20) - 1.082_508_822_446_903e-5).abs() < 1e-12);
        // 1 of 10 then 6 of 10 expects 3.5 in a cell: Fisher's p = 0.057, not significant,
        // where z (2.34) would have said it was.
        assert!(!proportions((1, 10), (6, 10)).unwrap().significant);
    }

    #[test]
    fn mean_changes_use_welchs_t() {
        let before = Moments::from_counts([(6, 40), (7, 60)].into_iter());
        let after = Moments::from_counts([(3, 60), (4, 40)].into_iter());
        assert!(means(before, after).unwrap().significant);
        // One answer each, however far apart, proves nothing.
        let one = Moments::from_counts([(1, 1)].into_iter());
        let other = Moments::from_counts([(7, 1)].into_iter());
        let far = means(one, other).unwrap();
        assert!((far.change - 6.0).abs() < 1e-12 && !far.significant);
        // {3, 5} then {6, 8}: z would say 2.12; Welch's t = 2.12 on 2 df, p = 0.17.
        let a = Moments::from_counts([(3, 1), (5, 1)].into_iter());
        let b = Moments::from_counts([(6, 1), (8, 1)].into_iter());
        assert!(!means(a, b).unwrap().significant);
        // {4, 5, 6} then {6, 7, 7}: Welch p = 0.082.
        let a = Moments::from_counts([(4, 1), (5, 1), (6, 1)].into_iter());
        let b = Moments::from_counts([(6, 1), (7, 2)].into_iter());
        assert!(!means(a, b).unwrap().significant);
    }
}
