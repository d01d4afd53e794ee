//! Russian and English for every message a person reads: error messages (their codes
//! never change), the CSV export's human form (header row and enum values), the line
//! of a notification and its e-mail. The texts are Fluent
//! resources in `locales/<lang>/*.ftl`, compiled into the binary, which a translator edits
//! without touching Rust; `fluent-bundle` formats them, `fluent-langneg` picks the
//! language from `Accept-Language` (English when it is absent or names neither).
//!
//! Errors carry a [`Msg`]: a typed message id with its arguments, never a sentence. Each
//! edge (GraphQL over HTTP and over WebSocket, the REST shim, the transport's own
//! refusals) puts it into words once, with the language the edge was given
//! ([`Lang::of`] on the request's headers): [`Msg::text`].
mod msg;

pub use msg::Msg;

use std::sync::LazyLock;

use fluent_bundle::{FluentArgs, FluentResource, concurrent::FluentBundle};
use unic_langid::LanguageIdentifier;

/// A language the server speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    En,
    Ru,
}

/// Every resource file, by language. A new file is added to both lists (the key
/// coverage test compares them id by id).
const RESOURCES: [(Lang, &[&str]); 2] = [
    (
        Lang::En,
        &[
            include_str!("../../locales/en/errors.ftl"),
            include_str!("../../locales/en/documents.ftl"),
            include_str!("../../locales/en/export.ftl"),
            include_str!("../../locales/en/notifications.ftl"),
        ],
    ),
    (
        Lang::Ru,
        &[
            include_str!("../../locales/ru/errors.ftl"),
            include_str!("../../locales/ru/documents.ftl"),
            include_str!("../../locales/ru/export.ftl"),
            include_str!("../../locales/ru/notifications.ftl"),
        ],
    ),
];

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    fn id(self) -> LanguageIdentifier {
        self.tag().parse().unwrap_or_default()
    }

    /// A single tag (`ru`, `ru-RU`, `EN`), or `None` for another language or none.
    pub fn parse(tag: &str) -> Option<Lang> {
        // A language tag is short (BCP 47: a few subtags of at most 8 characters); a
        // `?lang=` of kilobytes is no language of ours, and is not worth parsing.
        let tag = tag.trim();
        if tag.len() > 35 {
            return None;
        }
        let id: LanguageIdentifier = tag.parse().ok()?;
        Lang::ALL
            .into_iter()
            .find(|l| l.tag() == id.language.as_str())
    }

    /// The best of ours for an `Accept-Language` value (RFC 9110 weights respected);
    /// English when the header is absent, malformed or names neither language.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        // A real browser sends a few dozen bytes; a longer value is not worth parsing
        // (one identifier allocated per comma-separated entry, on every request).
        let Some(header) = header.filter(|h| h.len() <= MAX_ACCEPT_LANGUAGE_BYTES) else {
            return Lang::En;
        };
        // Parsed once per process, not per request.
        static AVAILABLE: LazyLock<[LanguageIdentifier; 2]> =
            LazyLock::new(|| Lang::ALL.map(Lang::id));
        let requested = fluent_langneg::accepted_languages::parse(header);
        fluent_langneg::negotiate_languages(
            &requested,
            &*AVAILABLE,
            Some(&AVAILABLE[0]), // English: `Lang::ALL` starts with it
            fluent_langneg::NegotiationStrategy::Lookup,
        )
        .first()
        .and_then(|id| {
            Lang::ALL
                .into_iter()
                .find(|l| l.tag() == id.language.as_str())
        })
        .unwrap_or_default()
    }
}

impl Lang {
    /// The language a request asks for with its `Accept-Language` header.
    pub fn of(headers: &axum::http::HeaderMap) -> Lang {
        Lang::from_accept_language(
            headers
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    }
}

/// The longest `Accept-Language` value negotiated; a longer one answers in English.
pub const MAX_ACCEPT_LANGUAGE_BYTES: usize = 256;

type Bundle = FluentBundle<FluentResource>;

fn bundle(lang: Lang) -> Bundle {
    let mut bundle = FluentBundle::new_concurrent(vec![lang.id()]);
    // No Unicode isolation marks around placeables: messages go into JSON and CSV,
    // read by programs as well as people.
    bundle.set_use_isolating(false);
    for (l, sources) in RESOURCES {
        if l != lang {
            continue;
        }
        for source in sources {
            // A resource that fails to parse is a build-time mistake: the coverage
            // test parses every file strictly; here the valid entries still load.
            let resource = FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(r, _)| r);
            // Duplicate ids keep the first; the coverage test refuses duplicates.
            let _ = bundle.add_resource(resource);
        }
    }
    bundle
}

static BUNDLES: LazyLock<[Bundle; 2]> = LazyLock::new(|| [bundle(Lang::En), bundle(Lang::Ru)]);

fn bundle_of(lang: Lang) -> &'static Bundle {
    &BUNDLES[lang as usize]
}

/// The message `id` in `lang` with `args`; English when `lang` lacks it, the id itself
/// when no language has it (a mistake the coverage test catches).
pub fn text(lang: Lang, id: &str, args: &[(&str, String)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (k, v) in args {
        fluent_args.set(*k, v.clone());
    }
    format(lang, id, &fluent_args)
}

/// A message argument: text, or a number (which plural variants select on:
/// `{ $days -> [one] … [few] … *[many] … }` needs a number, not its digits).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Number(i64),
}

/// [`text`] with typed arguments.
pub fn text_with(lang: Lang, id: &str, args: &[(&str, Value)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (k, v) in args {
        match v {
            Value::Text(s) => fluent_args.set(*k, s.clone()),
            Value::Number(n) => fluent_args.set(*k, *n),
        }
    }
    format(lang, id, &fluent_args)
}

fn format(lang: Lang, id: &str, fluent_args: &FluentArgs<'_>) -> String {
    for l in [lang, Lang::En] {
        let b = bundle_of(l);
        if let Some(pattern) = b.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            return b
                .format_pattern(pattern, Some(fluent_args), &mut errors)
                .into_owned();
        }
    }
    id.to_owned()
}

/// The variables message `id` of `lang` uses (itself, not English's), or `None` when
/// `lang` lacks it: for coverage tests of the callers that pass the arguments.
#[cfg(test)]
pub(crate) fn variables(lang: Lang, id: &str) -> Option<std::collections::BTreeSet<String>> {
    let pattern = bundle_of(lang).get_message(id)?.value()?;
    let mut vars = std::collections::BTreeSet::new();
    pattern_variables(&pattern.elements, &mut vars);
    Some(vars)
}

/// Variables anywhere in a pattern: in placeables, in a select's selector and in its
/// variants (a plural names its number in both).
#[cfg(test)]
fn pattern_variables(
    elements: &[fluent_syntax::ast::PatternElement<&str>],
    vars: &mut std::collections::BTreeSet<String>,
) {
    use fluent_syntax::ast::{Expression, InlineExpression, PatternElement};
    for el in elements {
        let PatternElement::Placeable { expression } = el else {
            continue;
        };
        let (Expression::Inline(selector) | Expression::Select { selector, .. }) = expression;
        if let InlineExpression::VariableReference { id } = selector {
            vars.insert(id.name.to_owned());
        }
        if let Expression::Select { variants, .. } = expression {
            for v in variants {
                pattern_variables(&v.value.elements, vars);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_ours_or_english() {
        let cases = [
            (None, Lang::En),
            (Some("ru"), Lang::Ru),
            (Some("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"), Lang::Ru),
            (Some("en-GB,ru;q=0.5"), Lang::En),
            (Some("de-DE,ru;q=0.3"), Lang::Ru),
            (Some("de, fr"), Lang::En),
            (Some("*"), Lang::En),
            (Some(";;;garbage"), Lang::En),
            (Some(""), Lang::En),
        ];
        for (header, want) in cases {
            assert_eq!(Lang::from_accept_language(header), want, "{header:?}");
        }
    }

    #[test]
    fn an_oversized_accept_language_is_not_parsed() {
        // 10,000 entries that would each be an identifier to allocate and weigh.
        let hostile = format!("ru,{}", "de;q=0.1,".repeat(10_000));
        assert_eq!(Lang::from_accept_language(Some(&hostile)), Lang::En);
        let longest = format!("ru,{}", "x".repeat(MAX_ACCEPT_LANGUAGE_BYTES - 3));
        assert_eq!(longest.len(), MAX_ACCEPT_LANGUAGE_BYTES);
        assert_eq!(Lang::from_accept_language(Some(&longest)), Lang::Ru);
    }

    /// Message ids and the variables each uses in `sources`; strict: a resource that does
    /// not parse or repeats an id fails.
    fn ids_in(
        lang: Lang,
        sources: &[&str],
    ) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
        use fluent_syntax::ast::Entry;
        let mut out = std::collections::BTreeMap::new();
        for source in sources {
            let resource = fluent_syntax::parser::parse(*source)
                .unwrap_or_else(|(_, e)| panic!("{lang:?}: {e:?}"));
            for entry in resource.body {
                let Entry::Message(m) = entry else { continue };
                let mut vars = std::collections::BTreeSet::new();
                pattern_variables(
                    &m.value.expect("every message has a value").elements,
                    &mut vars,
                );
                let dup = out.insert(m.id.name.to_owned(), vars);
                assert!(dup.is_none(), "{lang:?}: {} twice", m.id.name);
            }
        }
        out
    }

    fn sources(lang: Lang) -> &'static [&'static str] {
        RESOURCES.iter().find(|(l, _)| *l == lang).unwrap().1
    }

    fn ids(lang: Lang) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
        ids_in(lang, sources(lang))
    }

    #[test]
    fn every_message_exists_in_every_language_with_the_same_variables() {
        let en = ids(Lang::En);
        assert!(en.len() > 100, "{}", en.len());
        for lang in Lang::ALL {
            let other = ids(lang);
            let missing: Vec<&String> = en.keys().filter(|k| !other.contains_key(*k)).collect();
            let extra: Vec<&String> = other.keys().filter(|k| !en.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang:?} has ids English lacks: {extra:?}"
            );
            for (id, vars) in &en {
                assert_eq!(&other[id], vars, "{lang:?} {id}: the same variables");
            }
        }
    }

    /// Enumerated from the type: every `Msg` variant (`Msg::examples`, written by the
    /// same macro as the enum) has its id in every language's `errors.ftl`, using exactly
    /// its arguments; in Russian its words are Russian; and `errors.ftl` has no id that
    /// no variant says.
    #[test]
    fn every_msg_variant_has_words_in_every_language() {
        let examples = Msg::examples();
        let mut said = std::collections::BTreeSet::new();
        for m in &examples {
            assert!(said.insert(m.id()), "{} is the id of two variants", m.id());
        }
        for lang in Lang::ALL {
            let errors = ids_in(lang, &sources(lang)[..1]);
            for m in &examples {
                let Some(vars) = errors.get(m.id()) else {
                    panic!("{lang:?}: errors.ftl lacks {} ({m:?})", m.id());
                };
                let args: std::collections::BTreeSet<String> =
                    m.args().into_iter().map(|(k, _)| k.to_owned()).collect();
                assert_eq!(vars, &args, "{lang:?} {}: the variant's arguments", m.id());
                let words = m.text(lang);
                assert!(!words.contains('{') && words != m.id(), "{lang:?}: {words}");
                if lang == Lang::Ru {
                    assert!(
                        words
                            .chars()
                            .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё')),
                        "{}: no Russian in {words:?}",
                        m.id()
                    );
                }
            }
            let orphans: Vec<&String> = errors
                .keys()
                .filter(|k| !said.contains(k.as_str()))
                .collect();
            assert!(orphans.is_empty(), "{lang:?}: no variant says {orphans:?}");
        }
    }

    #[test]
    fn texts_format_their_arguments() {
        assert_eq!(
            text(
                Lang::Ru,
                "at-most-chars",
                &[("field", "title".into()), ("max", "300".into())]
            ),
            "title: не больше 300 символов"
        );
        assert_eq!(text(Lang::En, "csv-created_at", &[]), "Created");
        assert_eq!(text(Lang::Ru, "no-such-id", &[]), "no-such-id");
    }
}
