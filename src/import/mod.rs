//! History import: `scorekeeper import responses --survey ID FILE.csv` loads past answers.
//! Every row is checked (a bad row is reported with its line number and nothing is imported,
//! unless `--skip-invalid`) as the file is read once and written in batches in one
//! transaction, so memory stays constant and an import is all or nothing. Imported answers
//! feed the stats rollups exactly like live ones.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::db::import::{Batch, Batcher, ImportedRow};
use crate::db::{self, AnyConnection};
use crate::domain::answer::MAX_COMMENT_CHARS;
use crate::domain::email::EmailAddress;
use crate::domain::ids::SurveyId;
use crate::domain::kind::Scale;
use crate::domain::properties::Properties;
use crate::domain::score::Score;
use crate::domain::{text, Invalid};

/// Most rows one import may hold.
pub const MAX_ROWS: u64 = 10_000_000;

/// Errors reported before giving up.
const MAX_REPORTED: usize = 20;

/// Columns with a meaning of their own; every other column is a property.
const KNOWN: [&str; 5] = ["score", "created_at", "comment", "email", "name"];

/// The shape of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Our own columns: `score`, `created_at`, `comment`, `email`, `name`, properties.
    #[default]
    Generic,
    /// A Delighted response export: its column names are mapped onto ours (see
    /// [`delighted_column`]), its bookkeeping columns dropped, the rest kept as properties.
    Delighted,
}

/// Where a column of a Delighted export goes: one of our columns, a property (its name when
/// that is a valid key, else made into one: lower case, `_` for anything else), or nowhere
/// (`""`: ids, links, tags and notes, which Scorekeeper does not keep).
pub fn delighted_column(header: &str) -> String {
    let h = header.trim().to_lowercase();
    let ours = match h.as_str() {
        "score" | "rating" => "score",
        "response timestamp" | "response date" | "created at" | "created_at" | "date"
        | "timestamp" | "responded at" => "created_at",
        "comment" | "comments" | "response comment" => "comment",
        "email" | "person email" | "email address" | "person_email" => "email",
        "name" | "person name" | "person_name" => "name",
        "response id" | "response_id" | "id" | "person id" | "person_id" | "survey type"
        | "survey_type" | "permalink" | "tags" | "notes" | "updated at" | "updated_at"
        | "phone number" | "phone_number" | "additional answers" => "",
        // A property: its name as is when it is a key already (the Delighted facade keeps such
        // a name as sent, so old and new answers share it), else made into one.
        _ => {
            let raw = header.trim();
            return if crate::domain::properties::check_key("k", raw).is_ok() {
                raw.to_owned()
            } else {
                crate::domain::properties::key_from_label(raw)
            };
        }
    };
    ours.to_owned()
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Rows imported.
    pub imported: u64,
    /// Valid rows (what a dry run would import).
    pub valid: u64,
    /// Rows skipped as invalid (with `--skip-invalid`).
    pub skipped: u64,
    /// The invalid rows: `(line, field, message)`, the first few.
    pub errors: Vec<(u64, String, String)>,
}

/// Parses one CSV record (with its header) into a row, naming the column that is wrong.
fn parse_row(
    headers: &[String],
    record: &csv::StringRecord,
    scale: Scale,
    now: NaiveDateTime,
) -> Result<ImportedRow, Invalid> {
    let mut score = None;
    let mut created_at = None;
    let mut comment = None;
    let mut email = None;
    let mut name = None;
    let mut properties = BTreeMap::new();
    for (header, value) in headers.iter().zip(record.iter()) {
        if header.is_empty() {
            continue;
        }
        text::check(header, value)?;
        let value = value.trim();
        match header.as_str() {
            "score" => {
                let raw = value
                    .parse::<i64>()
                    .map_err(|_| Invalid::new("score", "must be a whole number"))?;
                score = Some(Score::new(scale, raw)?.value());
            }
            "created_at" => created_at = Some(parse_time(value, now)?),
            "comment" if !value.is_empty() => {
                if value.chars().count() > MAX_COMMENT_CHARS {
                    return Err(Invalid::new(
                        "comment",
                        format!("must be at most {MAX_COMMENT_CHARS} characters"),
                    ));
                }
                comment = Some(value.to_owned());
            }
            "email" if !value.is_empty() => email = Some(EmailAddress::parse("email", value)?),
            "name" if !value.is_empty() => name = Some(value.chars().take(200).collect()),
            h if KNOWN.contains(&h) => {}
            _ if value.is_empty() => {}
            _ => {
                properties.insert(header.clone(), value.to_owned());
            }
        }
    }
    Ok(ImportedRow {
        score: score.ok_or_else(|| Invalid::new("score", "is required"))?,
        created_at: created_at.ok_or_else(|| Invalid::new("created_at", "is required"))?,
        comment,
        email,
        name,
        properties: Properties::given(properties)?,
    })
}

/// RFC 3339, `YYYY-MM-DD HH:MM:SS ±hhmm` (as Delighted exported), Unix seconds, or
/// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` in UTC; not in the future.
fn parse_time(raw: &str, now: NaiveDateTime) -> Result<NaiveDateTime, Invalid> {
    let unix = || {
        raw.parse::<i64>()
            .ok()
            .filter(|_| raw.len() >= 9)
            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
            .map(|t| t.naive_utc())
            .ok_or(())
    };
    let at = DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc).naive_utc())
        .or_else(|_| {
            DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S %z")
                .map(|t| t.with_timezone(&Utc).naive_utc())
        })
        .or_else(|_| unix())
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S"))
        .or_else(|_| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map_err(|_| {
            Invalid::new(
                "created_at",
                "must be RFC 3339 (2026-01-31T09:30:00Z), YYYY-MM-DD HH:MM:SS [+hhmm], \
                 YYYY-MM-DD or Unix seconds",
            )
        })?;
    if at > now {
        return Err(Invalid::new("created_at", "must not be in the future"));
    }
    Ok(db::to_stored(at.and_utc()))
}

/// Checks the header: `score` and `created_at` are required, every property name valid.
fn check_headers(headers: &[String]) -> anyhow::Result<()> {
    for required in ["score", "created_at"] {
        if !headers.iter().any(|h| h == required) {
            bail!("the CSV header has no `{required}` column");
        }
    }
    for header in headers
        .iter()
        .filter(|h| !h.is_empty() && !KNOWN.contains(&h.as_str()))
    {
        crate::domain::properties::check_key(header, header)
            .map_err(|e| anyhow::anyhow!("column `{header}`: {}", e.message))?;
    }
    Ok(())
}

fn open(path: &Path, format: Format) -> anyhow::Result<(csv::Reader<std::fs::File>, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let headers = reader
        .headers()
        .context("cannot read the CSV header")?
        .iter()
        .map(|h| match format {
            Format::Generic => h.trim().to_lowercase(),
            Format::Delighted => delighted_column(h),
        })
        .collect();
    Ok((reader, headers))
}

/// How to import.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The file's shape.
    pub format: Format,
    /// Import the valid rows and skip the bad ones.
    pub skip_invalid: bool,
    /// Validate only: report what would be imported, write nothing.
    pub dry_run: bool,
}

/// The rows read so far: how many, and the invalid ones (counted, the first few kept).
#[derive(Debug, Default)]
struct Checked {
    rows: u64,
    skipped: u64,
    errors: Vec<(u64, String, String)>,
}

impl Checked {
    /// Checks the next record: the row if it is valid, `None` (and the error noted) if not.
    /// Fails on a file of more than [`MAX_ROWS`] rows.
    fn row(
        &mut self,
        headers: &[String],
        record: &csv::StringRecord,
        scale: Scale,
        now: NaiveDateTime,
    ) -> anyhow::Result<Option<ImportedRow>> {
        self.rows += 1;
        if self.rows > MAX_ROWS {
            bail!("the file holds more than {MAX_ROWS} rows; split it");
        }
        match parse_row(headers, record, scale, now) {
            Ok(row) => Ok(Some(row)),
            Err(invalid) => {
                self.skipped += 1;
                if self.errors.len() < MAX_REPORTED {
                    let line = record.position().map_or(self.rows + 1, |p| p.line());
                    self.errors.push((line, invalid.field, invalid.message));
                }
                Ok(None)
            }
        }
    }

    /// What was checked, with `imported` rows written.
    fn summary(self, imported: u64) -> Summary {
        Summary {
            imported,
            valid: self.rows - self.skipped,
            skipped: self.skipped,
            errors: self.errors,
        }
    }
}

/// Why the import's transaction is rolled back.
enum Undone {
    /// A row is invalid and invalid rows are not skipped: what was checked.
    Invalid(Checked),
    /// The file could not be read.
    Unreadable(anyhow::Error),
    /// The database failed.
    Db(db::DbError),
}

impl From<diesel::result::Error> for Undone {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

/// Imports `path` into `survey_id`, calling `progress(rows_done)` as it goes.
///
/// One pass, in one transaction: a thread reads, checks and batches the rows (and sums their
/// rollup changes) while this one writes the batch before, so the two halves of the work
/// overlap on two cores. The first invalid row (unless `skip_invalid`) stops the writing;
/// the rest of the file is still checked, so that every bad row is reported, and then the
/// transaction is rolled back: nothing is imported.
pub fn run(
    conn: &mut AnyConnection,
    survey_id: &SurveyId,
    path: &Path,
    options: Options,
    progress: &dyn Fn(u64),
) -> anyhow::Result<Summary> {
    let Options {
        format,
        skip_invalid,
        dry_run,
    } = options;
    let survey = db::surveys::find_any(conn, survey_id)?;
    let (_, scale) = survey.kind_and_scale()?;
    let now = db::now();
    let (reader, headers) = open(path, format)?;
    check_headers(&headers)?;
    if dry_run {
        let mut checked = Checked::default();
        for record in reader.into_records() {
            let record = record.context("the CSV is malformed")?;
            checked.row(&headers, &record, scale, now)?;
        }
        return Ok(checked.summary(0));
    }
    let written = db::write_transaction(conn, |conn| {
        // Its settings first, held until the commit: a change of them waits for it. (Before
        // the survey row's lock below: a change that rotates the widget key as well needs
        // that row, and would wait for it while holding the settings.)
        db::surveys::hold(conn, &[survey_id]).map_err(Undone::Db)?;
        // Holds the survey until the commit: the rows may be written without foreign key
        // checks.
        let mut writer = db::import::Writer::begin(conn, survey_id).map_err(Undone::Db)?;
        let survey = db::surveys::find_any(conn, survey_id).map_err(Undone::Db)?;
        let mut batcher = Batcher::new(&survey);
        tracing::debug!(writer.unchecked, "import transaction begun");
        std::thread::scope(|scope| {
            let (batches, received) = std::sync::mpsc::sync_channel::<Batch>(2);
            let reading = scope.spawn(move || -> anyhow::Result<Checked> {
                let mut checked = Checked::default();
                let mut writing = true;
                for record in reader.into_records() {
                    let record = record.context("the CSV is malformed")?;
                    let row = checked.row(&headers, &record, scale, now)?;
                    writing &= skip_invalid || checked.skipped == 0;
                    let Some(row) = row.filter(|_| writing) else {
                        continue;
                    };
                    // A closed channel means the writer failed: its error is reported.
                    if let Some(batch) = batcher.push(row) {
                        if batches.send(batch).is_err() {
                            return Ok(checked);
                        }
                    }
                }
                if writing {
                    let _ = batches.send(batcher.finish());
                }
                Ok(checked)
            });
            let mut done = 0u64;
            for batch in received {
                done += batch.len() as u64;
                writer.write(conn, batch).map_err(Undone::Db)?;
                progress(done);
            }
            let checked = reading
                .join()
                .map_err(|_| Undone::Unreadable(anyhow::anyhow!("the reading thread panicked")))?
                .map_err(Undone::Unreadable)?;
            if checked.skipped > 0 && !skip_invalid {
                return Err(Undone::Invalid(checked));
            }
            writer.finish(conn).map_err(Undone::Db)?;
            Ok((checked, done))
        })
    });
    match written {
        Ok((checked, imported)) => {
            progress(imported);
            Ok(checked.summary(imported))
        }
        Err(Undone::Invalid(checked)) => Ok(checked.summary(0)),
        Err(Undone::Unreadable(e)) => Err(e),
        Err(Undone::Db(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(fields.to_vec())
    }

    #[test]
    fn rows_are_validated_naming_the_column() {
        let headers: Vec<String> = ["score", "created_at", "comment", "agent"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let now = db::now();
        let ok = parse_row(
            &headers,
            &record(&["9", "2026-01-05", "Great", "bo"]),
            Scale::ZeroToTen,
            now,
        )
        .unwrap();
        assert_eq!(ok.score, 9);
        assert_eq!(
            ok.properties.iter().collect::<Vec<_>>(),
            vec![("agent", "bo")]
        );
        let bad = |fields: &[&str]| {
            parse_row(&headers, &record(fields), Scale::ZeroToTen, now)
                .unwrap_err()
                .field
        };
        assert_eq!(bad(&["11", "2026-01-05", "", ""]), "score");
        assert_eq!(bad(&["9", "yesterday", "", ""]), "created_at");
        assert_eq!(bad(&["9", "2999-01-01", "", ""]), "created_at");
        assert_eq!(bad(&["9", "2026-01-05", "a\u{0}", ""]), "comment");
        assert!(check_headers(&["score".into()]).is_err());
        assert!(check_headers(&["score".into(), "created_at".into(), "bad key".into()]).is_err());
    }

    #[test]
    fn delighted_columns_map_onto_ours_and_the_rest_become_valid_keys() {
        assert_eq!(delighted_column("Score"), "score");
        assert_eq!(delighted_column(" Response Timestamp "), "created_at");
        assert_eq!(delighted_column("Email"), "email");
        assert_eq!(delighted_column("Response ID"), "");
        assert_eq!(delighted_column("Tags"), "");
        assert_eq!(
            delighted_column("Purchase Experience"),
            "purchase_experience"
        );
        assert_eq!(delighted_column("Plan (annual?)"), "plan_annual");
        // A name that is a key already is kept as is, as the Delighted facade keeps it.
        assert_eq!(delighted_column(" Plan "), "Plan");
        assert_eq!(delighted_column("customer_id"), "customer_id");
        let key = delighted_column(&"Long ".repeat(40));
        assert!(
            crate::domain::properties::check_key("k", &key).is_ok(),
            "{key}"
        );
        let now = db::now();
        let at = parse_time("2025-03-04 12:34:56 -0800", now).unwrap();
        assert_eq!(at.to_string(), "2025-03-04 20:34:56");
        assert_eq!(
            parse_time("1741120496", now).unwrap().to_string(),
            "2025-03-04 20:34:56"
        );
    }
}
