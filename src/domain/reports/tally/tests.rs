use super::*;
use chrono::{Duration, TimeZone, Utc};

fn defect() -> defects::Model {
    let at = Utc.with_ymd_and_hms(2026, 1, 10, 8, 0, 0).unwrap();
    defects::Model {
        id: 1,
        project_id: 3,
        number: 1,
        stage_id: None,
        title: "t".into(),
        description: String::new(),
        search_text: String::new(),
        priority: Priority::High,
        status: DefectStatus::New,
        performer_id: None,
        author_id: 1,
        deadline: NaiveDate::from_ymd_opt(2026, 2, 1),
        version: 1,
        created_at: at,
        updated_at: at,
        closed_at: None,
        deleted_at: None,
        plan_id: None,
        location_x: None,
        location_y: None,
        location_label: None,
    }
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

#[test]
fn an_edit_that_moves_no_bucket_changes_nothing() {
    let before = defect();
    let mut after = before.clone();
    after.title = "other".into();
    after.version = 2;
    let mut t = Tallies::default();
    t.add(&before, -1, day(1, 20));
    t.add(&after, 1, day(1, 20));
    t.prune();
    assert_eq!(t, Tallies::default());
}

#[test]
fn deadlines_before_today_count_as_late_and_later_ones_by_day() {
    let d = defect();
    let mut early = Tallies::default();
    early.add(&d, 1, day(1, 20));
    assert_eq!(early.counts[&Key::of(&d)].late, 0);
    assert_eq!(early.deadlines[&(day(2, 1), Key::of(&d))], 1);
    let mut late = Tallies::default();
    late.add(&d, 1, day(2, 2));
    assert_eq!(late.counts[&Key::of(&d)].late, 1);
    assert!(late.deadlines.is_empty());
    // On the deadline day itself the defect is not overdue yet.
    let mut on = Tallies::default();
    on.add(&d, 1, day(2, 1));
    assert_eq!(on.counts[&Key::of(&d)].late, 0);
}

#[test]
fn a_defect_counted_before_its_deadline_and_removed_after_it_nets_to_zero() {
    let d = defect();
    let mut t = Tallies::default();
    t.add(&d, 1, day(1, 20));
    t.add(&d, -1, day(3, 1));
    assert_eq!(Effective::of(t, day(3, 1)), Effective::default());
}

#[test]
fn closing_time_is_kept_in_exact_microseconds() {
    let mut d = defect();
    d.status = DefectStatus::Closed;
    d.closed_at = Some(d.created_at + Duration::microseconds(90_000_123_456));
    let mut t = Tallies::default();
    t.add(&d, 1, day(1, 20));
    let v = t.counts[&Key::of(&d)];
    assert_eq!((v.n, v.closed_secs, v.closed_micros), (1, 90_000, 123_456));
    // Deleted defects count nowhere; closed ones are never late.
    d.deleted_at = Some(d.created_at);
    let mut none = Tallies::default();
    none.add(&d, 1, day(3, 1));
    assert_eq!(none, Tallies::default());
}
