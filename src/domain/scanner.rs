//! Telling people from machines: mail security scanners follow and even script-click
//! every link in an email, so answers that look automated are kept but flagged.

use chrono::{Duration, NaiveDateTime};

/// Different scores for one token closer together than this look like a bot clicking every link.
pub const RAPID_CHANGE_WINDOW: Duration = Duration::seconds(3);

/// Lower-case fragments of user agents sent by link scanners, previewers and scripted browsers.
/// Plain HTTP libraries are not listed: they run no page script, so an answer from one
/// was posted on purpose (an integration), and their GETs record nothing anyway.
const SCANNER_AGENTS: &[&str] = &[
    "headlesschrome",
    "phantomjs",
    "safelinks",
    "mimecast",
    "proofpoint",
    "barracuda",
    "bingpreview",
    "google-safety",
    "googleimageproxy",
    "symantec",
    "forcepoint",
    "trendmicro",
    "urldefense",
    "linkchecker",
    "slackbot",
    "facebookexternalhit",
    "twitterbot",
    "whatsapp",
    "bot/",
    "crawler",
    "spider",
];

/// Why an answer was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuspectReason {
    /// The user agent belongs to a known scanner or scripted client.
    ScannerAgent,
    /// Several different scores arrived for one link within [`RAPID_CHANGE_WINDOW`].
    RapidScoreChanges,
}

impl SuspectReason {
    /// The stored and served name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScannerAgent => "scanner_user_agent",
            Self::RapidScoreChanges => "rapid_score_changes",
        }
    }
}

/// The answer already recorded for a link, as far as suspicion cares.
#[derive(Debug, Clone, Copy)]
pub struct PreviousAnswer {
    /// Its score.
    pub score: i32,
    /// When its score last changed.
    pub score_changed_at: NaiveDateTime,
    /// Whether it was already judged automated.
    pub suspect: bool,
    /// Whether the page's script sent it on its own (rather than a click).
    pub auto: bool,
}

/// Judges one incoming answer (`auto` when the page's script sent it on its own).
/// Within the window, a changed score, or any repeat of an answer already flagged, is
/// suspect, except an explicit click that corrects the page's own automatic answer: that is
/// a person changing their mind. A later answer outside the window clears an earlier flag:
/// the scanner came first and the person second.
pub fn assess(
    user_agent: Option<&str>,
    previous: Option<PreviousAnswer>,
    score: i32,
    auto: bool,
    now: NaiveDateTime,
) -> Option<SuspectReason> {
    if user_agent.is_some_and(is_scanner_agent) {
        return Some(SuspectReason::ScannerAgent);
    }
    match previous {
        Some(p) if p.auto && !p.suspect && !auto => None,
        Some(p)
            if (p.score != score || p.suspect)
                && now - p.score_changed_at < RAPID_CHANGE_WINDOW =>
        {
            Some(SuspectReason::RapidScoreChanges)
        }
        _ => None,
    }
}

/// Whether `agent` names a known scanner or scripted client.
pub fn is_scanner_agent(agent: &str) -> bool {
    let agent = agent.to_ascii_lowercase();
    SCANNER_AGENTS.iter().any(|needle| agent.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn at(secs: i64) -> NaiveDateTime {
        DateTime::from_timestamp(1_700_000_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    const BROWSER: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

    #[test]
    fn a_person_in_a_browser_is_not_suspect() {
        assert_eq!(assess(Some(BROWSER), None, 9, true, at(0)), None);
    }

    #[test]
    fn headless_browsers_and_scanners_are_flagged() {
        let headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36";
        assert_eq!(
            assess(Some(headless), None, 9, false, at(0)),
            Some(SuspectReason::ScannerAgent)
        );
        assert!(is_scanner_agent(
            "Mozilla/5.0 (compatible; Barracuda Sentinel)"
        ));
        assert!(!is_scanner_agent(BROWSER));
        assert!(
            !is_scanner_agent("python-requests/2.32"),
            "an integration posting on purpose"
        );
    }

    #[test]
    fn different_scores_in_quick_succession_are_flagged_but_a_later_change_is_not() {
        let prev = PreviousAnswer {
            score: 0,
            score_changed_at: at(0),
            suspect: false,
            auto: true,
        };
        assert_eq!(
            assess(Some(BROWSER), Some(prev), 1, true, at(1)),
            Some(SuspectReason::RapidScoreChanges)
        );
        assert_eq!(
            assess(Some(BROWSER), Some(prev), 0, true, at(1)),
            None,
            "same score again is a double click"
        );
        assert_eq!(assess(Some(BROWSER), Some(prev), 7, true, at(60)), None);
    }

    #[test]
    fn a_click_that_corrects_the_pages_own_automatic_answer_is_a_person() {
        let prev = PreviousAnswer {
            score: 9,
            score_changed_at: at(0),
            suspect: false,
            auto: true,
        };
        assert_eq!(assess(Some(BROWSER), Some(prev), 3, false, at(1)), None);
        // Two automatic answers with different scores are a bot opening every link.
        assert_eq!(
            assess(Some(BROWSER), Some(prev), 3, true, at(1)),
            Some(SuspectReason::RapidScoreChanges)
        );
        // Two quick explicit answers are flagged too.
        let clicked = PreviousAnswer {
            auto: false,
            ..prev
        };
        assert_eq!(
            assess(Some(BROWSER), Some(clicked), 3, false, at(1)),
            Some(SuspectReason::RapidScoreChanges)
        );
    }

    #[test]
    fn repeating_a_flagged_score_inside_the_window_stays_flagged() {
        let prev = PreviousAnswer {
            score: 2,
            score_changed_at: at(0),
            suspect: true,
            auto: true,
        };
        assert_eq!(
            assess(Some(BROWSER), Some(prev), 2, true, at(1)),
            Some(SuspectReason::RapidScoreChanges)
        );
        assert_eq!(assess(Some(BROWSER), Some(prev), 2, true, at(30)), None);
    }
}
