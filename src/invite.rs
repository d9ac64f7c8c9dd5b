//! Issuing invitations: draw a token, store only its hash with the invitation, build the links.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::invitations::{self, status, Invitation, NewInvitation};
use crate::db::surveys::Survey;
use crate::db::{now, to_stored, AnyConnection};
use crate::domain::kind::Scale;
use crate::domain::properties::Properties;
use crate::domain::secret::SurveyToken;
use crate::error::ApiError;
use crate::links::Links;
use crate::views::{InvitationView, RatingUrl};

/// How an invitation reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The caller gets the links and delivers them itself.
    Link,
    /// Scorekeeper emails the recipient.
    Email,
}

impl Channel {
    /// The API and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::Email => "email",
        }
    }
}

/// A validated request for an invitation.
#[derive(Debug, Clone)]
pub struct InvitationRequest {
    /// Delivery channel.
    pub channel: Channel,
    /// Recipient email (required for the email channel).
    pub email: Option<String>,
    /// Recipient name.
    pub name: Option<String>,
    /// The caller's id for the recipient.
    pub external_id: Option<String>,
    /// Free-form properties.
    pub properties: Properties,
    /// When the link stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored invitation with the one-time token its links carry.
#[derive(Debug)]
pub struct Issued {
    /// The stored row.
    pub invitation: Invitation,
    /// The token; not stored, so this is the only chance to build its links.
    pub token: SurveyToken,
}

/// Stores an invitation for `survey` in the survey's workspace.
pub fn issue(
    conn: &mut AnyConnection,
    survey: &Survey,
    req: &InvitationRequest,
) -> Result<Issued, ApiError> {
    let token = SurveyToken::generate();
    let id = Uuid::now_v7().to_string();
    let initial = match req.channel {
        Channel::Link => status::SENT,
        Channel::Email => status::QUEUED,
    };
    let hash = token.hash();
    let new = NewInvitation {
        id: &id,
        workspace_id: &survey.workspace_id,
        survey_id: &survey.id,
        token_hash: &hash,
        channel: req.channel.as_str(),
        status: initial,
        recipient_email: req.email.as_deref(),
        recipient_name: req.name.as_deref(),
        recipient_external_id: req.external_id.as_deref(),
        expires_at: req.expires_at.map(to_stored),
        created_at: now(),
    };
    let invitation = invitations::insert(conn, &new, &req.properties)?;
    Ok(Issued { invitation, token })
}

/// The view of a just-issued invitation, with its page and one-click links.
pub fn view(issued: Issued, scale: Scale, properties: Properties, links: &Links) -> InvitationView {
    let token = issued.token.as_str().to_owned();
    let mut view = InvitationView::from_row(issued.invitation, properties.into_map());
    view.url = Some(links.survey(&token));
    view.rating_urls = Some(
        scale
            .points()
            .map(|score| RatingUrl {
                score,
                url: links.rating(&token, score),
            })
            .collect(),
    );
    view
}
