//! The maintained report aggregate (`reports::tally`) against the full scan
//! (`reports::queries::aggregate`, the reference) after every step of seeded random
//! sequences of creates, edits, assignments, status moves (back from review and cancel
//! included), deletes, restores, purges, backdating and compactions, on both databases:
//! every report, grouped every way, for several viewers, with and without a project,
//! and on later days (defects become overdue without a write). The projects' sites are
//! in zones far apart (UTC, UTC+14, UTC−11: three local dates at most hours of the day),
//! and a step may move a project to another zone: each project's `overdue` counts by its
//! own today. Deterministic: a failure names the seed and step to replay.
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use defect_control::{
    auth::Viewer,
    domain::{
        defects::{
            filter::DefectFilter,
            service::{self as defects_service, DefectPatch, NewDefect},
            trash,
        },
        projects::{
            service::{self as projects_service, ProjectPatch},
            site_time::{self, Todays},
        },
        reports::{
            queries::{Counts, aggregate},
            service::{self as reports, ReportFilter},
            tally::{self, Group},
        },
    },
    entities::{
        defects,
        enums::{DefectStatus, Priority, Role},
    },
};
use sea_orm::{ActiveModelTrait, EntityTrait, Set, TransactionTrait};

use crate::helpers::{Actor, TestApp, apps};

/// splitmix64: the same seed, the same sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct World {
    admin: Actor,
    manager: Actor,
    observer: Actor,
    /// Engineers 0 and 1 are members of every project, 2 of the first one only.
    engineers: Vec<Actor>,
    projects: Vec<i32>,
    /// Stages per project, in `projects` order.
    stages: Vec<Vec<i32>>,
    ids: Vec<i32>,
    /// When the sequence started; deadlines are picked around its earliest site's today.
    now: DateTime<Utc>,
    today: NaiveDate,
}

/// The sites' zones: UTC, and two far apart (UTC+14 and UTC−11, 25 hours between them).
const ZONES: [&str; 3] = ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"];

async fn world(app: &TestApp) -> World {
    let admin = app.actor(Role::Admin).await;
    let manager = app.actor(Role::Manager).await;
    let observer = app.actor(Role::Observer).await;
    let mut engineers = Vec::new();
    for _ in 0..3 {
        engineers.push(app.actor(Role::Engineer).await);
    }
    let mut projects = Vec::new();
    let mut stages = Vec::new();
    for (i, title) in ["Alpha", "Bravo", "Charlie"].iter().enumerate() {
        let p = app.project(&admin, title).await.id;
        set_zone(app, &admin, p, ZONES[i]).await;
        for (j, e) in engineers.iter().enumerate() {
            if j < 2 || i == 0 {
                app.add_member(p, e.id).await;
            }
        }
        stages.push(vec![
            app.stage(p, "Frame").await.id,
            app.stage(p, "Finish").await.id,
        ]);
        projects.push(p);
    }
    World {
        admin,
        manager,
        observer,
        engineers,
        projects,
        stages,
        ids: Vec::new(),
        now: Utc::now(),
        today: site_time::earliest_today(Utc::now()),
    }
}

async fn set_zone(app: &TestApp, admin: &Actor, project: i32, zone: &str) {
    let patch = ProjectPatch {
        time_zone: Some(Some(zone.to_owned())),
        ..Default::default()
    };
    projects_service::update(app.db(), &admin.viewer(), project, patch)
        .await
        .expect("set the zone");
}

fn sorted(mut rows: Vec<(Option<i32>, Counts)>) -> Vec<(Option<i32>, Counts)> {
    rows.sort_by_key(|(k, _)| *k);
    rows
}

/// Every way a report reads the aggregate, against the full scan; then the drift check.
async fn compare(app: &TestApp, w: &World, what: &str) {
    let db = app.db();
    // Admins, managers and observers see every project; engineers may not open reports,
    // but their visibility narrows the aggregate all the same.
    let viewers: [Viewer; 2] = [w.admin.viewer(), w.engineers[2].viewer()];
    let groups = [
        (Group::Nothing, None),
        (Group::Project, Some(defects::Column::ProjectId)),
        (Group::Performer, Some(defects::Column::PerformerId)),
    ];
    for viewer in &viewers {
        for (group, column) in groups {
            for project in [None, Some(w.projects[1])] {
                // Now, and later (another date in some zones, three days on): defects
                // fall overdue with no write, each by its project's today.
                for later in [0, 13, 72] {
                    let at = w.now + Duration::hours(later);
                    let got = tally::read(db, viewer, project, group, at).await;
                    let filter = DefectFilter {
                        project_id: project,
                        ..Default::default()
                    };
                    let todays = Todays::load(db, at).await.expect("todays");
                    let want = aggregate(db, viewer, &filter, column, &todays).await;
                    assert_eq!(
                        sorted(got.expect("aggregate read")),
                        sorted(want.expect("full scan")),
                        "{} {what}: {:?} group {group:?} project {project:?} now+{later}h",
                        app.backend,
                        viewer.role
                    );
                }
            }
        }
    }
    // A defect list's totalCount: from the aggregate for the filters it is keyed by,
    // against counting the rows; any other filter is left to the row count.
    let open = [
        DefectStatus::New,
        DefectStatus::InProgress,
        DefectStatus::Review,
    ];
    let keyed =
        |project_id, performer_id, status: &[DefectStatus], priority: &[Priority]| DefectFilter {
            project_id,
            performer_id,
            status: status.to_vec(),
            priority: priority.to_vec(),
            ..Default::default()
        };
    let filters = [
        keyed(None, None, &[], &[]),
        keyed(Some(w.projects[1]), None, &[], &[]),
        keyed(None, None, &open, &[]),
        keyed(Some(w.projects[0]), None, &open, &[]),
        keyed(
            Some(w.projects[0]),
            Some(w.engineers[0].id),
            &[],
            &[Priority::High],
        ),
        keyed(
            None,
            Some(w.engineers[1].id),
            &[DefectStatus::Closed, DefectStatus::Cancelled],
            &[Priority::Low, Priority::Medium],
        ),
    ];
    for viewer in &viewers {
        for filter in &filters {
            let got = tally::count(db, viewer, filter)
                .await
                .expect("aggregate count")
                .expect("the aggregate answers a filter on its keys");
            let want = defects_service::count_rows(db, viewer, filter)
                .await
                .expect("row count");
            assert_eq!(
                got, want,
                "{} {what}: totalCount for {:?} {filter:?}",
                app.backend, viewer.role
            );
        }
        let by_stage = DefectFilter {
            stage_id: Some(1),
            ..Default::default()
        };
        assert_eq!(
            tally::count(db, viewer, &by_stage).await.expect("count"),
            None,
            "the aggregate has no stage: the rows are counted"
        );
    }
    // Through the report services: without bounds they read the aggregate; a `from`
    // before everything takes the scanning path over the same defects.
    let forever = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
    for viewer in [w.admin.viewer(), w.observer.viewer()] {
        for project in [None, Some(w.projects[0])] {
            let plain = ReportFilter {
                project_id: project,
                ..Default::default()
            };
            let scanned = ReportFilter {
                from: forever,
                ..plain.clone()
            };
            let what = format!("{} {what}: {:?} {project:?}", app.backend, viewer.role);
            let (a, b) = (
                reports::summary(db, &viewer, &plain).await,
                reports::summary(db, &viewer, &scanned).await,
            );
            assert_eq!(a.expect("summary"), b.expect("summary"), "summary {what}");
            let (a, b) = (
                reports::by_project(db, &viewer, &plain).await,
                reports::by_project(db, &viewer, &scanned).await,
            );
            assert_eq!(
                a.expect("byProject"),
                b.expect("byProject"),
                "byProject {what}"
            );
            let (a, b) = (
                reports::by_engineer(db, &viewer, &plain).await,
                reports::by_engineer(db, &viewer, &scanned).await,
            );
            assert_eq!(
                a.expect("byEngineer"),
                b.expect("byEngineer"),
                "byEngineer {what}"
            );
        }
    }
    let drift = tally::drift(db, w.now).await.expect("drift");
    assert!(drift.is_empty(), "{} {what}: drift {drift:?}", app.backend);
}

fn priority(rng: &mut Rng) -> Priority {
    *rng.pick(&[Priority::Low, Priority::Medium, Priority::High])
}

fn deadline(rng: &mut Rng, today: NaiveDate) -> Option<NaiveDate> {
    (!rng.chance(25)).then(|| today + Duration::days(rng.below(9) as i64 - 4))
}

/// One random change through the services; refusals (an invalid move, a final defect)
/// are part of the sequence and must change nothing.
async fn step(app: &TestApp, w: &mut World, rng: &mut Rng) -> String {
    let db = app.db();
    let manager = w.manager.viewer();
    let roll = rng.below(100);
    if w.ids.is_empty() || roll < 22 {
        let pi = rng.below(w.projects.len());
        let by_engineer = rng.chance(25);
        let author = if by_engineer {
            w.engineers[0].viewer()
        } else {
            manager.clone()
        };
        let performer = (!by_engineer && rng.chance(50)).then(|| w.engineers[rng.below(2)].id);
        let input = NewDefect {
            project_id: w.projects[pi],
            stage_id: rng.chance(60).then(|| *rng.pick(&w.stages[pi])),
            title: format!("Defect {}", rng.below(1000)),
            description: None,
            priority: Some(priority(rng)),
            deadline: deadline(rng, w.today),
            performer_id: performer,
            location: None,
        };
        let r = defects_service::create(db, &author, input).await;
        let d = r.expect("create");
        w.ids.push(d.id);
        return format!("create {}", d.id);
    }
    let id = *rng.pick(&w.ids);
    let current = defects::Entity::find_by_id(id).one(db).await.expect("read");
    let Some(current) = current else {
        return format!("skip purged {id}");
    };
    let pi = w
        .projects
        .iter()
        .position(|p| *p == current.project_id)
        .unwrap_or(0);
    let ok = |r: Result<defects::Model, _>| match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("refused: {e:?}"),
    };
    match roll {
        22..=36 => {
            let patch = DefectPatch {
                stage_id: rng
                    .chance(50)
                    .then(|| rng.chance(70).then(|| *rng.pick(&w.stages[pi]))),
                priority: rng.chance(50).then(|| Some(priority(rng))),
                deadline: rng.chance(60).then(|| deadline(rng, w.today)),
                title: rng.chance(20).then(|| Some("Renamed".to_owned())),
                ..Default::default()
            };
            let r = defects_service::update(db, &manager, id, patch, None).await;
            format!("update {id}: {}", ok(r))
        }
        37..=48 => {
            let who = (!rng.chance(20)).then(|| w.engineers[rng.below(3)].id);
            let r = defects_service::assign(db, &manager, id, who, None).await;
            format!("assign {id} to {who:?}: {}", ok(r))
        }
        49..=78 => {
            use DefectStatus::*;
            let to = *rng.pick(&[InProgress, Review, Closed, Cancelled, InProgress, Review]);
            // The performer moves to review themselves sometimes; managers do the rest.
            let mover = match current.performer_id {
                Some(p) if to == Review && rng.chance(50) => w
                    .engineers
                    .iter()
                    .find(|e| e.id == p)
                    .map_or(manager.clone(), Actor::viewer),
                _ => manager.clone(),
            };
            let r = defects_service::change_status(db, &mover, id, to, None, None).await;
            format!("move {id} {:?} -> {to:?}: {}", current.status, ok(r))
        }
        79..=85 => {
            let r = trash::delete(db, &manager, id).await;
            format!("delete {id}: {}", ok(r))
        }
        86..=91 => {
            let r = trash::restore(db, &manager, id).await;
            format!("restore {id}: {}", ok(r))
        }
        92..=94 => {
            let r = trash::purge(db, &app.state.storage, &w.admin.viewer(), id).await;
            format!(
                "purge {id}: {}",
                r.map_or_else(|e| format!("{e:?}"), |_| "ok".into())
            )
        }
        95..=97 => {
            // Backdating, as the seed does: a new creation time (and closing time).
            let hours = rng.below(24 * 6) as i64;
            let created = current.created_at
                - Duration::hours(hours)
                - Duration::microseconds(rng.below(999_999) as i64);
            let mut am: defects::ActiveModel = current.clone().into();
            am.created_at = Set(created);
            if current.closed_at.is_some() {
                am.closed_at = Set(Some(
                    created + Duration::microseconds(rng.below(1 << 30) as i64),
                ));
            }
            let txn = db.begin().await.expect("begin");
            let after = am.update(&txn).await.expect("backdate");
            tally::apply(&txn, Some(&current), Some(&after))
                .await
                .expect("tally");
            txn.commit().await.expect("commit");
            format!("backdate {id} by {hours} h")
        }
        _ => {
            // Now and then a site moves to another zone instead: counts follow its new
            // today with no write to the aggregate.
            if rng.chance(30) {
                let pi = rng.below(w.projects.len());
                let zone = *rng.pick(&ZONES);
                set_zone(app, &w.admin, w.projects[pi], zone).await;
                return format!("project {} to {zone}", w.projects[pi]);
            }
            let n = tally::compact(db, w.now).await.expect("compact");
            format!("compact ({n} rows)")
        }
    }
}

#[tokio::test]
async fn the_aggregate_equals_a_full_scan_after_every_step() {
    for app in apps().await {
        for seed in [1u64, 2, 3] {
            let mut w = world(&app).await;
            let mut rng = Rng(seed);
            for n in 0..60 {
                let what = step(&app, &mut w, &mut rng).await;
                compare(&app, &w, &format!("seed {seed} step {n} ({what})")).await;
            }
        }
    }
}
