//! Building rollups from the raw rows: once after the migration, and for one survey on demand.

use diesel::prelude::*;

use super::{apply, cell_of};
use crate::db::invitations::status;
use crate::db::schema::{
    invitations, responses, rollup_days, rollup_quarters, rollup_state, surveys,
};
use crate::db::{AnyConnection, DbError, DbResult};
use crate::domain::ids::{InvitationId, SurveyId};
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
/// Returns how many invitations were rolled up.
pub fn rebuild(conn: &mut AnyConnection, survey_id: &SurveyId) -> DbResult<usize> {
    crate::db::write_transaction(conn, |conn| {
        diesel::delete(rollup_days::table.filter(rollup_days::survey_id.eq(survey_id.as_str())))
            .execute(conn)?;
        diesel::delete(
            rollup_quarters::table.filter(rollup_quarters::survey_id.eq(survey_id.as_str())),
        )
        .execute(conn)?;
        roll_up_survey(conn, survey_id)
    })
}

fn roll_up_survey(conn: &mut AnyConnection, survey_id: &SurveyId) -> DbResult<usize> {
    let rows: Vec<(String, String, Option<i32>, Option<bool>)> = invitations::table
        .left_join(responses::table)
        .filter(invitations::survey_id.eq(survey_id.as_str()))
        .select((
            invitations::id,
            invitations::status,
            responses::score.nullable(),
            responses::suspect.nullable(),
        ))
        .load(conn)?;
    let mut rolled = 0;
    for (id, st, score, suspect) in rows {
        if status::NOT_ISSUED.contains(&st.as_str()) {
            continue;
        }
        let mut delta = Tally::issued(1);
        if let Some(score) = score {
            delta += Tally::answer(score, suspect.unwrap_or(false), 1);
        }
        let cell = cell_of(conn, &InvitationId::from(id))?;
        apply(conn, &cell, &delta)?;
        rolled += 1;
    }
    Ok(rolled)
}
