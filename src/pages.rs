//! Server-rendered HTML for respondents: the survey page and short message pages.
//! Templates are compiled into the binary; everything is inline (no external assets).

use std::sync::OnceLock;

use minijinja::{context, Environment};
use serde::Serialize;

use crate::domain::answer::MAX_COMMENT_CHARS;
use crate::domain::kind::{Scale, SurveyKind};
use crate::domain::locale::Locale;
use crate::templates::builtin_environment;

const CSS: &str = include_str!("../templates/base.css");

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        builtin_environment(&[
            ("answer.html", include_str!("../templates/answer.html")),
            ("message.html", include_str!("../templates/message.html")),
            (
                "unsubscribe.html",
                include_str!("../templates/unsubscribe.html"),
            ),
        ])
    })
}

/// One button on the scale.
#[derive(Debug, Serialize)]
struct Point {
    score: i32,
    text: String,
    label: Option<&'static str>,
    selected: bool,
}

/// What the survey page shows.
#[derive(Debug)]
pub struct AnswerPage<'a> {
    /// The link token (the form posts back to it).
    pub token: &'a str,
    /// Survey kind, for labels.
    pub kind: SurveyKind,
    /// Survey scale.
    pub scale: Scale,
    /// The question.
    pub question: &'a str,
    /// The prompt above the comment box.
    pub comment_prompt: Option<&'a str>,
    /// A valid score from a one-click link, not yet recorded.
    pub chosen: Option<i32>,
    /// The recorded answer, if any.
    pub answered: Option<i32>,
    /// The recorded comment, if any.
    pub comment: Option<&'a str>,
    /// The CSP nonce that lets the page's own script run.
    pub nonce: &'a str,
    /// The respondent's language (the survey's).
    pub locale: Locale,
}

/// Renders the survey page.
pub fn answer(page: &AnswerPage<'_>) -> Result<String, minijinja::Error> {
    let selected = page.chosen.or(page.answered);
    let text = |score: i32| match (page.scale, score) {
        (Scale::Thumbs, 0) => "\u{1F44E}".to_owned(),
        (Scale::Thumbs, _) => "\u{1F44D}".to_owned(),
        _ => score.to_string(),
    };
    let label = |score: i32| {
        page.scale
            .label(page.kind, score)
            .map(|l| page.locale.label(l))
    };
    let points: Vec<Point> = page
        .scale
        .points()
        .map(|score| Point {
            score,
            text: text(score),
            label: label(score),
            selected: selected == Some(score),
        })
        .collect();
    let thumbs = page.scale == Scale::Thumbs;
    let describe = |score: i32| match label(score) {
        Some(label) if thumbs => label.to_owned(),
        Some(label) => format!("{score} ({label})"),
        None => score.to_string(),
    };
    // Before any answer, a one-click score is sent once a person is seen. After one, a link
    // with another score only offers to change it: reopening an old email changes nothing.
    let auto_submit = page.chosen.filter(|_| page.answered.is_none());
    let change_to = page
        .chosen
        .filter(|c| page.answered.is_some_and(|a| a != *c));
    env().get_template("answer.html")?.render(context! {
        css => CSS,
        token => page.token,
        question => page.question,
        comment_prompt => page.comment_prompt.unwrap_or(page.locale.strings().comment_prompt),
        points => points,
        low_label => label(page.scale.min()),
        high_label => label(page.scale.max()),
        auto_submit => auto_submit,
        change_to => change_to,
        thumbs => thumbs,
        chosen_label => page.chosen.map(describe),
        answered => page.answered,
        answered_label => page.answered.map(describe),
        comment => page.comment,
        max_comment => MAX_COMMENT_CHARS,
        nonce => page.nonce,
        lang => page.locale.as_str(),
        t => page.locale.page(),
    })
}

/// Renders a short page with a title and one sentence (errors, confirmations).
pub fn message(title: &str, message: &str) -> String {
    env()
        .get_template("message.html")
        .and_then(|t| t.render(context! { css => CSS, title => title, message => message }))
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "message page failed to render");
            format!("{title}: {message}")
        })
}

/// Renders the unsubscribe page: a confirmation button, or the confirmation itself.
/// `email` is shown as given: pass it masked.
pub fn unsubscribe(token: &str, email: &str, done: bool) -> String {
    env()
        .get_template("unsubscribe.html")
        .and_then(|t| {
            t.render(context! { css => CSS, token => token, email => email, done => done })
        })
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "unsubscribe page failed to render");
            "Unsubscribe".to_owned()
        })
}
