//! A person-readable text of the demo data in Russian and English.
use serde::Deserialize;

use crate::i18n::Lang;

/// Either a plain string (the same in both languages: a code, a grid reference) or
/// `{"en": "...", "ru": "..."}`. A bilingual label missing a language, or naming
/// another, is refused when the file is read, with the label in the message.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "RawLabel")]
pub enum Label {
    Same(String),
    Both { en: String, ru: String },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawLabel {
    Same(String),
    Both(std::collections::BTreeMap<String, String>),
}

impl TryFrom<RawLabel> for Label {
    type Error = String;

    fn try_from(raw: RawLabel) -> Result<Self, String> {
        let mut map = match raw {
            RawLabel::Same(text) => return Ok(Label::Same(text)),
            RawLabel::Both(map) => map,
        };
        let shown = serde_json::to_string(&map).unwrap_or_default();
        let (en, ru) = (map.remove("en"), map.remove("ru"));
        if let Some(other) = map.keys().next() {
            return Err(format!(
                "label {shown}: unknown language {other:?} (a label is a string or {{\"en\": …, \"ru\": …}})"
            ));
        }
        match (en, ru) {
            (Some(en), Some(ru)) => Ok(Label::Both { en, ru }),
            (_, None) => Err(format!("label {shown} has no \"ru\" text")),
            (None, _) => Err(format!("label {shown} has no \"en\" text")),
        }
    }
}

impl Default for Label {
    fn default() -> Self {
        Label::Same(String::new())
    }
}

impl Label {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match (self, lang) {
            (Label::Same(text), _) => text,
            (Label::Both { en, .. }, Lang::En) => en,
            (Label::Both { ru, .. }, Lang::Ru) => ru,
        }
    }

    /// Every text of the label: what an earlier seeding in either language may have
    /// stored, so seeding again in the other language finds it instead of duplicating.
    pub fn variants(&self) -> Vec<String> {
        match self {
            Label::Same(text) => vec![text.clone()],
            Label::Both { en, ru } => vec![en.clone(), ru.clone()],
        }
    }

    /// Whether `text` is this label in some language (how defects name their project
    /// and stage).
    pub fn is(&self, text: &str) -> bool {
        match self {
            Label::Same(t) => t == text,
            Label::Both { en, ru } => en == text || ru == text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Label, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn a_label_is_a_string_or_both_languages() {
        assert_eq!(parse(r#""Ось 4/В""#).unwrap().get(Lang::En), "Ось 4/В");
        let both = parse(r#"{"en": "Crack", "ru": "Трещина"}"#).unwrap();
        assert_eq!(both.get(Lang::En), "Crack");
        assert_eq!(both.get(Lang::Ru), "Трещина");
        assert!(both.is("Трещина") && both.is("Crack") && !both.is("crack"));
    }

    #[test]
    fn a_label_missing_a_language_is_refused_naming_it() {
        let e = parse(r#"{"en": "Crack in screed"}"#).unwrap_err();
        assert!(e.contains(r#"{"en":"Crack in screed"} has no "ru""#), "{e}");
        let e = parse(r#"{"ru": "Трещина"}"#).unwrap_err();
        assert!(e.contains(r#"has no "en""#) && e.contains("Трещина"), "{e}");
        let e = parse(r#"{"en": "a", "ru": "б", "de": "c"}"#).unwrap_err();
        assert!(e.contains(r#"unknown language "de""#), "{e}");
    }
}
