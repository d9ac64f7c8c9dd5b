//! Rendering survey emails: per-survey subject and intro templates, the HTML and text parts,
//! and the lettre message with its unsubscribe headers.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, Message};
use minijinja::{context, Environment, Value};
use serde::Serialize;

use crate::db::invitations::Invitation;
use crate::db::surveys::Survey;
use crate::domain::kind::{Scale, SurveyKind};
use crate::domain::Invalid;
use crate::links::Links;

/// Instructions one survey template may run: plenty for substitutions and short loops,
/// far too few for a template written to stall the service.
const TEMPLATE_FUEL: u64 = 20_000;

/// An environment for survey-supplied templates, with bounded work.
fn user_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(TEMPLATE_FUEL));
    env
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        crate::templates::builtin_environment(&[
            ("email.html", include_str!("../../templates/email.html")),
            ("email.txt", include_str!("../../templates/email.txt")),
        ])
    })
}

/// Checks a survey's subject or intro template when the survey is saved, so a typo is a 422
/// then and not a failed email later.
pub fn check_template(field: &str, source: &str) -> Result<(), Invalid> {
    let sample = context! {
        recipient => context! { name => "Ana", email => "ana@example.com", external_id => "1" },
        properties => BTreeMap::<String, String>::new(),
        survey => context! { name => "Survey", question => "Question?" },
    };
    user_env()
        .render_str(source, sample)
        .map(drop)
        .map_err(|e| Invalid::new(field, format!("is not a valid template: {e}")))
}

/// The subject used when a survey sets none.
fn default_subject(kind: SurveyKind) -> &'static str {
    match kind {
        SurveyKind::Nps => "Would you recommend us?",
        SurveyKind::Csat => "How did we do?",
        SurveyKind::Ces => "How easy was it?",
        SurveyKind::Esat => "How is work going?",
    }
}

const DEFAULT_INTRO: &str =
    "Hi{% if recipient.name %} {{ recipient.name }}{% endif %}, one quick question. It takes one click.";

/// One clickable answer in the email.
#[derive(Debug, Serialize)]
struct Cell {
    score: i32,
    url: String,
    label: String,
    symbol: Option<&'static str>,
}

/// A rendered email.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// The HTML part.
    pub html: String,
    /// The plain-text part.
    pub text: String,
    /// The one-click unsubscribe link.
    pub unsubscribe_url: String,
}

/// Renders the email for `invitation` of `survey`, whose link token is `token` and whose
/// unsubscribe link carries the separate `unsubscribe_token`.
pub fn render(
    survey: &Survey,
    invitation: &Invitation,
    properties: &BTreeMap<String, String>,
    token: &str,
    unsubscribe_token: &str,
    links: &Links,
) -> anyhow::Result<Rendered> {
    let (kind, scale) = survey.kind_and_scale()?;
    // Properties are reachable as `properties.x` and, for short templates, as plain `x`;
    // the reserved names win over a property of the same name.
    let mut vars: BTreeMap<String, Value> = properties
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.clone())))
        .collect();
    vars.insert(
        "recipient".into(),
        Value::from_serialize(context! {
            name => invitation.recipient_name,
            email => invitation.recipient_email,
            external_id => invitation.recipient_external_id,
        }),
    );
    vars.insert("properties".into(), Value::from_serialize(properties));
    vars.insert(
        "survey".into(),
        Value::from_serialize(context! { name => survey.name, question => survey.question }),
    );
    let plain = user_env();
    let subject_src = survey
        .email_subject
        .as_deref()
        .unwrap_or(default_subject(kind));
    let subject = one_line(&plain.render_str(subject_src, &vars)?);
    let intro = plain.render_str(
        survey.email_intro.as_deref().unwrap_or(DEFAULT_INTRO),
        &vars,
    )?;

    let cells: Vec<Cell> = scale
        .points()
        .map(|score| Cell {
            score,
            url: links.rating(token, score),
            label: scale
                .label(kind, score)
                .map(str::to_owned)
                .unwrap_or_else(|| score.to_string()),
            symbol: symbol(kind, scale, score),
        })
        .collect();
    let style = match (kind, scale) {
        (_, Scale::Thumbs) => "thumbs",
        (SurveyKind::Csat, _) => "faces",
        (SurveyKind::Nps, _) => "boxes",
        (SurveyKind::Ces, _) => "agreement",
        (SurveyKind::Esat, _) => "points",
    };
    let unsubscribe_url = links.unsubscribe(unsubscribe_token);
    // The templates put links in `href` unescaped (`|safe`): we build them ourselves from a
    // parsed PUBLIC_URL and a base64url token, and escaping `/` as `&#x2f;` confuses the link
    // checkers and click trackers that read raw HTML.
    debug_assert!(!unsubscribe_url.contains(['"', '<', '>']));
    let ctx = context! {
        subject => subject,
        intro => intro.trim(),
        question => survey.question,
        cells => cells,
        style => style,
        low_label => scale.label(kind, scale.min()),
        high_label => scale.label(kind, scale.max()),
        survey_url => links.survey(token),
        unsubscribe_url => unsubscribe_url,
    };
    Ok(Rendered {
        html: env().get_template("email.html")?.render(&ctx)?,
        text: env().get_template("email.txt")?.render(&ctx)?,
        subject,
        unsubscribe_url,
    })
}

fn symbol(kind: SurveyKind, scale: Scale, score: i32) -> Option<&'static str> {
    match (kind, scale) {
        (_, Scale::Thumbs) => Some(if score == 0 { "\u{1F44E}" } else { "\u{1F44D}" }),
        (SurveyKind::Csat, Scale::OneToFive) => [
            "\u{1F61E}",
            "\u{1F641}",
            "\u{1F610}",
            "\u{1F642}",
            "\u{1F604}",
        ]
        .get((score - 1) as usize)
        .copied(),
        _ => None,
    }
}

/// Headers must not carry line breaks from a template.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Builds the multipart message with RFC 8058 one-click unsubscribe headers.
pub fn message(
    rendered: Rendered,
    from: &Address,
    sender_name: Option<&str>,
    to: &str,
    recipient_name: Option<&str>,
    message_id: &str,
) -> anyhow::Result<Message> {
    let to: Address = to.parse()?;
    let message = Message::builder()
        .from(Mailbox::new(sender_name.map(one_line), from.clone()))
        .to(Mailbox::new(recipient_name.map(one_line), to))
        .subject(rendered.subject)
        .message_id(Some(message_id.to_owned()))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{}>", rendered.unsubscribe_url),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".to_owned(),
        ))
        .multipart(MultiPart::alternative_plain_html(
            rendered.text,
            rendered.html,
        ))?;
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_with_syntax_errors_are_refused_naming_the_field() {
        assert!(check_template("email_subject", "About ticket #{{ ticket_id }}").is_ok());
        assert_eq!(
            check_template("email_subject", "{{ oops")
                .unwrap_err()
                .field,
            "email_subject"
        );
    }

    #[test]
    fn a_template_that_would_run_away_is_refused() {
        let bomb =
            "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}";
        let err = check_template("email_subject", bomb).unwrap_err();
        assert_eq!(err.field, "email_subject");
    }

    #[test]
    fn header_text_is_kept_on_one_line() {
        assert_eq!(one_line("a\r\nBcc: x@y.z"), "a Bcc: x@y.z");
    }
}
