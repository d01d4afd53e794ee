//! Notifications derived from the journal (NOTIFY.md, "Notifications"): every row of
//! the recipients table, the precedence, never the actor / an inactive user / one who
//! cannot see the defect, muting after the choice, exactly once (a repeated or
//! rolled-back pass, two instances), and a batch's statements independent of its
//! audience. Watchers are written as rows here: the automatic watch rules are not this
//! file's subject.
use chrono::{Duration, NaiveDate};
use defect_control::{
    domain::{
        defects::{comments, service as defect_service, trash},
        notifications::derive::{Derive, NAME},
    },
    engine::{self, Consumer, Pass},
    entities::{
        defect_events, defect_watchers,
        enums::{DefectEventKind, DefectStatus, NotificationKind as K, Role},
        notification_settings, notifications, project_members, users,
    },
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::{
    builders::{DefectBuilder, deactivate},
    helpers::{Actor, TestApp, apps},
};

/// Who is around the project: `boss` owns it without being a member; `manager`,
/// `manager2`, `admin`, `performer` and `engineer` are members; `outsider` (an
/// engineer) is not; `observer` sees every project.
struct World {
    boss: Actor,
    manager: Actor,
    manager2: Actor,
    admin: Actor,
    performer: Actor,
    engineer: Actor,
    outsider: Actor,
    observer: Actor,
    project: i32,
}

async fn world(app: &TestApp) -> World {
    let boss = app.actor(Role::Manager).await;
    let project = app.project(&boss, "Tower").await.id;
    let w = World {
        manager: app.actor(Role::Manager).await,
        manager2: app.actor(Role::Manager).await,
        admin: app.actor(Role::Admin).await,
        performer: app.actor(Role::Engineer).await,
        engineer: app.actor(Role::Engineer).await,
        outsider: app.actor(Role::Engineer).await,
        observer: app.actor(Role::Observer).await,
        boss,
        project,
    };
    for a in [&w.manager, &w.manager2, &w.admin, &w.performer, &w.engineer] {
        app.add_member(project, a.id).await;
    }
    w
}

/// A watcher row (`watching = false`: an explicit unwatch), replacing any row the
/// automatic rules wrote.
async fn watch(app: &TestApp, defect: i32, user: i32, watching: bool) {
    defect_watchers::Entity::insert(defect_watchers::ActiveModel {
        defect_id: Set(defect),
        user_id: Set(user),
        watching: Set(watching),
        created_at: Set(defect_control::time::now()),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([
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

/// The automatic rules (tests/api/watchers.rs) made the author and the performer
/// watchers at creation; these tests choose every defect's watchers themselves.
async fn unwatch_all(app: &TestApp, defect: i32) {
    defect_watchers::Entity::delete_many()
        .filter(defect_watchers::Column::DefectId.eq(defect))
        .exec(app.db())
        .await
        .unwrap();
}

async fn mute(app: &TestApp, user: i32, kinds: &[K]) {
    notification_settings::ActiveModel {
        user_id: Set(user),
        email: Set(false),
        muted: Set(serde_json::to_string(kinds).unwrap()),
        language: Set("en".into()),
        updated_at: Set(defect_control::time::now()),
    }
    .insert(app.db())
    .await
    .unwrap();
}

/// Pumps the engine, then the notifications written since `since` (which moves on) as
/// (user, kind), by user.
async fn news(app: &TestApp, since: &mut i32) -> Vec<(i32, K)> {
    app.pump().await;
    let rows = notifications::Entity::find()
        .filter(notifications::Column::Id.gt(*since))
        .order_by_asc(notifications::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    if let Some(last) = rows.last() {
        *since = last.id;
    }
    let mut out: Vec<(i32, K)> = rows.iter().map(|n| (n.user_id, n.kind)).collect();
    out.sort_by_key(|&(u, k)| (u, format!("{k:?}")));
    out
}

fn sorted(mut v: Vec<(i32, K)>) -> Vec<(i32, K)> {
    v.sort_by_key(|&(u, k)| (u, format!("{k:?}")));
    v
}

fn day(n: i64) -> NaiveDate {
    defect_control::domain::projects::site_time::today("UTC") + Duration::days(n)
}

async fn comment(app: &TestApp, by: &Actor, defect: i32, body: &str) {
    comments::add(app.db(), &by.viewer(), defect, body)
        .await
        .unwrap();
}

async fn set_deadline(app: &TestApp, by: &Actor, defect: i32, deadline: Option<NaiveDate>) {
    let patch = defect_service::DefectPatch {
        deadline: Some(deadline),
        ..Default::default()
    };
    defect_service::update(app.db(), &by.viewer(), defect, patch, None)
        .await
        .unwrap();
}

async fn assign(app: &TestApp, by: &Actor, defect: i32, performer: Option<i32>) {
    defect_service::assign(app.db(), &by.viewer(), defect, performer, None)
        .await
        .unwrap();
}

async fn move_to(app: &TestApp, by: &Actor, defect: i32, to: DefectStatus) {
    defect_service::change_status(app.db(), &by.viewer(), defect, to, None, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_performer_is_told_of_an_assignment_and_of_a_deadline() {
    for app in apps().await {
        let w = world(&app).await;
        let mut since = 0;
        // Created with a performer (and a deadline: ASSIGNED wins); watchers get nothing.
        let d = DefectBuilder::new(w.project, &w.boss, &w.boss)
            .created_with_performer(w.performer.id)
            .deadline(Some(day(10)))
            .create(&app)
            .await;
        unwatch_all(&app, d.id).await;
        watch(&app, d.id, w.engineer.id, true).await;
        assert_eq!(
            news(&app, &mut since).await,
            [(w.performer.id, K::Assigned)],
            "{}",
            app.backend
        );
        // Assigned to someone else; then unassigned: nobody.
        assign(&app, &w.boss, d.id, Some(w.engineer.id)).await;
        assert_eq!(news(&app, &mut since).await, [(w.engineer.id, K::Assigned)]);
        assign(&app, &w.boss, d.id, None).await;
        assert_eq!(news(&app, &mut since).await, []);
        // A deadline without a performer: nobody; with one: the performer only.
        set_deadline(&app, &w.boss, d.id, Some(day(11))).await;
        assert_eq!(news(&app, &mut since).await, []);
        assign(&app, &w.boss, d.id, Some(w.performer.id)).await;
        news(&app, &mut since).await;
        set_deadline(&app, &w.boss, d.id, Some(day(12))).await;
        assert_eq!(
            news(&app, &mut since).await,
            [(w.performer.id, K::DeadlineChanged)]
        );
        set_deadline(&app, &w.boss, d.id, None).await;
        assert_eq!(
            news(&app, &mut since).await,
            [(w.performer.id, K::DeadlineChanged)]
        );
        // The performer as of the event: a deadline moved, then a reassignment, read in
        // one batch: the old performer hears of the deadline, the new one of the work.
        set_deadline(&app, &w.boss, d.id, Some(day(13))).await;
        assign(&app, &w.boss, d.id, Some(w.engineer.id)).await;
        assert_eq!(
            news(&app, &mut since).await,
            sorted(vec![
                (w.performer.id, K::DeadlineChanged),
                (w.engineer.id, K::Assigned)
            ])
        );
        // Other edits notify no one.
        let patch = defect_service::DefectPatch {
            title: Some(Some("Renamed".into())),
            ..Default::default()
        };
        defect_service::update(app.db(), &w.boss.viewer(), d.id, patch, None)
            .await
            .unwrap();
        assert_eq!(news(&app, &mut since).await, []);
    }
}

/// NOTIFY.md: a change that changes nothing is no event, so it tells no one — not the
/// performer of a deadline set to the deadline it has, nor of an assignment to the
/// performer it has, nor the watchers of a status it is in.
#[tokio::test]
async fn a_change_that_changes_nothing_notifies_no_one() {
    for app in apps().await {
        let w = world(&app).await;
        let mut since = 0;
        let d = DefectBuilder::new(w.project, &w.boss, &w.boss)
            .created_with_performer(w.performer.id)
            .deadline(Some(day(10)))
            .create(&app)
            .await;
        watch(&app, d.id, w.engineer.id, true).await;
        assert_eq!(
            news(&app, &mut since).await,
            [(w.performer.id, K::Assigned)]
        );
        let events = |app: &TestApp| {
            let db = app.db().clone();
            async move {
                defect_events::Entity::find()
                    .filter(defect_events::Column::DefectId.eq(d.id))
                    .all(&db)
                    .await
                    .unwrap()
                    .len()
            }
        };
        let before = events(&app).await;
        set_deadline(&app, &w.boss, d.id, Some(day(10))).await;
        assign(&app, &w.boss, d.id, Some(w.performer.id)).await;
        let patch = defect_service::DefectPatch {
            title: Some(Some(d.title.clone())),
            ..Default::default()
        };
        defect_service::update(app.db(), &w.boss.viewer(), d.id, patch, None)
            .await
            .unwrap();
        assert_eq!(events(&app).await, before, "{}", app.backend);
        assert_eq!(news(&app, &mut since).await, [], "{}", app.backend);
        // The same calls with a real change do notify (the test can fail).
        set_deadline(&app, &w.boss, d.id, Some(day(11))).await;
        assert_eq!(
            news(&app, &mut since).await,
            [(w.performer.id, K::DeadlineChanged)]
        );
    }
}

#[tokio::test]
async fn status_moves_tell_the_watchers_and_review_asks_the_projects_managers() {
    for app in apps().await {
        let w = world(&app).await;
        let mut since = 0;
        let d = DefectBuilder::new(w.project, &w.boss, &w.boss)
            .created_with_performer(w.performer.id)
            .create(&app)
            .await;
        unwatch_all(&app, d.id).await;
        // The member manager watches; the boss watches but is no member.
        for a in [&w.engineer, &w.manager, &w.boss] {
            watch(&app, d.id, a.id, true).await;
        }
        news(&app, &mut since).await;
        // By the boss: the other watchers; never the actor; the performer does not watch.
        move_to(&app, &w.boss, d.id, DefectStatus::InProgress).await;
        assert_eq!(
            news(&app, &mut since).await,
            sorted(vec![
                (w.manager.id, K::StatusChanged),
                (w.engineer.id, K::StatusChanged)
            ]),
            "{}",
            app.backend
        );
        // To REVIEW by the performer: the member managers are asked (the watching one
        // gets that only; the admin member and the non-member boss are not managers of
        // the project), the other watchers are told.
        move_to(&app, &w.performer, d.id, DefectStatus::Review).await;
        assert_eq!(
            news(&app, &mut since).await,
            sorted(vec![
                (w.boss.id, K::StatusChanged),
                (w.manager.id, K::ReviewRequested),
                (w.manager2.id, K::ReviewRequested),
                (w.engineer.id, K::StatusChanged),
            ])
        );
        // Any other move: the watchers only — now with the performer, who watches
        // since moving the status (the automatic rules).
        move_to(&app, &w.manager2, d.id, DefectStatus::Closed).await;
        assert_eq!(
            news(&app, &mut since).await,
            sorted(vec![
                (w.boss.id, K::StatusChanged),
                (w.manager.id, K::StatusChanged),
                (w.performer.id, K::StatusChanged),
                (w.engineer.id, K::StatusChanged),
            ])
        );
        // A performer who watches, in one batch, a move and a deadline change: one
        // notification per event, each event's own kind.
        let d2 = DefectBuilder::new(w.project, &w.boss, &w.boss)
            .created_with_performer(w.performer.id)
            .create(&app)
            .await;
        unwatch_all(&app, d2.id).await;
        watch(&app, d2.id, w.performer.id, true).await;
        news(&app, &mut since).await;
        move_to(&app, &w.boss, d2.id, DefectStatus::InProgress).await;
        set_deadline(&app, &w.boss, d2.id, Some(day(5))).await;
        app.pump().await;
        let mut kinds: Vec<(i32, K)> = notifications::Entity::find()
            .filter(notifications::Column::Id.gt(since))
            .order_by_asc(notifications::Column::Id)
            .all(app.db())
            .await
            .unwrap()
            .iter()
            .map(|n| (n.user_id, n.kind))
            .collect();
        kinds.dedup();
        assert_eq!(
            kinds,
            [
                (w.performer.id, K::StatusChanged),
                (w.performer.id, K::DeadlineChanged)
            ]
        );
    }
}

#[tokio::test]
async fn comments_tell_the_watchers_and_mentions_those_who_can_see() {
    for app in apps().await {
        let w = world(&app).await;
        let mut since = 0;
        let d = DefectBuilder::new(w.project, &w.boss, &w.boss)
            .create(&app)
            .await;
        unwatch_all(&app, d.id).await;
        watch(&app, d.id, w.manager.id, true).await;
        watch(&app, d.id, w.admin.id, true).await;
        watch(&app, d.id, w.engineer.id, true).await;
        watch(&app, d.id, w.performer.id, false).await; // unwatched: no watcher
        news(&app, &mut since).await;
        let body = format!(
            "@{} @{}, (@{}) and @{} — thanks @{}. Mail bob@{} or @nobody",
            w.manager.username,
            w.observer.username,
            w.outsider.username,
            w.engineer.username,
            w.performer.username,
            w.manager2.username,
        );
        comment(&app, &w.engineer, d.id, &body).await;
        // The mentioned watcher gets MENTIONED only; the mentioned outsider (no member)
        // nothing; the actor nothing; an e-mail-like word mentions no one.
        assert_eq!(
            news(&app, &mut since).await,
            sorted(vec![
                (w.manager.id, K::Mentioned),
                (w.admin.id, K::Commented),
                (w.performer.id, K::Mentioned),
                (w.observer.id, K::Mentioned),
            ]),
            "{}",
            app.backend
        );
        // Usernames are matched as written.
        let shouted = format!("@{}", w.manager.username.to_uppercase());
        comment(&app, &w.engineer, d.id, &shouted).await;
        assert_eq!(
            news(&app, &mut since).await,
            sorted(vec![
                (w.manager.id, K::Commented),
                (w.admin.id, K::Commented)
            ])
        );
        // A status move's comment is the move's: the watchers hear of the move.
        defect_service::change_status(
            app.db(),
            &w.boss.viewer(),
            d.id,
            DefectStatus::Cancelled,
            Some(format!("@{}", w.observer.username)),
            None,
        )
        .await
        .unwrap();
        assert_eq!(
            news(&app, &mut since).await,
            sorted(vec![
                (w.manager.id, K::StatusChanged),
                (w.admin.id, K::StatusChanged),
                (w.engineer.id, K::StatusChanged),
            ])
        );
    }
}

#[tokio::test]
async fn never_an_inactive_user_nor_one_who_cannot_see_the_defect_then() {
    for app in apps().await {
        let w = world(&app).await;
        let mut since = 0;
        let d = DefectBuilder::new(w.project, &w.boss, &w.boss)
            .create(&app)
            .await;
        unwatch_all(&app, d.id).await;
        let gone = app.actor(Role::Engineer).await;
        app.add_member(w.project, gone.id).await;
        for a in [&w.outsider, &gone, &w.observer] {
            watch(&app, d.id, a.id, true).await;
        }
        deactivate(&app, gone.id).await;
        let body = format!("@{} @{}", gone.username, w.outsider.username);
        comment(&app, &w.engineer, d.id, &body).await;
        assert_eq!(
            news(&app, &mut since).await,
            [(w.observer.id, K::Commented)],
            "{}",
            app.backend
        );
        // A comment whose defect is deleted before the consumer reads it: nobody; the
        // delete and the restore notify no one either.
        comment(&app, &w.engineer, d.id, "before the delete").await;
        trash::delete(app.db(), &w.boss.viewer(), d.id)
            .await
            .unwrap();
        assert_eq!(news(&app, &mut since).await, []);
        trash::restore(app.db(), &w.boss.viewer(), d.id)
            .await
            .unwrap();
        assert_eq!(news(&app, &mut since).await, []);
        // Removed from the project: an engineer watcher stops hearing.
        watch(&app, d.id, w.engineer.id, true).await;
        comment(&app, &w.boss, d.id, "one").await;
        assert_eq!(
            news(&app, &mut since).await,
            sorted(vec![
                (w.engineer.id, K::Commented),
                (w.observer.id, K::Commented)
            ])
        );
        comment(&app, &w.boss, d.id, "two").await;
        project_members::Entity::delete_by_id((w.project, w.engineer.id))
            .exec(app.db())
            .await
            .unwrap();
        assert_eq!(
            news(&app, &mut since).await,
            [(w.observer.id, K::Commented)]
        );
    }
}

#[tokio::test]
async fn muting_drops_the_chosen_kind_and_gives_no_other() {
    for app in apps().await {
        let w = world(&app).await;
        let mut since = 0;
        let d = DefectBuilder::new(w.project, &w.boss, &w.boss)
            .create(&app)
            .await;
        unwatch_all(&app, d.id).await;
        for a in [&w.engineer, &w.manager, &w.observer] {
            watch(&app, d.id, a.id, true).await;
        }
        mute(&app, w.engineer.id, &[K::Commented]).await;
        // The manager muted MENTIONED: mentioned, they get nothing, not COMMENTED.
        mute(&app, w.manager.id, &[K::Mentioned]).await;
        mute(&app, w.observer.id, &[K::StatusChanged]).await;
        comment(&app, &w.admin, d.id, &format!("@{}", w.manager.username)).await;
        assert_eq!(
            news(&app, &mut since).await,
            [(w.observer.id, K::Commented)],
            "{}",
            app.backend
        );
        comment(&app, &w.admin, d.id, "no mention").await;
        assert_eq!(
            news(&app, &mut since).await,
            sorted(vec![
                (w.manager.id, K::Commented),
                (w.observer.id, K::Commented)
            ])
        );
    }
}

async fn all_notifications(app: &TestApp) -> Vec<notifications::Model> {
    notifications::Entity::find()
        .order_by_asc(notifications::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn each_event_is_notified_exactly_once() {
    for app in apps().await {
        let w = world(&app).await;
        let d = DefectBuilder::new(w.project, &w.boss, &w.boss)
            .create(&app)
            .await;
        unwatch_all(&app, d.id).await;
        watch(&app, d.id, w.engineer.id, true).await;
        watch(&app, d.id, w.observer.id, true).await;
        app.pump().await;
        comment(&app, &w.boss, d.id, "first").await;
        comment(&app, &w.admin, d.id, "second").await;
        // A pass whose transaction rolls back leaves nothing behind, position included.
        let claim = engine::claim(app.db(), NAME).await.unwrap().unwrap();
        let events = defect_events::Entity::find()
            .filter(defect_events::Column::Id.gt(i32::try_from(claim.position).unwrap()))
            .order_by_asc(defect_events::Column::Id)
            .all(&claim.txn)
            .await
            .unwrap();
        assert_eq!(events.len(), 2, "{}", app.backend);
        Derive { email: false }
            .handle(&claim.txn, &events)
            .await
            .unwrap();
        claim.txn.rollback().await.unwrap();
        assert_eq!(app.count("notifications").await, 0);
        // The next pass does it again, once.
        app.pump().await;
        let first = all_notifications(&app).await;
        let mut got: Vec<(i32, i32, K, String, Option<i32>)> = first
            .iter()
            .map(|n| {
                (
                    n.event_id.unwrap(),
                    n.user_id,
                    n.kind,
                    n.dedupe.clone(),
                    n.actor_id,
                )
            })
            .collect();
        got.sort_by_key(|g| (g.0, g.1));
        let (e1, e2) = (events[0].id, events[1].id);
        assert_eq!(
            got,
            [
                // Watchers are read when the event is processed: the admin, who
                // commented second (and so watches), hears of the first comment too.
                (
                    e1,
                    w.admin.id,
                    K::Commented,
                    format!("e:{e1}"),
                    Some(w.boss.id)
                ),
                (
                    e1,
                    w.engineer.id,
                    K::Commented,
                    format!("e:{e1}"),
                    Some(w.boss.id)
                ),
                (
                    e1,
                    w.observer.id,
                    K::Commented,
                    format!("e:{e1}"),
                    Some(w.boss.id)
                ),
                (
                    e2,
                    w.boss.id,
                    K::Commented,
                    format!("e:{e2}"),
                    Some(w.admin.id)
                ),
                (
                    e2,
                    w.engineer.id,
                    K::Commented,
                    format!("e:{e2}"),
                    Some(w.admin.id)
                ),
                (
                    e2,
                    w.observer.id,
                    K::Commented,
                    format!("e:{e2}"),
                    Some(w.admin.id)
                ),
            ]
        );
        assert!(first.iter().all(|n| n.defect_id == d.id
            && n.project_id == w.project
            && n.deadline.is_none()
            && n.read_at.is_none()));
        // Pumping again writes nothing more.
        assert_eq!(app.pump().await.0, 0);
        assert_eq!(all_notifications(&app).await, first);
        // The consumer handling the same events again (a repeat after a lost commit)
        // adds nothing: the dedupe key holds.
        let claim = engine::claim(app.db(), NAME).await.unwrap().unwrap();
        Derive { email: false }
            .handle(&claim.txn, &events)
            .await
            .unwrap();
        claim.txn.commit().await.unwrap();
        assert_eq!(all_notifications(&app).await, first);
    }
}

/// `n` active engineers, members of `project`, watching `defect` (written in bulk).
async fn watching_engineers(app: &TestApp, project: i32, defect: i32, n: usize, tag: &str) {
    let now = defect_control::time::now();
    let users: Vec<users::ActiveModel> = (0..n)
        .map(|i| {
            let name = format!("{tag}{i}");
            users::ActiveModel {
                username: Set(name.clone()),
                email: Set(format!("{name}@test.local")),
                full_name: Set(name.clone()),
                password_hash: Set("x".into()),
                role: Set(Role::Engineer),
                is_active: Set(true),
                search_text: Set(name),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        })
        .collect();
    users::Entity::insert_many(users)
        .exec(app.db())
        .await
        .unwrap();
    let ids: Vec<i32> = users::Entity::find()
        .filter(users::Column::Username.starts_with(tag))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids.len(), n);
    project_members::Entity::insert_many(ids.iter().map(|&u| project_members::ActiveModel {
        project_id: Set(project),
        user_id: Set(u),
        created_at: Set(now),
    }))
    .exec(app.db())
    .await
    .unwrap();
    defect_watchers::Entity::insert_many(ids.iter().map(|&u| defect_watchers::ActiveModel {
        defect_id: Set(defect),
        user_id: Set(u),
        watching: Set(true),
        created_at: Set(now),
    }))
    .exec(app.db())
    .await
    .unwrap();
}

#[tokio::test]
async fn a_batch_costs_the_same_statements_for_5_or_500_watchers() {
    for app in apps().await {
        let w = world(&app).await;
        let mut cost = Vec::new();
        for (n, tag) in [(5usize, "few"), (500, "many")] {
            let d = DefectBuilder::new(w.project, &w.boss, &w.boss)
                .create(&app)
                .await;
            unwatch_all(&app, d.id).await;
            watching_engineers(&app, w.project, d.id, n, tag).await;
            app.pump().await;
            let body = format!("@{} see this", w.observer.username);
            comment(&app, &w.boss, d.id, &body).await;
            let before = app.statements.load(std::sync::atomic::Ordering::SeqCst);
            app.pump().await;
            let after = app.statements.load(std::sync::atomic::Ordering::SeqCst);
            cost.push(after - before);
            let got = notifications::Entity::find()
                .filter(notifications::Column::DefectId.eq(d.id))
                .all(app.db())
                .await
                .unwrap();
            assert_eq!(got.len(), n + 1, "{}", app.backend);
        }
        assert_eq!(cost[0], cost[1], "{}: {cost:?}", app.backend);
        // The pump also runs the clock (its consumer's passes and one tick: about 15
        // statements, none of them per watcher).
        assert!(cost[0] <= 40, "{}: {cost:?}", app.backend);
    }
}

#[tokio::test]
async fn two_instances_on_one_database_notify_each_event_once() {
    for app in apps().await {
        if app.backend != "postgres" {
            continue; // SQLite is one process.
        }
        let w = world(&app).await;
        let d = DefectBuilder::new(w.project, &w.boss, &w.boss)
            .create(&app)
            .await;
        unwatch_all(&app, d.id).await;
        watch(&app, d.id, w.engineer.id, true).await;
        watch(&app, d.id, w.observer.id, true).await;
        app.pump().await;
        let twin = app.twin().await;
        // More than one batch, so both instances find work to claim.
        let n = engine::BATCH as usize + 50;
        for i in 0..n {
            comment(&app, &w.boss, d.id, &format!("note {i}")).await;
        }
        // Each instance runs the consumer's passes until it is at the end; a held
        // position is Busy for the other one, never handled twice.
        async fn passes(app: &TestApp) -> usize {
            let consumer = Derive { email: false };
            let mut handled = 0;
            loop {
                match engine::pass(app.db(), &consumer).await.unwrap() {
                    Pass::Handled(0) => return handled,
                    Pass::Handled(k) => handled += k,
                    Pass::Busy => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
                }
            }
        }
        let (a, b) = tokio::join!(passes(&app), passes(&twin));
        assert_eq!(a + b, n, "handled by each: {a} + {b}");
        // And through the engines' own pumps, concurrently, with more events.
        for i in 0..20 {
            comment(&app, &w.admin, d.id, &format!("more {i}")).await;
        }
        tokio::join!(app.pump(), twin.pump());
        let rows = all_notifications(&app).await;
        // Two watchers each; the boss, who commented first (and so watches), hears of
        // the admin's 20 as well.
        assert_eq!(rows.len(), 2 * (n + 20) + 20);
        let mut keys: Vec<(i32, String)> =
            rows.iter().map(|r| (r.user_id, r.dedupe.clone())).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), rows.len());
        let events = defect_events::Entity::find()
            .filter(defect_events::Column::DefectId.eq(d.id))
            .filter(defect_events::Column::Kind.eq(DefectEventKind::Commented))
            .all(app.db())
            .await
            .unwrap();
        // Each of the boss's comments to the two watchers, each of the admin's to them
        // and the boss.
        assert!(events.iter().all(|e| {
            let want = if e.actor_id == w.admin.id { 3 } else { 2 };
            rows.iter().filter(|r| r.event_id == Some(e.id)).count() == want
        }));
        drop(twin);
    }
}
