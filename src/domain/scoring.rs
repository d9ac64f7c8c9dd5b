//! Pure scoring maths: answer distributions, headline scores per kind with their intervals
//! and rule, response rates and changes. No I/O; everything here is unit- and property-tested.

use super::kind::{Scale, SurveyKind};
pub use super::stats::distribution::Distribution;
use super::stats::intervals::{self, Interval, Moments, LOW_SAMPLE_BELOW};
use super::stats::significance::{self, Change};

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
    /// Its 95% confidence interval, by the method the [`Rule`] names.
    pub interval: Option<Interval>,
    /// Fewer answers than [`LOW_SAMPLE_BELOW`].
    pub low_sample: bool,
    /// NPS only: promoters, passives and detractors.
    pub nps: Option<NpsGroups>,
    /// CES only: percent who agreed (≥ 5 on 1–7, ≥ 4 on 1–5).
    pub agree_percent: Option<f64>,
    /// CES on the effort scale only: percent who reported low effort (1 or 2).
    pub low_effort_percent: Option<f64>,
    /// How the score was made.
    pub rule: Rule,
}

/// The rule that made a score, served with it so that no client has to guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `nps`, `csat`, `esat` or `ces`.
    pub metric: &'static str,
    /// What the score is: `net_percent`, `percent` or `mean`.
    pub score: &'static str,
    /// The bands that count, e.g. `("promoters", "9-10")` or `("satisfied", "4-5")`.
    pub bands: Vec<(&'static str, &'static str)>,
    /// The interval method: `adjusted-wald`, `wilson` or `t`.
    pub interval: &'static str,
    /// Whether a higher score is better.
    pub higher_is_better: bool,
}

/// The rule of an NPS survey sent to employees (an audience): eNPS, the same maths.
pub fn employee_rule(rule: Rule) -> Rule {
    match rule.metric {
        "nps" => Rule {
            metric: "enps",
            ..rule
        },
        _ => rule,
    }
}

/// The rule for a survey of `kind` on `scale`.
pub fn rule(kind: SurveyKind, scale: Scale) -> Rule {
    let satisfied = if scale == Scale::Thumbs { "1" } else { "4-5" };
    let (score, bands, interval) = match kind {
        SurveyKind::Nps => (
            "net_percent",
            vec![
                ("promoters", "9-10"),
                ("passives", "7-8"),
                ("detractors", "0-6"),
            ],
            "adjusted-wald",
        ),
        SurveyKind::Csat | SurveyKind::Esat => {
            ("percent", vec![("satisfied", satisfied)], "wilson")
        }
        SurveyKind::Ces if scale == Scale::EffortOneToFive => {
            ("mean", vec![("low_effort", "1-2")], "t")
        }
        SurveyKind::Ces => {
            let agree = if scale == Scale::OneToSeven {
                "5-7"
            } else {
                "4-5"
            };
            ("mean", vec![("agree", agree)], "t")
        }
    };
    Rule {
        metric: kind.as_str(),
        score,
        bands,
        interval,
        // On the effort scale a lower mean is better.
        higher_is_better: scale != Scale::EffortOneToFive,
    }
}

/// Splits a 0–10 distribution into NPS groups.
pub fn nps_groups(d: &Distribution) -> NpsGroups {
    NpsGroups {
        promoters: d.count_between(9, 10),
        passives: d.count_between(7, 8),
        detractors: d.count_between(0, 6),
    }
}

/// A score and its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Headline {
    /// The score.
    pub score: f64,
    /// Its interval.
    pub interval: Interval,
}

/// NPS = 100 × (promoters − detractors) / answers, with its adjusted-Wald interval.
pub fn nps(d: &Distribution) -> Option<Headline> {
    let n = d.total();
    let g = nps_groups(d);
    let interval = intervals::nps_interval(g.promoters, g.detractors, n)?;
    let score = 100.0 * (g.promoters as f64 - g.detractors as f64) / n as f64;
    Some(Headline { score, interval })
}

/// The answers that count as satisfied: 4 or 5 on 1–5, up on thumbs.
fn satisfied(d: &Distribution) -> u64 {
    let threshold = match d.scale() {
        Scale::Thumbs => 1,
        _ => 4,
    };
    d.count_between(threshold, d.scale().max())
}

/// The share, in percent, of answers that count as satisfied, with its Wilson interval.
pub fn percent_satisfied(d: &Distribution) -> Option<Headline> {
    let (hits, n) = (satisfied(d), d.total());
    let interval = intervals::wilson_percent(hits, n)?;
    Some(Headline {
        score: 100.0 * hits as f64 / n as f64,
        interval,
    })
}

/// The answers' moments.
fn moments(d: &Distribution) -> Option<Moments> {
    Moments::from_counts(d.points())
}

/// The mean answer, with its t interval.
pub fn mean(d: &Distribution) -> Option<Headline> {
    let m = moments(d)?;
    let scale = d.scale();
    Some(Headline {
        score: m.mean,
        interval: intervals::mean_interval(m, f64::from(scale.min()), f64::from(scale.max())),
    })
}

/// CES agreement: the answers at or above "somewhat agree" (5 on 1–7, 4 on 1–5).
fn agreed(d: &Distribution) -> u64 {
    let threshold = match d.scale() {
        Scale::OneToSeven => 5,
        _ => 4,
    };
    d.count_between(threshold, d.scale().max())
}

/// CES agreement in percent (not on the effort scale, which asks no agreement).
pub fn ces_agree_percent(d: &Distribution) -> Option<f64> {
    let n = d.total();
    (n > 0 && d.scale() != Scale::EffortOneToFive).then(|| 100.0 * agreed(d) as f64 / n as f64)
}

/// CES effort: percent of answers reporting low effort (1 or 2 on the effort scale).
pub fn low_effort_percent(d: &Distribution) -> Option<f64> {
    let n = d.total();
    (n > 0 && d.scale() == Scale::EffortOneToFive)
        .then(|| 100.0 * d.count_between(1, 2) as f64 / n as f64)
}

/// A score written as a whole number, the same wherever one is (a dashboard's NPS, the
/// Delighted metrics): halves away from zero, as people round, and never `-0`.
pub fn whole(score: f64) -> i64 {
    score.round() as i64
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
    let headline = match kind {
        SurveyKind::Nps => nps(d),
        SurveyKind::Csat | SurveyKind::Esat => percent_satisfied(d),
        SurveyKind::Ces => mean(d),
    };
    Summary {
        score: headline.map(|h| h.score),
        interval: headline.map(|h| h.interval),
        low_sample: d.total() < LOW_SAMPLE_BELOW,
        nps: (kind == SurveyKind::Nps).then(|| nps_groups(d)),
        agree_percent: if kind == SurveyKind::Ces {
            ces_agree_percent(d)
        } else {
            None
        },
        low_effort_percent: if kind == SurveyKind::Ces {
            low_effort_percent(d)
        } else {
            None
        },
        rule: rule(kind, d.scale()),
    }
}

/// How the score of `after` differs from that of `before`, and whether that is significant
/// at 95% (`None` unless both have answers).
pub fn compare(kind: SurveyKind, before: &Distribution, after: &Distribution) -> Option<Change> {
    match kind {
        SurveyKind::Nps => {
            let groups = |d: &Distribution| {
                let g = nps_groups(d);
                (g.promoters, g.detractors, d.total())
            };
            significance::nps(groups(before), groups(after))
        }
        SurveyKind::Csat | SurveyKind::Esat => significance::proportions(
            (satisfied(before), before.total()),
            (satisfied(after), after.total()),
        ),
        SurveyKind::Ces => significance::means(moments(before), moments(after)),
    }
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
        let h = nps(&d).unwrap();
        assert!((h.score - 30.0).abs() < 1e-9);
        assert!(h.interval.margin() > 0.0);
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
        assert_eq!(percent_satisfied(&d).unwrap().score, 50.0);
        let d = dist(Scale::Thumbs, &[1, 1, 1, 0]);
        assert_eq!(percent_satisfied(&d).unwrap().score, 75.0);
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
    fn unanimous_answers_still_have_an_honest_interval() {
        let d = dist(Scale::ZeroToTen, &[10; 20]);
        let h = nps(&d).unwrap();
        assert_eq!(h.score, 100.0);
        assert!(h.interval.margin() > 5.0, "{h:?}");
        let one = summarize(SurveyKind::Nps, &dist(Scale::ZeroToTen, &[9]));
        assert_eq!(one.score, Some(100.0));
        assert!(
            one.interval.unwrap().margin() > 70.0,
            "one answer is no certainty"
        );
        assert!(one.low_sample);
        let m = mean(&dist(Scale::OneToSeven, &[3])).unwrap();
        assert_eq!((m.interval.lo, m.interval.hi), (1.0, 7.0));
    }

    #[test]
    fn ces_on_the_effort_scale_is_the_mean_where_lower_is_better() {
        let d = dist(Scale::EffortOneToFive, &[1, 2, 2, 5]);
        let s = summarize(SurveyKind::Ces, &d);
        assert_eq!(s.score, Some(2.5));
        assert_eq!(s.low_effort_percent, Some(75.0));
        assert_eq!(s.agree_percent, None);
        assert!(!s.rule.higher_is_better);
        assert_eq!(s.rule.bands, vec![("low_effort", "1-2")]);
        assert_eq!(
            summarize(SurveyKind::Ces, &dist(Scale::OneToSeven, &[7])).low_effort_percent,
            None
        );
    }

    #[test]
    fn the_rule_names_the_bands_and_the_interval_method() {
        let r = rule(SurveyKind::Nps, Scale::ZeroToTen);
        assert_eq!(r.interval, "adjusted-wald");
        assert_eq!(r.bands[0], ("promoters", "9-10"));
        assert_eq!(
            rule(SurveyKind::Csat, Scale::Thumbs).bands,
            vec![("satisfied", "1")]
        );
        assert_eq!(rule(SurveyKind::Esat, Scale::OneToFive).interval, "wilson");
        assert_eq!(
            rule(SurveyKind::Ces, Scale::OneToSeven).bands,
            vec![("agree", "5-7")]
        );
    }

    #[test]
    fn a_planted_change_between_two_periods_is_significant() {
        let before = dist(Scale::OneToFive, &[[5; 80].as_slice(), &[1; 20]].concat());
        let after = dist(Scale::OneToFive, &[[5; 50].as_slice(), &[1; 50]].concat());
        let change = compare(SurveyKind::Csat, &before, &after).unwrap();
        assert!((change.change + 30.0).abs() < 1e-9 && change.significant);
        let same = compare(SurveyKind::Csat, &before, &before).unwrap();
        assert!(!same.significant);
        assert!(compare(
            SurveyKind::Nps,
            &Distribution::new(Scale::ZeroToTen),
            &dist(Scale::ZeroToTen, &[9])
        )
        .is_none());
    }

    fn scale_and_answers() -> impl Strategy<Value = (Scale, Vec<i32>, Vec<i32>)> {
        prop_oneof![
            Just(Scale::OneToFive),
            Just(Scale::Thumbs),
            Just(Scale::ZeroToTen),
            Just(Scale::OneToSeven),
            Just(Scale::EffortOneToFive)
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
            let h = nps(&dist(Scale::ZeroToTen, &answers)).unwrap();
            prop_assert!((-100.0..=100.0).contains(&h.score));
            prop_assert!(h.interval.lo >= -100.0 && h.interval.hi <= 100.0 && h.interval.margin() > 0.0);
        }

        #[test]
        fn percentages_lie_within_0_and_100_and_means_within_the_scale((scale, a, _b) in scale_and_answers()) {
            let d = dist(scale, &a);
            if let Some(p) = percent_satisfied(&d) { prop_assert!((0.0..=100.0).contains(&p.score)); }
            if let Some(m) = mean(&d) {
                prop_assert!(m.score >= scale.min() as f64 - 1e-9 && m.score <= scale.max() as f64 + 1e-9);
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
