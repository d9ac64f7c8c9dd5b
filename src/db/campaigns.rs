//! Campaigns, their cycles and the invitations each cycle issued. Every step a worker takes
//! is claimed by a conditional update, so two instances on one database never start a cycle,
//! issue a chunk or send a reminder twice.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::invitations::status;
use super::schema::{
    audience_members, campaign_cycles, campaign_invitations, campaigns, invitations,
};
use super::{AnyConnection, DbError, DbResult};
use crate::domain::ids::{InvitationId, SurveyId, WorkspaceId};
use crate::domain::page::PageRequest;
use crate::domain::schedule::{Reminders, Schedule};

/// Campaign states.
pub mod state {
    /// Cycles start when due.
    pub const ACTIVE: &str = "active";
    /// No cycle starts until resumed.
    pub const PAUSED: &str = "paused";
    /// Every cycle has started (a campaign sent once, after its cycle).
    pub const FINISHED: &str = "finished";
}

/// A stored campaign.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaigns)]
pub struct Campaign {
    /// Its id.
    pub id: String,
    /// The owning workspace.
    pub workspace_id: String,
    /// The survey it sends.
    pub survey_id: String,
    /// Who it goes to.
    pub audience_id: String,
    /// Its name.
    pub name: String,
    /// The first cycle, wall-clock `YYYY-MM-DDTHH:MM` in `tz`.
    pub start_local: String,
    /// The zone.
    pub tz: String,
    /// Days between cycles; `None` when sent once.
    pub every_days: Option<i32>,
    /// Reminder days after each cycle, comma-separated.
    pub reminder_days: String,
    /// `active`, `paused` or `finished`.
    pub status: String,
    /// The schedule slot of the next cycle.
    pub next_index: i32,
    /// When the next cycle is due (`None` once finished).
    pub next_cycle_at: Option<NaiveDateTime>,
    /// Cycles started so far.
    pub cycles: i32,
    /// When it was created.
    pub created_at: NaiveDateTime,
}

impl Campaign {
    /// Its schedule (validated when the campaign was created).
    pub fn schedule(&self) -> DbResult<Schedule> {
        Schedule::parse(
            &self.start_local,
            Some(&self.tz),
            self.every_days.map(i64::from),
        )
        .map_err(|e| DbError::Corrupt(format!("campaign {}: {}", self.id, e.message)))
    }

    /// Its reminders.
    pub fn reminders(&self) -> Reminders {
        Reminders::from_stored(&self.reminder_days)
    }
}

/// A stored cycle.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = campaign_cycles)]
pub struct Cycle {
    /// Its id.
    pub id: String,
    /// Its campaign.
    pub campaign_id: String,
    /// 1 for the first.
    pub number: i32,
    /// When the schedule had it.
    pub scheduled_at: NaiveDateTime,
    /// When it started.
    pub started_at: NaiveDateTime,
    /// The last address key issued so far.
    pub issued_through: String,
    /// Whether every member has been issued.
    pub issuing_done: bool,
    /// When it stops needing to know who its invitations went to.
    pub cut_after: NaiveDateTime,
    /// When that was cut.
    pub cut_at: Option<NaiveDateTime>,
}

/// Creates a campaign.
pub fn insert(conn: &mut AnyConnection, new: &Campaign) -> DbResult<()> {
    diesel::insert_into(campaigns::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

/// The campaign `id` if it belongs to `workspace`.
pub fn find(conn: &mut AnyConnection, workspace: &WorkspaceId, id: &str) -> DbResult<Campaign> {
    campaigns::table
        .filter(campaigns::workspace_id.eq(workspace.as_str()))
        .filter(campaigns::id.eq(id))
        .select(Campaign::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("campaign"))
}

/// One page of the workspace's campaigns, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    page: &PageRequest,
) -> DbResult<Vec<Campaign>> {
    let mut query = campaigns::table
        .filter(campaigns::workspace_id.eq(workspace.as_str()))
        .select(Campaign::as_select())
        .order(campaigns::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(campaigns::id.gt(after.clone()));
    }
    Ok(query.load(conn)?)
}

/// Sets a campaign's state and next cycle.
pub fn set_state(
    conn: &mut AnyConnection,
    id: &str,
    state: &str,
    next: Option<(i32, NaiveDateTime)>,
) -> DbResult<()> {
    let row = diesel::update(campaigns::table.find(id));
    match next {
        Some((index, at)) => row
            .set((
                campaigns::status.eq(state),
                campaigns::next_cycle_at.eq(Some(at)),
                campaigns::next_index.eq(index),
            ))
            .execute(conn)?,
        None => row
            .set((
                campaigns::status.eq(state),
                campaigns::next_cycle_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// Whether a campaign sends every one of `ids` (NPS sent to an audience reports as eNPS).
pub fn send_all(conn: &mut AnyConnection, ids: &[SurveyId]) -> DbResult<bool> {
    let ids: Vec<&str> = ids.iter().map(SurveyId::as_str).collect();
    let sent: Vec<String> = campaigns::table
        .filter(campaigns::survey_id.eq_any(&ids))
        .select(campaigns::survey_id)
        .distinct()
        .load(conn)?;
    Ok(!ids.is_empty() && sent.len() == ids.len())
}

/// Active campaigns whose next cycle is due at `now`.
pub fn due(conn: &mut AnyConnection, now: NaiveDateTime, limit: i64) -> DbResult<Vec<Campaign>> {
    Ok(campaigns::table
        .filter(campaigns::status.eq(state::ACTIVE))
        .filter(campaigns::next_cycle_at.le(now))
        .order(campaigns::next_cycle_at.asc())
        .limit(limit)
        .select(Campaign::as_select())
        .load(conn)?)
}

/// Claims cycle slot `campaign.next_index` and records the cycle; `next` is the slot after
/// it (`None`: the campaign is finished). `false` when another instance claimed it first.
/// Call inside a write transaction.
pub fn start_cycle(
    conn: &mut AnyConnection,
    campaign: &Campaign,
    next: Option<(i32, NaiveDateTime)>,
    cycle: &Cycle,
) -> DbResult<bool> {
    let claimed = diesel::update(
        campaigns::table
            .find(&campaign.id)
            .filter(campaigns::next_index.eq(campaign.next_index))
            .filter(campaigns::status.eq(state::ACTIVE)),
    )
    .set((
        campaigns::next_index.eq(next.map_or(campaign.next_index + 1, |(i, _)| i)),
        campaigns::next_cycle_at.eq(next.map(|(_, at)| at)),
        campaigns::status.eq(if next.is_some() {
            state::ACTIVE
        } else {
            state::FINISHED
        }),
        campaigns::cycles.eq(campaigns::cycles + 1),
    ))
    .execute(conn)?;
    if claimed == 0 {
        return Ok(false);
    }
    diesel::insert_into(campaign_cycles::table)
        .values((
            campaign_cycles::id.eq(&cycle.id),
            campaign_cycles::campaign_id.eq(&cycle.campaign_id),
            campaign_cycles::number.eq(cycle.number),
            campaign_cycles::scheduled_at.eq(cycle.scheduled_at),
            campaign_cycles::started_at.eq(cycle.started_at),
            campaign_cycles::issued_through.eq(&cycle.issued_through),
            campaign_cycles::issuing_done.eq(cycle.issuing_done),
            campaign_cycles::cut_after.eq(cycle.cut_after),
        ))
        .execute(conn)?;
    Ok(true)
}

/// The cycle `id`.
pub fn find_cycle(conn: &mut AnyConnection, id: &str) -> DbResult<Cycle> {
    campaign_cycles::table
        .find(id)
        .select(Cycle::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("cycle"))
}

/// Cycles still issuing, with their campaigns.
pub fn issuing(conn: &mut AnyConnection, limit: i64) -> DbResult<Vec<(Cycle, Campaign)>> {
    Ok(campaign_cycles::table
        .inner_join(campaigns::table)
        .filter(campaign_cycles::issuing_done.eq(false))
        .order(campaign_cycles::started_at.asc())
        .limit(limit)
        .select((Cycle::as_select(), Campaign::as_select()))
        .load(conn)?)
}

/// Claims the next chunk of a cycle: from address key `from` (exclusive) to `to`
/// (inclusive), `done` when it is the last. `false` when another instance took it.
pub fn claim_chunk(
    conn: &mut AnyConnection,
    cycle: &str,
    from: &str,
    to: &str,
    done: bool,
) -> DbResult<bool> {
    Ok(diesel::update(
        campaign_cycles::table
            .find(cycle)
            .filter(campaign_cycles::issued_through.eq(from))
            .filter(campaign_cycles::issuing_done.eq(false)),
    )
    .set((
        campaign_cycles::issued_through.eq(to),
        campaign_cycles::issuing_done.eq(done),
    ))
    .execute(conn)?
        > 0)
}

/// Records that `invitation` belongs to `cycle`, with its first reminder due at `next`.
pub fn link(
    conn: &mut AnyConnection,
    invitation: &InvitationId,
    cycle: &str,
    next: Option<NaiveDateTime>,
) -> DbResult<()> {
    diesel::insert_into(campaign_invitations::table)
        .values((
            campaign_invitations::invitation_id.eq(invitation.as_str()),
            campaign_invitations::cycle_id.eq(cycle),
            campaign_invitations::reminders_sent.eq(0),
            campaign_invitations::next_reminder_at.eq(next),
        ))
        .execute(conn)?;
    Ok(())
}

/// A reminder that is due: the invitation, its status, how many reminders it has had, and
/// its cycle's start and campaign.
#[derive(Debug, Clone)]
pub struct DueReminder {
    /// The invitation.
    pub invitation_id: String,
    /// Its status.
    pub status: String,
    /// Reminders sent so far.
    pub sent: i32,
    /// When its cycle started.
    pub started_at: NaiveDateTime,
    /// The campaign's reminder days.
    pub reminder_days: String,
    /// When its cycle stops knowing who its invitations went to.
    pub cut_after: NaiveDateTime,
}

/// Reminders due at `now`.
pub fn due_reminders(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<DueReminder>> {
    type Row = (String, String, i32, NaiveDateTime, String, NaiveDateTime);
    let rows: Vec<Row> = campaign_invitations::table
        .inner_join(invitations::table)
        .inner_join(campaign_cycles::table.inner_join(campaigns::table))
        .filter(campaign_invitations::next_reminder_at.le(now))
        .order(campaign_invitations::next_reminder_at.asc())
        .limit(limit)
        .select((
            campaign_invitations::invitation_id,
            invitations::status,
            campaign_invitations::reminders_sent,
            campaign_cycles::started_at,
            campaigns::reminder_days,
            campaign_cycles::cut_after,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(invitation_id, status, sent, started_at, reminder_days, cut_after)| DueReminder {
                invitation_id,
                status,
                sent,
                started_at,
                reminder_days,
                cut_after,
            },
        )
        .collect())
}

/// Claims reminder `number` of `invitation`, whose last was `sent` (those between are
/// skipped), and sets when the next is due (`None`: no more). `false` when another instance
/// took it.
pub fn take_reminder(
    conn: &mut AnyConnection,
    invitation: &str,
    sent: i32,
    number: i32,
    next: Option<NaiveDateTime>,
) -> DbResult<bool> {
    Ok(diesel::update(
        campaign_invitations::table
            .find(invitation)
            .filter(campaign_invitations::reminders_sent.eq(sent)),
    )
    .set((
        campaign_invitations::reminders_sent.eq(number),
        campaign_invitations::next_reminder_at.eq(next),
    ))
    .execute(conn)?
        > 0)
}

/// Moves `invitation`'s next reminder to `at` (`None`: no more) without sending one, unless
/// another instance sent one since `sent` was read.
pub fn postpone_reminder(
    conn: &mut AnyConnection,
    invitation: &str,
    sent: i32,
    at: Option<NaiveDateTime>,
) -> DbResult<()> {
    diesel::update(
        campaign_invitations::table
            .find(invitation)
            .filter(campaign_invitations::reminders_sent.eq(sent)),
    )
    .set(campaign_invitations::next_reminder_at.eq(at))
    .execute(conn)?;
    Ok(())
}

/// No more reminders for `invitation` (it was answered, or will never be delivered). The
/// reminder tick calls it when it finds one due for such an invitation, so answering costs
/// no extra write.
pub fn stop_reminders(conn: &mut AnyConnection, invitation: &str) -> DbResult<()> {
    diesel::update(campaign_invitations::table.find(invitation))
        .set(campaign_invitations::next_reminder_at.eq(None::<NaiveDateTime>))
        .execute(conn)?;
    Ok(())
}

/// Cycles past their cut time that still know who their invitations went to, with whether
/// their survey is anonymous.
pub fn cuts_due(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<(String, String)>> {
    Ok(campaign_cycles::table
        .inner_join(campaigns::table)
        .filter(campaign_cycles::cut_at.is_null())
        .filter(campaign_cycles::issuing_done.eq(true))
        .filter(campaign_cycles::cut_after.le(now))
        .limit(limit)
        .select((campaign_cycles::id, campaigns::survey_id))
        .load(conn)?)
}

/// Cuts at most `limit` of cycle `id`'s invitations from their people (when its survey
/// `survey` is anonymous, as read under [`super::surveys::hold`]), and stops their
/// reminders; once none is left to cut, marks the cycle cut. Whether it is cut now. Each call
/// is one bounded transaction: a cycle of a million members is cut over many, never under
/// one long hold of the write lock.
pub fn cut(
    conn: &mut AnyConnection,
    id: &str,
    survey: &SurveyId,
    now: NaiveDateTime,
    limit: i64,
) -> DbResult<bool> {
    super::write_transaction(conn, |conn| {
        super::surveys::hold(conn, &[survey])?;
        if super::surveys::find_any(conn, survey)?.anonymous {
            // Those that still name someone or still wait for a reminder: each chunk leaves
            // this set, so the next call starts where this one stopped.
            let batch: Vec<String> = campaign_invitations::table
                .inner_join(invitations::table)
                .filter(campaign_invitations::cycle_id.eq(id))
                .filter(
                    invitations::recipient_email
                        .is_not_null()
                        .or(invitations::recipient_name.is_not_null())
                        .or(invitations::recipient_external_id.is_not_null())
                        .or(invitations::recipient_key.is_not_null())
                        .or(campaign_invitations::next_reminder_at.is_not_null()),
                )
                .select(campaign_invitations::invitation_id)
                .order(campaign_invitations::invitation_id)
                .limit(limit)
                .load(conn)?;
            if !batch.is_empty() {
                super::invitations::cut_identities(conn, &batch)?;
                // Nothing more is sent to anyone of this cycle.
                diesel::update(
                    campaign_invitations::table
                        .filter(campaign_invitations::invitation_id.eq_any(&batch)),
                )
                .set(campaign_invitations::next_reminder_at.eq(None::<NaiveDateTime>))
                .execute(conn)?;
            }
            if i64::try_from(batch.len()).unwrap_or(i64::MAX) >= limit {
                return Ok(false);
            }
        }
        diesel::update(campaign_cycles::table.find(id))
            .set(campaign_cycles::cut_at.eq(now))
            .execute(conn)?;
        Ok(true)
    })
}

/// A cycle with its counts.
#[derive(Debug, Clone)]
pub struct CycleCounts {
    /// The cycle.
    pub cycle: Cycle,
    /// Invitations issued (failed and suppressed ones excluded).
    pub issued: i64,
    /// Of those, answered.
    pub answered: i64,
    /// Reminders sent.
    pub reminders: i64,
}

/// The cycles of `campaign` numbered below `before` (all when `None`), newest first, with
/// their counts (at most `limit`).
pub fn cycles(
    conn: &mut AnyConnection,
    campaign: &str,
    before: Option<i32>,
    limit: i64,
) -> DbResult<Vec<CycleCounts>> {
    let mut query = campaign_cycles::table
        .filter(campaign_cycles::campaign_id.eq(campaign))
        .order(campaign_cycles::number.desc())
        .limit(limit)
        .select(Cycle::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(campaign_cycles::number.lt(before));
    }
    let cycles: Vec<Cycle> = query.load(conn)?;
    let mut out = Vec::with_capacity(cycles.len());
    for cycle in cycles {
        let of_cycle = || {
            campaign_invitations::table
                .inner_join(invitations::table)
                .filter(campaign_invitations::cycle_id.eq(cycle.id.clone()))
                .filter(invitations::status.ne_all(status::NOT_ISSUED))
        };
        let issued = of_cycle().count().get_result(conn)?;
        let answered = of_cycle()
            .filter(invitations::status.eq(status::RESPONDED))
            .count()
            .get_result(conn)?;
        let reminders: Option<i64> = of_cycle()
            .select(diesel::dsl::sum(campaign_invitations::reminders_sent))
            .first(conn)?;
        out.push(CycleCounts {
            cycle,
            issued,
            answered,
            reminders: reminders.unwrap_or(0),
        });
    }
    Ok(out)
}

/// Moves every cycle of `workspace` whose issuing stopped at the member `key` (about to be
/// erased) back to the member before it in its audience, or to the start when there is none:
/// the members after it are issued as before, and the key is stored nowhere.
pub fn forget_position(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    key: &str,
) -> DbResult<usize> {
    let cycles: Vec<(String, String)> = campaign_cycles::table
        .inner_join(campaigns::table)
        .filter(campaigns::workspace_id.eq(workspace.as_str()))
        .filter(campaign_cycles::issued_through.eq(key))
        .select((campaign_cycles::id, campaigns::audience_id))
        .load(conn)?;
    for (cycle, audience) in &cycles {
        let before: Option<String> = audience_members::table
            .filter(audience_members::audience_id.eq(audience))
            .filter(audience_members::email_key.lt(key))
            .select(diesel::dsl::max(audience_members::email_key))
            .first(conn)?;
        diesel::update(campaign_cycles::table.find(cycle))
            .set(campaign_cycles::issued_through.eq(before.unwrap_or_default()))
            .execute(conn)?;
    }
    Ok(cycles.len())
}
