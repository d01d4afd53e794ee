//! From an English message back to its Fluent id and arguments, so a message written in
//! English by a service can be answered in another language: gettext's idea (the source
//! text is the key), with the English Fluent resource as the source catalogue.
//!
//! Each English message becomes a matcher: its literal text, with `{ $name }` placeables
//! matching any text. Messages without placeables are tried first (exact), then the others
//! from the most literal text to the least, so `defect not found` wins over
//! `{ $what } not found`. A `field: ` prefix (an API name: no spaces) is kept as it is
//! and the rest translated. A captured argument that is itself a whole message (the
//! consequence in `the defect is CLOSED and final: uploads are not possible`) is
//! translated too.
use std::sync::LazyLock;

use fluent_syntax::ast::{Entry, Expression, InlineExpression, PatternElement};

use super::{Lang, RESOURCES, text};

#[derive(Debug, PartialEq)]
enum Part {
    Text(String),
    Var(String),
}

#[derive(Debug)]
struct Matcher {
    id: String,
    parts: Vec<Part>,
}

impl Matcher {
    fn literal_len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                Part::Var(_) => 0,
            })
            .sum()
    }

    fn vars(&self) -> usize {
        self.parts
            .iter()
            .filter(|p| matches!(p, Part::Var(_)))
            .count()
    }

    /// The arguments, if `s` is this message.
    fn captures(&self, s: &str) -> Option<Vec<(String, String)>> {
        let mut rest = s;
        let mut out = Vec::new();
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Text(t) => rest = rest.strip_prefix(t.as_str())?,
                Part::Var(name) => {
                    let value = match parts.peek() {
                        Some(Part::Text(next)) => {
                            let at = rest.find(next.as_str())?;
                            let v = &rest[..at];
                            rest = &rest[at..];
                            v
                        }
                        // Two placeables in a row would be ambiguous; none are written so.
                        Some(Part::Var(_)) => return None,
                        None => std::mem::take(&mut rest),
                    };
                    if value.is_empty() {
                        return None;
                    }
                    out.push((name.clone(), value.to_owned()));
                }
            }
        }
        rest.is_empty().then_some(out)
    }
}

/// The matchers of every English message, in the order they are tried.
fn build(sources: &[&str]) -> Vec<Matcher> {
    let mut out = Vec::new();
    for source in sources {
        let resource = match fluent_syntax::parser::parse(*source) {
            Ok(r) => r,
            Err((r, _)) => r,
        };
        for entry in resource.body {
            let Entry::Message(m) = entry else { continue };
            let Some(pattern) = m.value else { continue };
            let mut parts = Vec::new();
            for element in pattern.elements {
                match element {
                    PatternElement::TextElement { value } => match parts.last_mut() {
                        Some(Part::Text(t)) => t.push_str(value),
                        _ => parts.push(Part::Text(value.to_owned())),
                    },
                    PatternElement::Placeable {
                        expression: Expression::Inline(InlineExpression::VariableReference { id }),
                    } => parts.push(Part::Var(id.name.to_owned())),
                    // Other placeables (terms, selectors) are not used in these files.
                    PatternElement::Placeable { .. } => {}
                }
            }
            out.push(Matcher {
                id: m.id.name.to_owned(),
                parts,
            });
        }
    }
    out.sort_by_key(|m| (m.vars(), std::cmp::Reverse(m.literal_len())));
    out
}

static ENGLISH: LazyLock<Vec<Matcher>> = LazyLock::new(|| {
    let sources = RESOURCES
        .iter()
        .find(|(l, _)| *l == Lang::En)
        .map_or(&[][..], |(_, s)| *s);
    // Only the error messages: CSV labels are looked up by id, never by text.
    build(&sources[..1])
});

fn whole(lang: Lang, english: &str) -> Option<String> {
    let m = ENGLISH
        .iter()
        .find_map(|m| Some((m, m.captures(english)?)))?;
    let args: Vec<(&str, String)> =
        m.1.iter()
            .map(|(k, v)| {
                let v = whole(lang, v).unwrap_or_else(|| v.clone());
                (k.as_str(), v)
            })
            .collect();
    Some(text(lang, &m.0.id, &args))
}

/// `english` in `lang`, or `None` when it is not one of our messages.
pub(super) fn translate(lang: Lang, english: &str) -> Option<String> {
    if let Some(t) = whole(lang, english) {
        return Some(t);
    }
    let (field, rest) = english.split_once(": ")?;
    if field.is_empty() || field.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{field}: {}", whole(lang, rest)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ru(s: &str) -> Option<String> {
        translate(Lang::Ru, s)
    }

    #[test]
    fn messages_are_found_with_their_field_and_arguments() {
        assert_eq!(
            ru("title: must not be empty").as_deref(),
            Some("title: не может быть пустым")
        );
        assert_eq!(
            ru("title: must be at most 300 characters").as_deref(),
            Some("title: не больше 300 символов")
        );
        assert_eq!(ru("defect not found").as_deref(), Some("дефект не найден"));
        assert_eq!(
            ru("widget not found").as_deref(),
            Some("не найдено: widget")
        );
        assert_eq!(
            ru("a defect cannot move from NEW to CLOSED").as_deref(),
            Some("дефект нельзя перевести из NEW в CLOSED")
        );
        assert_eq!(
            ru("after: not a cursor of an event").as_deref(),
            Some("after: это не курсор события")
        );
        assert_eq!(
            ru("key: too long for a defect key such as СК1-042").as_deref(),
            Some("key: слишком длинный текст для ключа дефекта, например СК1-042")
        );
    }

    #[test]
    fn a_nested_message_is_translated_too() {
        assert_eq!(
            ru("defectId: the defect is CLOSED and final: uploads are not possible").as_deref(),
            Some("defectId: дефект в статусе CLOSED и окончателен: загрузка файлов невозможна")
        );
    }

    #[test]
    fn unknown_texts_are_left_alone() {
        assert_eq!(ru("Unknown field \"foo\" on type \"Query\"."), None);
        assert_eq!(ru("not a message at all"), None);
        assert_eq!(ru("some field: gibberish"), None);
    }

    #[test]
    fn matchers_need_the_whole_text() {
        let m = &build(&["x = must be at most { $max } characters\n"])[0];
        assert_eq!(
            m.captures("must be at most 5 characters"),
            Some(vec![("max".into(), "5".into())])
        );
        assert_eq!(m.captures("must be at most 5 characters!"), None);
        assert_eq!(m.captures("must be at most  characters"), None);
    }
}
