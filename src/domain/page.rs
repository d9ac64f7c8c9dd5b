//! Cursor pagination: `limit` (default 50, at most 500) and an opaque `cursor`
//! (URL-safe base64 of the last item's sort key).

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use super::Invalid;

/// Items per page when the client names no limit.
pub const DEFAULT_LIMIT: u32 = 50;
/// Most items one page may hold.
pub const MAX_LIMIT: u32 = 500;

/// Decodes any base64url text (trailing bits and padding as they come).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Longest cursor accepted (the ones this API returns are far shorter).
pub const MAX_CURSOR_CHARS: usize = 1_000;

/// A validated page request. Items are ordered by a unique text key (for most lists the id,
/// a UUIDv7, so creation order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items to return.
    pub limit: u32,
    /// Return only items whose key sorts after this one.
    pub after: Option<String>,
}

impl PageRequest {
    /// Parses the raw query values.
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, Invalid> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=i64::from(MAX_LIMIT)).contains(&n) => n as u32,
            Some(_) => {
                return Err(Invalid::new(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                ))
            }
        };
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) if c.len() > MAX_CURSOR_CHARS => {
                return Err(Invalid::new("cursor", "is not a cursor this API returned"))
            }
            Some(c) => Some(
                LENIENT
                    .decode(c)
                    .ok()
                    // Any decodable cursor is a key to list after; one this API did not
                    // return just lists from wherever it sorts.
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .ok_or_else(|| Invalid::new("cursor", "is not a cursor this API returned"))?,
            ),
        };
        Ok(Self { limit, after })
    }

    /// Rows to fetch: one more than the limit, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// Trims the extra row and returns the cursor for the next page.
    pub fn finish<T>(&self, rows: Vec<T>, id: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
        self.finish_keyed(rows, |r| id(r).to_owned())
    }

    /// [`Self::finish`] for rows whose key is computed (a number shown as text).
    pub fn finish_keyed<T>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> String,
    ) -> (Vec<T>, Option<String>) {
        if rows.len() > self.limit as usize {
            rows.truncate(self.limit as usize);
            let next = rows.last().map(|r| URL_SAFE_NO_PAD.encode(key(r)));
            (rows, next)
        } else {
            (rows, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_are_bounded() {
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 50);
        assert_eq!(PageRequest::parse(Some(500), None).unwrap().limit, 500);
        assert_eq!(
            PageRequest::parse(Some(501), None).unwrap_err().field,
            "limit"
        );
        assert_eq!(
            PageRequest::parse(Some(0), None).unwrap_err().field,
            "limit"
        );
        assert_eq!(
            PageRequest::parse(None, Some("z")).unwrap_err().field,
            "cursor"
        );
    }

    #[test]
    fn finish_returns_a_cursor_only_when_more_rows_exist() {
        let page = PageRequest::parse(Some(2), None).unwrap();
        let (rows, next) = page.finish(vec!["a", "b", "c"], |s| s);
        let next = next.unwrap();
        assert_eq!(rows, vec!["a", "b"]);
        let again = PageRequest::parse(Some(2), Some(&next)).unwrap();
        assert_eq!(again.after.as_deref(), Some("b"));
        let (rows, next) = page.finish(vec!["a", "b"], |s| s);
        assert_eq!((rows, next), (vec!["a", "b"], None));
    }
}
