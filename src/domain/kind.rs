//! Survey kinds and their answer scales.

use std::fmt;

use super::Invalid;

/// What a survey measures; it decides the scales allowed and the headline formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SurveyKind {
    /// Customer satisfaction.
    Csat,
    /// Net Promoter Score.
    Nps,
    /// Customer effort score.
    Ces,
    /// Employee satisfaction.
    Esat,
}

/// The range of answers a survey accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scale {
    /// 1 to 5.
    OneToFive,
    /// 0 = thumbs down, 1 = thumbs up.
    Thumbs,
    /// 0 to 10.
    ZeroToTen,
    /// 1 to 7.
    OneToSeven,
    /// CES as effort: 1 = very low effort … 5 = very high effort; lower is better.
    EffortOneToFive,
}

impl SurveyKind {
    /// Every kind, in the order the API documents them.
    pub const ALL: [SurveyKind; 4] = [Self::Csat, Self::Nps, Self::Ces, Self::Esat];

    /// Parses the API name of a kind.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| Invalid::new("kind", "must be one of csat, nps, ces, esat"))
    }

    /// The API and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csat => "csat",
            Self::Nps => "nps",
            Self::Ces => "ces",
            Self::Esat => "esat",
        }
    }

    /// The scales this kind allows; the first is the default.
    pub fn scales(self) -> &'static [Scale] {
        match self {
            Self::Csat => &[Scale::OneToFive, Scale::Thumbs],
            Self::Nps => &[Scale::ZeroToTen],
            Self::Ces => &[Scale::OneToSeven, Scale::OneToFive, Scale::EffortOneToFive],
            Self::Esat => &[Scale::OneToFive],
        }
    }

    /// The question asked when the survey names none.
    pub fn default_question(self) -> &'static str {
        match self {
            Self::Csat => "How satisfied were you with the support you received?",
            Self::Nps => "How likely are you to recommend us to a friend or colleague?",
            Self::Ces => "The company made it easy for me to handle my issue.",
            Self::Esat => "How satisfied are you with your work here?",
        }
    }

    /// Picks the scale for this kind: the default when `raw` is `None`, else one it allows.
    /// The question asked when a survey sets none: on the effort scale, the effort question.
    pub fn default_question_for(self, scale: Scale) -> &'static str {
        match (self, scale) {
            (Self::Ces, Scale::EffortOneToFive) => {
                "How much effort did you personally have to put forth to handle your request?"
            }
            _ => self.default_question(),
        }
    }

    /// The scale named `raw`, or the kind's default; a scale the kind does not use → 422.
    pub fn scale(self, raw: Option<&str>) -> Result<Scale, Invalid> {
        let allowed = self.scales();
        let Some(raw) = raw else {
            return Ok(allowed[0]);
        };
        allowed
            .iter()
            .copied()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                let names: Vec<String> = allowed
                    .iter()
                    .map(|s| format!("\"{}\"", s.as_str()))
                    .collect();
                Invalid::new(
                    "scale",
                    format!(
                        "a {} survey takes scale {}",
                        self.as_str(),
                        names.join(" or ")
                    ),
                )
            })
    }
}

impl fmt::Display for SurveyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Scale {
    /// The API and storage name, e.g. `"0-10"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneToFive => "1-5",
            Self::Thumbs => "thumbs",
            Self::ZeroToTen => "0-10",
            Self::OneToSeven => "1-7",
            Self::EffortOneToFive => "effort-1-5",
        }
    }

    /// Parses a stored scale name.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::OneToFive,
            Self::Thumbs,
            Self::ZeroToTen,
            Self::OneToSeven,
            Self::EffortOneToFive,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// The lowest answer.
    pub fn min(self) -> i32 {
        match self {
            Self::OneToFive | Self::OneToSeven | Self::EffortOneToFive => 1,
            Self::Thumbs | Self::ZeroToTen => 0,
        }
    }

    /// The highest answer.
    pub fn max(self) -> i32 {
        match self {
            Self::OneToFive | Self::EffortOneToFive => 5,
            Self::Thumbs => 1,
            Self::ZeroToTen => 10,
            Self::OneToSeven => 7,
        }
    }

    /// How many answers the scale has.
    pub fn point_count(self) -> usize {
        (self.max() - self.min() + 1) as usize
    }

    /// Every answer on the scale, lowest first.
    pub fn points(self) -> impl Iterator<Item = i32> + Clone {
        self.min()..=self.max()
    }

    /// What a point means to a respondent, for labels and screen readers.
    /// `None` for the unlabelled middle of numeric scales (0–10).
    pub fn label(self, kind: SurveyKind, score: i32) -> Option<&'static str> {
        const SATISFACTION: [&str; 5] = [
            "Very dissatisfied",
            "Dissatisfied",
            "Neutral",
            "Satisfied",
            "Very satisfied",
        ];
        const AGREEMENT_5: [&str; 5] = [
            "Strongly disagree",
            "Disagree",
            "Neutral",
            "Agree",
            "Strongly agree",
        ];
        const AGREEMENT_7: [&str; 7] = [
            "Strongly disagree",
            "Disagree",
            "Somewhat disagree",
            "Neither agree nor disagree",
            "Somewhat agree",
            "Agree",
            "Strongly agree",
        ];
        let index = usize::try_from(score - self.min()).ok()?;
        match (self, kind) {
            (Self::Thumbs, _) => ["Thumbs down", "Thumbs up"].get(index).copied(),
            (Self::ZeroToTen, _) => match score {
                0 => Some("Not at all likely"),
                10 => Some("Extremely likely"),
                _ => None,
            },
            (Self::OneToSeven, _) => AGREEMENT_7.get(index).copied(),
            (Self::EffortOneToFive, _) => [
                "Very low effort",
                "Low effort",
                "Moderate effort",
                "High effort",
                "Very high effort",
            ]
            .get(index)
            .copied(),
            (Self::OneToFive, SurveyKind::Ces) => AGREEMENT_5.get(index).copied(),
            (Self::OneToFive, _) => SATISFACTION.get(index).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_defaults_to_its_first_scale() {
        assert_eq!(SurveyKind::Csat.scale(None).unwrap(), Scale::OneToFive);
        assert_eq!(SurveyKind::Nps.scale(None).unwrap(), Scale::ZeroToTen);
        assert_eq!(SurveyKind::Ces.scale(None).unwrap(), Scale::OneToSeven);
        assert_eq!(SurveyKind::Esat.scale(None).unwrap(), Scale::OneToFive);
    }

    #[test]
    fn a_scale_that_does_not_fit_the_kind_is_refused_naming_the_field() {
        let err = SurveyKind::Nps.scale(Some("1-5")).unwrap_err();
        assert_eq!(err.field, "scale");
        assert!(err.message.contains("0-10"));
        assert_eq!(
            SurveyKind::Csat.scale(Some("thumbs")).unwrap(),
            Scale::Thumbs
        );
        assert_eq!(
            SurveyKind::Ces.scale(Some("1-5")).unwrap(),
            Scale::OneToFive
        );
    }

    #[test]
    fn unknown_kinds_are_refused() {
        assert_eq!(SurveyKind::parse("star").unwrap_err().field, "kind");
        assert_eq!(SurveyKind::parse("nps").unwrap(), SurveyKind::Nps);
    }

    #[test]
    fn scale_names_round_trip_and_ranges_match_the_contract() {
        for s in [
            Scale::OneToFive,
            Scale::Thumbs,
            Scale::ZeroToTen,
            Scale::OneToSeven,
        ] {
            assert_eq!(Scale::parse(s.as_str()), Some(s));
            assert_eq!(s.points().count(), s.point_count());
        }
        assert_eq!((Scale::Thumbs.min(), Scale::Thumbs.max()), (0, 1));
        assert_eq!((Scale::ZeroToTen.min(), Scale::ZeroToTen.max()), (0, 10));
    }
}
