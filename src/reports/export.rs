//! CSV export of a survey's responses, streamed page by page in constant memory, with
//! spreadsheet formula injection neutralised.

use chrono::{DateTime, Utc};

use crate::db::responses::ResponseWithInvitation;
use crate::db::{from_stored, AnyConnection, DbResult};
use crate::domain::ids::SurveyId;

/// Responses read per page of the stream.
pub const PAGE: i64 = 1_000;

/// Most property columns an export carries (the keys, sorted, beyond it are left out).
pub const MAX_PROPERTY_COLUMNS: i64 = 200;

/// The fixed columns, before one column per property.
pub const COLUMNS: [&str; 12] = [
    "response_id",
    "invitation_id",
    "invited_at",
    "answered_at",
    "updated_at",
    "score",
    "comment",
    "suspect",
    "suspect_reason",
    "recipient_email",
    "recipient_name",
    "recipient_external_id",
];

/// What to export.
#[derive(Debug, Clone)]
pub struct Export {
    /// The survey (already known to be the caller's).
    pub survey_id: SurveyId,
    /// Invitations created at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Invitations created before this.
    pub to: Option<DateTime<Utc>>,
    /// `(property, value)` pairs an invitation must all carry.
    pub filters: Vec<(String, String)>,
    /// The property columns, in order (none for an anonymous survey).
    pub properties: Vec<String>,
    /// For an anonymous survey: whether its comments are shown. Its rows then carry no
    /// invitation or recipient, and times to the month only.
    pub anonymous: Option<bool>,
}

/// Whether a spreadsheet might read `text` as a formula: it starts with a tab, carriage
/// return or line feed, or with `=`, `+`, `-` or `@` after any blank space (OWASP's advice
/// for CSV injection, and LibreOffice's "trim spaces").
fn starts_a_formula(text: &str) -> bool {
    matches!(text.chars().next(), Some('\t' | '\r' | '\n'))
        || matches!(
            text.trim_start().chars().next(),
            Some('=' | '+' | '-' | '@')
        )
}

/// A cell as a spreadsheet will not run it: it, and each part of it after a `;`, is
/// prefixed with `'` where it could start a formula. The `;` counts because Excel in the
/// many locales whose list separator is `;` splits an unquoted cell there, so a formula in
/// the middle of a comment would start a cell of its own.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if !cell.split(';').any(starts_a_formula) {
        return cell.into();
    }
    let mut out = String::with_capacity(cell.len() + 4);
    for (i, part) in cell.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        if starts_a_formula(part) {
            out.push('\'');
        }
        out.push_str(part);
    }
    out.into()
}

/// The header row.
pub fn header(properties: &[String]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let cells: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .chain(properties.iter().map(String::as_str))
        .collect();
    let _ = w.write_record(cells.iter().map(|c| neutralise(c).into_owned()));
    w.into_inner().unwrap_or_default()
}

/// The next page after response id `after`: its CSV bytes and the last id, or `None` at the end.
pub fn page(
    conn: &mut AnyConnection,
    export: &Export,
    after: Option<&str>,
) -> DbResult<Option<(Vec<u8>, String)>> {
    let rows: Vec<ResponseWithInvitation> = crate::db::responses::export_page(
        conn,
        &export.survey_id,
        export.from.map(crate::db::to_stored),
        export.to.map(crate::db::to_stored),
        &export.filters,
        after,
        PAGE,
    )?;
    let Some(last) = rows.last().map(|(r, _)| r.id.to_string()) else {
        return Ok(None);
    };
    let ids: Vec<_> = rows.iter().map(|(_, inv)| &inv.id).collect();
    let mut properties = crate::db::invitations::properties_of(conn, &ids)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    for (r, inv) in &rows {
        let props = properties.remove(&inv.id).unwrap_or_default();
        if let Some(comments) = export.anonymous {
            let month = |t| from_stored(crate::db::month_of(t)).to_rfc3339();
            let comment = r.comment.clone().filter(|_| comments).unwrap_or_default();
            let cells = [
                r.id.to_string(),
                String::new(),
                month(inv.created_at),
                month(r.created_at),
                month(r.updated_at),
                r.score.to_string(),
                comment,
                r.suspect.to_string(),
                r.suspect_reason.clone().unwrap_or_default(),
                String::new(),
                String::new(),
                String::new(),
            ];
            let _ = w.write_record(cells.iter().map(|c| neutralise(c).into_owned()));
            continue;
        }
        let time = |t| from_stored(t).to_rfc3339();
        let mut cells: Vec<String> = vec![
            r.id.to_string(),
            inv.id.to_string(),
            time(inv.created_at),
            time(r.created_at),
            time(r.updated_at),
            r.score.to_string(),
            r.comment.clone().unwrap_or_default(),
            r.suspect.to_string(),
            r.suspect_reason.clone().unwrap_or_default(),
            inv.recipient_email.clone().unwrap_or_default(),
            inv.recipient_name.clone().unwrap_or_default(),
            inv.recipient_external_id.clone().unwrap_or_default(),
        ];
        cells.extend(
            export
                .properties
                .iter()
                .map(|k| props.get(k).cloned().unwrap_or_default()),
        );
        let _ = w.write_record(cells.iter().map(|c| neutralise(c).into_owned()));
    }
    Ok(Some((w.into_inner().unwrap_or_default(), last)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_plain_text_is_not() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("-2"), "'-2");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("great, thanks"), "great, thanks");
        // After blank space, or after a `;` (where Excel splits cells in `;` locales).
        assert_eq!(neutralise(" =1+1"), "' =1+1");
        assert_eq!(neutralise("\tx"), "'\tx");
        assert_eq!(neutralise("\nx"), "'\nx");
        assert_eq!(neutralise("ok;=1+1;"), "ok;'=1+1;");
        assert_eq!(neutralise("a; @x;b"), "a;' @x;b");
        assert_eq!(neutralise("fine; really"), "fine; really");
        let h = String::from_utf8(header(&["agent".into()])).unwrap();
        assert!(h.starts_with("response_id,invitation_id,"));
        assert!(h.trim_end().ends_with(",agent"));
    }

    proptest::proptest! {
        /// Whatever the text, no part of the written cell could start a formula, and only
        /// `'`s were added, one before each part that could.
        #[test]
        fn no_part_of_a_neutralised_cell_starts_a_formula(cell in "[=+@;\\- \t\r\na-z']{0,12}") {
            let out = neutralise(&cell);
            for part in out.split(';') {
                proptest::prop_assert!(!starts_a_formula(part), "{:?} -> {:?}", cell, out);
            }
            let risky = cell.split(';').filter(|p| starts_a_formula(p)).count();
            proptest::prop_assert_eq!(out.len(), cell.len() + risky);
            let restored: Vec<String> = out
                .split(';')
                .zip(cell.split(';'))
                .map(|(o, c)| if starts_a_formula(c) { o[1..].to_owned() } else { o.to_owned() })
                .collect();
            proptest::prop_assert_eq!(restored.join(";"), cell);
        }
    }
}
