//! The languages respondents see: English, German and French strings for the widget and the
//! survey page, and the scale labels in each.

use serde::Serialize;

use super::Invalid;

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    /// English (the default).
    #[default]
    En,
    /// German.
    De,
    /// French.
    Fr,
}

/// The words the widget shows besides the survey's own question and prompt.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Strings {
    /// The comment's submit button.
    pub send: &'static str,
    /// Shown once an answer is recorded.
    pub thanks: &'static str,
    /// Placeholder of the comment box.
    pub comment_placeholder: &'static str,
    /// The close button's accessible name.
    pub close: &'static str,
    /// Under an answer already given.
    pub change_hint: &'static str,
    /// When sending failed.
    pub error: &'static str,
    /// The prompt above the comment box when the survey sets none.
    pub comment_prompt: &'static str,
}

/// The survey page's sentences, split around the answer's label (shown in bold).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PageStrings {
    /// `Your current answer is` [label] `. Press the button below to change it.`
    pub current: (&'static str, &'static str),
    /// `Thank you! We recorded your answer:` [label] `.`
    pub thanks: (&'static str, &'static str),
    /// After the thanks, when a comment is saved.
    pub comment_saved: &'static str,
    /// Without script: `You chose` [label] `. Press the button to send it.`
    pub chose: (&'static str, &'static str),
    /// The button sending a pre-chosen score (label follows).
    pub send_answer: &'static str,
    /// The button changing the answer (label follows).
    pub change_answer: &'static str,
    /// The comment form's button.
    pub send_comment: &'static str,
}

/// Scale labels in German and French, keyed by the English label.
const LABELS: &[(&str, &str, &str)] = &[
    ("Very dissatisfied", "Sehr unzufrieden", "Très insatisfait"),
    ("Dissatisfied", "Unzufrieden", "Insatisfait"),
    ("Neutral", "Weder noch", "Neutre"),
    ("Satisfied", "Zufrieden", "Satisfait"),
    ("Very satisfied", "Sehr zufrieden", "Très satisfait"),
    (
        "Strongly disagree",
        "Stimme überhaupt nicht zu",
        "Pas du tout d'accord",
    ),
    ("Disagree", "Stimme nicht zu", "Pas d'accord"),
    (
        "Somewhat disagree",
        "Stimme eher nicht zu",
        "Plutôt pas d'accord",
    ),
    (
        "Neither agree nor disagree",
        "Weder noch",
        "Ni d'accord ni pas d'accord",
    ),
    ("Somewhat agree", "Stimme eher zu", "Plutôt d'accord"),
    ("Agree", "Stimme zu", "D'accord"),
    ("Strongly agree", "Stimme voll zu", "Tout à fait d'accord"),
    ("Thumbs down", "Daumen runter", "Pouce vers le bas"),
    ("Thumbs up", "Daumen hoch", "Pouce vers le haut"),
    (
        "Not at all likely",
        "Überhaupt nicht wahrscheinlich",
        "Pas du tout probable",
    ),
    (
        "Extremely likely",
        "Äußerst wahrscheinlich",
        "Extrêmement probable",
    ),
    (
        "Very low effort",
        "Sehr geringer Aufwand",
        "Effort très faible",
    ),
    ("Low effort", "Geringer Aufwand", "Effort faible"),
    ("Moderate effort", "Mittlerer Aufwand", "Effort modéré"),
    ("High effort", "Hoher Aufwand", "Effort élevé"),
    (
        "Very high effort",
        "Sehr hoher Aufwand",
        "Effort très élevé",
    ),
];

impl Locale {
    /// Every supported locale's name.
    pub const NAMES: [&'static str; 3] = ["en", "de", "fr"];

    /// Parses a locale name (`en`, `de`, `fr`; a region such as `de-AT` is accepted).
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        Self::lenient(raw).ok_or_else(|| {
            Invalid::new(field, format!("must be one of {}", Self::NAMES.join(", ")))
        })
    }

    /// The locale named by `raw` if supported (for a visitor's preference: others fall back).
    pub fn lenient(raw: &str) -> Option<Self> {
        let lang = raw.split(['-', '_']).next().unwrap_or("");
        match lang.to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "de" => Some(Self::De),
            "fr" => Some(Self::Fr),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Fr => "fr",
        }
    }

    /// The widget's words.
    pub fn strings(self) -> Strings {
        match self {
            Self::En => Strings {
                send: "Send",
                thanks: "Thank you! Your answer was recorded.",
                comment_placeholder: "Your comment (optional)",
                close: "Close",
                change_hint: "You can change your answer.",
                error: "Sorry, that did not work. Please try again.",
                comment_prompt: "Would you like to tell us more?",
            },
            Self::De => Strings {
                send: "Senden",
                thanks: "Danke! Ihre Antwort wurde gespeichert.",
                comment_placeholder: "Ihr Kommentar (optional)",
                close: "Schließen",
                change_hint: "Sie können Ihre Antwort ändern.",
                error: "Das hat leider nicht geklappt. Bitte versuchen Sie es erneut.",
                comment_prompt: "Möchten Sie uns mehr erzählen?",
            },
            Self::Fr => Strings {
                send: "Envoyer",
                thanks: "Merci ! Votre réponse a été enregistrée.",
                comment_placeholder: "Votre commentaire (facultatif)",
                close: "Fermer",
                change_hint: "Vous pouvez modifier votre réponse.",
                error: "Désolé, cela n'a pas fonctionné. Veuillez réessayer.",
                comment_prompt: "Souhaitez-vous nous en dire plus ?",
            },
        }
    }

    /// The survey page's sentences.
    pub fn page(self) -> PageStrings {
        match self {
            Self::En => PageStrings {
                current: (
                    "Your current answer is ",
                    ". Press the button below to change it.",
                ),
                thanks: ("Thank you! We recorded your answer: ", "."),
                comment_saved: " Your comment is saved too.",
                chose: ("You chose ", ". Press the button to send it."),
                send_answer: "Send my answer: ",
                change_answer: "Change my answer to: ",
                send_comment: "Send comment",
            },
            Self::De => PageStrings {
                current: (
                    "Ihre aktuelle Antwort ist ",
                    ". Mit der Schaltfläche unten können Sie sie ändern.",
                ),
                thanks: ("Danke! Wir haben Ihre Antwort gespeichert: ", "."),
                comment_saved: " Ihr Kommentar ist auch gespeichert.",
                chose: (
                    "Sie haben ",
                    " gewählt. Drücken Sie die Schaltfläche, um es zu senden.",
                ),
                send_answer: "Antwort senden: ",
                change_answer: "Antwort ändern in: ",
                send_comment: "Kommentar senden",
            },
            Self::Fr => PageStrings {
                current: (
                    "Votre réponse actuelle est ",
                    ". Utilisez le bouton ci-dessous pour la modifier.",
                ),
                thanks: ("Merci ! Nous avons enregistré votre réponse : ", "."),
                comment_saved: " Votre commentaire est aussi enregistré.",
                chose: (
                    "Vous avez choisi ",
                    ". Appuyez sur le bouton pour l'envoyer.",
                ),
                send_answer: "Envoyer ma réponse : ",
                change_answer: "Changer ma réponse pour : ",
                send_comment: "Envoyer le commentaire",
            },
        }
    }

    /// A scale label (given in English) in this language.
    pub fn label(self, english: &'static str) -> &'static str {
        match self {
            Self::En => english,
            Self::De | Self::Fr => {
                LABELS
                    .iter()
                    .find(|(en, _, _)| *en == english)
                    .map_or(
                        english,
                        |(_, de, fr)| if self == Self::De { de } else { fr },
                    )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kind::{Scale, SurveyKind};

    #[test]
    fn every_scale_label_is_translated() {
        let scales = [
            (SurveyKind::Csat, Scale::OneToFive),
            (SurveyKind::Csat, Scale::Thumbs),
            (SurveyKind::Nps, Scale::ZeroToTen),
            (SurveyKind::Ces, Scale::OneToSeven),
            (SurveyKind::Ces, Scale::OneToFive),
            (SurveyKind::Ces, Scale::EffortOneToFive),
        ];
        for (kind, scale) in scales {
            for score in scale.points() {
                if let Some(en) = scale.label(kind, score) {
                    assert_ne!(Locale::De.label(en), en, "{en} in German");
                    assert_ne!(Locale::Fr.label(en), en, "{en} in French");
                }
            }
        }
    }

    #[test]
    fn locales_parse_with_regions_and_refuse_others() {
        assert_eq!(Locale::parse("l", "de-AT"), Ok(Locale::De));
        assert_eq!(Locale::parse("l", "FR"), Ok(Locale::Fr));
        assert!(Locale::parse("l", "xx").is_err());
        assert_eq!(Locale::lenient("es"), None);
    }
}
