//! Site time (NOTIFY.md): a project's zone and its today. Zones come from `chrono-tz`
//! (the IANA database compiled in), not a table of ours.
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ConnectionTrait, EntityTrait, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{entities::projects, error::AppResult};

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

/// The earliest today of any zone at `now` (UTC−12, the furthest behind): a deadline
/// before it has passed in every zone, now and later, whatever a project's zone is or
/// becomes. The reports' aggregate counts such defects as `late` once and for all.
pub fn earliest_today(now: DateTime<Utc>) -> NaiveDate {
    (now - TimeDelta::hours(12)).date_naive()
}

/// The latest today of any zone at `now` (UTC+14, the furthest ahead): a deadline on or
/// after it has passed in no zone yet.
pub fn latest_today(now: DateTime<Utc>) -> NaiveDate {
    (now + TimeDelta::hours(14)).date_naive()
}

/// The todays of the zones projects use, at one instant: what "today" means for a query
/// over many projects (the `overdue` filter, the reports). At any instant all zones
/// together span at most three local dates, so the projects fall into at most three
/// groups, each named by its zones (not by project ids).
#[derive(Clone, Debug)]
pub struct Todays {
    now: DateTime<Utc>,
    /// Ascending by date, each with the zones whose today it is.
    groups: Vec<(NaiveDate, Vec<String>)>,
}

impl Todays {
    /// The todays of `zones` at `now`.
    pub fn at(now: DateTime<Utc>, zones: impl IntoIterator<Item = String>) -> Self {
        let mut groups: Vec<(NaiveDate, Vec<String>)> = Vec::new();
        for name in zones {
            let day = today_in(zone(&name), now);
            match groups.iter_mut().find(|(d, _)| *d == day) {
                Some((_, names)) => names.push(name),
                None => groups.push((day, vec![name])),
            }
        }
        groups.sort_by_key(|(d, _)| *d);
        Todays { now, groups }
    }

    /// The todays at `now` of the zones the projects use: one statement (the distinct zones).
    pub async fn load(db: &impl ConnectionTrait, now: DateTime<Utc>) -> AppResult<Self> {
        let zones: Vec<String> = projects::Entity::find()
            .select_only()
            .column(projects::Column::TimeZone)
            .distinct()
            .into_tuple()
            .all(db)
            .await?;
        Ok(Self::at(now, zones))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The today of a zone at this instant.
    pub fn of(&self, zone_name: &str) -> NaiveDate {
        today_in(zone(zone_name), self.now)
    }

    /// `deadline` (a date column) is before the today of the project `project_id` (its
    /// column): `deadline < D1 OR (deadline < D2 AND project_id IN (SELECT id FROM
    /// projects WHERE time_zone IN (zones of D2))) …`, with D1 the earliest today. With
    /// one date in use (the usual case) it is `deadline < D1` alone; at most two
    /// subqueries otherwise, each over `projects` by the zones in use. A project whose
    /// zone the snapshot did not see (created since) counts by the earliest today.
    pub fn before_today(&self, deadline: Expr, project_id: Expr) -> Expr {
        let first = self
            .groups
            .first()
            .map_or_else(|| today_in(Tz::UTC, self.now), |(d, _)| *d);
        let mut e = deadline.clone().lt(first);
        for (day, zones) in self.groups.iter().skip(1) {
            let ids = Query::select()
                .column(projects::Column::Id)
                .from(projects::Entity)
                .and_where(
                    Expr::col((projects::Entity, projects::Column::TimeZone))
                        .is_in(zones.iter().cloned()),
                )
                .to_owned();
            e = e.or(deadline
                .clone()
                .lt(*day)
                .and(project_id.clone().in_subquery(ids)));
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_zone_is_behind_the_earliest_today() {
        for at in [
            "2026-12-07T00:30:00Z",
            "2026-12-07T11:59:00Z",
            "2026-12-07T23:59:00Z",
            "2026-07-01T12:00:00Z",
        ] {
            let now = DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc);
            let (floor, ceiling) = (earliest_today(now), latest_today(now));
            assert!(
                chrono_tz::TZ_VARIANTS
                    .iter()
                    .all(|tz| today_in(*tz, now) >= floor),
                "{at}"
            );
            assert!(
                chrono_tz::TZ_VARIANTS
                    .iter()
                    .all(|tz| today_in(*tz, now) <= ceiling),
                "{at}"
            );
            let days = Todays::at(
                now,
                chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name().to_owned()),
            );
            assert!(
                days.groups.len() <= 3,
                "{at}: {:?}",
                days.groups.iter().map(|g| g.0).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn one_date_in_use_is_a_plain_comparison() {
        use sea_orm::{DbBackend, sea_query::PostgresQueryBuilder};
        let _ = DbBackend::Postgres;
        let now = DateTime::parse_from_rfc3339("2026-12-07T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let sql = |zones: &[&str]| {
            let e = Todays::at(now, zones.iter().map(|z| (*z).to_owned()))
                .before_today(Expr::col("deadline"), Expr::col("project_id"));
            Query::select().expr(e).to_string(PostgresQueryBuilder)
        };
        assert_eq!(
            sql(&["UTC", "Europe/London"]),
            r#"SELECT "deadline" < '2026-12-07'"#
        );
        let two = sql(&["UTC", "Asia/Novosibirsk"]);
        assert!(two.contains(r#""deadline" < '2026-12-08' AND "project_id" IN (SELECT "id" FROM "projects" WHERE "projects"."time_zone" IN ('Asia/Novosibirsk'))"#), "{two}");
    }

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
