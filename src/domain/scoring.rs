//! Pure scoring maths: answer distributions, headline scores per kind, response rates
//! and 95% margins of error. No I/O; everything here is unit- and property-tested.

use super::kind::{Scale, SurveyKind};

/// z for a two-sided 95% interval under the normal approximation.
const Z_95: f64 = 1.959_963_984_540_054;

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
    pub fn points(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        self.scale.points().zip(self.counts.iter().copied())
    }

    /// The number of answers.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// How many answers lie in `lo..=hi`.
    fn count_between(&self, lo: i32, hi: i32) -> u64 {
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

/// NPS's three groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpsGroups {
    /// Answers of 9 or 10.
    pub promoters: u64,
    /// Answers of 7 or 8.
    pub passives: u64,
    /// Answers of 0 to 6.
    pub detractors: u64,
}

/// A survey's headline figures; `score` is `None` when there are no answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The headline score: NPS (−100..100), CSAT/ESAT percent satisfied, or the CES mean.
    pub score: Option<f64>,
    /// Half-width of the 95% interval around `score`, in the score's own units.
    pub margin_of_error: Option<f64>,
    /// NPS only: promoters, passives and detractors.
    pub nps: Option<NpsGroups>,
    /// CES only: percent who agreed (≥ 5 on 1–7, ≥ 4 on 1–5).
    pub agree_percent: Option<f64>,
}

/// Splits a 0–10 distribution into NPS groups.
pub fn nps_groups(d: &Distribution) -> NpsGroups {
    NpsGroups {
        promoters: d.count_between(9, 10),
        passives: d.count_between(7, 8),
        detractors: d.count_between(0, 6),
    }
}

/// NPS = 100 × (promoters − detractors) / answers, with its 95% margin of error.
pub fn nps(d: &Distribution) -> Option<(f64, f64)> {
    let n = d.total();
    if n == 0 {
        return None;
    }
    let g = nps_groups(d);
    let p = g.promoters as f64 / n as f64;
    let q = g.detractors as f64 / n as f64;
    // Each answer contributes +1, 0 or −1; the variance of that mean is (p + q − (p − q)²) / n.
    let variance = (p + q - (p - q).powi(2)).max(0.0);
    Some((100.0 * (p - q), 100.0 * Z_95 * (variance / n as f64).sqrt()))
}

/// The share, in percent, of answers that count as satisfied, with its 95% margin of error.
/// On 1–5 that is 4 or 5; on thumbs it is up.
pub fn percent_satisfied(d: &Distribution) -> Option<(f64, f64)> {
    let threshold = match d.scale() {
        Scale::Thumbs => 1,
        _ => 4,
    };
    proportion(d.count_between(threshold, d.scale().max()), d.total())
}

/// The mean answer, with the 95% margin of error of the mean (`None` below two answers).
pub fn mean(d: &Distribution) -> Option<(f64, Option<f64>)> {
    let n = d.total();
    if n == 0 {
        return None;
    }
    let sum: f64 = d.points().map(|(s, c)| s as f64 * c as f64).sum();
    let mean = sum / n as f64;
    if n < 2 {
        return Some((mean, None));
    }
    let squares: f64 = d
        .points()
        .map(|(s, c)| c as f64 * (s as f64 - mean).powi(2))
        .sum();
    let sd = (squares / (n - 1) as f64).sqrt();
    Some((mean, Some(Z_95 * sd / (n as f64).sqrt())))
}

/// CES agreement: percent of answers at or above "somewhat agree" (5 on 1–7, 4 on 1–5).
pub fn ces_agree_percent(d: &Distribution) -> Option<f64> {
    let threshold = match d.scale() {
        Scale::OneToSeven => 5,
        _ => 4,
    };
    proportion(d.count_between(threshold, d.scale().max()), d.total()).map(|(p, _)| p)
}

/// `responses / invitations`, or 0 when nothing was sent.
pub fn response_rate(responses: u64, invitations: u64) -> f64 {
    if invitations == 0 {
        0.0
    } else {
        responses as f64 / invitations as f64
    }
}

/// The headline figures for a survey of `kind` whose answers are `d`.
pub fn summarize(kind: SurveyKind, d: &Distribution) -> Summary {
    match kind {
        SurveyKind::Nps => {
            let headline = nps(d);
            Summary {
                score: headline.map(|(s, _)| s),
                margin_of_error: headline.map(|(_, m)| m),
                nps: Some(nps_groups(d)),
                agree_percent: None,
            }
        }
        SurveyKind::Csat | SurveyKind::Esat => {
            let headline = percent_satisfied(d);
            Summary {
                score: headline.map(|(s, _)| s),
                margin_of_error: headline.map(|(_, m)| m),
                nps: None,
                agree_percent: None,
            }
        }
        SurveyKind::Ces => {
            let headline = mean(d);
            Summary {
                score: headline.map(|(s, _)| s),
                margin_of_error: headline.and_then(|(_, m)| m),
                nps: None,
                agree_percent: ces_agree_percent(d),
            }
        }
    }
}

/// A percentage `hits / n` and its 95% margin of error (normal approximation).
fn proportion(hits: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let p = hits as f64 / n as f64;
    Some((100.0 * p, 100.0 * Z_95 * (p * (1.0 - p) / n as f64).sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dist(scale: Scale, answers: &[i32]) -> Distribution {
        let mut d = Distribution::new(scale);
        for &a in answers {
            d.add(a, 1);
        }
        d
    }

    #[test]
    fn nps_of_the_textbook_example() {
        // 5 promoters, 3 passives, 2 detractors → 30.
        let d = dist(Scale::ZeroToTen, &[10, 9, 9, 10, 9, 7, 8, 8, 6, 0]);
        let (score, moe) = nps(&d).unwrap();
        assert!((score - 30.0).abs() < 1e-9);
        assert!(moe > 0.0);
        assert_eq!(
            nps_groups(&d),
            NpsGroups {
                promoters: 5,
                passives: 3,
                detractors: 2
            }
        );
    }

    #[test]
    fn no_answers_means_no_score_and_a_zero_rate() {
        for kind in SurveyKind::ALL {
            let d = Distribution::new(kind.scales()[0]);
            assert_eq!(summarize(kind, &d).score, None);
        }
        assert_eq!(response_rate(0, 0), 0.0);
        assert_eq!(response_rate(1, 4), 0.25);
    }

    #[test]
    fn csat_counts_four_and_five_and_thumbs_counts_ups() {
        let d = dist(Scale::OneToFive, &[5, 4, 3, 1]);
        assert_eq!(percent_satisfied(&d).unwrap().0, 50.0);
        let d = dist(Scale::Thumbs, &[1, 1, 1, 0]);
        assert_eq!(percent_satisfied(&d).unwrap().0, 75.0);
    }

    #[test]
    fn ces_is_the_mean_and_agreement_depends_on_the_scale() {
        let d = dist(Scale::OneToSeven, &[7, 5, 4, 2]);
        let s = summarize(SurveyKind::Ces, &d);
        assert_eq!(s.score, Some(4.5));
        assert_eq!(s.agree_percent, Some(50.0));
        let d = dist(Scale::OneToFive, &[4, 3]);
        assert_eq!(ces_agree_percent(&d), Some(50.0));
    }

    #[test]
    fn unanimous_answers_have_no_uncertainty() {
        let d = dist(Scale::ZeroToTen, &[10; 20]);
        assert_eq!(nps(&d).unwrap(), (100.0, 0.0));
        assert_eq!(mean(&d).unwrap(), (10.0, Some(0.0)));
        assert_eq!(mean(&dist(Scale::OneToSeven, &[3])).unwrap(), (3.0, None));
    }

    #[test]
    fn margin_of_error_matches_the_closed_form_for_a_proportion() {
        // p = 0.5, n = 100 → 1.96 × 0.05 = 9.8 points.
        let answers: Vec<i32> = (0..100).map(|i| if i % 2 == 0 { 5 } else { 1 }).collect();
        let (_, moe) = percent_satisfied(&dist(Scale::OneToFive, &answers)).unwrap();
        assert!((moe - 9.799_819_9).abs() < 1e-6, "{moe}");
    }

    fn scale_and_answers() -> impl Strategy<Value = (Scale, Vec<i32>, Vec<i32>)> {
        prop_oneof![
            Just(Scale::OneToFive),
            Just(Scale::Thumbs),
            Just(Scale::ZeroToTen),
            Just(Scale::OneToSeven)
        ]
        .prop_flat_map(|scale| {
            let point = scale.min()..=scale.max();
            (
                Just(scale),
                proptest::collection::vec(point.clone(), 0..200),
                proptest::collection::vec(point, 0..200),
            )
        })
    }

    proptest! {
        #[test]
        fn nps_always_lies_within_minus_100_and_100(answers in proptest::collection::vec(0..=10i32, 1..500)) {
            let (score, moe) = nps(&dist(Scale::ZeroToTen, &answers)).unwrap();
            prop_assert!((-100.0..=100.0).contains(&score));
            prop_assert!((0.0..=200.0).contains(&moe));
        }

        #[test]
        fn percentages_lie_within_0_and_100_and_means_within_the_scale((scale, a, _b) in scale_and_answers()) {
            let d = dist(scale, &a);
            if let Some((p, _)) = percent_satisfied(&d) { prop_assert!((0.0..=100.0).contains(&p)); }
            if let Some((m, _)) = mean(&d) {
                prop_assert!(m >= scale.min() as f64 - 1e-9 && m <= scale.max() as f64 + 1e-9);
            }
        }

        #[test]
        fn merging_two_rollups_equals_scoring_their_union((scale, a, b) in scale_and_answers()) {
            let merged = dist(scale, &a).merge(&dist(scale, &b));
            let union: Vec<i32> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(&merged, &dist(scale, &union));
            for kind in SurveyKind::ALL.into_iter().filter(|k| k.scales().contains(&scale)) {
                prop_assert_eq!(summarize(kind, &merged), summarize(kind, &dist(scale, &union)));
            }
        }

        #[test]
        fn nps_groups_partition_the_answers(answers in proptest::collection::vec(0..=10i32, 0..300)) {
            let d = dist(Scale::ZeroToTen, &answers);
            let g = nps_groups(&d);
            prop_assert_eq!(g.promoters + g.passives + g.detractors, answers.len() as u64);
        }

        #[test]
        fn response_rate_is_a_fraction(invitations in 0u64..10_000, share in 0.0f64..=1.0) {
            let responses = (invitations as f64 * share) as u64;
            let rate = response_rate(responses, invitations);
            prop_assert!((0.0..=1.0).contains(&rate));
        }
    }
}
