//! The exact path: invitations read one by one, bounded, for what rollups cannot answer.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::funnel;
use crate::db::schema::{invitation_properties, invitations, responses};
use crate::db::{AnyConnection, DbResult};
use crate::domain::ids::SurveyId;
use crate::domain::stats::tally::{Facts, Tally};

/// One invitation as the exact path counts it.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Its creation time.
    pub at: DateTime<Utc>,
    /// The value of the grouping property, if grouping and it has one.
    pub group: Option<String>,
    /// What it adds: issued, and its answer.
    pub tally: Tally,
}

mod aliases {
    //! The properties table joined a second time, for the grouping property's value.
    use crate::db::schema::invitation_properties;
    diesel::alias!(invitation_properties as grouping: GroupingProperty);
}
use aliases::grouping;

/// What the exact path reads: the invitations of `surveys` created in `[from, to)` that
/// carry every `(key, value)` of `filters`, with the value of `group_by`.
#[derive(Debug, Clone, Copy)]
pub struct RawQuery<'a> {
    /// The surveys.
    pub surveys: &'a [SurveyId],
    /// Created at or after.
    pub from: NaiveDateTime,
    /// Created before.
    pub to: NaiveDateTime,
    /// The grouping property.
    pub group_by: Option<&'a str>,
    /// `(property, value)` pairs every invitation carries.
    pub filters: &'a [(String, String)],
    /// Only these invitations (the ones whose answers an accepted challenge leaves out of
    /// the adjusted score), when given.
    pub only: Option<&'a [String]>,
}

/// Reads `q`. At most `limit` invitations are read: `None` when there are more, so a caller
/// can refuse rather than scan without bound.
pub fn raw(
    conn: &mut AnyConnection,
    q: &RawQuery<'_>,
    limit: i64,
) -> DbResult<Option<Vec<RawRow>>> {
    let ids: Vec<&str> = q.surveys.iter().map(SurveyId::as_str).collect();
    let key = q.group_by.unwrap_or("");
    let mut query = invitations::table
        .left_join(responses::table)
        .left_join(
            grouping.on(grouping
                .field(invitation_properties::invitation_id)
                .eq(invitations::id)
                .and(grouping.field(invitation_properties::key).eq(key))),
        )
        .filter(invitations::survey_id.eq_any(ids))
        .filter(invitations::created_at.ge(q.from))
        .filter(invitations::created_at.lt(q.to))
        .select((
            invitations::created_at,
            fact_columns(),
            grouping.field(invitation_properties::value).nullable(),
        ))
        .limit(limit + 1)
        .into_boxed();
    for (k, v) in q.filters {
        query = query.filter(
            invitations::id.eq_any(
                invitation_properties::table
                    .filter(invitation_properties::key.eq(k.clone()))
                    .filter(invitation_properties::value.eq(v.clone()))
                    .select(invitation_properties::invitation_id),
            ),
        );
    }
    if let Some(only) = q.only {
        query = query.filter(invitations::id.eq_any(only));
    }
    let rows: Vec<(NaiveDateTime, FactRow, Option<String>)> = query.load(conn)?;
    if rows.len() as i64 > limit {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter()
            .map(|(at, facts, group)| RawRow {
                at: at.and_utc(),
                group,
                tally: Tally::of(&facts_of(facts)),
            })
            .collect(),
    ))
}

/// The columns of an invitation left-joined with its response that [`facts_of`] reads.
pub(super) fn fact_columns() -> (
    invitations::channel,
    invitations::status,
    invitations::sent_at,
    invitations::opened_at,
    diesel::dsl::Nullable<responses::score>,
    diesel::dsl::Nullable<responses::suspect>,
    diesel::dsl::Nullable<responses::comment>,
) {
    (
        invitations::channel,
        invitations::status,
        invitations::sent_at,
        invitations::opened_at,
        responses::score.nullable(),
        responses::suspect.nullable(),
        responses::comment.nullable(),
    )
}

/// One row of [`fact_columns`].
pub(super) type FactRow = (
    String,
    String,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<i32>,
    Option<bool>,
    Option<String>,
);

/// The whole facts of an invitation, answer included, from its stored row.
pub(super) fn facts_of(
    (channel, status, sent_at, opened_at, score, suspect, comment): FactRow,
) -> Facts {
    let answer = score.map(|score| {
        let commented = comment.is_some_and(|c| !c.is_empty());
        (score, suspect.unwrap_or(false), commented)
    });
    Facts {
        answer,
        ..funnel::facts(&channel, &status, sent_at, opened_at)
    }
}
