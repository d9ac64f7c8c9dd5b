//! 95% confidence intervals that stay honest at small samples: Wilson for proportions,
//! the adjusted-Wald interval for NPS, and a t interval for means. None is ever zero-width
//! when it comes from a sample, and every one is clamped to what the score can be.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// z for a two-sided 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Below this many answers a score is marked `low_sample`: its interval is wide and its
/// changes are rarely significant.
pub const LOW_SAMPLE_BELOW: u64 = 30;

/// A two-sided interval `[lo, hi]` in the score's own units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

impl Interval {
    /// Half the width: the margin of error as people quote it.
    pub fn margin(self) -> f64 {
        (self.hi - self.lo) / 2.0
    }

    fn clamp(self, min: f64, max: f64) -> Self {
        Self {
            lo: self.lo.clamp(min, max),
            hi: self.hi.clamp(min, max),
        }
    }

    /// Widened, if need be, to hold `score`: an interval served "around" a score must hold
    /// it. The adjusted-Wald interval is centred on the adjusted estimate, so at tiny samples
    /// the plain score (100 for one promoter) can lie outside it; Wilson's bounds at 0% and
    /// 100% miss by a rounding error.
    fn holding(self, score: f64) -> Self {
        Self {
            lo: self.lo.min(score),
            hi: self.hi.max(score),
        }
    }
}

/// The two-sided 95% quantile of Student's t with `df` degrees of freedom. Past 100,000 it
/// is z's to five digits, and statrs' inverse is not trusted that far out.
pub fn t_95(df: f64) -> f64 {
    if df > 100_000.0 {
        return Z_95;
    }
    StudentsT::new(0.0, 1.0, df)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(Z_95)
}

/// The Wilson score interval for `hits` out of `n`, in percent (`None` when `n` is 0).
pub fn wilson_percent(hits: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = hits as f64 / n;
    let z2 = Z_95 * Z_95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z_95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(
        Interval {
            lo: 100.0 * (centre - half),
            hi: 100.0 * (centre + half),
        }
        .clamp(0.0, 100.0)
        .holding(100.0 * p),
    )
}

/// NPS's adjusted-Wald estimate: ¾ of a pseudo-answer added to promoters and to detractors
/// and 3 to n (Rocks 2016; Sauro and Lewis), so that small samples keep their uncertainty.
/// Returns the adjusted net score (a fraction) and the variance of one answer.
pub fn nps_adjusted(promoters: u64, detractors: u64, n: u64) -> (f64, f64, f64) {
    let n_adj = n as f64 + 3.0;
    let p = (promoters as f64 + 0.75) / n_adj;
    let d = (detractors as f64 + 0.75) / n_adj;
    let net = p - d;
    (net, (p + d - net * net).max(0.0), n_adj)
}

/// The adjusted-Wald 95% interval for NPS, on −100..100 (`None` when `n` is 0).
pub fn nps_interval(promoters: u64, detractors: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let (net, variance, n_adj) = nps_adjusted(promoters, detractors, n);
    let half = Z_95 * (variance / n_adj).sqrt();
    let score = 100.0 * (promoters as f64 - detractors as f64) / n as f64;
    Some(
        Interval {
            lo: 100.0 * (net - half),
            hi: 100.0 * (net + half),
        }
        .clamp(-100.0, 100.0)
        .holding(score),
    )
}

/// Sample statistics of answers on a numeric scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// How many answers.
    pub n: u64,
    /// Their mean.
    pub mean: f64,
    /// Their sample variance, floored (see [`Moments::variance_floored`]).
    pub variance: f64,
}

impl Moments {
    /// Moments from `(value, count)` pairs.
    pub fn from_counts(points: impl Iterator<Item = (i32, u64)> + Clone) -> Option<Self> {
        let n: u64 = points.clone().map(|(_, c)| c).sum();
        if n == 0 {
            return None;
        }
        let mean = points
            .clone()
            .map(|(v, c)| f64::from(v) * c as f64)
            .sum::<f64>()
            / n as f64;
        let squares: f64 = points
            .map(|(v, c)| c as f64 * (f64::from(v) - mean).powi(2))
            .sum();
        let variance = if n > 1 { squares / (n - 1) as f64 } else { 0.0 };
        Some(Self {
            n,
            mean,
            variance: variance_floored(variance, n),
        })
    }
}

/// A sample whose answers are all equal has variance 0, which would claim certainty. The
/// variance is floored at that of the same answers with one moved by one scale point, 1/n.
pub fn variance_floored(variance: f64, n: u64) -> f64 {
    variance.max(1.0 / n.max(1) as f64)
}

/// The 95% t interval for a mean on a scale from `min` to `max`. One answer says nothing
/// about spread, so it gets the whole scale.
pub fn mean_interval(m: Moments, min: f64, max: f64) -> Interval {
    if m.n < 2 {
        return Interval { lo: min, hi: max };
    }
    let half = t_95((m.n - 1) as f64) * (m.variance / m.n as f64).sqrt();
    Interval {
        lo: m.mean - half,
        hi: m.mean + half,
    }
    .clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn wilson_for_7_of_10_matches_the_hand_computed_interval() {
        // p = 0.7, n = 10, z = 1.96: centre 0.6445, half-width 0.2477.
        let i = wilson_percent(7, 10).unwrap();
        assert!(close(i.lo, 39.68, 0.01), "{i:?}");
        assert!(close(i.hi, 89.22, 0.01), "{i:?}");
        let all = wilson_percent(1, 1).unwrap();
        assert!(
            all.lo < 25.0 && all.hi == 100.0,
            "one answer is not certainty: {all:?}"
        );
    }

    #[test]
    fn nps_adjusted_wald_matches_hand_values_small_and_large() {
        // One promoter: n' = 4, p = 0.4375, d = 0.1875, net 0.25, var 0.5625, se 0.375.
        // The interval is widened to hold the plain score, 100.
        let one = nps_interval(1, 0, 1).unwrap();
        assert!(
            close(one.lo, 100.0 * (0.25 - Z_95 * 0.375), 1e-9),
            "{one:?}"
        );
        assert_eq!(one.hi, 100.0, "{one:?}");
        assert!(one.margin() > 70.0, "one answer of 9 gives a wide interval");
        let two = nps_interval(1, 0, 2).unwrap();
        assert!(
            close(
                two.hi,
                100.0 * (1.75 / 5.0 - 0.75 / 5.0 + Z_95 * (0.5f64 - 0.04).sqrt() / 5f64.sqrt()),
                1e-9
            ),
            "{two:?}"
        );
        // 500 promoters, 300 passives, 200 detractors: close to the plain Wald interval.
        let large = nps_interval(500, 200, 1000).unwrap();
        let (p, d): (f64, f64) = (500.75 / 1003.0, 200.75 / 1003.0);
        let se = ((p + d - (p - d).powi(2)) / 1003.0).sqrt();
        assert!(close(large.lo, 100.0 * (p - d - Z_95 * se), 1e-9));
        assert!(close(large.margin(), 100.0 * Z_95 * se, 1e-9));
        assert!(large.margin() < 6.0);
    }

    #[test]
    fn the_mean_gets_a_t_interval_and_never_a_zero_width_one() {
        // 2, 4, 6: mean 4, s = 2, t(0.975, 2) = 4.3027; half-width 4.3027 * 2 / √3 = 4.968.
        let m = Moments::from_counts([(2, 1), (4, 1), (6, 1)].into_iter()).unwrap();
        let i = mean_interval(m, -100.0, 100.0);
        assert!(
            close(i.margin(), 4.302_652_7 * 2.0 / 3f64.sqrt(), 1e-4),
            "{i:?}"
        );
        let same = Moments::from_counts([(7, 5)].into_iter()).unwrap();
        assert!(mean_interval(same, 1.0, 7.0).margin() > 0.0);
        let one = Moments::from_counts([(3, 1)].into_iter()).unwrap();
        assert_eq!(mean_interval(one, 1.0, 7.0), Interval { lo: 1.0, hi: 7.0 });
    }

    proptest! {
        #[test]
        fn intervals_are_never_zero_width_stay_within_the_score_range_and_hold_the_score(
            a in 0u64..500, b in 0u64..500, c in 0u64..500
        ) {
            let n = a + b + c;
            prop_assume!(n > 0);
            let w = wilson_percent(a, n).unwrap();
            prop_assert!(w.lo >= 0.0 && w.hi <= 100.0 && w.hi > w.lo);
            let pct = 100.0 * a as f64 / n as f64;
            prop_assert!(w.lo <= pct && pct <= w.hi, "{:?} misses {}", w, pct);
            let s = nps_interval(a, c, n).unwrap();
            prop_assert!(s.lo >= -100.0 && s.hi <= 100.0 && s.hi > s.lo);
            let net = 100.0 * (a as f64 - c as f64) / n as f64;
            prop_assert!(s.lo <= net && net <= s.hi, "{:?} misses {}", s, net);
            let m = Moments::from_counts([(1, a), (4, b), (7, c)].into_iter()).unwrap();
            let i = mean_interval(m, 1.0, 7.0);
            prop_assert!(i.lo >= 1.0 && i.hi <= 7.0 && i.hi > i.lo);
        }
    }
}
