//! The query of the workspace-wide read-back lists: `survey_id`, `external_id`, `since`,
//! `filter[<property>]=<value>` (up to 5), `limit` and `cursor`.

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};

use crate::db::search::Search;
use crate::db::to_stored;
use crate::domain::ids::SurveyId;
use crate::domain::page::PageRequest;
use crate::domain::properties::check_key;
use crate::domain::Invalid;
use crate::error::ApiError;

/// Most `filter[…]` parameters one call may carry.
const MAX_FILTERS: usize = 5;

/// Parses the query string, naming the parameter that is wrong.
pub fn parse(req: &HttpRequest) -> Result<(Search, PageRequest), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("query string is not valid: {e}")))?;
    let mut search = Search::default();
    let (mut limit, mut cursor) = (None, None);
    for (key, value) in pairs {
        crate::domain::text::check(&key, &value)?;
        match key.as_str() {
            "limit" => {
                limit = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| Invalid::new("limit", "must be a whole number"))?,
                )
            }
            "cursor" => cursor = Some(value),
            "survey_id" => {
                let id = uuid::Uuid::parse_str(&value)
                    .map_err(|_| Invalid::new("survey_id", "must be a UUID"))?;
                search.survey_id = Some(SurveyId::from(id));
            }
            "external_id" => {
                if value.is_empty() || value.chars().count() > 200 {
                    return Err(Invalid::new("external_id", "must be 1 to 200 characters").into());
                }
                search.external_id = Some(value);
            }
            "since" => {
                let at = DateTime::parse_from_rfc3339(&value)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| Invalid::new("since", "must be an RFC 3339 date-time"))?;
                search.since = Some(to_stored(at.max(DateTime::UNIX_EPOCH)));
            }
            other => {
                // Other parameters are ignored, as on every list.
                let Some(property) = other
                    .strip_prefix("filter[")
                    .and_then(|k| k.strip_suffix(']'))
                else {
                    continue;
                };
                check_key(other, property)?;
                if search.filters.len() == MAX_FILTERS {
                    return Err(
                        Invalid::new(other, format!("at most {MAX_FILTERS} filters")).into(),
                    );
                }
                search.filters.push((property.to_owned(), value));
            }
        }
    }
    Ok((search, PageRequest::parse(limit, cursor.as_deref())?))
}
