//! The one line of a notification, in the recipient's language (NOTIFY.md: "`text` is
//! one line in the recipient's language"). Used by `Notification.text` and the e-mail.
//! The words are Fluent messages (`locales/<lang>/notifications.ftl`, `notify-<kind>`);
//! here only which message and which arguments.
use chrono::NaiveDate;

use crate::{
    entities::enums::{DefectStatus, NotificationKind},
    i18n::{self, Lang, Value},
};

/// What a notification's line says.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    /// `СК1-042` (or `#42` when the project has no code).
    pub key: &'a str,
    pub title: &'a str,
    /// Who caused it (display name), if an event did.
    pub actor: Option<&'a str>,
    /// STATUS_CHANGED / REVIEW_REQUESTED: the new status.
    pub status: Option<DefectStatus>,
    /// DEADLINE_CHANGED, DUE_SOON, OVERDUE, ESCALATED: the deadline.
    pub deadline: Option<NaiveDate>,
    /// OVERDUE, ESCALATED: whole days past the deadline when it was created.
    pub days_late: Option<i64>,
}

/// The line for `kind` in `lang` (`en` or `ru`; anything else reads as `en`).
pub fn line(lang: &str, kind: NotificationKind, facts: &Facts<'_>) -> String {
    let lang = Lang::parse(lang).unwrap_or_default();
    let (id, args) = message(lang, kind, facts);
    i18n::text_with(lang, id, &args)
}

/// The Fluent id and arguments of `kind`'s line.
fn message(
    lang: Lang,
    kind: NotificationKind,
    facts: &Facts<'_>,
) -> (&'static str, Vec<(&'static str, Value)>) {
    use NotificationKind as K;
    let mut args = vec![
        ("key", Value::Text(facts.key.to_owned())),
        ("title", Value::Text(facts.title.to_owned())),
    ];
    let actor = || {
        Value::Text(
            facts
                .actor
                .map_or_else(|| i18n::text(lang, "notify-someone", &[]), str::to_owned),
        )
    };
    // A clock notification is made after the deadline passed: at least a day late.
    let days = || Value::Number(facts.days_late.unwrap_or(0).max(0));
    let id = match kind {
        K::Assigned => "notify-assigned",
        K::DeadlineChanged => match facts.deadline {
            Some(d) => {
                args.push(("deadline", Value::Text(date(lang, d))));
                "notify-deadline_changed"
            }
            None => "notify-deadline_removed",
        },
        K::StatusChanged => {
            let words = facts.status.map_or_else(String::new, |s| status(lang, s));
            args.push(("status", Value::Text(words)));
            "notify-status_changed"
        }
        K::ReviewRequested => "notify-review_requested",
        K::Commented => {
            args.push(("actor", actor()));
            "notify-commented"
        }
        K::Mentioned => {
            args.push(("actor", actor()));
            "notify-mentioned"
        }
        K::DueSoon => "notify-due_soon",
        K::Overdue => {
            args.push(("days", days()));
            "notify-overdue"
        }
        K::Escalated => {
            args.push(("days", days()));
            "notify-escalated"
        }
    };
    (id, args)
}

/// A date as people of `lang` write it: `9 Dec 2026`, `09.12.2026`.
pub fn date(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::En => d.format("%-d %b %Y").to_string(),
        Lang::Ru => d.format("%d.%m.%Y").to_string(),
    }
}

/// A status in words (the CSV export's `status-*` messages): `In review`, `На проверке`.
pub fn status(lang: Lang, s: DefectStatus) -> String {
    let name = match s {
        DefectStatus::New => "new",
        DefectStatus::InProgress => "in_progress",
        DefectStatus::Review => "review",
        DefectStatus::Closed => "closed",
        DefectStatus::Cancelled => "cancelled",
    };
    i18n::text(lang, &format!("status-{name}"), &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    fn facts<'a>() -> Facts<'a> {
        Facts {
            key: "SK1-042",
            title: "Crack",
            actor: Some("Ivan Petrov"),
            status: Some(DefectStatus::Review),
            deadline: NaiveDate::from_ymd_opt(2026, 12, 9),
            days_late: Some(3),
        }
    }

    #[test]
    fn overdue_in_russian_says_the_days_with_the_right_plural() {
        let f = Facts {
            key: "СК1-042",
            title: "Трещина в стяжке",
            ..facts()
        };
        assert_eq!(
            line("ru", NotificationKind::Overdue, &f),
            "СК1-042 «Трещина в стяжке»: срок истёк 3 дня назад"
        );
        for (days, words) in [
            (1, "1 день"),
            (2, "2 дня"),
            (4, "4 дня"),
            (5, "5 дней"),
            (11, "11 дней"),
            (12, "12 дней"),
            (21, "21 день"),
            (22, "22 дня"),
            (25, "25 дней"),
            (101, "101 день"),
        ] {
            let f = Facts {
                days_late: Some(days),
                ..facts()
            };
            let ru = line("ru", NotificationKind::Overdue, &f);
            assert!(ru.ends_with(&format!("срок истёк {words} назад")), "{ru}");
            let esc = line("ru-RU", NotificationKind::Escalated, &f);
            assert!(esc.contains("эскалация") && esc.contains(words), "{esc}");
        }
        let none = Facts {
            days_late: None,
            ..facts()
        };
        assert_eq!(
            line("ru", NotificationKind::Overdue, &none),
            "SK1-042 «Crack»: срок истёк"
        );
    }

    #[test]
    fn english_lines() {
        let f = facts();
        let en = |kind| line("en", kind, &f);
        use NotificationKind as K;
        assert_eq!(en(K::Overdue), "SK1-042 “Crack”: overdue by 3 days");
        let one = Facts {
            days_late: Some(1),
            ..facts()
        };
        assert_eq!(
            line("en", K::Escalated, &one),
            "SK1-042 “Crack”: escalated, overdue by 1 day"
        );
        assert_eq!(en(K::DueSoon), "SK1-042 “Crack”: due tomorrow");
        assert_eq!(
            en(K::StatusChanged),
            "SK1-042 “Crack”: status changed to In review"
        );
        assert_eq!(
            en(K::ReviewRequested),
            "SK1-042 “Crack”: waiting for your review"
        );
        assert_eq!(en(K::Assigned), "SK1-042 “Crack”: assigned to you");
        assert_eq!(
            en(K::DeadlineChanged),
            "SK1-042 “Crack”: the deadline is now 9 Dec 2026"
        );
        assert_eq!(en(K::Commented), "SK1-042 “Crack”: Ivan Petrov commented");
        assert_eq!(
            en(K::Mentioned),
            "SK1-042 “Crack”: Ivan Petrov mentioned you"
        );
        let cleared = Facts {
            deadline: None,
            actor: None,
            ..facts()
        };
        assert_eq!(
            line("en", K::DeadlineChanged, &cleared),
            "SK1-042 “Crack”: the deadline was removed"
        );
        assert_eq!(
            line("en", K::Commented, &cleared),
            "SK1-042 “Crack”: someone commented"
        );
        // Another language reads as English.
        assert_eq!(line("de", K::DueSoon, &f), en(K::DueSoon));
    }

    #[test]
    fn russian_lines() {
        let f = facts();
        let ru = |kind| line("ru", kind, &f);
        use NotificationKind as K;
        assert_eq!(ru(K::DueSoon), "SK1-042 «Crack»: срок истекает завтра");
        assert_eq!(
            ru(K::StatusChanged),
            "SK1-042 «Crack»: новый статус — «На проверке»"
        );
        assert_eq!(
            ru(K::ReviewRequested),
            "SK1-042 «Crack»: ждёт вашей проверки"
        );
        assert_eq!(
            ru(K::Assigned),
            "SK1-042 «Crack»: вы назначены исполнителем"
        );
        assert_eq!(
            ru(K::DeadlineChanged),
            "SK1-042 «Crack»: новый срок — 09.12.2026"
        );
        assert_eq!(
            ru(K::Commented),
            "SK1-042 «Crack»: новый комментарий (Ivan Petrov)"
        );
        assert_eq!(
            ru(K::Mentioned),
            "SK1-042 «Crack»: вас упомянули в комментарии (Ivan Petrov)"
        );
    }

    /// Enumerated from the type, like the errors' coverage test: every kind (and the
    /// removed-deadline form) has its message in every language, using exactly the
    /// arguments `line` gives it; in Russian its words are Russian; and the file has no
    /// `notify-` id that no kind says.
    #[test]
    fn every_kind_has_words_in_every_language_with_its_arguments() {
        let cleared = Facts {
            deadline: None,
            ..facts()
        };
        let mut said = std::collections::BTreeSet::from(["notify-someone"]);
        for lang in Lang::ALL {
            for kind in NotificationKind::iter() {
                for f in [facts(), cleared.clone()] {
                    let (id, args) = message(lang, kind, &f);
                    said.insert(id);
                    let vars = i18n::variables(lang, id)
                        .unwrap_or_else(|| panic!("{lang:?} lacks {id} ({kind:?})"));
                    let given: std::collections::BTreeSet<String> =
                        args.iter().map(|(k, _)| (*k).to_owned()).collect();
                    assert_eq!(vars, given, "{lang:?} {id}: the arguments line gives");
                    let words = line(lang.tag(), kind, &f);
                    assert!(
                        words.starts_with("SK1-042 ") && !words.contains('{'),
                        "{words}"
                    );
                    if lang == Lang::Ru {
                        let own = words.trim_start_matches("SK1-042 «Crack»: ");
                        assert!(
                            own.chars().any(|c| matches!(c, 'а'..='я' | 'ё')),
                            "{kind:?}: no Russian in {words:?}"
                        );
                    }
                }
            }
            let file = match lang {
                Lang::En => include_str!("../../../locales/en/notifications.ftl"),
                Lang::Ru => include_str!("../../../locales/ru/notifications.ftl"),
            };
            let ids: Vec<&str> = file
                .lines()
                .filter_map(|l| l.split_once(" = ").map(|(id, _)| id))
                .filter(|id| id.starts_with("notify-"))
                .collect();
            let orphans: Vec<&&str> = ids.iter().filter(|id| !said.contains(**id)).collect();
            assert!(orphans.is_empty(), "{lang:?}: no kind says {orphans:?}");
        }
    }

    #[test]
    fn every_status_has_words() {
        for lang in Lang::ALL {
            for s in DefectStatus::iter() {
                let w = status(lang, s);
                assert!(!w.starts_with("status-"), "{lang:?} {s:?}");
            }
        }
    }
}
