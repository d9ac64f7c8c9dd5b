//! Delighted's JSON shapes: string ids, Unix-second timestamps, bare arrays for lists.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::db::people::{Activity, Person};
use crate::db::responses::Response;
use crate::domain::kind::SurveyKind;
use crate::domain::scoring::{self, Distribution};

/// Unix seconds of a stored UTC time.
pub fn unix(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp()
}

/// What our service did with a `POST /people` (Delighted dropped throttled sends silently;
/// we say so).
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// `queued`, `throttled`, `suppressed`, or `stored` (with `send=false`).
    pub outcome: &'static str,
    /// The invitation made, if any.
    pub invitation_id: Option<String>,
    /// Throttled: when the person may be surveyed again (Unix seconds).
    pub eligible_at: Option<i64>,
    /// Suppressed: why (`unsubscribed`, `bounced`, `manual`).
    pub reason: Option<String>,
}

/// A person, as `POST /people` answers it.
#[derive(Debug, Serialize)]
pub struct PersonView {
    /// Its id.
    pub id: String,
    /// The address.
    pub email: String,
    /// The name.
    pub name: Option<String>,
    /// When the survey email goes out (Unix seconds); `null` when none is scheduled.
    pub survey_scheduled_at: Option<i64>,
    /// The properties sent with it.
    pub properties: BTreeMap<String, String>,
    /// What happened.
    pub scorekeeper: Outcome,
}

/// A person in `GET /people` and in an expanded response.
#[derive(Debug, Clone, Serialize)]
pub struct PersonListView {
    /// Its id.
    pub id: String,
    /// The address.
    pub email: String,
    /// The name.
    pub name: Option<String>,
    /// When first stored (Unix seconds).
    pub created_at: i64,
    /// Always `null`: SMS is not supported.
    pub phone_number: Option<String>,
    /// When last sent a survey (Unix seconds), in any of the workspace's surveys.
    pub last_sent_at: Option<i64>,
    /// When last answered one (Unix seconds).
    pub last_responded_at: Option<i64>,
    /// When the next queued survey email is due (Unix seconds).
    pub next_survey_scheduled_at: Option<i64>,
}

impl PersonListView {
    /// `p` with its `activity` (none: never surveyed).
    pub fn new(p: &Person, activity: Option<&Activity>) -> Self {
        let activity = activity.cloned().unwrap_or_default();
        Self {
            id: p.id.clone(),
            email: p.email.clone(),
            name: p.name.clone(),
            created_at: unix(p.created_at),
            phone_number: None,
            last_sent_at: activity.last_sent_at.map(unix),
            last_responded_at: activity.last_responded_at.map(unix),
            next_survey_scheduled_at: activity.next_scheduled_at.map(unix),
        }
    }
}

/// `person` in a response: its id, or the whole person with `expand[]=person`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum PersonRef {
    /// The id.
    Id(String),
    /// The person.
    Expanded(PersonListView),
}

/// A survey response in Delighted's shape.
#[derive(Debug, Serialize)]
pub struct ResponseView {
    /// Its id.
    pub id: String,
    /// Its person (`null` for an answer with no known address, e.g. a widget's).
    pub person: Option<PersonRef>,
    /// `nps`, `csat`, `ces` or `esat`.
    pub survey_type: &'static str,
    /// The score.
    pub score: i32,
    /// The comment.
    pub comment: Option<String>,
    /// The survey page of the invitation answered.
    pub permalink: String,
    /// First answer (Unix seconds).
    pub created_at: i64,
    /// Latest change (Unix seconds); `null` if never changed.
    pub updated_at: Option<i64>,
    /// The invitation's properties.
    pub person_properties: BTreeMap<String, String>,
    /// Notes: `{id, text, user_email, created_at}`.
    pub notes: Vec<serde_json::Value>,
    /// Tags.
    pub tags: Vec<String>,
    /// Scorekeeper surveys ask one question: always empty.
    pub additional_answers: Vec<serde_json::Value>,
}

impl ResponseView {
    /// Maps a stored response with its invitation's properties and its person.
    pub fn new(
        kind: SurveyKind,
        r: Response,
        properties: BTreeMap<String, String>,
        person: Option<PersonRef>,
        public_url: &str,
    ) -> Self {
        let changed = r.updated_at != r.created_at;
        Self {
            id: r.id.to_string(),
            person,
            survey_type: kind.as_str(),
            score: r.score,
            comment: r.comment,
            permalink: format!("{public_url}/v1/responses/{}", r.id),
            created_at: unix(r.created_at),
            updated_at: changed.then(|| unix(r.updated_at)),
            person_properties: properties,
            notes: Vec::new(),
            tags: Vec::new(),
            additional_answers: Vec::new(),
        }
    }
}

impl ResponseView {
    /// An anonymous survey's response: no person or properties, times to the month, its
    /// comment only when `comments`.
    pub fn anonymous(kind: SurveyKind, r: Response, comments: bool, public_url: &str) -> Self {
        let changed = crate::db::month_of(r.updated_at) != crate::db::month_of(r.created_at);
        Self {
            id: r.id.to_string(),
            person: None,
            survey_type: kind.as_str(),
            score: r.score,
            comment: r.comment.filter(|_| comments),
            permalink: format!("{public_url}/v1/responses/{}", r.id),
            created_at: unix(crate::db::month_of(r.created_at)),
            updated_at: changed.then(|| unix(crate::db::month_of(r.updated_at))),
            person_properties: BTreeMap::new(),
            notes: Vec::new(),
            tags: Vec::new(),
            additional_answers: Vec::new(),
        }
    }
}

fn percent(part: u64, total: u64) -> i64 {
    if total == 0 {
        0
    } else {
        (100.0 * part as f64 / total as f64).round() as i64
    }
}

/// `GET /metrics` for a distribution: Delighted's NPS fields for an NPS survey; for the
/// other kinds the same pattern with their own names (a documented extension).
pub fn metrics(kind: SurveyKind, d: &Distribution) -> serde_json::Value {
    let summary = scoring::summarize(kind, d);
    let n = d.total();
    let rounded = summary.score.map(scoring::whole).unwrap_or(0);
    match (kind, summary.nps) {
        (SurveyKind::Nps, Some(g)) => serde_json::json!({
            "nps": rounded,
            "promoter_count": g.promoters,
            "promoter_percent": percent(g.promoters, n),
            "passive_count": g.passives,
            "passive_percent": percent(g.passives, n),
            "detractor_count": g.detractors,
            "detractor_percent": percent(g.detractors, n),
            "response_count": n,
        }),
        (SurveyKind::Ces, _) => serde_json::json!({
            "ces": summary.score,
            "agree_percent": summary.agree_percent.map(f64::round),
            "response_count": n,
        }),
        (other, _) => {
            // CSAT and ESAT: percent satisfied, as the score.
            let satisfied = summary
                .score
                .map(|s| (s / 100.0 * n as f64).round() as u64)
                .unwrap_or(0);
            serde_json::json!({
                other.as_str(): rounded,
                "satisfied_count": satisfied,
                "satisfied_percent": percent(satisfied, n),
                "response_count": n,
            })
        }
    }
}
