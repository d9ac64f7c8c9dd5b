//! Rollup cells per value and bucket. Postgres sums them itself, so a stats call decodes one
//! row per value and bucket instead of one per cell (thousands per segment over 90 days).
//! SQLite hands over the cells, read by position, and they are summed here: its sixteen
//! aggregate calls per cell, and reading a named row, cost more than the cells themselves.

use chrono::NaiveDateTime;
use diesel::sql_types::{BigInt, Integer, Text, Timestamp};
use diesel::QueryableByName;

use super::Grain;
use crate::db::{AnyConnection, DbResult};
use crate::domain::ids::SurveyId;
use crate::domain::stats::tally::{Tally, SCORE_SLOTS};

/// One value's summed cells in one bucket.
#[derive(Debug, QueryableByName)]
struct Summed {
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = Integer)]
    bucket: i32,
    #[diesel(sql_type = BigInt)]
    issued: i64,
    #[diesel(sql_type = BigInt)]
    delivered: i64,
    #[diesel(sql_type = BigInt)]
    opened: i64,
    #[diesel(sql_type = BigInt)]
    commented: i64,
    #[diesel(sql_type = BigInt)]
    suspect: i64,
    #[diesel(sql_type = BigInt)]
    s0: i64,
    #[diesel(sql_type = BigInt)]
    s1: i64,
    #[diesel(sql_type = BigInt)]
    s2: i64,
    #[diesel(sql_type = BigInt)]
    s3: i64,
    #[diesel(sql_type = BigInt)]
    s4: i64,
    #[diesel(sql_type = BigInt)]
    s5: i64,
    #[diesel(sql_type = BigInt)]
    s6: i64,
    #[diesel(sql_type = BigInt)]
    s7: i64,
    #[diesel(sql_type = BigInt)]
    s8: i64,
    #[diesel(sql_type = BigInt)]
    s9: i64,
    #[diesel(sql_type = BigInt)]
    s10: i64,
}

impl Summed {
    fn tally(&self) -> Tally {
        Tally {
            issued: self.issued,
            delivered: self.delivered,
            opened: self.opened,
            commented: self.commented,
            suspect: self.suspect,
            scores: [
                self.s0, self.s1, self.s2, self.s3, self.s4, self.s5, self.s6, self.s7, self.s8,
                self.s9, self.s10,
            ],
            // Rollups keep no challenges: the report adds them from the raw rows.
            excluded: [0; 11],
        }
    }
}

/// Placeholders in the backend's syntax.
struct Placeholders {
    postgres: bool,
    next: usize,
}

impl Placeholders {
    fn next(&mut self) -> String {
        self.next += 1;
        if self.postgres {
            format!("${}", self.next)
        } else {
            "?".to_owned()
        }
    }
}

/// One cell read by position: value, start, the funnel counts, and the scores.
type CellRow = (
    String,
    String,
    (i64, i64, i64, i64, i64),
    (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64),
);

/// Reads the cells of one rollup table by position.
macro_rules! cells {
    ($table:ident, $conn:expr, $surveys:expr, $dim:expr, $value:expr, $from:expr, $to:expr) => {{
        use crate::db::schema::$table as t;
        use diesel::prelude::*;
        let ids: Vec<&str> = $surveys.iter().map(SurveyId::as_str).collect();
        let mut query = t::table
            .filter(t::survey_id.eq_any(ids))
            .filter(t::dim.eq($dim))
            .filter(t::at.ge($from))
            .filter(t::at.lt($to))
            .select((
                t::value,
                // As stored text, compared with the edges as text: parsing a timestamp per
                // cell would cost more than the rest of the read.
                diesel::dsl::sql::<diesel::sql_types::Text>("at"),
                (t::issued, t::delivered, t::opened, t::commented, t::suspect),
                (
                    t::s0,
                    t::s1,
                    t::s2,
                    t::s3,
                    t::s4,
                    t::s5,
                    t::s6,
                    t::s7,
                    t::s8,
                    t::s9,
                    t::s10,
                ),
            ))
            .into_boxed();
        if let Some(value) = $value {
            query = query.filter(t::value.eq(value));
        }
        query.load::<CellRow>($conn)?
    }};
}

/// Sums cells per value and bucket (bucket `i`: the cells before `edges[i]` and at or after
/// `edges[i - 1]`, as the SQL `CASE` does).
fn sum_cells(cells: Vec<CellRow>, edges: &[NaiveDateTime]) -> Vec<(String, usize, Tally)> {
    // SQLite keeps a timestamp as `YYYY-MM-DD HH:MM:SS[.f]`, which sorts as the instant does.
    let edges: Vec<String> = edges
        .iter()
        .map(|e| e.format("%Y-%m-%d %H:%M:%S%.f").to_string())
        .collect();
    let mut sums: std::collections::BTreeMap<(String, usize), Tally> = Default::default();
    for (value, at, (issued, delivered, opened, commented, suspect), s) in cells {
        let bucket = edges.partition_point(|e| e.as_str() <= at.as_str());
        let tally = Tally {
            issued,
            delivered,
            opened,
            commented,
            suspect,
            scores: [s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7, s.8, s.9, s.10],
            excluded: [0; SCORE_SLOTS],
        };
        *sums.entry((value, bucket)).or_default() += tally;
    }
    sums.into_iter().map(|((v, b), t)| (v, b, t)).collect()
}

/// The cells of `surveys` for segment `dim` (`""` overall; one `value`, or all) starting in
/// `[from, to)`, summed per value and bucket. Bucket `i` holds the cells starting before
/// `edges[i]` and at or after `edges[i - 1]` (`edges` ascending: the starts of the second
/// and later buckets). Every cell must lie within one bucket; the caller picks the grain
/// so that none straddles an edge.
#[expect(clippy::too_many_arguments, reason = "one summed read, spelled out")]
pub fn read_summed(
    conn: &mut AnyConnection,
    grain: Grain,
    surveys: &[SurveyId],
    dim: &str,
    value: Option<&str>,
    from: NaiveDateTime,
    to: NaiveDateTime,
    edges: &[NaiveDateTime],
) -> DbResult<Vec<(String, usize, Tally)>> {
    if let AnyConnection::Sqlite(c) = conn {
        let cells = match grain {
            Grain::Day => cells!(rollup_days, c, surveys, dim, value, from, to),
            Grain::Quarter => cells!(rollup_quarters, c, surveys, dim, value, from, to),
        };
        return Ok(sum_cells(cells, edges));
    }
    let mut p = Placeholders {
        postgres: matches!(conn, AnyConnection::Postgresql(_)),
        next: 0,
    };
    let bucket = if edges.is_empty() {
        "0".to_owned()
    } else {
        let arms: String = edges
            .iter()
            .enumerate()
            .map(|(i, _)| format!(" WHEN at < {} THEN {i}", p.next()))
            .collect();
        format!("CASE{arms} ELSE {} END", edges.len())
    };
    let counts: Vec<String> = ["issued", "delivered", "opened", "commented", "suspect"]
        .into_iter()
        .map(str::to_owned)
        .chain((0..SCORE_SLOTS).map(|i| format!("s{i}")))
        .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
        .collect();
    let ids: Vec<String> = surveys.iter().map(|_| p.next()).collect();
    let mut conditions = vec![
        format!("survey_id IN ({})", ids.join(", ")),
        format!("dim = {}", p.next()),
    ];
    if value.is_some() {
        conditions.push(format!("value = {}", p.next()));
    }
    conditions.push(format!("at >= {}", p.next()));
    conditions.push(format!("at < {}", p.next()));
    let sql = format!(
        "SELECT value, {bucket} AS bucket, {} FROM {} WHERE {} GROUP BY value, bucket",
        counts.join(", "),
        grain.table(),
        conditions.join(" AND "),
    );
    macro_rules! load {
        ($backend:ty, $c:expr) => {{
            let mut query = diesel::sql_query(sql).into_boxed::<$backend>();
            for edge in edges {
                query = query.bind::<Timestamp, _>(*edge);
            }
            for id in surveys {
                query = query.bind::<Text, _>(id.as_str().to_owned());
            }
            query = query.bind::<Text, _>(dim.to_owned());
            if let Some(value) = value {
                query = query.bind::<Text, _>(value.to_owned());
            }
            query = query.bind::<Timestamp, _>(from).bind::<Timestamp, _>(to);
            diesel::RunQueryDsl::load::<Summed>(query, $c)?
        }};
    }
    let rows = match conn {
        AnyConnection::Postgresql(c) => load!(diesel::pg::Pg, c),
        AnyConnection::Sqlite(c) => load!(diesel::sqlite::Sqlite, c),
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let tally = r.tally();
            (r.value, usize::try_from(r.bucket).unwrap_or(0), tally)
        })
        .collect())
}
