//! Invitation rows (one per tokenised link) and their queryable properties.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{invitation_properties, invitations, surveys};
use super::surveys::Survey;
use super::AnyConnection;
use super::{DbError, DbResult};
use crate::domain::ids::{InvitationId, SurveyId, WorkspaceId};
use crate::domain::properties::Properties;

/// Invitation status names, as stored and served.
pub mod status {
    /// Waiting to be emailed.
    pub const QUEUED: &str = "queued";
    /// Delivered (email accepted by SMTP, or link handed to the caller).
    pub const SENT: &str = "sent";
    /// Answered.
    pub const RESPONDED: &str = "responded";
    /// Delivery gave up.
    pub const FAILED: &str = "failed";
    /// Not sent: throttled or unsubscribed.
    pub const SUPPRESSED: &str = "suppressed";
    /// Statuses that do not count as issued in response rates.
    pub const NOT_ISSUED: [&str; 2] = [FAILED, SUPPRESSED];
}

/// A stored invitation.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    /// Its id.
    #[diesel(deserialize_as = String)]
    pub id: InvitationId,
    /// The owning workspace.
    #[diesel(deserialize_as = String)]
    pub workspace_id: WorkspaceId,
    /// The survey it asks.
    #[diesel(deserialize_as = String)]
    pub survey_id: SurveyId,
    /// SHA-256 of the link token.
    pub token_hash: String,
    /// `link` or `email`.
    pub channel: String,
    /// See [`status`].
    pub status: String,
    /// Recipient's email address.
    pub recipient_email: Option<String>,
    /// Recipient's name.
    pub recipient_name: Option<String>,
    /// The caller's id for the recipient.
    pub recipient_external_id: Option<String>,
    /// After this the link answers 410.
    pub expires_at: Option<NaiveDateTime>,
    /// Creation time; stats windows select on it.
    pub created_at: NaiveDateTime,
    /// Lower-cased recipient address, for throttle and suppression look-ups.
    pub recipient_key: Option<String>,
    /// Why the status is what it is (`throttled`, `unsubscribed`, `bounced`, …).
    pub status_reason: Option<String>,
    /// For a throttled invitation: when the recipient may be surveyed again.
    pub eligible_at: Option<NaiveDateTime>,
    /// For email: when it is due to be sent.
    pub send_at: Option<NaiveDateTime>,
    /// For email: when the SMTP server accepted it.
    pub sent_at: Option<NaiveDateTime>,
    /// For email: the last delivery error.
    pub last_error: Option<String>,
    /// For email: SHA-256 of the unsubscribe token (bound to that purpose, unlike the
    /// survey token).
    pub unsubscribe_hash: Option<String>,
    /// When its page was first opened by a browser not known as a scanner, or it was answered.
    pub opened_at: Option<NaiveDateTime>,
}

impl Invitation {
    /// Whether it counts as issued (it was not failed or suppressed).
    pub fn is_issued(&self) -> bool {
        !status::NOT_ISSUED.contains(&self.status.as_str())
    }
}

/// An invitation to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = invitations)]
pub struct NewInvitation<'a> {
    /// Its id.
    pub id: &'a str,
    /// The owning workspace.
    pub workspace_id: &'a str,
    /// The survey.
    pub survey_id: &'a str,
    /// Hash of the token.
    pub token_hash: &'a str,
    /// Channel name.
    pub channel: &'a str,
    /// Initial status.
    pub status: &'a str,
    /// Recipient email.
    pub recipient_email: Option<&'a str>,
    /// Recipient name.
    pub recipient_name: Option<&'a str>,
    /// Recipient external id.
    pub recipient_external_id: Option<&'a str>,
    /// Expiry.
    pub expires_at: Option<NaiveDateTime>,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Lower-cased recipient address.
    pub recipient_key: Option<&'a str>,
    /// Reason for the initial status.
    pub status_reason: Option<&'a str>,
    /// When a throttled recipient becomes eligible.
    pub eligible_at: Option<NaiveDateTime>,
    /// When an email is due.
    pub send_at: Option<NaiveDateTime>,
    /// Hash of the unsubscribe token (email only).
    pub unsubscribe_hash: Option<&'a str>,
}

/// Inserts an invitation and its properties; call inside a write transaction.
pub fn insert(
    conn: &mut AnyConnection,
    new: &NewInvitation<'_>,
    properties: &Properties,
) -> DbResult<Invitation> {
    {
        diesel::insert_into(invitations::table)
            .values(new)
            .execute(conn)?;
        // One row at a time: multi-row VALUES does not compile through MultiConnection,
        // and Properties bounds the count.
        for (key, value) in properties.iter() {
            diesel::insert_into(invitation_properties::table)
                .values((
                    invitation_properties::invitation_id.eq(new.id),
                    invitation_properties::key.eq(key),
                    invitation_properties::value.eq(value),
                ))
                .execute(conn)?;
        }
        Ok(invitations::table
            .find(new.id)
            .select(Invitation::as_select())
            .first(conn)?)
    }
}

/// The invitation `id` if it belongs to `workspace_id`.
pub fn find(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    id: &InvitationId,
) -> DbResult<Invitation> {
    invitations::table
        .filter(invitations::workspace_id.eq(workspace_id.as_str()))
        .filter(invitations::id.eq(id.as_str()))
        .select(Invitation::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("invitation"))
}

/// The invitations `ids` with their surveys, by id, whatever the workspace (for the email
/// worker: at most one outbox claim of them).
pub fn with_surveys(
    conn: &mut AnyConnection,
    ids: &[&InvitationId],
) -> DbResult<HashMap<InvitationId, (Invitation, Survey)>> {
    let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    let found: Vec<(Invitation, Survey)> = invitations::table
        .inner_join(surveys::table)
        .filter(invitations::id.eq_any(ids))
        .select((Invitation::as_select(), Survey::as_select()))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(invitation, survey)| (invitation.id.clone(), (invitation, survey)))
        .collect())
}

/// The latest issued invitation to `recipient_key` in the workspace created at or after
/// `since`: what the throttle counts. Invitations of anonymous surveys do not count: an
/// answer cuts their address key, so counting them would make the throttle say who has
/// just answered. Nor do the widget's: the address is whatever the page says, so anyone
/// with a survey's public key could otherwise keep anybody from being surveyed.
pub fn last_issued_to(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    recipient_key: &str,
    since: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    invitations::table
        .filter(invitations::workspace_id.eq(workspace_id.as_str()))
        .filter(invitations::survey_id.ne_all(super::surveys::anonymous_of(workspace_id.as_str())))
        .filter(invitations::channel.ne("widget"))
        .filter(invitations::recipient_key.eq(recipient_key))
        .filter(invitations::created_at.ge(since))
        .filter(invitations::status.ne_all(status::NOT_ISSUED))
        .select(invitations::created_at)
        .order(invitations::created_at.desc())
        .first(conn)
        .optional()
}

/// The newest invitation of survey `survey_id` whose property `key` is `value` (the survey
/// already sent for a ticket). Not a widget's: a page may give its invitations any
/// properties, so anyone with a survey's public key could otherwise claim a ticket's survey.
pub fn latest_with_property(
    conn: &mut AnyConnection,
    survey_id: &SurveyId,
    key: &str,
    value: &str,
) -> DbResult<Option<Invitation>> {
    Ok(invitations::table
        .inner_join(invitation_properties::table)
        .filter(invitations::survey_id.eq(survey_id.as_str()))
        .filter(invitations::channel.ne("widget"))
        .filter(invitation_properties::key.eq(key))
        .filter(invitation_properties::value.eq(value))
        .order(invitations::id.desc())
        .select(Invitation::as_select())
        .first(conn)
        .optional()?)
}

/// The invitation with this token hash and its survey, if any.
pub fn find_by_token_hash(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> DbResult<Option<(Invitation, Survey)>> {
    Ok(invitations::table
        .inner_join(surveys::table)
        .filter(invitations::token_hash.eq(token_hash))
        .select((Invitation::as_select(), Survey::as_select()))
        .first(conn)
        .optional()?)
}

/// The invitations with these token hashes and their surveys, by token hash.
pub fn find_by_token_hashes(
    conn: &mut AnyConnection,
    hashes: &[&str],
) -> DbResult<HashMap<String, (Invitation, Survey)>> {
    let found: Vec<(Invitation, Survey)> = invitations::table
        .inner_join(surveys::table)
        .filter(invitations::token_hash.eq_any(hashes))
        .select((Invitation::as_select(), Survey::as_select()))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(invitation, survey)| (invitation.token_hash.clone(), (invitation, survey)))
        .collect())
}

/// The invitation whose unsubscribe token has this hash, if any.
pub fn find_by_unsubscribe_hash(
    conn: &mut AnyConnection,
    hash: &str,
) -> DbResult<Option<Invitation>> {
    Ok(invitations::table
        .filter(invitations::unsubscribe_hash.eq(hash))
        .select(Invitation::as_select())
        .first(conn)
        .optional()?)
}

/// The properties of each of `ids` (at most one page of invitations).
pub fn properties_of(
    conn: &mut AnyConnection,
    ids: &[&InvitationId],
) -> DbResult<HashMap<InvitationId, BTreeMap<String, String>>> {
    let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    let rows: Vec<(String, String, String)> = invitation_properties::table
        .filter(invitation_properties::invitation_id.eq_any(ids))
        .select((
            invitation_properties::invitation_id,
            invitation_properties::key,
            invitation_properties::value,
        ))
        .load(conn)?;
    let mut map: HashMap<InvitationId, BTreeMap<String, String>> = HashMap::new();
    for (id, key, value) in rows {
        map.entry(InvitationId::from(id))
            .or_default()
            .insert(key, value);
    }
    Ok(map)
}

/// Cuts invitation `id` from its person: see [`cut_identities`].
pub fn cut_identity(conn: &mut AnyConnection, id: &InvitationId) -> DbResult<()> {
    cut_identities(conn, &[id.as_str()]).map(drop)
}

/// Cuts invitations `ids` from their people: address, name, external id and address key are
/// cleared, and the last send error of the invitation and its emails (an SMTP server's
/// answer often quotes the address); their properties, the groups they count in, stay.
/// Returns how many invitations were updated. Call inside a write transaction.
pub fn cut_identities<S: AsRef<str>>(conn: &mut AnyConnection, ids: &[S]) -> DbResult<usize> {
    use super::schema::outbox;
    let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
    let cut = diesel::update(invitations::table.filter(invitations::id.eq_any(&ids)))
        .set((
            invitations::recipient_email.eq(None::<String>),
            invitations::recipient_name.eq(None::<String>),
            invitations::recipient_external_id.eq(None::<String>),
            invitations::recipient_key.eq(None::<String>),
            invitations::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    diesel::update(
        outbox::table
            .filter(outbox::invitation_id.eq_any(&ids))
            .filter(outbox::last_error.is_not_null()),
    )
    .set(outbox::last_error.eq(None::<String>))
    .execute(conn)?;
    Ok(cut)
}

/// The properties of one invitation.
pub fn properties_of_one(
    conn: &mut AnyConnection,
    id: &InvitationId,
) -> DbResult<BTreeMap<String, String>> {
    Ok(properties_of(conn, &[id])?.remove(id).unwrap_or_default())
}

/// Most queued invitations of one recipient a cancellation touches at once.
const MAX_QUEUED_PER_RECIPIENT: i64 = 1_000;

/// The queued (not yet sent) email invitations of the recipient with `key` in `workspace`,
/// of one survey or of all.
pub fn queued_for(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    survey: Option<&SurveyId>,
    key: &str,
) -> DbResult<Vec<InvitationId>> {
    let mut query = invitations::table
        .filter(invitations::workspace_id.eq(workspace.as_str()))
        .filter(invitations::recipient_key.eq(key))
        .filter(invitations::status.eq(status::QUEUED))
        .select(invitations::id)
        .limit(MAX_QUEUED_PER_RECIPIENT)
        .into_boxed();
    if let Some(survey) = survey {
        query = query.filter(invitations::survey_id.eq(survey.as_str()));
    }
    Ok(query
        .load::<String>(conn)?
        .into_iter()
        .map(InvitationId::from)
        .collect())
}
