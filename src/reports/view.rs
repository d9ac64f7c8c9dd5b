//! The JSON of a stats call: the figures of every cell (overall, bucket, group), each with
//! its score, interval, rule and, for buckets, the change from the bucket before.

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::adjusted::{self, AdjustedView};
use super::funnel::FunnelView;
use super::Report;
use crate::domain::kind::{Scale, SurveyKind};
use crate::domain::scoring::{self, Distribution, Rule};
use crate::domain::stats::buckets::Interval;
use crate::domain::stats::disclosure::Withheld;
use crate::domain::stats::tally::Tally;

/// A distribution served as `{"<score>": count}` in scale order, zeros included.
#[derive(Debug)]
pub struct DistributionView(pub Distribution);

impl Serialize for DistributionView {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.scale().point_count()))?;
        for (score, count) in self.0.points() {
            map.serialize_entry(&score.to_string(), &count)?;
        }
        map.end()
    }
}

/// The rule that made a score: `{"metric": "nps", "promoters": "9-10", …, "interval": …}`.
#[derive(Debug)]
pub struct RuleView(pub Rule);

impl Serialize for RuleView {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rule = &self.0;
        let mut map = serializer.serialize_map(Some(rule.bands.len() + 5))?;
        map.serialize_entry("metric", rule.metric)?;
        map.serialize_entry("score", rule.score)?;
        for (band, range) in &rule.bands {
            map.serialize_entry(band, range)?;
        }
        map.serialize_entry("interval", rule.interval)?;
        map.serialize_entry("higher_is_better", &rule.higher_is_better)?;
        map.serialize_entry("challenges", adjusted::RULE)?;
        map.end()
    }
}

/// A score with its interval and the counts behind it, as every figure serves it.
#[derive(Debug, Serialize)]
pub struct ScoreView {
    /// The headline score.
    pub score: Option<f64>,
    /// Its 95% confidence interval `[lo, hi]`, by the method `rule.interval` names.
    pub confidence_interval: Option<[f64; 2]>,
    /// Half the width of `confidence_interval`.
    pub margin_of_error: Option<f64>,
    /// Fewer answers than the documented minimum (30): read the score with care.
    pub low_sample: bool,
    /// NPS only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promoters: Option<u64>,
    /// NPS only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passives: Option<u64>,
    /// NPS only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detractors: Option<u64>,
    /// CES only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agree_percent: Option<f64>,
    /// CES on the effort scale only: percent of answers of 1 or 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_effort_percent: Option<f64>,
}

impl ScoreView {
    /// A withheld score: nothing but `low_sample`.
    pub fn withheld() -> Self {
        Self {
            score: None,
            confidence_interval: None,
            margin_of_error: None,
            low_sample: true,
            promoters: None,
            passives: None,
            detractors: None,
            agree_percent: None,
            low_effort_percent: None,
        }
    }

    /// Scores `distribution` for a survey of `kind`.
    pub fn of(kind: SurveyKind, distribution: &Distribution) -> Self {
        let summary = scoring::summarize(kind, distribution);
        Self {
            score: summary.score,
            confidence_interval: summary.interval.map(|i| [i.lo, i.hi]),
            margin_of_error: summary.interval.map(|i| i.margin()),
            low_sample: summary.low_sample,
            promoters: summary.nps.map(|g| g.promoters),
            passives: summary.nps.map(|g| g.passives),
            detractors: summary.nps.map(|g| g.detractors),
            agree_percent: summary.agree_percent,
            low_effort_percent: summary.low_effort_percent,
        }
    }
}

/// The figures of one cell.
#[derive(Debug, Serialize)]
pub struct Figures {
    /// Invitations issued in the cell (failed and suppressed ones excluded).
    pub invitations: u64,
    /// Of those, how many have a trusted response.
    pub responses: u64,
    /// `responses / invitations`.
    pub response_rate: f64,
    /// An anonymous survey's figure over too few respondents, or one that would give such a
    /// figure away: counts and rates only, no score, interval or distribution.
    pub withheld: bool,
    /// The score over every trusted response (all `null` when withheld).
    #[serde(flatten)]
    pub score: ScoreView,
    /// Answers per scale point (`null` when withheld).
    pub distribution: Option<DistributionView>,
    /// Responses left out because they look automated.
    pub suspect_responses: u64,
    /// How many invitations reached each step, from issue to comment.
    pub funnel: FunnelView,
    /// The score again without the answers whose challenge was accepted (`null` for an
    /// anonymous survey: the difference of the two would single out the excluded answers).
    pub score_excluding_accepted_challenges: Option<AdjustedView>,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// How a figure may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// In full (a survey that is not anonymous).
    Full,
    /// An anonymous survey's figure: its score, but never the adjusted one.
    Anonymous,
    /// Withheld: counts and rates only.
    Withheld,
}

impl Disclosure {
    /// An anonymous survey's figure, withheld or not.
    pub fn anonymous(withheld: bool) -> Self {
        if withheld {
            Self::Withheld
        } else {
            Self::Anonymous
        }
    }
}

impl Figures {
    /// Scores `tally` for a survey of `kind` on `scale`, as far as `disclosure` allows.
    pub fn of(kind: SurveyKind, scale: Scale, tally: &Tally, disclosure: Disclosure) -> Self {
        let distribution = tally.distribution(scale);
        let responses = distribution.total();
        let invitations = count(tally.issued);
        let withheld = disclosure == Disclosure::Withheld;
        let score = if withheld {
            ScoreView::withheld()
        } else {
            ScoreView::of(kind, &distribution)
        };
        Self {
            invitations,
            responses,
            response_rate: scoring::response_rate(responses, invitations),
            withheld,
            score,
            distribution: (!withheld).then_some(DistributionView(distribution)),
            suspect_responses: count(tally.suspect),
            funnel: FunnelView::from(tally),
            score_excluding_accepted_challenges: (disclosure == Disclosure::Full)
                .then(|| AdjustedView::of(kind, scale, tally)),
        }
    }
}

/// One trend bucket.
#[derive(Debug, Serialize)]
pub struct BucketView {
    /// Its local first day, e.g. `2026-03-02` (a Monday for weeks).
    pub label: String,
    /// Start (inclusive), UTC.
    pub start: DateTime<Utc>,
    /// End (exclusive), UTC.
    pub end: DateTime<Utc>,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Score minus the previous bucket's (`null` when either has no answers).
    pub change: Option<f64>,
    /// Whether that change is significant at 95%.
    pub significant: Option<bool>,
}

/// One group (a value of the `group_by` property).
#[derive(Debug, Serialize)]
pub struct GroupView {
    /// The property value; `other` for the sum of the groups beyond the cap.
    pub value: String,
    /// Whether this is that sum.
    pub other: bool,
    /// How many values it holds (1 for a real group).
    pub values: usize,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Its trend, with `interval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<BucketView>>,
}

/// A window compared with the one before it.
#[derive(Debug, Serialize)]
pub struct ComparisonView {
    /// Start of the previous window (inclusive).
    pub from: DateTime<Utc>,
    /// End of the previous window (exclusive): this window's start.
    pub to: DateTime<Utc>,
    /// Responses in the previous window.
    pub responses: u64,
    /// The previous window's score.
    pub score: Option<f64>,
    /// This window's score minus the previous one's.
    pub change: Option<f64>,
    /// Whether the change is significant at 95%.
    pub significant: Option<bool>,
}

/// A stats answer.
#[derive(Debug, Serialize)]
pub struct StatsView {
    /// The survey (absent for workspace-wide stats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survey_id: Option<String>,
    /// For workspace-wide stats: how many surveys were combined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surveys: Option<usize>,
    /// The kind.
    pub kind: &'static str,
    /// The scale.
    pub scale: crate::views::ScaleView,
    /// Window start (inclusive), if any.
    pub from: Option<DateTime<Utc>>,
    /// Window end (exclusive), if any.
    pub to: Option<DateTime<Utc>>,
    /// The overall figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Confidence level of every interval.
    pub confidence_level: f64,
    /// How the score was made.
    pub rule: RuleView,
    /// For an anonymous survey: the minimum of respondents behind any score served, and how
    /// the figures that would give a smaller one away are withheld.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymity: Option<AnonymityView>,
    /// The trend interval, if asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<&'static str>,
    /// The zone the buckets are cut in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// One entry per bucket, empty ones included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<BucketView>>,
    /// The grouping property.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    /// One entry per value, most answers first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupView>>,
    /// With `compare=previous_period`: the window before and the change since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<ComparisonView>,
}

/// What the view needs besides the report.
#[derive(Debug, Clone)]
pub struct Context {
    /// The survey, for single-survey stats.
    pub survey_id: Option<String>,
    /// How many surveys, for workspace-wide stats.
    pub surveys: Option<usize>,
    /// Their kind.
    pub kind: SurveyKind,
    /// Their scale.
    pub scale: Scale,
    /// The interval and zone name, if any.
    pub interval: Option<(Interval, String)>,
    /// The grouping property.
    pub group_by: Option<String>,
    /// For an anonymous survey, its rule.
    pub anonymity: Option<AnonymityView>,
}

/// The anonymity rule an answer was made by.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AnonymityView {
    /// No score is served over fewer respondents than this (the workspace's `min_group_size`).
    pub min_group_size: u64,
    /// How it is kept.
    pub rule: &'static str,
}

/// What `anonymity.rule` says.
pub const ANONYMITY_RULE: &str = "a figure over fewer than min_group_size respondents is \
    withheld; so is the smallest sibling (group, bucket, or group's bucket) of a withheld figure, \
    until no withheld figure over fewer than min_group_size respondents can be worked out from \
    the served ones and no served total less its served parts covers fewer than min_group_size; \
    a filter answers the figures of that group in the same call grouped by the property";

/// How figure `i` of a list may be served: in full without `withheld`, else as it says.
fn shown(withheld: Option<&[bool]>, i: usize) -> Disclosure {
    match withheld {
        None => Disclosure::Full,
        Some(w) => Disclosure::anonymous(w.get(i).copied().unwrap_or(true)),
    }
}

fn series(
    kind: SurveyKind,
    scale: Scale,
    report: &Report,
    tallies: &[Tally],
    withheld: Option<&[bool]>,
) -> Vec<BucketView> {
    let mut previous: Option<Distribution> = None;
    report
        .buckets
        .iter()
        .zip(tallies)
        .enumerate()
        .map(|(i, (bucket, tally))| {
            let disclosure = shown(withheld, i);
            // A withheld bucket is compared with nothing, and nothing with it.
            let d = (disclosure != Disclosure::Withheld).then(|| tally.distribution(scale));
            let change = previous
                .as_ref()
                .zip(d.as_ref())
                .and_then(|(before, now)| scoring::compare(kind, before, now));
            previous = d;
            BucketView {
                label: bucket.label.to_string(),
                start: bucket.start,
                end: bucket.end,
                figures: Figures::of(kind, scale, tally, disclosure),
                change: change.map(|c| c.change),
                significant: change.map(|c| c.significant),
            }
        })
        .collect()
}

impl StatsView {
    /// The view of `report`; for an anonymous survey, `withheld` says which figures are
    /// withheld (shaped like the report).
    pub fn new(ctx: &Context, report: &Report, withheld: Option<&Withheld>) -> Self {
        let (kind, scale) = (ctx.kind, ctx.scale);
        let with_series = ctx.interval.is_some();
        let total = match withheld {
            None => Disclosure::Full,
            Some(w) => Disclosure::anonymous(w.total),
        };
        let rule = scoring::rule(kind, scale);
        Self {
            survey_id: ctx.survey_id.clone(),
            surveys: ctx.surveys,
            kind: kind.as_str(),
            scale: scale.into(),
            from: report.from,
            to: report.to_given,
            figures: Figures::of(kind, scale, &report.total, total),
            confidence_level: 0.95,
            rule: RuleView(rule),
            anonymity: ctx.anonymity,
            interval: ctx.interval.as_ref().map(|(i, _)| i.as_str()),
            tz: ctx.interval.as_ref().map(|(_, tz)| tz.clone()),
            series: with_series.then(|| {
                let w = withheld.map(|w| w.series.as_slice());
                series(kind, scale, report, &report.series, w)
            }),
            group_by: ctx.group_by.clone(),
            groups: ctx.group_by.as_ref().map(|_| {
                report
                    .groups
                    .iter()
                    .enumerate()
                    .map(|(i, g)| GroupView {
                        value: g.value.clone().unwrap_or_else(|| "other".to_owned()),
                        other: g.value.is_none(),
                        values: g.values,
                        figures: Figures::of(
                            kind,
                            scale,
                            &g.total,
                            shown(withheld.map(|w| w.groups.as_slice()), i),
                        ),
                        series: with_series.then(|| {
                            let w = withheld.map(|w| w.cells.get(i).map_or(&[][..], Vec::as_slice));
                            series(kind, scale, report, &g.series, w)
                        }),
                    })
                    .collect()
            }),
            comparison: None,
        }
    }

    /// Adds the comparison with `previous`, the report of the window before (`withheld`:
    /// whether either window's total is withheld, which leaves only the counts).
    pub fn with_comparison(
        mut self,
        ctx: &Context,
        report: &Report,
        previous: &Report,
        withheld: bool,
    ) -> Self {
        let (kind, scale) = (ctx.kind, ctx.scale);
        let (now, before) = (
            report.total.distribution(scale),
            previous.total.distribution(scale),
        );
        let change = (!withheld)
            .then(|| scoring::compare(kind, &before, &now))
            .flatten();
        self.comparison = previous.from.map(|from| ComparisonView {
            from,
            to: previous.to,
            responses: before.total(),
            score: (!withheld)
                .then(|| scoring::summarize(kind, &before).score)
                .flatten(),
            change: change.map(|c| c.change),
            significant: change.map(|c| c.significant),
        });
        self
    }
}
