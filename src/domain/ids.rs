//! Typed ids, so a survey id cannot be passed where an invitation id belongs.
//! Stored as text (UUIDv7 strings); rows read them back through `From<String>`.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7().to_string())
            }

            /// A fresh random id that carries no time (an anonymous survey's answers: a
            /// time-ordered id would date each one to the millisecond).
            pub fn random() -> Self {
                Self(Uuid::new_v4().to_string())
            }

            /// The id as stored and served.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id.to_string())
            }
        }

        impl From<String> for $name {
            /// Wraps a stored id.
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            /// Looks the id up by its text (maps keyed by id take a `&str`).
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A workspace: the tenant every `/v1` query is scoped to.
    WorkspaceId
);
id_type!(
    /// A survey.
    SurveyId
);
id_type!(
    /// An invitation (one tokenised link).
    InvitationId
);
id_type!(
    /// A response to an invitation.
    ResponseId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_that_round_trip_through_text_and_json() {
        let id = SurveyId::generate();
        assert!(Uuid::parse_str(id.as_str()).is_ok());
        assert_eq!(SurveyId::from(id.as_str().to_owned()), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert!(SurveyId::generate() > id, "ids are time-ordered");
    }
}
