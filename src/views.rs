//! The JSON we serve. Rows (`db::*`) are turned into these; nothing else is serialised.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::from_stored;
use crate::db::invitations::{status, Invitation};
use crate::db::responses::{Event, Response};
use crate::db::surveys::Survey;
use crate::domain::kind::Scale;
use crate::domain::widget;

use crate::domain::secret::SurveyToken;
use crate::domain::throttle::Throttle;
use crate::error::ApiError;
use crate::links::Links;

/// A page of a list: `{"data": [...], "next_cursor": …}`.
#[derive(Debug, Serialize)]
pub struct ListView<T> {
    /// The items.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A scale as served: its name and range.
#[derive(Debug, Serialize)]
pub struct ScaleView {
    /// e.g. `"0-10"` or `"thumbs"`.
    pub name: &'static str,
    /// Lowest answer.
    pub min: i32,
    /// Highest answer.
    pub max: i32,
}

impl From<Scale> for ScaleView {
    fn from(s: Scale) -> Self {
        Self {
            name: s.as_str(),
            min: s.min(),
            max: s.max(),
        }
    }
}

/// A survey as served.
#[derive(Debug, Serialize)]
pub struct SurveyView {
    /// Its id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Scale.
    pub scale: ScaleView,
    /// The question.
    pub question: String,
    /// Prompt above the comment box.
    pub comment_prompt: Option<String>,
    /// Email subject template (`null` = the default for the kind).
    pub email_subject: Option<String>,
    /// Email intro-line template (`null` = the default).
    pub email_intro: Option<String>,
    /// Display name of the email sender.
    pub email_sender_name: Option<String>,
    /// Days before one recipient may be emailed again (0 = no limit).
    pub throttle_days: i32,
    /// Seconds between a ticket being solved and the trigger's survey email.
    pub send_delay_seconds: i32,
    /// The properties its stats rollups keep, for `group_by` and `filter`.
    pub segment_by: Vec<String>,
    /// The key the widget names it by (public; rotate with `rotate_public_key`).
    pub public_key: String,
    /// Origins allowed to embed the widget.
    pub allowed_origins: Vec<String>,
    /// The widget's display rules.
    pub widget: WidgetRulesView,
    /// `#rrggbb`.
    pub brand_color: String,
    /// The respondents' language.
    pub locale: String,
    /// Whether it is anonymous: its answers carry no identity, and no score over fewer than
    /// the workspace's `min_group_size` respondents is served.
    pub anonymous: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// When the widget shows itself.
#[derive(Debug, Serialize)]
pub struct WidgetRulesView {
    /// At most once per visitor in this many days (0 = every time).
    pub once_per_days: i32,
    /// Percent of visitors shown it.
    pub sample_percent: i32,
}

impl SurveyView {
    /// Maps a stored survey.
    pub fn from_row(s: Survey) -> Result<Self, ApiError> {
        let (_, scale) = s.kind_and_scale()?;
        let segment_by = s.segments().keys().to_vec();
        let allowed_origins = s.origins().iter().map(str::to_owned).collect();
        let locale = s.locale().as_str().to_owned();
        Ok(Self {
            id: s.id.into(),
            name: s.name,
            kind: s.kind,
            scale: scale.into(),
            question: s.question,
            comment_prompt: s.comment_prompt,
            email_subject: s.email_subject,
            email_intro: s.email_intro,
            email_sender_name: s.email_sender_name,
            throttle_days: Throttle::from_stored(s.throttle_days).days(),
            send_delay_seconds: s.send_delay_seconds,
            segment_by,
            public_key: s.public_key.unwrap_or_default(),
            allowed_origins,
            widget: WidgetRulesView {
                once_per_days: s.widget_once_per_days,
                sample_percent: s.widget_sample_percent,
            },
            brand_color: s
                .brand_color
                .unwrap_or_else(|| widget::DEFAULT_BRAND_COLOR.to_owned()),
            locale,
            anonymous: s.anonymous,
            created_at: from_stored(s.created_at),
        })
    }
}

/// Who an invitation is for.
#[derive(Debug, Serialize)]
pub struct RecipientView {
    /// Email address.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// The caller's id for them.
    pub external_id: Option<String>,
}

impl RecipientView {
    fn of(inv: &Invitation) -> Option<Self> {
        let any = inv.recipient_email.is_some()
            || inv.recipient_name.is_some()
            || inv.recipient_external_id.is_some();
        any.then(|| Self {
            email: inv.recipient_email.clone(),
            name: inv.recipient_name.clone(),
            external_id: inv.recipient_external_id.clone(),
        })
    }
}

/// One one-click link.
#[derive(Debug, Serialize)]
pub struct RatingUrl {
    /// The score it selects.
    pub score: i32,
    /// The link.
    pub url: String,
}

/// An invitation as served. Links appear only when it is created: the token is not stored.
#[derive(Debug, Serialize)]
pub struct InvitationView {
    /// Its id.
    pub id: String,
    /// The survey.
    pub survey_id: String,
    /// `link` or `email`.
    pub channel: String,
    /// `queued`, `sent`, `responded`, `failed` or `suppressed`.
    pub status: String,
    /// Why it is suppressed (`throttled`, `unsubscribed`, `bounced`, `manual`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a throttled invitation: when the recipient may be surveyed again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eligible_at: Option<DateTime<Utc>>,
    /// For email: when it is (or was) due to be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_at: Option<DateTime<Utc>>,
    /// For email: when the SMTP server accepted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// For email: the last delivery error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Recipient, if given.
    pub recipient: Option<RecipientView>,
    /// Free-form properties.
    pub properties: BTreeMap<String, String>,
    /// The survey page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// One link per scale point, in scale order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating_urls: Option<Vec<RatingUrl>>,
    /// When the link stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl InvitationView {
    /// Maps a stored invitation with its properties. An invitation of an `anonymous` survey
    /// shows no recipient, and an answered one shows as `sent`: its person is cut at the
    /// answer, so a listing polled now and then would otherwise say who just answered (and
    /// the stats polled beside it, how).
    pub fn from_row(
        inv: Invitation,
        properties: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Self {
        let recipient = if anonymous {
            None
        } else {
            RecipientView::of(&inv)
        };
        let status = if anonymous && inv.status == status::RESPONDED {
            status::SENT.to_owned()
        } else {
            inv.status
        };
        Self {
            recipient,
            id: inv.id.into(),
            survey_id: inv.survey_id.into(),
            channel: inv.channel,
            status,
            reason: inv.status_reason,
            eligible_at: inv.eligible_at.map(from_stored),
            send_at: inv.send_at.map(from_stored),
            sent_at: inv.sent_at.map(from_stored),
            // A failed reminder's error is only ever on an unanswered invitation.
            last_error: inv.last_error.filter(|_| !anonymous),
            properties,
            url: None,
            rating_urls: None,
            expires_at: inv.expires_at.map(from_stored),
            created_at: from_stored(inv.created_at),
        }
    }

    /// Adds the page and one-click links for `token` (shown only when it is issued).
    pub fn with_links(mut self, token: &SurveyToken, scale: Scale, links: &Links) -> Self {
        let token = token.as_str();
        self.url = Some(links.survey(token));
        self.rating_urls = Some(
            scale
                .points()
                .map(|score| RatingUrl {
                    score,
                    url: links.rating(token, score),
                })
                .collect(),
        );
        self
    }
}

/// A response as served.
#[derive(Debug, Serialize)]
pub struct ResponseView {
    /// Its id.
    pub id: String,
    /// The invitation answered (`null` for an anonymous survey).
    pub invitation_id: Option<String>,
    /// The survey.
    pub survey_id: String,
    /// The score.
    pub score: i32,
    /// The comment.
    pub comment: Option<String>,
    /// Whether it looks automated (and is left out of scores).
    pub suspect: bool,
    /// Why.
    pub suspect_reason: Option<String>,
    /// Recipient of the invitation.
    pub recipient: Option<RecipientView>,
    /// The invitation's properties.
    pub properties: BTreeMap<String, String>,
    /// When the invitation was created.
    pub invited_at: DateTime<Utc>,
    /// First answer.
    pub created_at: DateTime<Utc>,
    /// Latest change.
    pub updated_at: DateTime<Utc>,
}

impl ResponseView {
    /// Maps a stored response, its invitation and the invitation's properties.
    pub fn from_row(r: Response, inv: &Invitation, properties: BTreeMap<String, String>) -> Self {
        Self {
            id: r.id.into(),
            invitation_id: Some(r.invitation_id.into()),
            survey_id: r.survey_id.into(),
            score: r.score,
            comment: r.comment,
            suspect: r.suspect,
            suspect_reason: r.suspect_reason,
            recipient: RecipientView::of(inv),
            properties,
            invited_at: from_stored(inv.created_at),
            created_at: from_stored(r.created_at),
            updated_at: from_stored(r.updated_at),
        }
    }
}

impl ResponseView {
    /// An anonymous survey's response: no invitation, recipient or properties, dated to the
    /// month, and its comment only when `comments` (the survey holds enough of them).
    pub fn anonymous(r: Response, inv: &Invitation, comments: bool) -> Self {
        let month = |t| from_stored(crate::db::month_of(t));
        Self {
            id: r.id.into(),
            invitation_id: None,
            survey_id: r.survey_id.into(),
            score: r.score,
            comment: r.comment.filter(|_| comments),
            suspect: r.suspect,
            suspect_reason: r.suspect_reason,
            recipient: None,
            properties: BTreeMap::new(),
            invited_at: month(inv.created_at),
            created_at: month(r.created_at),
            updated_at: month(r.updated_at),
        }
    }
}

/// A response with its history of changes, as served by `GET /v1/responses/{id}`.
#[derive(Debug, Serialize)]
pub struct ResponseDetailView {
    /// The response, as in lists.
    #[serde(flatten)]
    pub response: ResponseView,
    /// Every change, oldest first.
    pub history: Vec<HistoryEntryView>,
}

/// One change of an answer.
#[derive(Debug, Serialize)]
pub struct HistoryEntryView {
    /// When.
    pub at: DateTime<Utc>,
    /// `created`, `score` or `comment`.
    pub change: String,
    /// The score after the change.
    pub score: i32,
    /// The comment after the change.
    pub comment: Option<String>,
}

impl From<Event> for HistoryEntryView {
    fn from(e: Event) -> Self {
        Self {
            at: from_stored(e.at),
            change: e.change,
            score: e.score,
            comment: e.comment,
        }
    }
}
