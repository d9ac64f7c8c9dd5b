//! One stats answer from parsed parameters: the code behind `GET /v1/surveys/{id}/stats`,
//! `GET /v1/stats` and every number on a shared dashboard, so they can never disagree.

use chrono::{DateTime, Utc};

use super::anonymity;
use super::view::{AnonymityView, Context, StatsView, ANONYMITY_RULE};
use super::Request;
use crate::db::{self, surveys::Survey, DbPool};
use crate::domain::ids::SurveyId;
use crate::domain::kind::SurveyKind;
use crate::domain::segments::SegmentBy;
use crate::domain::stats::buckets::{self, Interval};
use crate::error::ApiError;

/// What a stats call asks for, parsed and checked.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Window start (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Window end (exclusive); `None` = now.
    pub to: Option<DateTime<Utc>>,
    /// Whether to compare the window with the one before it.
    pub compare: bool,
    /// Trend buckets.
    pub interval: Option<Interval>,
    /// The zone the buckets are cut in (IANA name; `None` = UTC).
    pub tz: Option<String>,
    /// The property to group by.
    pub group_by: Option<String>,
    /// `(property, value)` filters.
    pub filters: Vec<(String, String)>,
}

/// The earliest instant a window may start at (stats before it are all empty anyway).
pub fn epoch() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// Runs `query` over `surveys` (one, or all of one kind on one scale in a workspace; at
/// least one) and maps it to the view, applying the anonymity rules of the surveys.
/// `survey_id` names the survey for single-survey stats.
pub async fn stats(
    pool: &DbPool,
    surveys: Vec<Survey>,
    query: Query,
    survey_id: Option<String>,
) -> Result<StatsView, ApiError> {
    let combined = survey_id.is_none().then_some(surveys.len());
    let first = surveys.first().ok_or(ApiError::NotFound("survey"))?;
    let (kind, scale) = first.kind_and_scale()?;
    // Rollups answer a segment only if every combined survey keeps it.
    let common: Vec<String> = first
        .segments()
        .keys()
        .iter()
        .filter(|k| surveys.iter().all(|s| s.segments().contains(k)))
        .cloned()
        .collect();
    let tz = buckets::parse_tz(query.tz.as_deref())?;
    let request = Request {
        segments: SegmentBy::parse(common).unwrap_or_else(|_| SegmentBy::from_stored(Some(""))),
        surveys: surveys.iter().map(|s| s.id.clone()).collect(),
        from: query.from,
        to: query.to,
        interval: query.interval.map(|i| (i, tz)),
        group_by: query.group_by.clone(),
        filters: query.filters.clone(),
    };
    if surveys.iter().any(|s| s.anonymous) {
        anonymity::check(&request)?;
        anonymity::check_property(&request, &surveys)?;
    }
    let now = Utc::now();
    let previous = query.compare.then(|| {
        let from = query.from.unwrap_or(now);
        let to = query.to.unwrap_or(now);
        Request {
            // No earlier than 1970: the window before a very long one is cut there.
            from: Some((from - (to - from)).max(epoch())),
            to: Some(from),
            interval: None,
            group_by: None,
            ..request.clone()
        }
    });
    let ids: Vec<SurveyId> = surveys.iter().map(|s| s.id.clone()).collect();
    // One snapshot for every read of the call: a cell read whole and the finer cells taken
    // off it (and the totals beside the groups) must see the same answers.
    let (report, withheld, before, min, employees) = db::run(pool, move |conn| {
        db::read_snapshot(conn, |conn| {
            // NPS sent to an audience is eNPS: every survey combined is sent by a campaign.
            let employees = kind == SurveyKind::Nps && db::campaigns::send_all(conn, &ids)?;
            let Some(protection) = anonymity::protection(conn, &surveys)? else {
                let report = super::run(conn, &request, now)?;
                let before = previous.map(|p| super::run(conn, &p, now)).transpose()?;
                return Ok::<_, ApiError>((
                    report,
                    None,
                    before.map(|b| (b, false)),
                    None,
                    employees,
                ));
            };
            let (report, withheld) = anonymity::run(conn, &request, now, &protection)?;
            let before = previous
                .map(|p| anonymity::run(conn, &p, now, &protection))
                .transpose()?
                .map(|(b, w)| (b, w.total || withheld.total));
            Ok((
                report,
                Some(withheld),
                before,
                Some(protection.min),
                employees,
            ))
        })
    })
    .await?;
    let ctx = Context {
        survey_id,
        surveys: combined,
        kind,
        scale,
        interval: query.interval.map(|i| (i, tz.name().to_owned())),
        group_by: query.group_by,
        anonymity: min.map(|min_group_size| AnonymityView {
            min_group_size,
            rule: ANONYMITY_RULE,
        }),
    };
    let mut view = StatsView::new(&ctx, &report, withheld.as_ref());
    if employees {
        view.rule.0 = crate::domain::scoring::employee_rule(view.rule.0.clone());
    }
    if let Some((before, withheld)) = before {
        view = view.with_comparison(&ctx, &report, &before, withheld);
    }
    Ok(view)
}
