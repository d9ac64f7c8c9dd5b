//! Building rollups from the raw rows: once after the migration, and for one survey on demand.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::raw::{fact_columns, facts_of, FactRow};
use super::{Accumulator, MAX_PENDING_CELLS};
use crate::db::schema::{
    invitation_properties, invitations, responses, rollup_days, rollup_hours, rollup_quarters,
    rollup_state, rollup_weeks, surveys,
};
use crate::db::{AnyConnection, DbError, DbResult};
use crate::domain::ids::SurveyId;
use crate::domain::segments::SegmentBy;
use crate::domain::stats::tally::Tally;

const BACKFILL: &str = "rollups-v1";

/// Rolls up every existing invitation and answer once, after the migration that created the
/// rollups, through the same [`apply`] as live changes. Runs in one transaction; a second
/// instance starting at once waits for it and then finds it done.
pub fn backfill_once(conn: &mut AnyConnection) -> DbResult<usize> {
    crate::db::write_transaction(conn, |conn| {
        crate::db::lock_key(conn, "rollups-backfill")?;
        let done = rollup_state::table
            .find(BACKFILL)
            .select(rollup_state::name)
            .first::<String>(conn)
            .optional()?;
        if done.is_some() {
            return Ok(0);
        }
        let ids: Vec<String> = surveys::table.select(surveys::id).load(conn)?;
        let mut rolled = 0;
        for id in ids {
            rolled += roll_up_survey(conn, &SurveyId::from(id))?;
        }
        diesel::insert_into(rollup_state::table)
            .values((
                rollup_state::name.eq(BACKFILL),
                rollup_state::done_at.eq(crate::db::now()),
            ))
            .execute(conn)?;
        Ok::<_, DbError>(rolled)
    })
}

/// Rebuilds one survey's rollups from its raw rows (after its segments change, or a repair).
/// Inside the caller's write transaction it joins it. Returns how many invitations were
/// rolled up.
pub fn rebuild(conn: &mut AnyConnection, survey_id: &SurveyId) -> DbResult<usize> {
    crate::db::write_transaction(conn, |conn| {
        macro_rules! clear {
            ($($table:ident),*) => {$(
                diesel::delete($table::table.filter($table::survey_id.eq(survey_id.as_str())))
                    .execute(conn)?;
            )*};
        }
        clear!(rollup_weeks, rollup_days, rollup_hours, rollup_quarters);
        roll_up_survey(conn, survey_id)
    })
}

/// Invitations read per page while rolling up.
const PAGE: i64 = 10_000;

/// Rolls up every invitation of one survey, a page at a time (keyset on the id), summing
/// cells in memory: a few statements per page instead of several per invitation.
fn roll_up_survey(conn: &mut AnyConnection, survey_id: &SurveyId) -> DbResult<usize> {
    let segments = surveys::table
        .find(survey_id.as_str())
        .select(surveys::segment_by)
        .first::<Option<String>>(conn)?;
    let segments = SegmentBy::from_stored(segments.as_deref());
    let keys: Vec<&str> = segments.iter().collect();
    let mut cells = Accumulator::new();
    let mut after = String::new();
    let mut rolled = 0;
    loop {
        let rows: Vec<(String, NaiveDateTime, FactRow)> = invitations::table
            .left_join(responses::table)
            .filter(invitations::survey_id.eq(survey_id.as_str()))
            .filter(invitations::id.gt(&after))
            .order(invitations::id)
            .select((invitations::id, invitations::created_at, fact_columns()))
            .limit(PAGE)
            .load(conn)?;
        let Some(last) = rows.last().map(|r| r.0.clone()) else {
            break;
        };
        let properties: Vec<(String, String, String)> = invitation_properties::table
            .inner_join(invitations::table)
            .filter(invitations::survey_id.eq(survey_id.as_str()))
            .filter(invitations::id.gt(&after))
            .filter(invitations::id.le(&last))
            .filter(invitation_properties::key.eq_any(&keys))
            .select((
                invitation_properties::invitation_id,
                invitation_properties::key,
                invitation_properties::value,
            ))
            .load(conn)?;
        let mut dims: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
        for (id, key, value) in &properties {
            dims.entry(id.as_str())
                .or_default()
                .push((key.as_str(), value.as_str()));
        }
        for (id, at, row) in &rows {
            let delta = Tally::of(&facts_of(row.clone()));
            if delta.is_zero() {
                continue;
            }
            let of_this = dims.get(id.as_str()).into_iter().flatten().copied();
            cells.add(survey_id, *at, of_this, delta);
            rolled += 1;
        }
        cells.write_above(conn, MAX_PENDING_CELLS)?;
        after = last;
    }
    cells.write(conn)?;
    Ok(rolled)
}
