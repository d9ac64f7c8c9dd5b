//! The properties a survey is segmented by: the ones its stats rollups keep, so that
//! `group_by` and `filter` on them are answered from rollups. A property unique per answer
//! (`ticket_id`) is not a dimension: rolling it up would write one row per answer for nothing.

use super::properties::check_key;
use super::Invalid;

/// Segments used when a survey names none.
pub const DEFAULT: [&str; 6] = [
    "agent",
    "team",
    "group",
    "channel",
    "department",
    "location",
];

/// Most segments one survey may keep (each costs a rollup write per answer).
pub const MAX_SEGMENTS: usize = 10;

/// A validated list of property names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentBy(Vec<String>);

impl SegmentBy {
    /// Validates a list given through the API.
    pub fn parse(raw: Vec<String>) -> Result<Self, Invalid> {
        if raw.len() > MAX_SEGMENTS {
            return Err(Invalid::new(
                "segment_by",
                format!("at most {MAX_SEGMENTS} properties"),
            ));
        }
        let mut keys = Vec::with_capacity(raw.len());
        for (i, key) in raw.into_iter().enumerate() {
            check_key(&format!("segment_by[{i}]"), &key)?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(Self(keys))
    }

    /// The default list.
    pub fn default_list() -> Self {
        Self(DEFAULT.iter().map(|s| (*s).to_owned()).collect())
    }

    /// Reads the stored form (`None` = the default).
    pub fn from_stored(stored: Option<&str>) -> Self {
        match stored {
            None => Self::default_list(),
            Some("") => Self(Vec::new()),
            Some(list) => Self(list.split(',').map(str::to_owned).collect()),
        }
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        self.0.join(",")
    }

    /// The property names, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether `key` is kept.
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|k| k == key)
    }

    /// The names.
    pub fn keys(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_validated_deduplicated_and_round_trip() {
        let s = SegmentBy::parse(vec!["agent".into(), "team".into(), "agent".into()]).unwrap();
        assert_eq!(s.keys(), ["agent", "team"]);
        assert_eq!(SegmentBy::from_stored(Some(&s.to_stored())), s);
        assert_eq!(SegmentBy::from_stored(None), SegmentBy::default_list());
        assert!(SegmentBy::from_stored(Some("")).keys().is_empty());
        let err = SegmentBy::parse(vec!["ok".into(), "bad key".into()]).unwrap_err();
        assert_eq!(err.field, "segment_by[1]");
    }
}
