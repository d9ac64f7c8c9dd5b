//! Bulk writes of imported answers: invitations, responses, their history and properties in
//! multi-row statements (run on the backend's own connection: `MultiConnection` cannot batch),
//! and the stats rollups summed per cell and written once each.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::dsl::Eq;
use diesel::prelude::*;

use super::funnel;
use super::invitations::status;
use super::rollups::{Accumulator, Staging, MAX_PENDING_CELLS};
use super::schema::{invitation_properties, invitations, response_events, responses};
use super::stamp::Stamp;
use super::surveys::Survey;
use super::{AnyConnection, DbResult};
use crate::domain::email::EmailAddress;
use crate::domain::ids::{InvitationId, ResponseId, SurveyId};
use crate::domain::properties::Properties;
use crate::domain::segments::SegmentBy;
use crate::domain::stats::tally::{Facts, Tally};

/// Rows per batch handed from the reading thread to the writer: on Postgres one COPY per
/// table each (larger batches cut the fixed cost of each COPY: a million-row import took
/// about 10% less time with 5,000 than with 1,000).
const BATCH: usize = 5_000;

/// Rows per multi-row INSERT on SQLite (11 bound values each, under SQLite's limit of
/// 32,766 per statement).
const SQLITE_CHUNK: usize = 1_000;

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

/// Rows ready to write, built on the reading thread (ids drawn, times formatted) and, now and
/// then, the rollup changes summed so far. Built by a [`Batcher`] on one thread while [`write`]
/// writes the previous batch on another.
pub struct Batch {
    invitations: Vec<NewInvitation>,
    responses: Vec<NewResponse>,
    events: Vec<NewEvent>,
    properties: Vec<NewProperty>,
    cells: Option<Accumulator>,
}

impl Batch {
    /// The rows it holds.
    pub fn len(&self) -> usize {
        self.invitations.len()
    }

    /// Whether it holds no rows.
    pub fn is_empty(&self) -> bool {
        self.invitations.is_empty()
    }

    fn with_capacity(rows: usize) -> Self {
        Self {
            invitations: Vec::with_capacity(rows),
            responses: Vec::with_capacity(rows),
            events: Vec::with_capacity(rows),
            properties: Vec::with_capacity(rows),
            cells: None,
        }
    }
}

/// An imported answer's invitation: answered, so opened (its funnel is complete). Rows are
/// tuples of column values that own their data: Diesel keys a kept statement by the rows'
/// type, and COPY on Postgres takes only such tuples.
type NewInvitation = (
    Eq<invitations::id, String>,
    Eq<invitations::workspace_id, String>,
    Eq<invitations::survey_id, String>,
    Eq<invitations::token_hash, String>,
    Eq<invitations::channel, &'static str>,
    Eq<invitations::status, &'static str>,
    Eq<invitations::recipient_email, Option<String>>,
    Eq<invitations::recipient_name, Option<String>>,
    Eq<invitations::recipient_key, Option<String>>,
    Eq<invitations::created_at, Stamp>,
    Eq<invitations::opened_at, Stamp>,
);

/// An imported answer.
type NewResponse = (
    Eq<responses::id, String>,
    Eq<responses::invitation_id, String>,
    Eq<responses::survey_id, String>,
    Eq<responses::score, i32>,
    Eq<responses::comment, Option<String>>,
    Eq<responses::suspect, bool>,
    Eq<responses::answer_count, i32>,
    Eq<responses::created_at, Stamp>,
    Eq<responses::updated_at, Stamp>,
    Eq<responses::score_changed_at, Stamp>,
    Eq<responses::auto_sent, bool>,
);

/// An imported answer's history: its creation.
type NewEvent = (
    Eq<response_events::id, String>,
    Eq<response_events::response_id, String>,
    Eq<response_events::change, &'static str>,
    Eq<response_events::score, i32>,
    Eq<response_events::comment, Option<String>>,
    Eq<response_events::suspect, bool>,
    Eq<response_events::at, Stamp>,
);

/// One property of an imported answer's invitation.
type NewProperty = (
    Eq<invitation_properties::invitation_id, String>,
    Eq<invitation_properties::key, String>,
    Eq<invitation_properties::value, String>,
);

/// Groups rows into batches and sums their rollup changes, touching no database.
pub struct Batcher {
    survey_id: SurveyId,
    workspace_id: String,
    segments: SegmentBy,
    /// Whether the survey is anonymous: its answers are then stored as a live one's is once
    /// given, with no person and an id that carries no time.
    anonymous: bool,
    pending: Batch,
    cells: Accumulator,
}

impl Batcher {
    /// A batcher for `survey`.
    pub fn new(survey: &Survey) -> Self {
        Self {
            survey_id: survey.id.clone(),
            workspace_id: survey.workspace_id.to_string(),
            segments: survey.segments(),
            anonymous: survey.anonymous,
            pending: Batch::with_capacity(BATCH),
            // The coarser grains follow from the quarter hours when they are written.
            cells: Accumulator::quarters_only(),
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
        self.add(row);
        if self.pending.len() < BATCH {
            return None;
        }
        let cells = self.cells.take_above(MAX_PENDING_CELLS);
        Some(self.take(cells))
    }

    /// The last rows and every rollup change not yet handed over.
    pub fn finish(mut self) -> Batch {
        let cells = std::mem::take(&mut self.cells);
        self.take(Some(cells))
    }

    /// Builds the row's records.
    fn add(&mut self, mut row: ImportedRow) {
        let invitation = InvitationId::generate().as_str().to_owned();
        let response = if self.anonymous {
            // Random, as a live answer's: in the file's order, ids would rank the answers.
            ResponseId::random()
        } else {
            ResponseId::generate()
        }
        .as_str()
        .to_owned();
        if self.anonymous {
            (row.email, row.name) = (None, None);
        }
        let survey = self.survey_id.as_str();
        let at = Stamp::new(row.created_at);
        let key = row.email.as_ref().map(EmailAddress::key);
        let pending = &mut self.pending;
        pending
            .properties
            .extend(row.properties.iter().map(|(k, v)| {
                (
                    invitation_properties::invitation_id.eq(invitation.clone()),
                    invitation_properties::key.eq(k.to_owned()),
                    invitation_properties::value.eq(v.to_owned()),
                )
            }));
        pending.events.push((
            response_events::id.eq(response.clone()),
            response_events::response_id.eq(response.clone()),
            response_events::change.eq("created"),
            response_events::score.eq(row.score),
            response_events::comment.eq(row.comment.clone()),
            response_events::suspect.eq(false),
            response_events::at.eq(at.clone()),
        ));
        pending.responses.push((
            responses::id.eq(response),
            responses::invitation_id.eq(invitation.clone()),
            responses::survey_id.eq(survey.to_owned()),
            responses::score.eq(row.score),
            responses::comment.eq(row.comment),
            responses::suspect.eq(false),
            responses::answer_count.eq(1),
            responses::created_at.eq(at.clone()),
            responses::updated_at.eq(at.clone()),
            responses::score_changed_at.eq(at.clone()),
            responses::auto_sent.eq(false),
        ));
        let token_hash = no_link(&invitation);
        pending.invitations.push((
            invitations::id.eq(invitation),
            invitations::workspace_id.eq(self.workspace_id.clone()),
            invitations::survey_id.eq(survey.to_owned()),
            invitations::token_hash.eq(token_hash),
            invitations::channel.eq("import"),
            invitations::status.eq(status::RESPONDED),
            invitations::recipient_email.eq(row.email.map(|e| e.as_str().to_owned())),
            invitations::recipient_name.eq(row.name),
            invitations::recipient_key.eq(key),
            invitations::created_at.eq(at.clone()),
            invitations::opened_at.eq(at),
        ));
    }

    fn take(&mut self, cells: Option<Accumulator>) -> Batch {
        let mut batch = std::mem::replace(&mut self.pending, Batch::with_capacity(BATCH));
        batch.cells = cells;
        batch
    }
}

/// The `token_hash` of an imported answer's invitation, whose link nobody holds: the
/// invitation's id behind a prefix. No token hashes to it (a hash is 64 hex digits), so no
/// link finds it; and it sorts as the (time-ordered) ids do, so the unique index on
/// `token_hash` takes a million imported rows at its right edge instead of at random pages,
/// which on Postgres meant a full-page image in the WAL for most of them after each
/// checkpoint.
fn no_link(invitation: &str) -> String {
    format!("{NO_LINK_PREFIX}{invitation}")
}

/// What [`no_link`] puts before the invitation's id.
const NO_LINK_PREFIX: &str = "import:";

/// Inserts `$rows` into `$table` on SQLite, a multi-row statement per [`SQLITE_CHUNK`] rows: a full
/// chunk goes in as a fixed-size array, whose statement Diesel prepares once and keeps
/// (a slice's it parses again every time), the last partial chunk as a slice.
macro_rules! insert_chunked {
    ($conn:expr, $table:expr, $rows:expr) => {
        for chunk in $rows.chunks(SQLITE_CHUNK) {
            match <&[_; SQLITE_CHUNK]>::try_from(chunk) {
                Ok(full) => diesel::insert_into($table).values(full).execute($conn)?,
                Err(_) => diesel::insert_into($table).values(chunk).execute($conn)?,
            };
        }
    };
}

/// Holds the import's survey, and its workspace, for the rest of the transaction, and says
/// whether the rows will be written without a foreign key check each.
///
/// Every other row an import refers to, it writes itself in the same transaction, so the only
/// parents that could vanish meanwhile are these two. On SQLite the transaction holds the
/// write lock, so reading the survey once is enough (and `db::prepare_bulk_write` turned the
/// checks off). On Postgres both rows are locked `FOR KEY SHARE`, as each foreign key check
/// would lock them, so a concurrent delete waits for the import to commit and then cascades
/// to what it wrote. Then, where the role may (a superuser, or one granted `SET` on the
/// parameter), the transaction sets `session_replication_role = replica`, which skips the
/// per-row checks (each answer writes eight foreign keys); elsewhere the checks stay on.
fn hold_survey(conn: &mut AnyConnection, survey_id: &SurveyId) -> DbResult<bool> {
    use super::schema::{surveys, workspaces};
    let AnyConnection::Postgresql(pg) = conn else {
        super::surveys::find_any(conn, survey_id)?;
        return Ok(true);
    };
    let workspace: String = surveys::table
        .find(survey_id.as_str())
        .select(surveys::workspace_id)
        .for_key_share()
        .first(pg)
        .optional()?
        .ok_or(super::DbError::NotFound("survey"))?;
    workspaces::table
        .find(&workspace)
        .select(workspaces::id)
        .for_key_share()
        .first::<String>(pg)?;
    let unchecked = super::savepoint(conn, |conn| {
        conn.batch_execute("SET LOCAL session_replication_role = replica")
    });
    Ok(unchecked.is_ok())
}

/// An import's writing, inside its transaction: from [`Writer::begin`], batch after batch,
/// to [`Writer::finish`] before the commit.
#[derive(Debug)]
pub struct Writer {
    /// Whether the rows go in without a foreign key check each (see [`hold_survey`]).
    pub unchecked: bool,
    staging: Staging,
}

impl Writer {
    /// Holds the survey (see [`hold_survey`]) and prepares to stage the rollup changes.
    pub fn begin(conn: &mut AnyConnection, survey_id: &SurveyId) -> DbResult<Self> {
        let unchecked = hold_survey(conn, survey_id)?;
        let staging = Staging::begin(conn)?;
        Ok(Self { unchecked, staging })
    }

    /// Writes a batch: its rows, then its rollup changes if it carries them.
    pub fn write(&mut self, conn: &mut AnyConnection, batch: Batch) -> DbResult<()> {
        let Batch {
            invitations,
            responses,
            events,
            properties,
            cells,
        } = batch;
        // The last batch may carry only rollup changes.
        if !invitations.is_empty() {
            insert_rows(conn, &invitations, &responses, &events, &properties)?;
        }
        match cells {
            Some(cells) => self.staging.add(conn, cells),
            None => Ok(()),
        }
    }

    /// Writes the staged rollup changes. Call after the last batch, before the commit.
    pub fn finish(self, conn: &mut AnyConnection) -> DbResult<()> {
        self.staging.finish(conn)
    }
}

fn insert_rows(
    conn: &mut AnyConnection,
    invitations: &[NewInvitation],
    responses: &[NewResponse],
    events: &[NewEvent],
    properties: &[NewProperty],
) -> DbResult<()> {
    match conn {
        // SQLite: multi-row INSERTs in chunks under its bind limit.
        AnyConnection::Sqlite(c) => {
            insert_chunked!(c, invitations::table, invitations);
            insert_chunked!(c, responses::table, responses);
            insert_chunked!(c, response_events::table, events);
            insert_chunked!(c, invitation_properties::table, properties);
        }
        // Postgres: COPY (binary), its bulk load path: no statement to parse or plan per
        // batch, constraints and indexes checked as for an INSERT.
        AnyConnection::Postgresql(c) => {
            diesel::copy_from(invitations::table)
                .from_insertable(invitations)
                .execute(c)?;
            diesel::copy_from(responses::table)
                .from_insertable(responses)
                .execute(c)?;
            diesel::copy_from(response_events::table)
                .from_insertable(events)
                .execute(c)?;
            diesel::copy_from(invitation_properties::table)
                .from_insertable(properties)
                .execute(c)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::no_link;
    use crate::domain::ids::InvitationId;
    use crate::domain::secret::SurveyToken;

    #[test]
    fn an_imported_answers_token_hash_is_no_tokens_hash() {
        let hash = SurveyToken::generate().hash();
        assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
        let id = InvitationId::generate();
        let marker = no_link(id.as_str());
        assert!(marker.ends_with(id.as_str()));
        assert!(!marker.bytes().all(|b| b.is_ascii_hexdigit()), "{marker}");
    }
}
