//! Read-only dashboards shared by a secret link: what one shows ([`Spec`]), the window a
//! viewer picks ([`Window`]), and the page ([`page`]) drawn from the same stats code as
//! `/v1/stats`, anonymity rules included.

pub mod charts;
pub mod link;
pub mod page;

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::domain::kind::{Scale, SurveyKind};
use crate::domain::properties::{check_key, MAX_VALUE_CHARS};
use crate::domain::stats::buckets::{self, Interval};
use crate::domain::Invalid;
use crate::reports::serve::Query;

/// Most live dashboards one workspace may hold.
pub const MAX_DASHBOARDS: i64 = 100;
/// Longest window a dashboard (or its viewer) may show, in days.
pub const MAX_WINDOW_DAYS: i64 = 731;
/// The default window, in days up to now.
pub const DEFAULT_WINDOW_DAYS: i64 = 90;
/// Most property filters one dashboard may carry.
pub const MAX_FILTERS: usize = 5;
/// How many of the latest comments a page lists.
pub const COMMENTS_SHOWN: i64 = 10;
/// Longest dashboard name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Body of `POST /v1/dashboards`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDashboard {
    /// What the page is titled (default: the survey's name, or e.g. "NPS").
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub name: Option<String>,
    /// One survey to show…
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub survey_id: Option<uuid::Uuid>,
    /// …or every survey of this kind in the workspace.
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub kind: Option<String>,
    /// With `kind`: the scale (default: the kind's first).
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub scale: Option<String>,
    /// The default window, in days up to now.
    #[serde(default, deserialize_with = "crate::extract::present_whole_number")]
    pub window_days: Option<i64>,
    /// The trend interval: `day`, `week` (default) or `month`.
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub interval: Option<String>,
    /// The zone trend buckets and dates are read in (default `UTC`).
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub tz: Option<String>,
    /// A property whose values each get a row (agent, team, …).
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub group_by: Option<String>,
    /// `property: value` filters every figure is restricted to.
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub filters: Option<BTreeMap<String, String>>,
    /// Whether the page lists the latest comments (default false).
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub show_comments: Option<bool>,
    /// Whether the page offers the answers as CSV (default false; one survey only).
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub allow_csv: Option<bool>,
    /// When the link stops working.
    #[serde(default, deserialize_with = "crate::extract::present")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a dashboard shows, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The page title, if given.
    pub name: Option<String>,
    /// One survey, or every survey of a kind on a scale.
    pub source: Source,
    /// Default window in days.
    pub window_days: i64,
    /// Default trend interval.
    pub interval: Interval,
    /// Zone of buckets and dates.
    pub tz: Tz,
    /// Grouping property.
    pub group_by: Option<String>,
    /// Property filters.
    pub filters: BTreeMap<String, String>,
    /// Latest comments shown.
    pub show_comments: bool,
    /// CSV download offered.
    pub allow_csv: bool,
    /// Link expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Which surveys a dashboard shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// One survey of the workspace.
    Survey(uuid::Uuid),
    /// Every survey of this kind on this scale in the workspace.
    Kind(SurveyKind, Scale),
}

fn text(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    crate::domain::text::check(field, value)?;
    if value.trim().is_empty() {
        return Err(Invalid::new(field, "must not be blank"));
    }
    if value.chars().count() > max {
        return Err(Invalid::new(field, format!("is at most {max} characters")));
    }
    Ok(())
}

impl Spec {
    /// Checks a create body at `now`, naming the field that is wrong.
    pub fn parse(body: CreateDashboard, now: DateTime<Utc>) -> Result<Self, Invalid> {
        if let Some(name) = &body.name {
            text("name", name, MAX_NAME_CHARS)?;
        }
        let source = match (body.survey_id, body.kind.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(Invalid::new("kind", "give survey_id or kind, not both"))
            }
            (None, None) => {
                return Err(Invalid::new(
                    "survey_id",
                    "is required, or kind for every survey of one kind",
                ))
            }
            (Some(_), None) if body.scale.is_some() => {
                return Err(Invalid::new(
                    "scale",
                    "goes with kind; a survey has its own",
                ))
            }
            (Some(id), None) => Source::Survey(id),
            (None, Some(kind)) => {
                let kind = SurveyKind::parse(kind)?;
                if body
                    .scale
                    .as_deref()
                    .is_some_and(|s| Scale::parse(s).is_none())
                {
                    return Err(Invalid::new("scale", "is not a scale"));
                }
                Source::Kind(kind, kind.scale(body.scale.as_deref())?)
            }
        };
        let window_days = body.window_days.unwrap_or(DEFAULT_WINDOW_DAYS);
        if !(1..=MAX_WINDOW_DAYS).contains(&window_days) {
            return Err(Invalid::new(
                "window_days",
                format!("must be a whole number of days from 1 to {MAX_WINDOW_DAYS}"),
            ));
        }
        let interval = Interval::parse(body.interval.as_deref().unwrap_or("week"))?;
        let tz = buckets::parse_tz(body.tz.as_deref())?;
        if let Some(group_by) = &body.group_by {
            check_key("group_by", group_by)?;
        }
        let filters = body.filters.unwrap_or_default();
        if filters.len() > MAX_FILTERS {
            return Err(Invalid::new(
                "filters",
                format!("at most {MAX_FILTERS} filters"),
            ));
        }
        for (key, value) in &filters {
            let field = format!("filters.{key}");
            check_key(&field, key)?;
            crate::domain::text::check(&field, value)?;
            if value.chars().count() > MAX_VALUE_CHARS {
                return Err(Invalid::new(
                    field,
                    format!("is at most {MAX_VALUE_CHARS} characters"),
                ));
            }
        }
        let allow_csv = body.allow_csv.unwrap_or(false);
        if allow_csv && matches!(source, Source::Kind(..)) {
            return Err(Invalid::new(
                "allow_csv",
                "the CSV download is for a dashboard of one survey",
            ));
        }
        if body.expires_at.is_some_and(|at| at <= now) {
            return Err(Invalid::new("expires_at", "must be in the future"));
        }
        Ok(Self {
            name: body.name.map(|n| n.trim().to_owned()),
            source,
            window_days,
            interval,
            tz,
            group_by: body.group_by,
            filters,
            show_comments: body.show_comments.unwrap_or(false),
            allow_csv,
            expires_at: body.expires_at,
        })
    }

    /// The stats query of the window a viewer sees: the chosen window compared with the one
    /// before it, in trend buckets, grouped and filtered as the dashboard says.
    pub fn query(&self, window: &Window) -> Query {
        Query {
            from: Some(window.from),
            to: Some(window.to),
            compare: true,
            interval: Some(window.interval),
            tz: Some(self.tz.name().to_owned()),
            group_by: self.group_by.clone(),
            filters: self.filter_pairs(),
        }
    }

    /// The filters as `(property, value)` pairs, as stats and exports take them.
    pub fn filter_pairs(&self) -> Vec<(String, String)> {
        self.filters.clone().into_iter().collect()
    }
}

/// What a viewer asks of the page: `?from=YYYY-MM-DD&to=YYYY-MM-DD&interval=…`, every
/// field optional (an empty one counts as absent, as a form without script sends it).
#[derive(Debug, Default, Deserialize)]
pub struct ViewQuery {
    /// First day shown, in the dashboard's zone.
    pub from: Option<String>,
    /// Last day shown (inclusive).
    pub to: Option<String>,
    /// Trend interval.
    pub interval: Option<String>,
}

/// The window a page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Trend interval.
    pub interval: Interval,
    /// Whether the viewer chose it (the page then links back to the default).
    pub chosen: bool,
}

fn date(field: &str, raw: &str) -> Result<NaiveDate, Invalid> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|d| (1970..=9998).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| Invalid::new(field, "must be a date like 2026-03-31"))
}

/// The first instant of local day `day` in `tz` (the earlier one where midnight repeats, as
/// the trend's day buckets start; the first valid one where it is skipped).
fn start_of_day(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..4)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(h)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

impl Window {
    /// The window of `spec` a viewer asked for at `now`: by default the last `window_days`.
    pub fn parse(spec: &Spec, q: &ViewQuery, now: DateTime<Utc>) -> Result<Self, Invalid> {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let (from, to, interval) = (given(&q.from), given(&q.to), given(&q.interval));
        let chosen = from.is_some() || to.is_some() || interval.is_some();
        let interval = match interval {
            Some(raw) => Interval::parse(&raw)?,
            None => spec.interval,
        };
        // The local day after `to`, which the window ends at the start of.
        let end_day = to
            .map(|raw| date("to", &raw).map(|day| day + Days::new(1)))
            .transpose()?;
        let to = end_day.map_or(now, |day| start_of_day(spec.tz, day));
        let from = match (from, end_day) {
            (Some(raw), _) => start_of_day(spec.tz, date("from", &raw)?),
            // Whole local days back from `to`: a day the clocks change on is 23 or 25 hours.
            (None, Some(day)) => start_of_day(
                spec.tz,
                day.checked_sub_days(Days::new(spec.window_days.unsigned_abs()))
                    .unwrap_or(day),
            ),
            (None, None) => to - chrono::Duration::days(spec.window_days),
        };
        if from >= to {
            return Err(Invalid::new("to", "must not be before from"));
        }
        if to - from > chrono::Duration::days(MAX_WINDOW_DAYS) {
            return Err(Invalid::new(
                "from",
                format!("a page shows at most {MAX_WINDOW_DAYS} days"),
            ));
        }
        Ok(Self {
            from,
            to,
            interval,
            chosen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> CreateDashboard {
        serde_json::from_value(json).unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-03-31T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_spec_needs_exactly_one_of_survey_and_kind() {
        let id = uuid::Uuid::new_v4();
        let both = body(serde_json::json!({"survey_id": id, "kind": "nps"}));
        assert_eq!(Spec::parse(both, now()).unwrap_err().field, "kind");
        let none = body(serde_json::json!({}));
        assert_eq!(Spec::parse(none, now()).unwrap_err().field, "survey_id");
        let kind = Spec::parse(body(serde_json::json!({"kind": "ces"})), now()).unwrap();
        assert_eq!(
            kind.source,
            Source::Kind(SurveyKind::Ces, Scale::OneToSeven)
        );
        assert_eq!(kind.window_days, DEFAULT_WINDOW_DAYS);
        assert_eq!(kind.interval, Interval::Week);
    }

    #[test]
    fn bad_fields_are_named() {
        let id = uuid::Uuid::new_v4();
        for (json, field) in [
            (
                serde_json::json!({"survey_id": id, "window_days": 0}),
                "window_days",
            ),
            (
                serde_json::json!({"survey_id": id, "window_days": 732}),
                "window_days",
            ),
            (
                serde_json::json!({"survey_id": id, "interval": "year"}),
                "interval",
            ),
            (
                serde_json::json!({"survey_id": id, "tz": "Mars/Base"}),
                "tz",
            ),
            (
                serde_json::json!({"survey_id": id, "group_by": "a b"}),
                "group_by",
            ),
            (
                serde_json::json!({"survey_id": id, "scale": "0-10"}),
                "scale",
            ),
            (
                serde_json::json!({"kind": "nps", "allow_csv": true}),
                "allow_csv",
            ),
            (serde_json::json!({"survey_id": id, "name": "  "}), "name"),
            (
                serde_json::json!({"survey_id": id, "filters": {"a b": "x"}}),
                "filters.a b",
            ),
            (
                serde_json::json!({"survey_id": id, "expires_at": "2026-03-31T11:00:00Z"}),
                "expires_at",
            ),
        ] {
            assert_eq!(
                Spec::parse(body(json.clone()), now()).unwrap_err().field,
                field,
                "{json}"
            );
        }
    }

    #[test]
    fn the_default_window_is_the_last_window_days_and_dates_are_local_and_inclusive() {
        let spec = Spec::parse(
            body(serde_json::json!({"kind": "nps", "window_days": 30, "tz": "Europe/Paris"})),
            now(),
        )
        .unwrap();
        let default = Window::parse(&spec, &ViewQuery::default(), now()).unwrap();
        assert_eq!(default.to, now());
        assert_eq!(default.from, now() - chrono::Duration::days(30));
        assert!(!default.chosen);
        let q = ViewQuery {
            from: Some("2026-03-01".into()),
            to: Some("2026-03-31".into()),
            interval: Some("day".into()),
        };
        let chosen = Window::parse(&spec, &q, now()).unwrap();
        // Paris is UTC+1 on 1 March and UTC+2 (summer time) from 29 March.
        assert_eq!(
            chosen.from,
            "2026-02-28T23:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            chosen.to,
            "2026-03-31T22:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(chosen.interval, Interval::Day);
        assert!(chosen.chosen);
        let empty = ViewQuery {
            from: Some(String::new()),
            to: Some(String::new()),
            interval: Some(String::new()),
        };
        assert_eq!(Window::parse(&spec, &empty, now()).unwrap(), default);
        // `to` alone: `window_days` whole local days, across the change to summer time
        // (29 March), so the window starts at a local midnight, not an hour before one.
        let to_only = ViewQuery {
            to: Some("2026-04-15".into()),
            ..ViewQuery::default()
        };
        let w = Window::parse(&spec, &to_only, now()).unwrap();
        assert_eq!(
            w.to,
            "2026-04-15T22:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            w.from,
            "2026-03-16T23:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn a_viewer_window_is_checked() {
        let spec = Spec::parse(body(serde_json::json!({"kind": "nps"})), now()).unwrap();
        let q = |from: &str, to: &str| ViewQuery {
            from: Some(from.into()),
            to: Some(to.into()),
            interval: None,
        };
        let err = |from, to| Window::parse(&spec, &q(from, to), now()).unwrap_err().field;
        assert_eq!(err("2026-03-31", "2026-03-01"), "to");
        assert_eq!(err("2020-01-01", "2026-03-01"), "from");
        assert_eq!(err("31/03/2026", "2026-04-01"), "from");
        assert_eq!(err("2026-03-01", "tomorrow"), "to");
        // One day is a window: from its midnight to the next.
        let one = Window::parse(&spec, &q("2026-03-01", "2026-03-01"), now()).unwrap();
        assert_eq!(one.to - one.from, chrono::Duration::days(1));
    }
}
