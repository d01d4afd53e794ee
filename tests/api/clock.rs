//! The deadline clock (NOTIFY.md, "The clock"): DUE_SOON, OVERDUE and ESCALATED by each
//! project's today, once per defect, recipient and deadline value, on both databases.
//! Each project's today is computed when the test runs, so the tests hold at any hour.
use std::collections::BTreeSet;

use chrono::{Days, NaiveDate, Utc};
use defect_control::{
    domain::{
        defects::{service as defect_service, trash},
        notifications::clock,
        projects::{service as project_service, site_time},
    },
    engine::{self, Tick},
    entities::{
        clock_queue, defect_watchers, defects,
        enums::{DefectStatus, NotificationKind, Role},
        notification_settings, notifications, projects,
    },
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::OnConflict,
};

use crate::{
    builders::{DefectBuilder, ProjectBuilder, deactivate},
    helpers::{Actor, TestApp, apps},
};

const KIRITIMATI: &str = "Pacific/Kiritimati"; // UTC+14
const PAGO_PAGO: &str = "Pacific/Pago_Pago"; // UTC−11

struct Site {
    project: projects::Model,
    today: NaiveDate,
}

fn plus(d: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        d.checked_add_days(Days::new(n as u64)).unwrap()
    } else {
        d.checked_sub_days(Days::new(n.unsigned_abs())).unwrap()
    }
}

/// A project in `zone` escalating after `escalate` days, with `members`.
async fn site(
    app: &TestApp,
    admin: &Actor,
    zone: &str,
    escalate: Option<i32>,
    members: &[&Actor],
) -> Site {
    let mut builder = ProjectBuilder::new(admin, zone);
    for m in members {
        builder = builder.member(m.id);
    }
    let project = builder.create(app).await;
    // Set as rows: the GraphQL fields are another part of the issue.
    let mut am: projects::ActiveModel = project.into();
    am.time_zone = Set(zone.into());
    am.escalate_after_days = Set(escalate);
    let project = am.update(app.db()).await.unwrap();
    let today = site_time::today_in(site_time::zone(zone), Utc::now());
    Site { project, today }
}

/// An open defect of `site` with `deadline`, assigned to `performer`. Its author (the
/// admin) has unwatched it, so that its watchers are exactly those a test adds.
async fn defect(
    app: &TestApp,
    site: &Site,
    admin: &Actor,
    performer: Option<&Actor>,
    deadline: NaiveDate,
) -> defects::Model {
    let d = DefectBuilder::new(site.project.id, admin, admin)
        .deadline(Some(deadline))
        .performer(performer.map(|p| p.id))
        .create(app)
        .await;
    set_watching(app, d.id, admin.id, false).await;
    d
}

async fn set_watching(app: &TestApp, defect: i32, user: i32, watching: bool) {
    let row = defect_watchers::ActiveModel {
        defect_id: Set(defect),
        user_id: Set(user),
        watching: Set(watching),
        created_at: Set(Utc::now()),
    };
    defect_watchers::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                defect_watchers::Column::DefectId,
                defect_watchers::Column::UserId,
            ])
            .update_column(defect_watchers::Column::Watching)
            .to_owned(),
        )
        .exec(app.db())
        .await
        .unwrap();
}

async fn mute(app: &TestApp, user: i32, kinds: &str) {
    notification_settings::ActiveModel {
        user_id: Set(user),
        email: Set(false),
        muted: Set(kinds.into()),
        language: Set("en".into()),
        updated_at: Set(Utc::now()),
    }
    .insert(app.db())
    .await
    .unwrap();
}

/// The clock's notifications: (kind, user, defect, deadline).
async fn clocked(app: &TestApp) -> BTreeSet<(String, i32, i32, NaiveDate)> {
    notifications::Entity::find()
        .filter(notifications::Column::Kind.is_in([
            NotificationKind::DueSoon,
            NotificationKind::Overdue,
            NotificationKind::Escalated,
        ]))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|n| {
            assert_eq!((n.event_id, n.actor_id), (None, None), "{n:?}");
            let deadline = n.deadline.expect("a clock notification names its deadline");
            let kind = format!("{:?}", n.kind);
            let dedupe = format!("c:{}:{}:{deadline}", kind_name(n.kind), n.defect_id);
            assert_eq!(n.dedupe, dedupe);
            (kind, n.user_id, n.defect_id, deadline)
        })
        .collect()
}

fn kind_name(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::DueSoon => "DUE_SOON",
        NotificationKind::Overdue => "OVERDUE",
        _ => "ESCALATED",
    }
}

fn note(kind: &str, user: &Actor, d: &defects::Model) -> (String, i32, i32, NaiveDate) {
    (kind.into(), user.id, d.id, d.deadline.unwrap())
}

async fn queued(app: &TestApp, defect: i32) -> Option<(i16, Option<NaiveDate>)> {
    clock_queue::Entity::find_by_id(defect)
        .one(app.db())
        .await
        .unwrap()
        .map(|r| (r.stage, r.fire_on))
}

/// Pumps twice: what the first fired, the second does not fire again.
async fn pump_twice(app: &TestApp) -> BTreeSet<(String, i32, i32, NaiveDate)> {
    app.pump().await;
    let first = clocked(app).await;
    app.pump().await;
    assert_eq!(clocked(app).await, first, "[{}] fired again", app.backend);
    first
}

#[tokio::test]
async fn due_soon_follows_each_sites_tomorrow() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let engineer = app.actor(Role::Engineer).await;
        let mut expected = BTreeSet::new();
        let mut silent = Vec::new();
        for zone in [KIRITIMATI, PAGO_PAGO] {
            let site = site(&app, &admin, zone, None, &[&engineer]).await;
            let soon = defect(&app, &site, &admin, Some(&engineer), plus(site.today, 1)).await;
            expected.insert(note("DueSoon", &engineer, &soon));
            defect(&app, &site, &admin, Some(&engineer), plus(site.today, 2)).await;
            // Tomorrow in UTC but not on this site (one of the two zones, at any hour).
            let utc_tomorrow = plus(Utc::now().date_naive(), 1);
            if utc_tomorrow != plus(site.today, 1) {
                let d = defect(&app, &site, &admin, Some(&engineer), utc_tomorrow).await;
                silent.push(d.id);
            }
        }
        assert!(
            !silent.is_empty(),
            "UTC's tomorrow is some site's today or later"
        );
        assert_eq!(pump_twice(&app).await, expected, "[{}]", app.backend);
        for id in silent {
            assert!(
                queued(&app, id).await.is_some(),
                "[{}] still waits",
                app.backend
            );
        }
    }
}

#[tokio::test]
async fn overdue_reaches_the_performer_and_the_watchers_who_see_it_once() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let performer = app.actor(Role::Engineer).await;
        let watcher = app.actor(Role::Engineer).await;
        let observer = app.actor(Role::Observer).await;
        let outsider = app.actor(Role::Engineer).await; // not a member: cannot see it
        let inactive = app.actor(Role::Engineer).await;
        let unwatched = app.actor(Role::Engineer).await;
        let manager = app.actor(Role::Manager).await;
        let members = [&performer, &watcher, &inactive, &unwatched, &manager];
        let site = site(&app, &admin, KIRITIMATI, Some(3), &members).await;
        // Created already overdue: OVERDUE at the next pump, no DUE_SOON.
        let deadline = plus(site.today, -1);
        let d = defect(&app, &site, &admin, Some(&performer), deadline).await;
        for user in [&watcher, &observer, &outsider, &inactive] {
            set_watching(&app, d.id, user.id, true).await;
        }
        set_watching(&app, d.id, unwatched.id, false).await;
        deactivate(&app, inactive.id).await;

        let expected: BTreeSet<_> = [&performer, &watcher, &observer]
            .into_iter()
            .map(|u| note("Overdue", u, &d))
            .collect();
        assert_eq!(pump_twice(&app).await, expected, "[{}]", app.backend);
        // Next: ESCALATED on deadline + 3.
        assert_eq!(
            queued(&app, d.id).await,
            Some((2, Some(plus(deadline, 3)))),
            "[{}]",
            app.backend
        );
    }
}

#[tokio::test]
async fn escalated_reaches_the_projects_managers_at_escalate_after_days() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let performer = app.actor(Role::Engineer).await;
        let manager = app.actor(Role::Manager).await;
        let _elsewhere = app.actor(Role::Manager).await; // a manager, not a member
        let retired = app.actor(Role::Manager).await;
        let members = [&performer, &manager, &retired];
        let site = site(&app, &admin, PAGO_PAGO, Some(10), &members).await;
        deactivate(&app, retired.id).await;
        let late = defect(&app, &site, &admin, Some(&performer), plus(site.today, -10)).await;
        let recent = defect(&app, &site, &admin, Some(&performer), plus(site.today, -1)).await;

        let mut expected: BTreeSet<_> = [
            note("Overdue", &performer, &late),
            note("Escalated", &manager, &late),
            note("Overdue", &performer, &recent),
        ]
        .into_iter()
        .collect();
        assert_eq!(pump_twice(&app).await, expected, "[{}]", app.backend);
        assert_eq!(queued(&app, late.id).await, None, "[{}] done", app.backend);

        // The project now escalates after one day: the waiting row (due in 9 days) is
        // re-armed by the project's update (the rule itself is written as a row here).
        let mut am: projects::ActiveModel = site.project.clone().into();
        am.escalate_after_days = Set(Some(1));
        am.update(app.db()).await.unwrap();
        app.pump().await;
        assert_eq!(
            clocked(&app).await,
            expected,
            "[{}] not re-armed yet",
            app.backend
        );
        let patch = project_service::ProjectPatch {
            title: Some(Some("Renamed".into())),
            ..Default::default()
        };
        project_service::update(app.db(), &admin.viewer(), site.project.id, patch)
            .await
            .unwrap();
        expected.insert(note("Escalated", &manager, &recent));
        assert_eq!(pump_twice(&app).await, expected, "[{}]", app.backend);
    }
}

#[tokio::test]
async fn moving_the_deadline_arms_the_clock_again() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let performer = app.actor(Role::Engineer).await;
        let site = site(&app, &admin, KIRITIMATI, None, &[&performer]).await;
        let first = plus(site.today, -1);
        let d = defect(&app, &site, &admin, Some(&performer), first).await;
        let mut expected = BTreeSet::from([note("Overdue", &performer, &d)]);
        assert_eq!(pump_twice(&app).await, expected, "[{}]", app.backend);
        assert_eq!(queued(&app, d.id).await, Some((2, None)), "never escalates");

        for (deadline, kind) in [
            (plus(site.today, -3), "Overdue"),
            (plus(site.today, 1), "DueSoon"),
        ] {
            let moved = move_deadline(&app, &admin, d.id, deadline).await;
            expected.insert(note(kind, &performer, &moved));
            assert_eq!(pump_twice(&app).await, expected, "[{}] {kind}", app.backend);
        }
        // Back to a deadline already notified: nothing new (once per deadline value).
        move_deadline(&app, &admin, d.id, first).await;
        assert_eq!(pump_twice(&app).await, expected, "[{}]", app.backend);
    }
}

async fn move_deadline(app: &TestApp, admin: &Actor, id: i32, to: NaiveDate) -> defects::Model {
    let patch = defect_service::DefectPatch {
        deadline: Some(Some(to)),
        ..Default::default()
    };
    defect_service::update(app.db(), &admin.viewer(), id, patch, None)
        .await
        .unwrap()
}

#[tokio::test]
async fn defects_no_longer_open_and_inactive_or_muted_users_get_nothing() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let performer = app.actor(Role::Engineer).await;
        let gone = app.actor(Role::Engineer).await;
        let quiet = app.actor(Role::Engineer).await;
        let watcher = app.actor(Role::Engineer).await;
        let members = [&performer, &gone, &quiet, &watcher];
        let site = site(&app, &admin, PAGO_PAGO, Some(1), &members).await;
        let past = plus(site.today, -1);
        let mut finished = Vec::new();
        for status in [DefectStatus::Closed, DefectStatus::Cancelled] {
            let d = DefectBuilder::new(site.project.id, &admin, &admin)
                .deadline(Some(past))
                .performer(Some(performer.id))
                .status(status)
                .create(&app)
                .await;
            finished.push(d.id);
        }
        let deleted = defect(&app, &site, &admin, Some(&performer), past).await;
        trash::delete(app.db(), &admin.viewer(), deleted.id)
            .await
            .unwrap();
        // An inactive performer: its watcher still hears of it.
        let orphan = defect(&app, &site, &admin, Some(&gone), past).await;
        set_watching(&app, orphan.id, watcher.id, true).await;
        deactivate(&app, gone.id).await;
        // A performer who muted OVERDUE (and only that).
        mute(&app, quiet.id, r#"["OVERDUE"]"#).await;
        let muted = defect(&app, &site, &admin, Some(&quiet), past).await;
        let soon = defect(&app, &site, &admin, Some(&quiet), plus(site.today, 1)).await;

        let expected = BTreeSet::from([
            note("Overdue", &watcher, &orphan),
            note("DueSoon", &quiet, &soon),
        ]);
        assert_eq!(pump_twice(&app).await, expected, "[{}]", app.backend);
        // ESCALATED went to no one: the project has no manager among its members.
        for id in finished.into_iter().chain([deleted.id]) {
            assert_eq!(queued(&app, id).await, None, "[{}] {id}", app.backend);
        }
        assert_eq!(queued(&app, muted.id).await, None, "escalated: done");

        // Restored, it is open again: its performer hears of it now.
        trash::restore(app.db(), &admin.viewer(), deleted.id)
            .await
            .unwrap();
        let mut expected = expected;
        expected.insert(note("Overdue", &performer, &deleted));
        assert_eq!(pump_twice(&app).await, expected, "[{}]", app.backend);
    }
}

/// Statements of one run of the clock's tick alone.
async fn tick_cost(app: &TestApp) -> usize {
    let tick = clock::Clock {
        every: std::time::Duration::from_secs(60),
        email: false,
    };
    let before = app.statements.load(std::sync::atomic::Ordering::SeqCst);
    tick.run(app.db()).await.unwrap();
    app.statements.load(std::sync::atomic::Ordering::SeqCst) - before
}

#[tokio::test]
async fn a_tick_costs_what_is_due_not_what_waits() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let performer = app.actor(Role::Engineer).await;
        let site = site(&app, &admin, KIRITIMATI, Some(5), &[&performer]).await;
        let later = plus(site.today, 30);
        let mut costs = Vec::new();
        let mut made = 0;
        for waiting in [10, 300] {
            while made < waiting {
                DefectBuilder::new(site.project.id, &admin, &admin)
                    .deadline(Some(later))
                    .create(&app)
                    .await;
                made += 1;
            }
            app.pump().await;
            assert_eq!(app.count("clock_queue").await, waiting, "[{}]", app.backend);
            costs.push(tick_cost(&app).await);
        }
        assert_eq!(costs[0], costs[1], "[{}] 10 vs 300 waiting", app.backend);

        // Due ones: a batch costs the same for 2 as for 40 (performer and watcher each).
        let mut costs = Vec::new();
        for due in [2, 40] {
            for _ in 0..due {
                let d = defect(&app, &site, &admin, Some(&performer), plus(site.today, -1)).await;
                set_watching(&app, d.id, admin.id, true).await;
            }
            while engine::pass(app.db(), &clock::Queue).await.unwrap() != engine::Pass::Handled(0) {
            }
            let before = clocked(&app).await.len();
            costs.push(tick_cost(&app).await);
            assert_eq!(
                clocked(&app).await.len(),
                before + 2 * due,
                "[{}]",
                app.backend
            );
        }
        assert_eq!(costs[0], costs[1], "[{}] 2 vs 40 due", app.backend);
    }
}
