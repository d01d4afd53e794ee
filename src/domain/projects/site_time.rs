//! Site time (NOTIFY.md): a project's zone and its today. Zones come from `chrono-tz`
//! (the IANA database compiled in), not a table of ours.
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// The zone of a stored project (`UTC` if the stored name is not a zone, which
/// validation prevents).
pub fn zone(name: &str) -> Tz {
    parse(name).unwrap_or(Tz::UTC)
}

/// An IANA zone name, or None when it is not one (`BAD_USER_INPUT` naming `timeZone`).
pub fn parse(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// The local date in `zone` at `now`: the project's today.
pub fn today_in(zone: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

/// The project's today now, by the stored zone name.
pub fn today(zone_name: &str) -> NaiveDate {
    today_in(zone(zone_name), Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn novosibirsk_is_a_day_ahead_of_utc_before_seven() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let nsk = parse("Asia/Novosibirsk").unwrap();
        assert_eq!(today_in(nsk, now).to_string(), "2026-12-08");
        assert_eq!(today_in(Tz::UTC, now).to_string(), "2026-12-07");
        assert!(parse("Mars/Olympus").is_none());
        assert!(parse("").is_none());
    }
}
