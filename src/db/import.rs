//! Bulk writes of imported answers: invitations, responses, their history and properties in
//! multi-row statements (run on the backend's own connection: `MultiConnection` cannot batch),
//! and the stats rollups summed per cell and written once each.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::funnel;
use super::invitations::status;
use super::rollups::Accumulator;
use super::schema::{invitation_properties, invitations, response_events, responses};
use super::surveys::Survey;
use super::{AnyConnection, DbResult};
use crate::domain::email::EmailAddress;
use crate::domain::ids::{InvitationId, ResponseId, SurveyId};
use crate::domain::properties::Properties;
use crate::domain::secret::SurveyToken;
use crate::domain::segments::SegmentBy;
use crate::domain::stats::tally::{Facts, Tally};

/// Rows written per statement batch.
const BATCH: usize = 1_000;

/// One validated row of an import.
#[derive(Debug, Clone)]
pub struct ImportedRow {
    /// The score, on the survey's scale.
    pub score: i32,
    /// When the answer was given (its invitation is dated the same).
    pub created_at: NaiveDateTime,
    /// The comment.
    pub comment: Option<String>,
    /// The respondent's address.
    pub email: Option<EmailAddress>,
    /// The respondent's name.
    pub name: Option<String>,
    /// Every other column.
    pub properties: Properties,
}

/// Rollup cells summed in memory before they are written (about 100 MB at most).
const MAX_PENDING_CELLS: usize = 250_000;

/// Writes rows in batches; call [`Writer::finish`] before committing.
pub struct Writer {
    survey_id: SurveyId,
    workspace_id: String,
    segments: SegmentBy,
    pending: Vec<ImportedRow>,
    cells: Accumulator,
}

impl Writer {
    /// A writer for `survey`.
    pub fn new(survey: &Survey) -> Self {
        Self {
            survey_id: survey.id.clone(),
            workspace_id: survey.workspace_id.to_string(),
            segments: survey.segments(),
            pending: Vec::with_capacity(BATCH),
            cells: Accumulator::new(),
        }
    }

    /// Queues a row, writing a batch when one is full.
    pub fn push(&mut self, conn: &mut AnyConnection, row: ImportedRow) -> DbResult<()> {
        self.pending.push(row);
        if self.pending.len() >= BATCH {
            self.flush(conn)?;
        }
        Ok(())
    }

    /// Writes what is queued and the rollups.
    pub fn finish(mut self, conn: &mut AnyConnection) -> DbResult<()> {
        self.flush(conn)?;
        self.cells.write(conn)
    }

    fn flush(&mut self, conn: &mut AnyConnection) -> DbResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let ids: Vec<(InvitationId, ResponseId, String)> = rows
            .iter()
            .map(|_| {
                (
                    InvitationId::generate(),
                    ResponseId::generate(),
                    // Nobody holds an imported answer's link: a random token, never shown.
                    SurveyToken::generate().hash(),
                )
            })
            .collect();
        let survey = self.survey_id.as_str();
        let workspace = self.workspace_id.as_str();
        let keys: Vec<Option<String>> = rows
            .iter()
            .map(|r| r.email.as_ref().map(EmailAddress::key))
            .collect();
        let new_invitations: Vec<_> = rows
            .iter()
            .zip(&ids)
            .zip(&keys)
            .map(|((r, (inv, _, hash)), key)| {
                (
                    invitations::id.eq(inv.as_str()),
                    invitations::workspace_id.eq(workspace),
                    invitations::survey_id.eq(survey),
                    invitations::token_hash.eq(hash.as_str()),
                    invitations::channel.eq("import"),
                    invitations::status.eq(status::RESPONDED),
                    invitations::recipient_email.eq(r.email.as_ref().map(EmailAddress::as_str)),
                    invitations::recipient_name.eq(r.name.as_deref()),
                    invitations::recipient_key.eq(key.as_deref()),
                    invitations::created_at.eq(r.created_at),
                    // Answered, so opened: the funnel of an imported answer is complete.
                    invitations::opened_at.eq(Some(r.created_at)),
                )
            })
            .collect();
        let new_responses: Vec<_> = rows
            .iter()
            .zip(&ids)
            .map(|(r, (inv, resp, _))| {
                (
                    responses::id.eq(resp.as_str()),
                    responses::invitation_id.eq(inv.as_str()),
                    responses::survey_id.eq(survey),
                    responses::score.eq(r.score),
                    responses::comment.eq(r.comment.as_deref()),
                    responses::suspect.eq(false),
                    responses::answer_count.eq(1),
                    responses::created_at.eq(r.created_at),
                    responses::updated_at.eq(r.created_at),
                    responses::score_changed_at.eq(r.created_at),
                    responses::auto_sent.eq(false),
                )
            })
            .collect();
        let events: Vec<_> = rows
            .iter()
            .zip(&ids)
            .map(|(r, (_, resp, _))| {
                (
                    response_events::id.eq(resp.as_str()),
                    response_events::response_id.eq(resp.as_str()),
                    response_events::change.eq("created"),
                    response_events::score.eq(r.score),
                    response_events::comment.eq(r.comment.as_deref()),
                    response_events::suspect.eq(false),
                    response_events::at.eq(r.created_at),
                )
            })
            .collect();
        let properties: Vec<_> = rows
            .iter()
            .zip(&ids)
            .flat_map(|(r, (inv, _, _))| {
                r.properties.iter().map(move |(k, v)| {
                    (
                        invitation_properties::invitation_id.eq(inv.as_str()),
                        invitation_properties::key.eq(k),
                        invitation_properties::value.eq(v),
                    )
                })
            })
            .collect();
        match conn {
            // SQLite: multi-row INSERTs, the properties in chunks under its bind limit.
            AnyConnection::Sqlite(c) => {
                diesel::insert_into(invitations::table)
                    .values(&new_invitations)
                    .execute(c)?;
                diesel::insert_into(responses::table)
                    .values(&new_responses)
                    .execute(c)?;
                diesel::insert_into(response_events::table)
                    .values(&events)
                    .execute(c)?;
                for chunk in properties.chunks(BATCH) {
                    diesel::insert_into(invitation_properties::table)
                        .values(chunk)
                        .execute(c)?;
                }
            }
            // Postgres: COPY (binary), its bulk load path: no statement to parse or plan per
            // batch, constraints and indexes checked as for an INSERT.
            AnyConnection::Postgresql(c) => {
                diesel::copy_from(invitations::table)
                    .from_insertable(&new_invitations)
                    .execute(c)?;
                diesel::copy_from(responses::table)
                    .from_insertable(&new_responses)
                    .execute(c)?;
                diesel::copy_from(response_events::table)
                    .from_insertable(&events)
                    .execute(c)?;
                diesel::copy_from(invitation_properties::table)
                    .from_insertable(&properties)
                    .execute(c)?;
            }
        }
        for row in &rows {
            let commented = row.comment.as_deref().is_some_and(|c| !c.is_empty());
            let delta = Tally::of(&Facts {
                answer: Some((row.score, false, commented)),
                opened: true,
                ..funnel::facts("import", status::RESPONDED, None, None)
            });
            let segments = &self.segments;
            let dims = row.properties.iter().filter(|(k, _)| segments.contains(k));
            self.cells.add(&self.survey_id, row.created_at, dims, delta);
        }
        self.cells.write_above(conn, MAX_PENDING_CELLS)?;
        Ok(())
    }
}
