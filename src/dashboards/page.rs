//! The dashboard page: a stats answer laid out for people, with inline SVG charts and a table
//! of every plotted value beside each chart. Every figure is read from the [`StatsView`] that
//! `/v1/stats` serves; this module only formats and arranges.

use std::sync::OnceLock;

use minijinja::{context, Environment};
use serde::Serialize;

use super::charts::{self, TrendPoint};
use super::Window;
use crate::domain::kind::Scale;
use crate::domain::scoring;
use crate::reports::view::{BucketView, Figures, StatsView};
use crate::templates::builtin_environment;

const CSS: &str = include_str!("../../templates/dashboard.css");

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        builtin_environment(&[(
            "dashboard.html",
            include_str!("../../templates/dashboard.html"),
        )])
    })
}

/// One comment as the page lists it: no identity, and only the day it was written.
#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    /// The day, `YYYY-MM-DD`, in the dashboard's zone.
    pub day: String,
    /// The score given with it.
    pub score: i32,
    /// The comment.
    pub text: String,
}

/// What the comments section shows.
#[derive(Debug, Clone)]
pub enum Comments {
    /// The dashboard does not show comments.
    Off,
    /// Withheld, with the reason for the reader.
    Withheld(&'static str),
    /// The latest comments, newest first.
    Shown(Vec<Comment>),
}

/// Everything the page needs besides the stats.
#[derive(Debug)]
pub struct PageInput<'a> {
    /// The title.
    pub title: &'a str,
    /// The link token (the form and the CSV link point back to it).
    pub token: &'a str,
    /// The stats answer of the window.
    pub stats: &'a StatsView,
    /// The scale the surveys answer on.
    pub scale: Scale,
    /// The window shown.
    pub window: &'a Window,
    /// The dashboard's zone: dates on the page (and in its form) are its days.
    pub tz: chrono_tz::Tz,
    /// The comments section.
    pub comments: Comments,
    /// Whether to offer the CSV download.
    pub csv: bool,
    /// The CSP nonce of the page's style sheet.
    pub nonce: &'a str,
}

/// How a score of this kind is written: an NPS as a whole number, a percentage with one
/// decimal and `%`, a mean with two decimals. `score` is the rule's `score` field.
pub fn score_text(score_kind: &str, value: f64) -> String {
    match score_kind {
        "net_percent" => scoring::whole(value).to_string(),
        "percent" => format!("{value:.1}%"),
        _ => format!("{value:.2}"),
    }
}

/// A change of score, signed, in the score's own units.
pub fn change_text(score_kind: &str, change: f64) -> String {
    match score_kind {
        "net_percent" => format!("{:+} points", scoring::whole(change)),
        "percent" => format!("{change:+.1} points"),
        _ => format!("{change:+.2}"),
    }
}

/// An arrow and a word for a change: which way the score moved, and whether that is better.
pub fn direction(change: f64, higher_is_better: bool) -> (&'static str, &'static str) {
    if change == 0.0 {
        ("=", "unchanged")
    } else if (change > 0.0) == higher_is_better {
        (if change > 0.0 { "▲" } else { "▼" }, "better")
    } else {
        (if change > 0.0 { "▲" } else { "▼" }, "worse")
    }
}

/// The range of the score axis.
fn axis(score_kind: &str, scale: Scale) -> (f64, f64) {
    match score_kind {
        "net_percent" => (-100.0, 100.0),
        "percent" => (0.0, 100.0),
        _ => (f64::from(scale.min()), f64::from(scale.max())),
    }
}

/// A cell's score as the page shows it.
#[derive(Debug, Serialize)]
struct ScoreCell {
    score: Option<String>,
    interval: Option<String>,
    responses: u64,
    invitations: u64,
    response_rate: String,
    withheld: bool,
    low_sample: bool,
}

impl ScoreCell {
    fn of(score_kind: &str, f: &Figures) -> Self {
        let fmt = |v: f64| score_text(score_kind, v);
        Self {
            score: f.score.score.map(fmt),
            interval: f
                .score
                .confidence_interval
                .map(|[lo, hi]| format!("{} – {}", fmt(lo), fmt(hi))),
            responses: f.responses,
            invitations: f.invitations,
            response_rate: format!("{:.1}%", f.response_rate * 100.0),
            withheld: f.withheld,
            low_sample: f.score.low_sample,
        }
    }
}

/// A row of a chart's table: the text alternative of one plotted value.
#[derive(Debug, Serialize)]
struct Row {
    label: String,
    cell: ScoreCell,
    change: Option<String>,
    significant: Option<bool>,
}

#[derive(Debug, Serialize)]
struct GroupRow {
    value: String,
    other: bool,
    cell: ScoreCell,
    sparkline: Option<String>,
}

fn trend_points(series: &[BucketView]) -> Vec<TrendPoint<'_>> {
    series
        .iter()
        .map(|b| TrendPoint {
            label: &b.label,
            score: b.figures.score.score,
            interval: b.figures.score.confidence_interval,
        })
        .collect()
}

fn distribution_label(scale: Scale, score: i32) -> String {
    match (scale, score) {
        (Scale::Thumbs, 0) => "down".to_owned(),
        (Scale::Thumbs, _) => "up".to_owned(),
        _ => score.to_string(),
    }
}

/// Renders the page.
pub fn render(input: &PageInput<'_>) -> Result<String, minijinja::Error> {
    let stats = input.stats;
    let rule = &stats.rule.0;
    let kind = rule.score;
    let y = axis(kind, input.scale);
    let metric = match rule.metric {
        "enps" => "eNPS".to_owned(),
        other => other.to_uppercase(),
    };
    let series = stats.series.as_deref().unwrap_or_default();
    let trend_title = format!("{metric} per {}", input.window.interval.as_str());
    let trend_svg = charts::trend(&trend_title, y, &trend_points(series));
    let trend_rows: Vec<Row> = series
        .iter()
        .map(|b| Row {
            label: b.label.clone(),
            cell: ScoreCell::of(kind, &b.figures),
            change: b.change.map(|c| change_text(kind, c)),
            significant: b.significant,
        })
        .collect();
    let distribution: Vec<(String, u64)> = stats
        .figures
        .distribution
        .as_ref()
        .map(|d| {
            d.0.points()
                .map(|(score, n)| (distribution_label(input.scale, score), n))
                .collect()
        })
        .unwrap_or_default();
    let distribution_svg =
        (!distribution.is_empty()).then(|| charts::bars("Answers per score", &distribution));
    let groups: Vec<GroupRow> = stats
        .groups
        .iter()
        .flatten()
        .map(|g| {
            let points: Vec<Option<f64>> = g
                .series
                .iter()
                .flatten()
                .map(|b| b.figures.score.score)
                .collect();
            GroupRow {
                sparkline: (!g.figures.withheld && points.iter().any(Option::is_some))
                    .then(|| charts::sparkline(&format!("{} trend", g.value), y, &points)),
                value: g.value.clone(),
                other: g.other,
                cell: ScoreCell::of(kind, &g.figures),
            }
        })
        .collect();
    let comparison = stats.comparison.as_ref().map(|c| {
        context! {
            change => c.change.map(|v| change_text(kind, v)),
            direction => c.change.map(|v| direction(v, rule.higher_is_better)),
            significant => c.significant,
            previous => c.score.map(|v| score_text(kind, v)),
            responses => c.responses,
        }
    });
    let (comments, comments_note) = match &input.comments {
        Comments::Off => (None, None),
        Comments::Withheld(why) => (Some(Vec::new()), Some(*why)),
        Comments::Shown(list) => (Some(list.clone()), None),
    };
    let bands: Vec<String> = rule
        .bands
        .iter()
        .map(|(band, range)| format!("{band} {range}"))
        .collect();
    let day = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&input.tz).format("%Y-%m-%d").to_string()
    };
    env().get_template("dashboard.html")?.render(context! {
        css => CSS,
        nonce => input.nonce,
        title => input.title,
        token => input.token,
        metric => metric,
        surveys => stats.surveys,
        headline => ScoreCell::of(kind, &stats.figures),
        comparison => comparison,
        window_from => day(input.window.from),
        window_to => day(input.window.to - chrono::Duration::seconds(1)),
        tz => input.tz.name(),
        interval => input.window.interval.as_str(),
        chosen => input.window.chosen,
        trend_svg => trend_svg,
        trend_title => trend_title,
        trend_rows => trend_rows,
        distribution_svg => distribution_svg,
        distribution => distribution,
        group_by => stats.group_by.as_deref(),
        groups => groups,
        comments => comments,
        comments_note => comments_note,
        csv => input.csv,
        rule_score => rule.score,
        rule_bands => bands.join(", "),
        rule_interval => rule.interval,
        higher_is_better => rule.higher_is_better,
        anonymity => stats.anonymity.map(|a| a.min_group_size),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_written_as_their_kind_reads() {
        assert_eq!(score_text("net_percent", 42.49), "42");
        assert_eq!(score_text("net_percent", -7.6), "-8");
        assert_eq!(score_text("percent", 87.25), "87.2%");
        assert_eq!(score_text("mean", 5.333), "5.33");
        assert_eq!(change_text("net_percent", 4.0), "+4 points");
        assert_eq!(change_text("percent", -2.04), "-2.0 points");
        assert_eq!(change_text("mean", 0.5), "+0.50");
        // Halves away from zero, as the Delighted metrics round (`{:.0}` went to even).
        assert_eq!(score_text("net_percent", 12.5), "13");
        assert_eq!(score_text("net_percent", -12.5), "-13");
        assert_eq!(score_text("net_percent", -0.4), "0");
        assert_eq!(change_text("net_percent", 2.5), "+3 points");
    }

    #[test]
    fn a_change_says_which_way_and_whether_it_is_better() {
        assert_eq!(direction(4.0, true), ("▲", "better"));
        assert_eq!(direction(-4.0, true), ("▼", "worse"));
        // CES on the effort scale: lower is better.
        assert_eq!(direction(-0.5, false), ("▼", "better"));
        assert_eq!(direction(0.5, false), ("▲", "worse"));
        assert_eq!(direction(0.0, true), ("=", "unchanged"));
    }

    #[test]
    fn each_kind_gets_its_own_axis() {
        assert_eq!(axis("net_percent", Scale::ZeroToTen), (-100.0, 100.0));
        assert_eq!(axis("percent", Scale::OneToFive), (0.0, 100.0));
        assert_eq!(axis("mean", Scale::OneToSeven), (1.0, 7.0));
        assert_eq!(axis("mean", Scale::EffortOneToFive), (1.0, 5.0));
    }
}
