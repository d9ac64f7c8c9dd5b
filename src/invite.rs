//! Issuing invitations: suppression and throttle checks, the invitation with its properties,
//! the email outbox row and the idempotency record, all in one write transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::db::invitations::{self, status, Invitation, NewInvitation};
use crate::db::{
    self, idempotency, outbox, rollups, suppressions, surveys, to_stored, AnyConnection,
};
use crate::domain::email::EmailAddress;
use crate::domain::ids::{InvitationId, SurveyId, WorkspaceId};
use crate::domain::kind::Scale;
use crate::domain::properties::Properties;
use crate::domain::secret::{IdempotencyKey, ServerKey, SurveyToken};
use crate::domain::stats::tally::Tally;
use crate::domain::throttle::Throttle;
use crate::error::ApiError;

/// How an invitation reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The caller gets the links and delivers them itself.
    Link,
    /// Scorekeeper emails the recipient.
    Email,
    /// Shown by the embeddable widget: delivered when it is shown (an impression).
    Widget,
}

impl Channel {
    /// The API and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::Email => "email",
            Self::Widget => "widget",
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
    /// Whether the survey's throttle applies: `false` only for a campaign's cycle, whose
    /// schedule is its throttle (suppressions always apply).
    pub throttled: bool,
    /// When it counts as issued, for its `created_at` and the stats' windows (`None` = now).
    /// A campaign's cycle gives every member its start, so no window of an anonymous survey
    /// can be cut between two members of one cycle.
    pub issued_at: Option<DateTime<Utc>>,
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
    /// Domain for Message-IDs.
    pub message_domain: String,
    /// Derives tokens that must be rebuilt later.
    pub server_key: ServerKey,
}

/// Whether the invitation went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Issued: it has links (and an email is queued for the email channel).
    Issued,
    /// Not sent: the recipient is suppressed or throttled; it has no links.
    Suppressed,
}

/// The result of an invitation request (or the replay of the first one).
#[derive(Debug)]
pub struct Created {
    /// Issued or suppressed.
    pub outcome: Outcome,
    /// The stored invitation.
    pub invitation: Invitation,
    /// Its properties.
    pub properties: BTreeMap<String, String>,
    /// The link token, for an issued invitation (never stored; shown once).
    pub token: Option<SurveyToken>,
    /// The survey's scale, for the one-click links.
    pub scale: Scale,
    /// Whether an email was queued just now, so the worker can be woken.
    pub queued_email: bool,
    /// Whether its survey is anonymous (see [`crate::views::InvitationView::from_row`]).
    pub anonymous: bool,
}

/// Creates an invitation for survey `survey_id` in `workspace_id`, or replays the first
/// outcome given under the same idempotency key.
pub fn create(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    survey_id: &SurveyId,
    req: &InvitationRequest,
    idem: Option<&Idempotency>,
    issuer: &Issuer,
) -> Result<Created, ApiError> {
    let Issuer {
        message_domain,
        server_key,
    } = issuer;
    db::write_transaction(conn, |conn| {
        let key_hash = idem.map(|idem| idem.key.hash(workspace_id.as_str()));
        if let (Some(idem), Some(key_hash)) = (idem, &key_hash) {
            db::lock_key(conn, &format!("idempotency:{workspace_id}:{key_hash}"))?;
            if let Some(first) = idempotency::find(conn, workspace_id, key_hash)? {
                return replay(conn, first, idem, workspace_id, server_key);
            }
        }
        // Its settings (anonymity, segments) held until the commit, then read.
        surveys::hold(conn, &[survey_id])?;
        let survey = surveys::find(conn, workspace_id, survey_id)?;
        let (_, scale) = survey.kind_and_scale()?;
        let now = db::now();
        let issued = req.issued_at.map_or(now, to_stored);
        let id = InvitationId::generate();
        // A token that must be rebuilt later (by the email worker, or for a replayed request)
        // is derived from the id with the server key; any other is plain random. Neither is stored.
        let token = if req.channel == Channel::Email || idem.is_some() {
            server_key.derive_token(id.as_str())
        } else {
            SurveyToken::generate()
        };
        let unsubscribe_hash = (req.channel == Channel::Email)
            .then(|| server_key.derive_unsubscribe_token(id.as_str()).hash());
        let suppressed = match (&req.channel, &req.email) {
            (Channel::Email, Some(email)) => {
                check_recipient(conn, workspace_id, email, &survey, req.throttled, now)?
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
            Channel::Link | Channel::Widget => None,
        };
        let invitation = invitations::insert(
            conn,
            &NewInvitation {
                id: id.as_str(),
                workspace_id: workspace_id.as_str(),
                survey_id: survey.id.as_str(),
                token_hash: &hash,
                channel: req.channel.as_str(),
                status: initial,
                recipient_email: req.email.as_ref().map(EmailAddress::as_str),
                recipient_name: req.name.as_deref(),
                recipient_external_id: req.external_id.as_deref(),
                expires_at: req.expires_at.map(to_stored),
                created_at: issued,
                recipient_key: recipient_key.as_deref(),
                status_reason: reason,
                eligible_at,
                send_at,
                unsubscribe_hash: unsubscribe_hash.as_deref(),
            },
            &req.properties,
        )?;
        let outcome = if suppressed.is_some() {
            Outcome::Suppressed
        } else {
            Outcome::Issued
        };
        let queued_email = outcome == Outcome::Issued && req.channel == Channel::Email;
        if queued_email {
            outbox::enqueue(conn, &id, send_at.unwrap_or(now), now, message_domain)?;
        }
        if let (Some(idem), Some(key_hash)) = (idem, &key_hash) {
            let record = idempotency::Record {
                request_hash: idem.request_hash.clone(),
                invitation_id: id.clone(),
                outcome: outcome.as_str().to_owned(),
            };
            idempotency::insert(conn, workspace_id, key_hash, &record, now)?;
        }
        // Last: the survey's current cells are shared by every invitation issued now, and their
        // row locks (Postgres) are held from here to the commit, so the less comes after, the
        // less concurrent issues wait on each other.
        if outcome == Outcome::Issued {
            let segments = survey.segments();
            let cell = rollups::Cell {
                survey_id: survey.id.clone(),
                at: issued,
                dims: req
                    .properties
                    .iter()
                    .filter(|(k, _)| segments.contains(k))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            };
            let facts = db::funnel::facts(req.channel.as_str(), initial, None, None);
            rollups::apply(conn, &cell, &Tally::of(&facts))?;
        }
        Ok(Created {
            outcome,
            invitation,
            properties: req.properties.clone().into_map(),
            // A suppressed invitation gets no links: nobody is meant to answer it.
            token: (outcome == Outcome::Issued).then_some(token),
            scale,
            queued_email,
            anonymous: survey.anonymous,
        })
    })
}

impl Outcome {
    /// The stored name (see `db::idempotency::outcome`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => idempotency::outcome::ISSUED,
            Self::Suppressed => idempotency::outcome::SUPPRESSED,
        }
    }
}

/// Why an email to `email` must not be sent now: suppressed, or surveyed too recently.
fn check_recipient(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    email: &EmailAddress,
    survey: &surveys::Survey,
    throttled: bool,
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
    if let Some(since) = throttle.lookback_start(now).filter(|_| throttled) {
        if let Some(last) = invitations::last_issued_to(conn, workspace_id, &key, since)? {
            return Ok(Some(("throttled", Some(throttle.eligible_at(last)))));
        }
    }
    Ok(None)
}

/// Rebuilds the first outcome under a key from the invitation it created. Its links are
/// derived again from the id, and checked against the stored hash: after a change of
/// `SECRET_KEY` they would be dead, so the replay answers 409 instead of serving them.
fn replay(
    conn: &mut AnyConnection,
    first: idempotency::Record,
    idem: &Idempotency,
    workspace_id: &WorkspaceId,
    server_key: &ServerKey,
) -> Result<Created, ApiError> {
    if first.request_hash != idem.request_hash {
        return Err(ApiError::Conflict(
            "this Idempotency-Key was already used with a different request; use a new key \
             for a new request"
                .into(),
        ));
    }
    let invitation = invitations::find(conn, workspace_id, &first.invitation_id)?;
    let properties = invitations::properties_of_one(conn, &invitation.id)?;
    let survey = surveys::find(conn, workspace_id, &invitation.survey_id)?;
    let (_, scale) = survey.kind_and_scale()?;
    let outcome = if first.outcome == idempotency::outcome::SUPPRESSED {
        Outcome::Suppressed
    } else {
        Outcome::Issued
    };
    let token = match outcome {
        Outcome::Suppressed => None,
        Outcome::Issued => {
            let token = server_key.derive_token(invitation.id.as_str());
            if token.hash() != invitation.token_hash {
                return Err(ApiError::Conflict(
                    "this Idempotency-Key's invitation was issued under a different SECRET_KEY, \
                     so its links cannot be shown again; send the request with a new key"
                        .into(),
                ));
            }
            Some(token)
        }
    };
    Ok(Created {
        outcome,
        invitation,
        properties,
        token,
        scale,
        queued_email: false,
        anonymous: survey.anonymous,
    })
}

/// Fingerprints a request for idempotency: the survey it targets and its canonical JSON body.
pub fn fingerprint(survey_id: &SurveyId, body: &serde_json::Value) -> String {
    crate::domain::secret::sha256_hex(&format!("{survey_id}\n{body}"))
}
