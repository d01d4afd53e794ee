//! `@username` mentions in a comment's body.
//!
//! **The syntax follows what a username may be** (`domain::users::service::
//! valid_username`): 3 to 150 characters, each alphanumeric (any script: `@иван`) or one
//! of `.`, `_`, `-`, `@`, `+`. A mention is an `@` at the start of the body or after a
//! character that cannot be in a username (a space, a comma, a bracket…), followed by
//! the longest run of username characters. So `bob@example.com` in a sentence mentions
//! no one (its `@` follows `b`), and `@ann@site.ru` names the user `ann@site.ru`.
//!
//! A run may end with punctuation that belongs to the sentence (`thanks @ann.`): each
//! mention is tried as written first, then without its trailing `.`, `-`, `_`, `+`, `@`;
//! the first that is an existing username is the one mentioned (`ann.` if such a user
//! exists, else `ann`).
//!
//! **Case**: usernames are compared exactly, as at login: they are unique only as
//! written (`Ann` and `ann` may be two users), and a case-insensitive match would have to
//! pick between them; SQLite's `LOWER` also folds ASCII only, so it could not be the
//! same rule on both databases.
//!
//! Who a mention reaches is decided by the caller (a user who cannot see the defect gets
//! nothing).

/// Distinct mentions per comment that are looked up; further ones are ignored (a body
/// of names cannot make the lookup unbounded).
pub const MAX_PER_COMMENT: usize = 50;

const MIN_CHARS: usize = 3;
const MAX_CHARS: usize = 150;

fn username_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+')
}

/// The mentions of `body`, in order, each as its candidate usernames (as written, then
/// without trailing punctuation), longest first; at most [`MAX_PER_COMMENT`].
pub fn mentions(body: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut previous: Option<char> = None;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let starts = c == '@' && previous.is_none_or(|p| !username_char(p));
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &body[i + 1..];
        let len = rest
            .char_indices()
            .find(|&(_, c)| !username_char(c))
            .map_or(rest.len(), |(j, _)| j);
        let run = &rest[..len];
        // The run is consumed: an `@` inside it starts no mention of its own.
        while chars.peek().is_some_and(|&(j, _)| j <= i + len) {
            previous = chars.next().map(|(_, c)| c);
        }
        let mut candidates = Vec::new();
        for name in [run, run.trim_end_matches(|c: char| !c.is_alphanumeric())] {
            let n = name.chars().count();
            if (MIN_CHARS..=MAX_CHARS).contains(&n) && !candidates.iter().any(|c| c == name) {
                candidates.push(name.to_owned());
            }
        }
        if !candidates.is_empty() && !out.contains(&candidates) {
            out.push(candidates);
            if out.len() == MAX_PER_COMMENT {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: &str) -> Vec<Vec<&str>> {
        // Leaked for brevity in a test.
        mentions(body)
            .into_iter()
            .map(|m| m.into_iter().map(|s| &*s.leak()).collect())
            .collect()
    }

    #[test]
    fn the_syntax() {
        let table: [(&str, Vec<Vec<&str>>); 14] = [
            ("@ann please look", vec![vec!["ann"]]),
            (
                "cc @ann, @bob_2 and @carl-x",
                vec![vec!["ann"], vec!["bob_2"], vec!["carl-x"]],
            ),
            ("thanks @ann.", vec![vec!["ann.", "ann"]]),
            ("(@ann)", vec![vec!["ann"]]),
            ("write to bob@example.com", vec![]),
            ("@ann@site.ru asked", vec![vec!["ann@site.ru"]]),
            ("@иван проверь", vec![vec!["иван"]]),
            ("@Ann and @ann", vec![vec!["Ann"], vec!["ann"]]),
            ("@ab is too short, @ too", vec![]),
            ("@ann @ann @ann", vec![vec!["ann"]]),
            ("@a.b.", vec![vec!["a.b.", "a.b"]]),
            ("@ab.", vec![vec!["ab."]]),
            ("email@ann", vec![]),
            ("line\n@ann\t@bob", vec![vec!["ann"], vec!["bob"]]),
        ];
        for (body, expected) in table {
            assert_eq!(names(body), expected, "{body:?}");
        }
    }

    #[test]
    fn too_long_runs_and_too_many_mentions_are_bounded() {
        let long = format!("@{}", "a".repeat(151));
        assert!(mentions(&long).is_empty());
        let exactly = format!("@{}", "a".repeat(150));
        assert_eq!(mentions(&exactly).len(), 1);
        let many: String = (0..80).map(|i| format!("@user{i} ")).collect();
        assert_eq!(mentions(&many).len(), MAX_PER_COMMENT);
    }
}
