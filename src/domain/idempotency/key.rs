//! What an `Idempotency-Key` may be: 1 to 255 visible ASCII characters (FIELD.md). The
//! draft defines the field as a structured-field string (RFC 8941), `"…"` with `\"` and
//! `\\` escapes; a value in that form is read as its content, so `"k-1"` and `k-1` are
//! the same key. Anything else is the key as sent.
use crate::error::{AppError, AppResult, Msg};

/// The longest key.
pub const MAX_LEN: usize = 255;

/// A checked key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// The header's value, checked; `BAD_USER_INPUT` naming the header otherwise.
    pub fn parse(raw: &[u8]) -> AppResult<Key> {
        let text = sf_string(raw).unwrap_or_else(|| raw.to_vec());
        if text.is_empty() || text.len() > MAX_LEN || !text.iter().all(|b| visible(*b)) {
            return Err(invalid());
        }
        // Visible ASCII is UTF-8.
        String::from_utf8(text).map(Key).map_err(|_| invalid())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The refusal of a malformed key (also for a header sent twice).
pub fn invalid() -> AppError {
    AppError::BadUserInput(Msg::IdempotencyKeyInvalid {
        field: super::HEADER.to_owned(),
        max: MAX_LEN,
    })
}

fn visible(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// The content of a well-formed structured-field string, or `None`.
fn sf_string(raw: &[u8]) -> Option<Vec<u8>> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(&e @ (b'"' | b'\\')) => out.push(e),
                _ => return None,
            },
            b'"' => return None,
            _ => out.push(b),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> Option<String> {
        Key::parse(raw.as_bytes()).ok().map(|k| k.0)
    }

    #[test]
    fn keys_are_visible_ascii_of_1_to_255() {
        let long = "k".repeat(MAX_LEN);
        let table = [
            (
                "8e03978e-40d5-43e8-bc93-6894a57f9324",
                Some("8e03978e-40d5-43e8-bc93-6894a57f9324"),
            ),
            ("a", Some("a")),
            (long.as_str(), Some(long.as_str())),
            ("~!@#$%^&*()_+{}|:<>?", Some("~!@#$%^&*()_+{}|:<>?")),
            ("", None),
            ("with space", None),
            ("tab\there", None),
            ("ключ", None),
            ("nul\0", None),
            ("del\x7f", None),
        ];
        for (raw, want) in table {
            assert_eq!(key(raw).as_deref(), want, "{raw:?}");
        }
        assert_eq!(key(&"k".repeat(MAX_LEN + 1)), None);
    }

    #[test]
    fn the_drafts_string_form_is_read_as_its_content() {
        assert_eq!(key("\"k-1\"").as_deref(), Some("k-1"));
        assert_eq!(key(r#""a\"b\\c""#).as_deref(), Some(r#"a"b\c"#));
        // Empty or with a space inside: refused like the bare forms.
        assert_eq!(key("\"\""), None);
        assert_eq!(key("\"a b\""), None);
        // Not a well-formed string: the value as sent (visible ASCII, so a key).
        assert_eq!(key("\"open").as_deref(), Some("\"open"));
        assert_eq!(key(r#""bad\escape""#).as_deref(), Some(r#""bad\escape""#));
        // 255 characters inside the quotes are fine; the limit is on the key.
        let quoted = format!("\"{}\"", "q".repeat(MAX_LEN));
        assert_eq!(key(&quoted).map(|k| k.len()), Some(MAX_LEN));
    }
}
