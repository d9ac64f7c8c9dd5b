//! The score excluding accepted challenges: the same figures made without the answers whose
//! challenge a reviewer accepted, beside the raw score (which never changes).

use serde::Serialize;

use super::view::ScoreView;
use crate::domain::kind::{Scale, SurveyKind};
use crate::domain::stats::tally::Tally;

/// What `rule.challenges` says about the two scores.
pub const RULE: &str = "score counts every trusted answer; score_excluding_accepted_challenges \
                        leaves out the answers whose challenge a reviewer accepted";

/// The adjusted score of one cell, with its own interval and counts.
#[derive(Debug, Serialize)]
pub struct AdjustedView {
    /// Trusted answers still counted.
    pub responses: u64,
    /// Answers left out because a challenge of theirs was accepted.
    pub excluded_responses: u64,
    /// The score over `responses`, by the same rule as the raw one.
    #[serde(flatten)]
    pub score: ScoreView,
}

impl AdjustedView {
    /// Scores `tally` without its excluded answers.
    pub fn of(kind: SurveyKind, scale: Scale, tally: &Tally) -> Self {
        let distribution = tally.without_excluded().distribution(scale);
        Self {
            responses: distribution.total(),
            excluded_responses: u64::try_from(tally.excluded_responses()).unwrap_or(0),
            score: ScoreView::of(kind, &distribution),
        }
    }
}
