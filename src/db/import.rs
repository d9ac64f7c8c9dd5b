//! Bulk writes of imported answers: invitations, responses, their history and properties in
//! multi-row statements (run on the backend's own connection: `MultiConnection` cannot batch),
//! and the stats rollups summed per cell and written once each.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::funnel;
use super::invitations::status;
use super::rollups::{Accumulator, MAX_PENDING_CELLS};
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

/// Rows ready to write: their ids drawn and, now and then, the rollup changes summed so far.
/// Built by a [`Batcher`] on one thread while [`write`] writes the previous batch on another.
pub struct Batch {
    survey_id: SurveyId,
    workspace_id: String,
    rows: Vec<ImportedRow>,
    ids: Vec<(InvitationId, ResponseId, String)>,
    cells: Option<Accumulator>,
}

impl Batch {
    /// The rows it holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it holds no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Groups rows into batches and sums their rollup changes, touching no database.
pub struct Batcher {
    survey_id: SurveyId,
    workspace_id: String,
    segments: SegmentBy,
    pending: Vec<ImportedRow>,
    cells: Accumulator,
}

impl Batcher {
    /// A batcher for `survey`.
    pub fn new(survey: &Survey) -> Self {
        Self {
            survey_id: survey.id.clone(),
            workspace_id: survey.workspace_id.to_string(),
            segments: survey.segments(),
            pending: Vec::with_capacity(BATCH),
            cells: Accumulator::new(),
        }
    }

    /// Adds a row; returns a batch once one is full.
    pub fn push(&mut self, row: ImportedRow) -> Option<Batch> {
        let commented = row.comment.as_deref().is_some_and(|c| !c.is_empty());
        let delta = Tally::of(&Facts {
            answer: Some((row.score, false, commented)),
            opened: true,
            ..funnel::facts("import", status::RESPONDED, None, None)
        });
        let segments = &self.segments;
        let dims = row.properties.iter().filter(|(k, _)| segments.contains(k));
        self.cells.add(&self.survey_id, row.created_at, dims, delta);
        self.pending.push(row);
        if self.pending.len() < BATCH {
            return None;
        }
        let cells = self.cells.take_above(MAX_PENDING_CELLS);
        Some(self.batch(cells))
    }

    /// The last rows and every rollup change not yet handed over.
    pub fn finish(mut self) -> Batch {
        let cells = std::mem::take(&mut self.cells);
        self.batch(Some(cells))
    }

    fn batch(&mut self, cells: Option<Accumulator>) -> Batch {
        let rows = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
        let ids = rows
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
        Batch {
            survey_id: self.survey_id.clone(),
            workspace_id: self.workspace_id.clone(),
            rows,
            ids,
            cells,
        }
    }
}

/// Inserts `$rows` into `$table` on SQLite, a multi-row statement per [`BATCH`] rows: a full
/// chunk goes in as a fixed-size array, whose statement Diesel prepares once and keeps
/// (a slice's it parses again every time), the last partial chunk as a slice. Diesel keys a
/// kept statement by the rows' type, so the rows own their values (`String`, not `&str`).
macro_rules! insert_chunked {
    ($conn:expr, $table:expr, $rows:expr) => {
        for chunk in $rows.chunks(BATCH) {
            match <&[_; BATCH]>::try_from(chunk) {
                Ok(full) => diesel::insert_into($table).values(full).execute($conn)?,
                Err(_) => diesel::insert_into($table).values(chunk).execute($conn)?,
            };
        }
    };
}

/// Writes a batch: its rows, then its rollup cells if it carries them.
pub fn write(conn: &mut AnyConnection, batch: Batch) -> DbResult<()> {
    let Batch {
        survey_id,
        workspace_id,
        rows,
        ids,
        cells,
    } = batch;
    if !rows.is_empty() {
        insert_rows(conn, survey_id.as_str(), &workspace_id, &rows, &ids)?;
    }
    if let Some(mut cells) = cells {
        cells.write(conn)?;
    }
    Ok(())
}

fn insert_rows(
    conn: &mut AnyConnection,
    survey: &str,
    workspace: &str,
    rows: &[ImportedRow],
    ids: &[(InvitationId, ResponseId, String)],
) -> DbResult<()> {
    let keys: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.email.as_ref().map(EmailAddress::key))
        .collect();
    let new_invitations: Vec<_> = rows
        .iter()
        .zip(ids)
        .zip(&keys)
        .map(|((r, (inv, _, hash)), key)| {
            (
                invitations::id.eq(inv.as_str().to_owned()),
                invitations::workspace_id.eq(workspace.to_owned()),
                invitations::survey_id.eq(survey.to_owned()),
                invitations::token_hash.eq(hash.as_str().to_owned()),
                invitations::channel.eq("import"),
                invitations::status.eq(status::RESPONDED),
                invitations::recipient_email.eq(r.email.as_ref().map(|e| e.as_str().to_owned())),
                invitations::recipient_name.eq(r.name.clone()),
                invitations::recipient_key.eq(key.clone()),
                invitations::created_at.eq(r.created_at),
                // Answered, so opened: the funnel of an imported answer is complete.
                invitations::opened_at.eq(Some(r.created_at)),
            )
        })
        .collect();
    let new_responses: Vec<_> = rows
        .iter()
        .zip(ids)
        .map(|(r, (inv, resp, _))| {
            (
                responses::id.eq(resp.as_str().to_owned()),
                responses::invitation_id.eq(inv.as_str().to_owned()),
                responses::survey_id.eq(survey.to_owned()),
                responses::score.eq(r.score),
                responses::comment.eq(r.comment.clone()),
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
        .zip(ids)
        .map(|(r, (_, resp, _))| {
            (
                response_events::id.eq(resp.as_str().to_owned()),
                response_events::response_id.eq(resp.as_str().to_owned()),
                response_events::change.eq("created"),
                response_events::score.eq(r.score),
                response_events::comment.eq(r.comment.clone()),
                response_events::suspect.eq(false),
                response_events::at.eq(r.created_at),
            )
        })
        .collect();
    let properties: Vec<_> = rows
        .iter()
        .zip(ids)
        .flat_map(|(r, (inv, _, _))| {
            r.properties.iter().map(move |(k, v)| {
                (
                    invitation_properties::invitation_id.eq(inv.as_str().to_owned()),
                    invitation_properties::key.eq(k.to_owned()),
                    invitation_properties::value.eq(v.to_owned()),
                )
            })
        })
        .collect();
    match conn {
        // SQLite: multi-row INSERTs in chunks under its bind limit.
        AnyConnection::Sqlite(c) => {
            insert_chunked!(c, invitations::table, new_invitations);
            insert_chunked!(c, responses::table, new_responses);
            insert_chunked!(c, response_events::table, events);
            insert_chunked!(c, invitation_properties::table, properties);
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
    Ok(())
}
