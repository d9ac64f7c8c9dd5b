//! What sending a claimed email needs from the database (its invitation, survey,
//! properties and whether its address is suppressed), read for a whole claim at once.

use std::collections::{BTreeMap, HashMap};

use crate::db::invitations::{self, Invitation};
use crate::db::surveys::Survey;
use crate::db::{suppressions, AnyConnection, DbResult};
use crate::domain::ids::{InvitationId, WorkspaceId};

/// One claimed email's invitation and what goes with it, as read just after the claim.
#[derive(Debug, Clone)]
pub struct EmailContext {
    /// The invitation the email is for.
    pub invitation: Invitation,
    /// Its survey.
    pub survey: Survey,
    /// Its properties, for the template.
    pub properties: BTreeMap<String, String>,
    /// Why its address is suppressed, if it is.
    pub suppressed: Option<String>,
}

/// The contexts of the invitations `ids` (at most one claim of them), by invitation, with
/// one query for the invitations and surveys, one for the properties, and one per workspace
/// for the suppression list. An invitation that no longer exists is left out.
pub fn load(
    conn: &mut AnyConnection,
    ids: &[&InvitationId],
) -> DbResult<HashMap<InvitationId, EmailContext>> {
    let found = invitations::with_surveys(conn, ids)?;
    let mut properties = invitations::properties_of(conn, ids)?;
    let mut addressed: HashMap<&WorkspaceId, Vec<&str>> = HashMap::new();
    for (invitation, _) in found.values() {
        if let Some(key) = &invitation.recipient_key {
            addressed
                .entry(&invitation.workspace_id)
                .or_default()
                .push(key);
        }
    }
    // Each workspace's suppression reasons, by address.
    let mut suppressed: HashMap<WorkspaceId, HashMap<String, String>> = HashMap::new();
    for (workspace, keys) in addressed {
        let reasons = suppressions::reasons(conn, workspace, &keys)?;
        suppressed.insert(workspace.clone(), reasons);
    }
    Ok(found
        .into_iter()
        .map(|(id, (invitation, survey))| {
            let reason = invitation
                .recipient_key
                .as_ref()
                // Looked up, not taken: two emails of one claim may share an address.
                .and_then(|key| suppressed.get(&invitation.workspace_id)?.get(key).cloned());
            let context = EmailContext {
                properties: properties.remove(&id).unwrap_or_default(),
                suppressed: reason,
                invitation,
                survey,
            };
            (id, context)
        })
        .collect())
}
