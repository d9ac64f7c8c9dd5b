//! The embeddable widget: its script, and the service behind its two public calls. An
//! *impression* shows a survey to a visitor: it resumes the invitation a host page was given
//! (token mode) or creates one for an anonymous visitor (public-key mode, after sampling), and
//! counts as the invitation's delivery and opening. An *answer* then follows the same rules as
//! the survey page's. Origins are checked by the route, before anything here runs.

pub mod script;
pub mod view;

use crate::db::responses::{self, Response};
use crate::db::surveys::Survey;
use crate::db::{self, AnyConnection};
use crate::domain::email::EmailAddress;
use crate::domain::locale::Locale;
use crate::domain::properties::Properties;
use crate::domain::widget::sampled;
use crate::error::ApiError;
use crate::invite::{self, Channel, InvitationRequest, Issuer, Outcome};
use crate::respond;

/// Who the visitor is, as far as the host page says.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    /// The host's id for them.
    pub id: Option<String>,
    /// Their email address.
    pub email: Option<EmailAddress>,
    /// Their name.
    pub name: Option<String>,
}

/// A validated impression request.
#[derive(Debug, Clone)]
pub struct ImpressionRequest {
    /// Token mode: the invitation the host page was given.
    pub token: Option<String>,
    /// The visitor.
    pub visitor: Visitor,
    /// Properties the host page attaches (agent, page, …).
    pub properties: Properties,
    /// The visitor's language, when supported; otherwise the survey's.
    pub locale: Option<Locale>,
}

/// What an impression comes to.
#[derive(Debug)]
pub enum Impression {
    /// Show the survey: the token to answer with, and any answer already given.
    Shown {
        /// The link token (shown once to this page; only its hash is stored).
        token: String,
        /// The answer already recorded for it.
        answer: Option<Box<Response>>,
    },
    /// This visitor is not in the survey's sample: show nothing (and remember not to ask
    /// again for the survey's `once_per_days`).
    SampledOut,
}

/// Runs an impression of `survey`.
pub fn impression(
    conn: &mut AnyConnection,
    survey: &Survey,
    req: &ImpressionRequest,
    issuer: &Issuer,
) -> Result<Impression, ApiError> {
    if let Some(token) = &req.token {
        let (invitation, of_survey) = respond::find_live(conn, token)?;
        if of_survey.id != survey.id {
            return Err(ApiError::NotFound("survey link"));
        }
        respond::record_open(conn, &invitation)?;
        let answer = responses::for_invitation(conn, &invitation.id)?.map(Box::new);
        return Ok(Impression::Shown {
            token: token.clone(),
            answer,
        });
    }
    if !sampled(survey.widget_sample_percent) {
        return Ok(Impression::SampledOut);
    }
    let request = InvitationRequest {
        channel: Channel::Widget,
        email: req.visitor.email.clone(),
        name: req.visitor.name.clone(),
        external_id: req.visitor.id.clone(),
        properties: req.properties.clone(),
        expires_at: None,
        send_at: None,
        throttled: true,
        issued_at: None,
    };
    // The invitation and its being shown (delivered and opened) commit together.
    let token = db::write_transaction(conn, |conn| {
        let created = invite::create(
            conn,
            &survey.workspace_id,
            &survey.id,
            &request,
            None,
            issuer,
        )?;
        let (Outcome::Issued, Some(token)) = (created.outcome, created.token) else {
            return Err(ApiError::internal(anyhow::anyhow!(
                "a widget invitation was not issued"
            )));
        };
        db::funnel::mark_opened(conn, &created.invitation.id, db::now())?;
        Ok(token)
    })?;
    Ok(Impression::Shown {
        token: token.as_str().to_owned(),
        answer: None,
    })
}
