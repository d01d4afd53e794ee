//! What makes a repeat "the same request": the SHA-256 of the document's text, the
//! operation name and the variables, written canonically (object keys sorted, so the
//! order a client's JSON encoder chose does not matter), where each uploaded file stands
//! as its name, media type and the SHA-256 of its contents ([`file`]). Neither the
//! multipart boundary nor the order of the parts counts; headers (language, `Accept`)
//! are not the request's content and do not either.
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The request's hash, as stored (64 hex digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A stored value (read back from the database).
    pub fn stored(hex: String) -> Self {
        Fingerprint(hex)
    }
}

/// An uploaded file as it counts in a fingerprint: the value that stands in its
/// variable's place.
pub fn file(filename: &str, content_type: Option<&str>, sha256: &[u8; 32]) -> Value {
    serde_json::json!({
        "$file": {
            "name": filename,
            "type": content_type,
            "sha256": hex::encode(sha256),
        }
    })
}

/// The fingerprint of a request whose files are already replaced by [`file`] values.
pub fn of(query: &str, operation_name: Option<&str>, variables: &Value) -> Fingerprint {
    let mut h = Sha256::new();
    h.update(b"defect-control idempotency v1\0");
    part(&mut h, query.as_bytes());
    match operation_name {
        Some(name) => {
            h.update(b"N");
            part(&mut h, name.as_bytes());
        }
        None => h.update(b"-"),
    }
    canonical(&mut h, variables);
    Fingerprint(hex::encode(h.finalize()))
}

/// A length-prefixed part: no two different sequences of parts write the same bytes.
fn part(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

fn canonical(h: &mut Sha256, value: &Value) {
    match value {
        Value::Null => h.update(b"n"),
        Value::Bool(b) => h.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            h.update(b"#");
            part(h, n.to_string().as_bytes());
        }
        Value::String(s) => {
            h.update(b"s");
            part(h, s.as_bytes());
        }
        Value::Array(items) => {
            h.update(b"[");
            h.update((items.len() as u64).to_be_bytes());
            for item in items {
                canonical(h, item);
            }
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            h.update(b"{");
            h.update((entries.len() as u64).to_be_bytes());
            for (k, v) in entries {
                part(h, k.as_bytes());
                canonical(h, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const Q: &str = "mutation($t: String!) { createDefect(input: {title: $t}) { id } }";

    #[test]
    fn key_order_does_not_count_content_does() {
        let a = of(
            Q,
            None,
            &json!({ "t": "Leak", "x": { "a": 1, "b": [1, 2] } }),
        );
        let b = of(
            Q,
            None,
            &json!({ "x": { "b": [1, 2], "a": 1 }, "t": "Leak" }),
        );
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), 64);
        let differ = [
            of(
                Q,
                None,
                &json!({ "t": "Leak!", "x": { "a": 1, "b": [1, 2] } }),
            ),
            of(
                Q,
                None,
                &json!({ "t": "Leak", "x": { "a": 1, "b": [2, 1] } }),
            ),
            of(
                Q,
                Some("Create"),
                &json!({ "t": "Leak", "x": { "a": 1, "b": [1, 2] } }),
            ),
            of(
                &format!("{Q} "),
                None,
                &json!({ "t": "Leak", "x": { "a": 1, "b": [1, 2] } }),
            ),
            of(
                Q,
                None,
                &json!({ "t": "Leak", "x": { "a": "1", "b": [1, 2] } }),
            ),
        ];
        for d in &differ {
            assert_ne!(&a, d);
        }
    }

    #[test]
    fn parts_cannot_run_into_each_other() {
        // Without the length prefixes "ab" + "c" and "a" + "bc" would hash alike.
        assert_ne!(
            of("ab", Some("c"), &Value::Null),
            of("a", Some("bc"), &Value::Null)
        );
        assert_ne!(
            of("q", None, &json!(["a", "b"])),
            of("q", None, &json!(["ab"]))
        );
        assert_ne!(of("q", None, &Value::Null), of("q", Some(""), &Value::Null));
    }

    #[test]
    fn a_file_counts_by_name_type_and_contents() {
        let f = |name: &str, t: Option<&str>, byte: u8| {
            of(Q, None, &json!({ "f": file(name, t, &[byte; 32]) }))
        };
        let base = f("a.png", Some("image/png"), 1);
        assert_eq!(base, f("a.png", Some("image/png"), 1));
        assert_ne!(base, f("b.png", Some("image/png"), 1));
        assert_ne!(base, f("a.png", None, 1));
        assert_ne!(base, f("a.png", Some("image/png"), 2));
    }
}
