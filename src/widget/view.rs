//! What the widget receives: the survey as it is to be shown, in the visitor's language.

use serde::Serialize;

use crate::db::responses::Response;
use crate::db::surveys::Survey;
use crate::domain::kind::Scale;
use crate::domain::locale::{Locale, Strings};
use crate::domain::widget::DEFAULT_BRAND_COLOR;
use crate::error::ApiError;
use crate::views::ScaleView;

/// One button of the scale.
#[derive(Debug, Serialize)]
pub struct PointView {
    /// The score it records.
    pub score: i32,
    /// What the button shows.
    pub text: String,
    /// What the point means, for the button's accessible name.
    pub label: Option<&'static str>,
}

/// The survey as the widget shows it.
#[derive(Debug, Serialize)]
pub struct DisplayView {
    /// `csat`, `nps`, `ces` or `esat`.
    pub kind: String,
    /// The scale.
    pub scale: ScaleView,
    /// The question.
    pub question: String,
    /// The prompt above the comment box.
    pub comment_prompt: String,
    /// One entry per scale point, lowest first.
    pub points: Vec<PointView>,
    /// Under the lowest point.
    pub low_label: Option<&'static str>,
    /// Under the highest point.
    pub high_label: Option<&'static str>,
    /// `#rrggbb`.
    pub brand_color: String,
}

/// An answer already given.
#[derive(Debug, Serialize)]
pub struct GivenView {
    /// Its score.
    pub score: i32,
    /// Its comment.
    pub comment: Option<String>,
}

/// `201` to an impression: show the survey.
#[derive(Debug, Serialize)]
pub struct ShownView {
    /// Always `true`.
    pub show: bool,
    /// The token to answer with.
    pub token: String,
    /// Days the widget keeps quiet for this visitor afterwards (0 = none).
    pub once_per_days: i32,
    /// The survey.
    pub survey: DisplayView,
    /// The widget's words.
    pub strings: Strings,
    /// The answer already given through this token, if any.
    pub answer: Option<GivenView>,
    /// The language used.
    pub locale: &'static str,
}

/// `200` to an impression: show nothing.
#[derive(Debug, Serialize)]
pub struct HiddenView {
    /// Always `false`.
    pub show: bool,
    /// Why (`sampled_out`).
    pub reason: &'static str,
    /// Days the widget keeps quiet for this visitor.
    pub once_per_days: i32,
}

impl ShownView {
    /// The view of `survey` for a visitor preferring `locale`, answering with `token`.
    pub fn new(
        survey: &Survey,
        locale: Option<Locale>,
        token: String,
        answer: Option<Box<Response>>,
    ) -> Result<Self, ApiError> {
        let (kind, scale) = survey.kind_and_scale()?;
        let locale = locale.unwrap_or_else(|| survey.locale());
        let strings = locale.strings();
        let label = |score: i32| scale.label(kind, score).map(|l| locale.label(l));
        let points = scale
            .points()
            .map(|score| PointView {
                score,
                text: match (scale, score) {
                    (Scale::Thumbs, 0) => "\u{1F44E}".to_owned(),
                    (Scale::Thumbs, _) => "\u{1F44D}".to_owned(),
                    _ => score.to_string(),
                },
                label: label(score),
            })
            .collect();
        Ok(Self {
            show: true,
            token,
            once_per_days: survey.widget_once_per_days,
            survey: DisplayView {
                kind: kind.as_str().to_owned(),
                scale: scale.into(),
                question: survey.question.clone(),
                comment_prompt: survey
                    .comment_prompt
                    .clone()
                    .unwrap_or_else(|| strings.comment_prompt.to_owned()),
                points,
                low_label: label(scale.min()),
                high_label: label(scale.max()),
                brand_color: survey
                    .brand_color
                    .clone()
                    .unwrap_or_else(|| DEFAULT_BRAND_COLOR.to_owned()),
            },
            strings,
            answer: answer.map(|r| GivenView {
                score: r.score,
                comment: r.comment,
            }),
            locale: locale.as_str(),
        })
    }
}
