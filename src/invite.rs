//! Issuing invitations: suppression and throttle checks, the invitation with its properties,
//! the email outbox row and the idempotency record, all in one write transaction.

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;

use crate::db::invitations::{self, status, NewInvitation};
use crate::db::{self, idempotency, outbox, suppressions, surveys, to_stored, AnyConnection};
use crate::domain::email::EmailAddress;
use crate::domain::properties::Properties;
use crate::domain::secret::{IdempotencyKey, ServerKey, SurveyToken};
use crate::domain::throttle::Throttle;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::links::Links;
use crate::views::{kind_and_scale, InvitationView, RatingUrl};

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
    pub email: Option<EmailAddress>,
    /// Recipient name.
    pub name: Option<String>,
    /// The caller's id for the recipient.
    pub external_id: Option<String>,
    /// Free-form properties.
    pub properties: Properties,
    /// When the link stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// For email: when to send (`None` = now).
    pub send_at: Option<DateTime<Utc>>,
}

/// An `Idempotency-Key` and the fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The client's key.
    pub key: IdempotencyKey,
    /// Hash of the request target and canonical body.
    pub request_hash: String,
}

/// What issuing needs from the server besides the database.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// Builds the links.
    pub links: Links,
    /// Domain for Message-IDs.
    pub message_domain: String,
    /// Derives tokens that must be rebuilt later, and keys idempotency hashes.
    pub server_key: ServerKey,
}

/// The answer to an invitation request.
#[derive(Debug)]
pub struct Created {
    /// 201 for an issued invitation, 200 for a suppressed one (or the replay of either).
    pub status: u16,
    /// What to serve.
    pub view: InvitationView,
    /// Whether an email was queued, so the worker can be woken.
    pub queued_email: bool,
}

/// Creates an invitation for survey `survey_id` in `workspace_id`, or replays the first
/// answer given under the same idempotency key.
pub fn create(
    conn: &mut AnyConnection,
    workspace_id: &str,
    survey_id: &str,
    req: &InvitationRequest,
    idem: Option<&Idempotency>,
    issuer: &Issuer,
) -> Result<Created, ApiError> {
    let Issuer {
        links,
        message_domain,
        server_key,
    } = issuer;
    db::write_transaction(conn, |conn| {
        if let Some(idem) = idem {
            let key_hash = server_key.idempotency_hash(workspace_id, &idem.key);
            db::lock_key(conn, &format!("idempotency:{workspace_id}:{key_hash}"))?;
            if let Some(first) = idempotency::find(conn, workspace_id, &key_hash)? {
                return replay(conn, first, idem, workspace_id, links, server_key);
            }
        }
        let survey = surveys::find(conn, workspace_id, survey_id)?;
        let (_, scale) = kind_and_scale(&survey)?;
        let now = db::now();
        let id = Uuid::now_v7().to_string();
        // A token that must be rebuilt later (by the email worker, or for a replayed request)
        // is derived from the id with the server key; any other is plain random. Neither is stored.
        let token = if req.channel == Channel::Email || idem.is_some() {
            server_key.derive_token(&id)
        } else {
            SurveyToken::generate()
        };
        let suppressed = match (&req.channel, &req.email) {
            (Channel::Email, Some(email)) => {
                check_recipient(conn, workspace_id, email, &survey, now)?
            }
            _ => None,
        };
        let hash = token.hash();
        let recipient_key = req.email.as_ref().map(EmailAddress::key);
        let (initial, reason, eligible_at) = match &suppressed {
            Some((reason, eligible_at)) => (status::SUPPRESSED, Some(*reason), *eligible_at),
            None if req.channel == Channel::Email => (status::QUEUED, None, None),
            None => (status::SENT, None, None),
        };
        let send_at = match req.channel {
            Channel::Email => Some(req.send_at.map(to_stored).unwrap_or(now).max(now)),
            Channel::Link => None,
        };
        let invitation = invitations::insert(
            conn,
            &NewInvitation {
                id: &id,
                workspace_id,
                survey_id: &survey.id,
                token_hash: &hash,
                channel: req.channel.as_str(),
                status: initial,
                recipient_email: req.email.as_ref().map(EmailAddress::as_str),
                recipient_name: req.name.as_deref(),
                recipient_external_id: req.external_id.as_deref(),
                expires_at: req.expires_at.map(to_stored),
                created_at: now,
                recipient_key: recipient_key.as_deref(),
                status_reason: reason,
                eligible_at,
                send_at,
            },
            &req.properties,
        )?;
        let queued_email = suppressed.is_none() && req.channel == Channel::Email;
        if queued_email {
            outbox::enqueue(conn, &id, send_at.unwrap_or(now), now, message_domain)?;
        }
        // A suppressed invitation gets no links: nobody is meant to answer it.
        let issued_token = suppressed.is_none().then_some(&token);
        let status = if suppressed.is_some() { 200 } else { 201 };
        let view = InvitationView::from_row(invitation, req.properties.clone().into_map());
        if let Some(idem) = idem {
            let record = idempotency::Record {
                request_hash: idem.request_hash.clone(),
                status_code: i32::from(status),
                response_body: serde_json::to_string(&view).map_err(ApiError::internal)?,
            };
            let key_hash = server_key.idempotency_hash(workspace_id, &idem.key);
            idempotency::insert(conn, workspace_id, &key_hash, &record, now)?;
        }
        let view = match issued_token {
            Some(token) => with_links(view, token, scale.points(), links),
            None => view,
        };
        Ok(Created {
            status,
            view,
            queued_email,
        })
    })
}

/// Why an email to `email` must not be sent now: suppressed, or surveyed too recently.
fn check_recipient(
    conn: &mut AnyConnection,
    workspace_id: &str,
    email: &EmailAddress,
    survey: &surveys::Survey,
    now: NaiveDateTime,
) -> Result<Option<(&'static str, Option<NaiveDateTime>)>, ApiError> {
    let key = email.key();
    // Two requests for one recipient must not both pass the throttle.
    db::lock_key(conn, &format!("recipient:{workspace_id}:{key}"))?;
    if let Some(entry) = suppressions::find(conn, workspace_id, &key)? {
        let reason = suppressions::reason::ALL
            .into_iter()
            .find(|r| *r == entry.reason)
            .unwrap_or(suppressions::reason::MANUAL);
        return Ok(Some((reason, None)));
    }
    let throttle = Throttle::from_stored(survey.throttle_days);
    if let Some(since) = throttle.lookback_start(now) {
        if let Some(last) = invitations::last_issued_to(conn, workspace_id, &key, since)? {
            return Ok(Some(("throttled", Some(throttle.eligible_at(last)))));
        }
    }
    Ok(None)
}

fn replay(
    conn: &mut AnyConnection,
    first: idempotency::Record,
    idem: &Idempotency,
    workspace_id: &str,
    links: &Links,
    server_key: &ServerKey,
) -> Result<Created, ApiError> {
    if first.request_hash != idem.request_hash {
        return Err(Invalid::new(
            "Idempotency-Key",
            "was already used with a different request; use a new key for a new request",
        )
        .into());
    }
    let mut view: InvitationView =
        serde_json::from_str(&first.response_body).map_err(ApiError::internal)?;
    // An issued invitation's links are rebuilt from its id; a suppressed one had none.
    if first.status_code == 201 {
        let survey = surveys::find(conn, workspace_id, &view.survey_id)?;
        let (_, scale) = kind_and_scale(&survey)?;
        let token = server_key.derive_token(&view.id);
        view = with_links(view, &token, scale.points(), links);
    }
    Ok(Created {
        status: u16::try_from(first.status_code).unwrap_or(200),
        view,
        queued_email: false,
    })
}

/// Adds the page and one-click links for `token` to a view.
fn with_links(
    mut view: InvitationView,
    token: &SurveyToken,
    points: impl Iterator<Item = i32>,
    links: &Links,
) -> InvitationView {
    let token = token.as_str();
    view.url = Some(links.survey(token));
    view.rating_urls = Some(
        points
            .map(|score| RatingUrl {
                score,
                url: links.rating(token, score),
            })
            .collect(),
    );
    view
}

/// Fingerprints a request for idempotency: the survey it targets and its canonical JSON body.
pub fn fingerprint(survey_id: &str, body: &serde_json::Value) -> String {
    crate::domain::secret::sha256_hex(&format!("{survey_id}\n{body}"))
}
