//! An answer to a survey link and the rules for applying it to what is already recorded.
//!
//! Semantics (also in the README and the spec):
//! - the first answer must carry a score; it creates the response;
//! - a later score replaces the score; a later comment replaces the comment; an empty
//!   comment clears it; a post that leaves `comment` out keeps it;
//! - every change is kept in the answer's history, with its time;
//! - the scanner verdict ([`scanner::assess`]) is taken again whenever a score arrives.

use chrono::NaiveDateTime;

use super::kind::Scale;
use super::scanner::{self, PreviousAnswer};
use super::score::Score;
use super::text;
use super::Invalid;

/// Longest comment accepted, in characters.
pub const MAX_COMMENT_CHARS: usize = 5_000;

/// Longest user agent kept, in characters.
const MAX_USER_AGENT_CHARS: usize = 512;

/// What a post does to the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentChange {
    /// No `comment` in the post: keep what is recorded.
    Keep,
    /// An empty comment: remove the recorded one.
    Clear,
    /// A new comment, trimmed.
    Set(String),
}

/// One validated answer as it arrives from the public page or a script.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The score, if the post carries one (a comment-only post may not).
    pub score: Option<Score>,
    /// What happens to the comment.
    pub comment: CommentChange,
    /// Whether the page's script sent the pre-chosen score on its own.
    pub auto: bool,
    /// The client's user agent (truncated), for scanner detection.
    pub user_agent: Option<String>,
}

impl Answer {
    /// Parses the raw parts of a post for a survey on `scale`. `score` is a JSON number or a
    /// numeric string (forms send text); `comment` is `None` when the post has none.
    pub fn parse(
        scale: Scale,
        score: Option<&serde_json::Value>,
        comment: Option<&str>,
        auto: bool,
        user_agent: Option<&str>,
    ) -> Result<Self, Invalid> {
        let score = score.map(|raw| parse_score(raw, scale)).transpose()?;
        let comment = match comment.map(str::trim) {
            None => CommentChange::Keep,
            Some("") => CommentChange::Clear,
            Some(text) => {
                text::check("comment", text)?;
                if text.chars().count() > MAX_COMMENT_CHARS {
                    return Err(Invalid::new(
                        "comment",
                        format!("must be at most {MAX_COMMENT_CHARS} characters"),
                    ));
                }
                CommentChange::Set(text.to_owned())
            }
        };
        if score.is_none() && comment == CommentChange::Keep {
            return Err(Invalid::new("score", "send a score, a comment, or both"));
        }
        // A user agent is not the caller's text to validate: keep what is printable.
        let user_agent = user_agent.map(|ua| {
            ua.chars()
                .filter(|c| text::is_allowed(*c))
                .take(MAX_USER_AGENT_CHARS)
                .collect()
        });
        Ok(Self {
            score,
            comment,
            auto,
            user_agent,
        })
    }
}

fn parse_score(raw: &serde_json::Value, scale: Scale) -> Result<Score, Invalid> {
    let number = match raw {
        serde_json::Value::Number(n) => super::score::whole(n),
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let number = number.ok_or_else(|| Invalid::new("score", "must be a whole number"))?;
    Score::new(scale, number)
}

/// The recorded answer, as far as applying a new one cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The score.
    pub score: i32,
    /// The comment.
    pub comment: Option<String>,
    /// Whether it looks automated.
    pub suspect: bool,
    /// Why.
    pub suspect_reason: Option<String>,
    /// Whether the page's script sent the score on its own.
    pub auto_sent: bool,
    /// When the score last changed.
    pub score_changed_at: NaiveDateTime,
}

/// What a change did, as kept in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The first answer.
    Created,
    /// The score changed.
    Score,
    /// The comment was added, replaced or cleared.
    Comment,
}

impl Change {
    /// The stored and served name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Score => "score",
            Self::Comment => "comment",
        }
    }
}

/// The result of applying an answer: the new state and the changes to keep in the history
/// (none when the post repeats what is recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The answer's state after the post.
    pub state: Recorded,
    /// What changed, in order.
    pub changes: Vec<Change>,
}

/// Applies `answer` at `now` to what is recorded (`None` before the first answer).
pub fn apply(
    recorded: Option<&Recorded>,
    answer: &Answer,
    now: NaiveDateTime,
) -> Result<Applied, Invalid> {
    let ua = answer.user_agent.as_deref();
    let Some(prev) = recorded else {
        let score = answer
            .score
            .ok_or_else(|| Invalid::new("score", "is required for the first answer"))?
            .value();
        let verdict = scanner::assess(ua, None, score, answer.auto, now);
        let comment = match &answer.comment {
            CommentChange::Set(text) => Some(text.clone()),
            CommentChange::Keep | CommentChange::Clear => None,
        };
        return Ok(Applied {
            state: Recorded {
                score,
                comment,
                suspect: verdict.is_some(),
                suspect_reason: verdict.map(|r| r.as_str().to_owned()),
                auto_sent: answer.auto,
                score_changed_at: now,
            },
            changes: vec![Change::Created],
        });
    };
    let mut state = prev.clone();
    let mut changes = Vec::new();
    if let Some(score) = answer.score.map(Score::value) {
        // A comment alone says nothing new about who is answering; a score does.
        let previous = PreviousAnswer {
            score: prev.score,
            score_changed_at: prev.score_changed_at,
            suspect: prev.suspect,
            auto: prev.auto_sent,
        };
        let verdict = scanner::assess(ua, Some(previous), score, answer.auto, now);
        state.suspect = verdict.is_some();
        state.suspect_reason = verdict.map(|r| r.as_str().to_owned());
        state.auto_sent = answer.auto;
        if score != prev.score {
            state.score = score;
            state.score_changed_at = now;
            changes.push(Change::Score);
        }
    }
    let comment = match &answer.comment {
        CommentChange::Keep => prev.comment.clone(),
        CommentChange::Clear => None,
        CommentChange::Set(text) => Some(text.clone()),
    };
    if comment != prev.comment {
        state.comment = comment;
        changes.push(Change::Comment);
    }
    Ok(Applied { state, changes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use serde_json::json;

    const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0";

    fn t0() -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc()
    }

    fn answer(score: Option<i64>, comment: Option<&str>) -> Answer {
        Answer::parse(
            Scale::ZeroToTen,
            score.map(|s| json!(s)).as_ref(),
            comment,
            false,
            Some(BROWSER),
        )
        .unwrap()
    }

    #[test]
    fn parsing_names_the_field_and_tells_keep_from_clear() {
        let err = Answer::parse(Scale::ZeroToTen, Some(&json!(11)), None, false, None);
        assert_eq!(err.unwrap_err().field, "score");
        let err = Answer::parse(Scale::ZeroToTen, None, None, false, None);
        assert_eq!(err.unwrap_err().field, "score");
        let err = Answer::parse(Scale::ZeroToTen, None, Some("a\u{0}"), false, None);
        assert_eq!(err.unwrap_err().field, "comment");
        let long = "x".repeat(MAX_COMMENT_CHARS + 1);
        let err = Answer::parse(Scale::ZeroToTen, None, Some(&long), false, None);
        assert_eq!(err.unwrap_err().field, "comment");
        assert_eq!(answer(None, Some("  ")).comment, CommentChange::Clear);
        assert_eq!(answer(Some(9), None).comment, CommentChange::Keep);
        assert_eq!(
            answer(None, Some(" kind ")).comment,
            CommentChange::Set("kind".into())
        );
        let ua = Answer::parse(
            Scale::ZeroToTen,
            Some(&json!("7")),
            None,
            false,
            Some("a\u{0}b"),
        );
        assert_eq!(ua.unwrap().user_agent.as_deref(), Some("ab"));
    }

    #[test]
    fn a_score_written_as_a_whole_float_is_that_score_and_a_fraction_is_refused() {
        let parse = |raw: serde_json::Value| {
            Answer::parse(Scale::ZeroToTen, Some(&raw), None, false, None).map(|a| a.score)
        };
        assert_eq!(parse(json!(9.0)).unwrap(), parse(json!(9)).unwrap());
        assert!(parse(json!(9.0)).unwrap().is_some());
        assert_eq!(parse(json!(9.5)).unwrap_err().field, "score");
        assert_eq!(parse(json!(1e300)).unwrap_err().field, "score");
    }

    #[test]
    fn the_first_answer_needs_a_score_and_is_recorded_as_created() {
        let err = apply(None, &answer(None, Some("hi")), t0()).unwrap_err();
        assert_eq!(err.field, "score");
        let first = apply(None, &answer(Some(9), Some("great")), t0()).unwrap();
        assert_eq!(first.changes, vec![Change::Created]);
        assert_eq!(first.state.score, 9);
        assert_eq!(first.state.comment.as_deref(), Some("great"));
        assert!(!first.state.suspect);
    }

    #[test]
    fn later_posts_replace_clear_or_keep_and_report_exactly_what_changed() {
        let first = apply(None, &answer(Some(9), Some("great")), t0())
            .unwrap()
            .state;
        let later = t0() + Duration::minutes(5);
        let same = apply(Some(&first), &answer(Some(9), None), later).unwrap();
        assert!(same.changes.is_empty(), "a repeat changes nothing");
        let both = apply(Some(&first), &answer(Some(3), Some("actually slow")), later).unwrap();
        assert_eq!(both.changes, vec![Change::Score, Change::Comment]);
        assert_eq!(both.state.score_changed_at, later);
        let cleared = apply(Some(&first), &answer(None, Some("")), later).unwrap();
        assert_eq!(cleared.changes, vec![Change::Comment]);
        assert_eq!(cleared.state.comment, None);
        assert_eq!(cleared.state.score, 9);
        assert_eq!(cleared.state.score_changed_at, t0());
    }

    #[test]
    fn a_different_score_within_seconds_is_suspect_and_a_comment_alone_keeps_the_verdict() {
        let first = apply(None, &answer(Some(9), None), t0()).unwrap().state;
        let soon = t0() + Duration::seconds(1);
        let flipped = apply(Some(&first), &answer(Some(0), None), soon)
            .unwrap()
            .state;
        assert!(flipped.suspect);
        let commented = apply(Some(&flipped), &answer(None, Some("hm")), soon).unwrap();
        assert!(commented.state.suspect, "a comment does not clear the flag");
    }
}
