//! Unsubscribing through the link in a sent email. The link carries an unsubscribe token,
//! bound to that purpose and derived from the invitation id with the server key, so a survey
//! link (forwarded, shared, or of a link-channel invitation) cannot unsubscribe anybody.

use crate::db::invitations::Invitation;
use crate::db::{self, suppressions, AnyConnection};
use crate::domain::email;
use crate::domain::secret::SurveyToken;
use crate::error::ApiError;

/// Whom an unsubscribe link belongs to.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// The invitation whose email carried the link.
    pub invitation: Invitation,
    /// The lower-cased address, as the suppression list keys it.
    pub key: String,
    /// The address masked for display (`a***@example.com`).
    pub masked: String,
}

/// The recipient of the sent email whose unsubscribe link carries `token`; anything else → 404.
pub fn find(conn: &mut AnyConnection, token: &str) -> Result<Recipient, ApiError> {
    let not_found = || ApiError::NotFound("unsubscribe link");
    let hash = SurveyToken::parse(token).ok_or_else(not_found)?.hash();
    let invitation = match db::invitations::find_by_unsubscribe_hash(conn, &hash)? {
        Some(invitation) => invitation,
        // Emails sent before unsubscribe tokens existed carried the survey token; honour
        // those links, and only those: emailed, actually sent, and with no unsubscribe token.
        None => db::invitations::find_by_token_hash(conn, &hash)?
            .map(|(invitation, _)| invitation)
            .filter(|i| i.unsubscribe_hash.is_none() && i.channel == "email")
            .ok_or_else(not_found)?,
    };
    if invitation.sent_at.is_none() {
        return Err(not_found());
    }
    let (Some(address), Some(key)) = (&invitation.recipient_email, &invitation.recipient_key)
    else {
        return Err(not_found());
    };
    Ok(Recipient {
        masked: email::mask(address),
        key: key.clone(),
        invitation,
    })
}

/// Adds the recipient of `token` to their workspace's suppression list.
pub fn confirm(conn: &mut AnyConnection, token: &str) -> Result<Recipient, ApiError> {
    let recipient = find(conn, token)?;
    db::write_transaction(conn, |conn| {
        let now = db::now();
        let (_, added) = suppressions::add(
            conn,
            &recipient.invitation.workspace_id,
            &recipient.key,
            suppressions::reason::UNSUBSCRIBED,
            None,
            now,
        )?;
        if added {
            db::webhooks::emit(
                conn,
                recipient.invitation.workspace_id.as_str(),
                "recipient.unsubscribed",
                serde_json::json!({
                    "email": recipient.key,
                    "invitation_id": recipient.invitation.id.as_str(),
                    "survey_id": recipient.invitation.survey_id.as_str(),
                }),
                now,
            )?;
        }
        Ok::<_, ApiError>(())
    })?;
    Ok(recipient)
}
