//! Rollup cells summed by the database per value and bucket: a stats call then decodes one
//! row per value and bucket instead of one per cell (thousands per segment over 90 days).

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
        AnyConnection::Sqlite(c) => load!(diesel::sqlite::Sqlite, c),
        AnyConnection::Postgresql(c) => load!(diesel::pg::Pg, c),
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let tally = r.tally();
            (r.value, usize::try_from(r.bucket).unwrap_or(0), tally)
        })
        .collect())
}
