//! Campaigns: a survey sent to an audience once or on a schedule, one cycle at a time, with
//! reminders to those who have not answered, and, for an anonymous survey, the link from each
//! invitation to its person cut once reminders no longer need it.
//!
//! [`tick`] does everything that is due at a given instant; the worker calls it with the
//! wall clock, and tests with any clock they like. Each step is claimed by a conditional
//! update, so instances sharing a database never do one twice.

pub mod manage;
pub mod worker;

use chrono::{DateTime, Utc};

use crate::db::campaigns::{self, Campaign, Cycle};
use crate::db::invitations::status;
use crate::db::{self, audiences, to_stored, AnyConnection};
use crate::domain::audience::CYCLE_PROPERTY;
use crate::domain::email::EmailAddress;
use crate::domain::ids::SurveyId;
use crate::domain::properties::Properties;
use crate::domain::schedule::Reminders;
use crate::error::ApiError;
use crate::invite::{self, Channel, InvitationRequest, Issuer, Outcome};

pub use worker::Worker;

/// Members issued per transaction (each a few statements: a bounded hold on the write lock).
pub const CHUNK: i64 = 250;
/// Most chunks one tick issues (the next tick goes on).
const CHUNKS_PER_TICK: usize = 40;
/// Most campaigns started, reminders sent and cycles cut per tick.
const PER_TICK: i64 = 500;
/// How long a reminder waits when its invitation is still queued to be emailed.
const REMINDER_WAITS_FOR_SEND: chrono::Duration = chrono::Duration::minutes(10);

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ticked {
    /// Cycles started.
    pub cycles: usize,
    /// Invitations issued.
    pub issued: usize,
    /// Reminders queued.
    pub reminders: usize,
    /// Cycles cut from their people.
    pub cut: usize,
}

/// Does what is due at `now`: starts due cycles, issues their invitations, queues due
/// reminders, and cuts cycles that no longer need to know who they went to.
pub fn tick(
    conn: &mut AnyConnection,
    issuer: &Issuer,
    now: DateTime<Utc>,
) -> Result<Ticked, ApiError> {
    // Each campaign's, cycle's and reminder's step is its own: one that fails (a stored row
    // the code cannot read, a survey gone) is logged and left for the next tick, and the
    // others go on.
    let mut done = Ticked::default();
    for campaign in campaigns::due(conn, to_stored(now), PER_TICK)? {
        match start(conn, &campaign, now) {
            Ok(started) => done.cycles += usize::from(started),
            Err(err) => skipped("start a cycle of campaign", &campaign.id, err)?,
        }
    }
    let mut chunks = 0;
    for (cycle, campaign) in campaigns::issuing(conn, PER_TICK)? {
        while chunks < CHUNKS_PER_TICK {
            chunks += 1;
            match issue_chunk(conn, issuer, &campaign, &cycle.id, now) {
                Ok(Some(n)) => done.issued += n,
                Ok(None) => break,
                Err(err) => {
                    skipped("issue cycle", &cycle.id, err)?;
                    break;
                }
            }
        }
    }
    done.reminders = remind(conn, issuer, now)?;
    // Cut in chunks, within the same budget of chunks per tick as issuing; the next tick
    // goes on with a cycle left half cut (it is still due).
    let mut chunks = 0;
    for (cycle, survey) in campaigns::cuts_due(conn, to_stored(now), PER_TICK)? {
        let survey = SurveyId::from(survey);
        let cut = |conn: &mut AnyConnection, chunks: &mut usize| -> Result<bool, ApiError> {
            while *chunks < CHUNKS_PER_TICK {
                *chunks += 1;
                if campaigns::cut(conn, &cycle, &survey, db::now(), CHUNK)? {
                    return Ok(true);
                }
            }
            Ok(false)
        };
        match cut(conn, &mut chunks) {
            Ok(finished) => done.cut += usize::from(finished),
            Err(err) => skipped("cut cycle", &cycle, err)?,
        }
    }
    Ok(done)
}

/// Logs a step of the tick that failed; the step is tried again at the next tick. A busy
/// database ends the tick instead (returned): every other step would wait out the same busy
/// timeout.
fn skipped(what: &str, id: &str, err: ApiError) -> Result<(), ApiError> {
    if matches!(err, ApiError::Unavailable(_)) {
        return Err(err);
    }
    tracing::error!(error = ?err, id, "could not {what}; will try again at the next tick");
    Ok(())
}

/// Starts the due cycle of `campaign`: records it and moves the campaign to its next slot
/// (skipping any it missed while the service was down). `false` if another instance did.
fn start(
    conn: &mut AnyConnection,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let schedule = campaign.schedule()?;
    let index = u32::try_from(campaign.next_index).unwrap_or(u32::MAX);
    let scheduled = campaign.next_cycle_at.unwrap_or_else(|| to_stored(now));
    let next = index
        .checked_add(1)
        .and_then(|i| schedule.next_from(i, now))
        .map(|(i, at)| (i32::try_from(i).unwrap_or(i32::MAX), to_stored(at)));
    // The tick's clock, not the wall clock: reminders and the cut count from it.
    let started = to_stored(now);
    let cycle = Cycle {
        id: uuid::Uuid::now_v7().to_string(),
        campaign_id: campaign.id.clone(),
        number: campaign.cycles + 1,
        scheduled_at: scheduled,
        started_at: started,
        issued_through: String::new(),
        issuing_done: false,
        cut_after: to_stored(campaign.reminders().cut_after(now, schedule.every_days)),
        cut_at: None,
    };
    Ok(db::write_transaction(conn, |conn| {
        campaigns::start_cycle(conn, campaign, next, &cycle)
    })?)
}

/// Issues the next chunk of members of cycle `cycle_id`; the number issued, or `None` when
/// the cycle is done or another instance took the chunk.
fn issue_chunk(
    conn: &mut AnyConnection,
    issuer: &Issuer,
    campaign: &Campaign,
    cycle_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<usize>, ApiError> {
    let workspace = campaign.workspace_id.clone().into();
    let survey = campaign.survey_id.clone().into();
    let reminders = campaign.reminders();
    db::write_transaction(conn, |conn| {
        // First, before any other lock: an erasure takes the same, also first.
        audiences::hold(conn, &campaign.audience_id)?;
        // Read the cycle again inside the transaction: where the last commit left it.
        let cycle = campaigns::find_cycle(conn, cycle_id)?;
        if cycle.issuing_done {
            return Ok(None);
        }
        let after = (!cycle.issued_through.is_empty()).then_some(cycle.issued_through.as_str());
        let members = audiences::members(conn, &campaign.audience_id, after, CHUNK)?;
        let last = members
            .last()
            .map_or(cycle.issued_through.clone(), |m| m.email_key.clone());
        let done = i64::try_from(members.len()).unwrap_or(CHUNK) < CHUNK;
        if !campaigns::claim_chunk(conn, cycle_id, &cycle.issued_through, &last, done)? {
            return Ok(None);
        }
        // Members issued late (a big audience, or after downtime) are not reminded of what
        // they are only now sent: their first reminder is the first due after now.
        let first_reminder = reminders
            .to_send(cycle.started_at.and_utc(), 0, now)
            .1
            .map(to_stored);
        let mut issued = 0;
        for member in &members {
            let mut attributes = member.attributes();
            attributes.insert(CYCLE_PROPERTY.to_owned(), cycle.number.to_string());
            let request = InvitationRequest {
                channel: Channel::Email,
                email: Some(EmailAddress::parse("email", &member.email)?),
                name: member.name.clone(),
                external_id: None,
                properties: Properties::parse(attributes)?,
                expires_at: None,
                send_at: None,
                throttled: false,
                issued_at: Some(cycle.started_at.and_utc()),
            };
            let created = invite::create(conn, &workspace, &survey, &request, None, issuer)?;
            // A suppressed member is counted in no cycle: nothing was sent.
            if created.outcome == Outcome::Issued {
                campaigns::link(conn, &created.invitation.id, cycle_id, first_reminder)?;
                issued += 1;
            }
        }
        Ok(if members.is_empty() && done {
            None
        } else {
            Some(issued)
        })
    })
}

/// Queues the reminders due at `now`; how many.
fn remind(
    conn: &mut AnyConnection,
    issuer: &Issuer,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let mut queued = 0;
    for due in campaigns::due_reminders(conn, to_stored(now), PER_TICK)? {
        let invitation = due.invitation_id.clone();
        match remind_one(conn, issuer, now, due) {
            Ok(sent) => queued += usize::from(sent),
            Err(err) => skipped("queue a reminder of invitation", &invitation, err)?,
        }
    }
    Ok(queued)
}

/// Queues `due`'s reminder if it is still wanted; whether it did.
fn remind_one(
    conn: &mut AnyConnection,
    issuer: &Issuer,
    now: DateTime<Utc>,
    due: campaigns::DueReminder,
) -> Result<bool, ApiError> {
    // Not for an answered or undelivered invitation, nor one whose cycle is past its cut
    // (a tick long overdue after downtime sends no stale reminders).
    let wanted = due.status != status::RESPONDED
        && !status::NOT_ISSUED.contains(&due.status.as_str())
        && due.cut_after > to_stored(now);
    db::write_transaction(conn, |conn| {
        if !wanted {
            campaigns::stop_reminders(conn, &due.invitation_id)?;
            return Ok::<_, ApiError>(false);
        }
        if due.status == status::QUEUED {
            // The invitation itself has not gone out yet: a reminder beside it would be
            // the second email at once. Look again a little later.
            let later = to_stored(now + REMINDER_WAITS_FOR_SEND);
            campaigns::postpone_reminder(conn, &due.invitation_id, due.sent, Some(later))?;
            return Ok(false);
        }
        let reminders = Reminders::from_stored(&due.reminder_days);
        let sent = usize::try_from(due.sent).unwrap_or(0);
        let (number, next) = reminders.to_send(due.started_at.and_utc(), sent, now);
        let next = next.map(to_stored);
        let Some(number) = number else {
            // Not due after all (another instance's clock ran ahead): wait for the next.
            campaigns::postpone_reminder(conn, &due.invitation_id, due.sent, next)?;
            return Ok(false);
        };
        let number = i32::try_from(number).unwrap_or(i32::MAX);
        if !campaigns::take_reminder(conn, &due.invitation_id, due.sent, number, next)? {
            return Ok(false);
        }
        let at = db::now();
        crate::db::outbox::enqueue_reminder(
            conn,
            &due.invitation_id.clone().into(),
            number,
            at,
            at,
            &issuer.message_domain,
        )?;
        Ok(true)
    })
}
