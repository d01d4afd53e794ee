//! The inbox (NOTIFY.md, "Notifications" → Reading): the viewer's own notifications,
//! newest first, only about defects it can see now, with the counts; marking read;
//! the settings. Rows are made with `store::insert` in a transaction, as the engine's
//! consumer makes them. The live subscription is in `notifications/live.rs`.
mod live;

use std::sync::atomic::{AtomicUsize, Ordering};

use defect_control::{
    domain::notifications::store::{self, New},
    entities::{
        defect_events, defects,
        enums::{NotificationKind, Role},
        notification_settings, notifications,
    },
};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait, sea_query::Expr,
};
use serde_json::{Value, json};

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    helpers::{Actor, Cast, TestApp, apps},
};

static DEDUPE: AtomicUsize = AtomicUsize::new(0);

const LIST: &str = r"
    query($f: Int, $a: String, $u: Boolean) {
      notifications(first: $f, after: $a, unreadOnly: $u) {
        totalCount unreadCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id cursor } }
        nodes { id kind readAt }
      }
    }
";
const MARK: &str = "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }";
const SETTINGS: &str = "{ myNotificationSettings { email muted language } }";
const UPDATE_SETTINGS: &str = r"
    mutation($e: Boolean, $m: [NotificationKind!], $l: String) {
      updateMyNotificationSettings(email: $e, muted: $m, language: $l) { email muted language }
    }
";

/// A project (code СК1) with the cast's engineer as a member, and two defects in it.
pub struct Site {
    pub cast: Cast,
    pub project: i32,
    pub defects: [defects::Model; 2],
}

pub async fn site(app: &TestApp) -> Site {
    let cast = app.cast().await;
    let project = ProjectBuilder::new(&cast.admin, "Tower")
        .code("СК1")
        .member(cast.engineer.id)
        .create(app)
        .await;
    let mgr = &cast.manager;
    let a = DefectBuilder::new(project.id, mgr, mgr)
        .title("Crack in the screed")
        .create(app)
        .await;
    let b = DefectBuilder::new(project.id, mgr, mgr)
        .title("Leak")
        .create(app)
        .await;
    Site {
        project: project.id,
        defects: [a, b],
        cast,
    }
}

/// The newest journal event of `defect`.
pub async fn last_event(app: &TestApp, defect: i32) -> defect_events::Model {
    defect_events::Entity::find()
        .filter(defect_events::Column::DefectId.eq(defect))
        .order_by_desc(defect_events::Column::Id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Notifications of `kind` about `defect` for each of `users`, in one transaction (as
/// the engine's consumer writes them): an event's kinds name the defect's newest event
/// and its actor, the clock's kinds neither.
pub async fn notify(
    app: &TestApp,
    users: &[&Actor],
    defect: &defects::Model,
    kind: NotificationKind,
) -> Vec<notifications::Model> {
    let clock = matches!(
        kind,
        NotificationKind::DueSoon | NotificationKind::Overdue | NotificationKind::Escalated
    );
    let event = last_event(app, defect.id).await;
    let rows = users
        .iter()
        .map(|u| New {
            user_id: u.id,
            defect_id: defect.id,
            project_id: defect.project_id,
            kind,
            event_id: (!clock).then_some(event.id),
            actor_id: (!clock).then_some(event.actor_id),
            deadline: clock.then(|| chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()),
            dedupe: format!("t:{}", DEDUPE.fetch_add(1, Ordering::SeqCst)),
        })
        .collect();
    let txn = app.db().begin().await.unwrap();
    let made = store::insert(&txn, rows, false).await.unwrap();
    txn.commit().await.unwrap();
    made
}

/// The ids of a list's nodes.
fn ids(list: &Value) -> Vec<i32> {
    list["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn list(app: &TestApp, who: &Actor, vars: Value) -> Value {
    app.ok(who, LIST, vars).await["notifications"].clone()
}

/// `read_at` of the given rows, from the table.
async fn read_at(app: &TestApp, ids: &[i32]) -> Vec<bool> {
    let rows = notifications::Entity::find()
        .filter(notifications::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(notifications::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    rows.iter().map(|n| n.read_at.is_some()).collect()
}

#[tokio::test]
async fn the_inbox_lists_the_viewers_own_newest_first_in_pages_with_both_counts() {
    use NotificationKind::{Assigned, Commented, Overdue, StatusChanged};
    for app in apps().await {
        let s = site(&app).await;
        let (eng, mgr) = (&s.cast.engineer, &s.cast.manager);
        let [a, b] = &s.defects;
        let mut mine = Vec::new();
        for (d, kind) in [
            (a, Assigned),
            (b, Commented),
            (a, StatusChanged),
            (b, Overdue),
            (a, Commented),
        ] {
            mine.extend(notify(&app, &[eng], d, kind).await.iter().map(|n| n.id));
        }
        let theirs: Vec<i32> = notify(&app, &[mgr, &s.cast.admin], a, Commented)
            .await
            .iter()
            .map(|n| n.id)
            .collect();
        let newest_first: Vec<i32> = mine.iter().rev().copied().collect();

        let mut seen = Vec::new();
        let mut after = Value::Null;
        for want in [2, 2, 1] {
            let page = list(&app, eng, json!({ "f": 2, "a": after })).await;
            assert_eq!(page["totalCount"], 5, "[{}] {page}", app.backend);
            assert_eq!(page["unreadCount"], 5, "[{}]", app.backend);
            assert_eq!(page["nodes"].as_array().unwrap().len(), want);
            assert_eq!(page["pageInfo"]["hasNextPage"], want == 2);
            for e in page["edges"].as_array().unwrap() {
                assert_eq!(e["cursor"], e["node"]["cursor"]);
            }
            seen.extend(ids(&page));
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(seen, newest_first, "[{}]", app.backend);
        // Kinds as stored.
        let all = list(&app, eng, json!({})).await;
        let kinds: Vec<&str> = all["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "COMMENTED",
                "OVERDUE",
                "STATUS_CHANGED",
                "COMMENTED",
                "ASSIGNED"
            ]
        );
        // Only one's own: the manager sees its one, never the engineer's.
        let m = list(&app, mgr, json!({})).await;
        assert_eq!(ids(&m), [theirs[0]], "[{}]", app.backend);
        assert_eq!(
            (m["totalCount"].as_i64(), m["unreadCount"].as_i64()),
            (Some(1), Some(1))
        );
        // A page size beyond the bound is refused naming `first`; a foreign cursor too.
        assert_eq!(
            app.code(Some(&eng.token), LIST, json!({ "f": 101 })).await,
            "BAD_USER_INPUT"
        );
        let other = app
            .ok(
                eng,
                "{ defects(first: 1) { pageInfo { endCursor } } }",
                json!({}),
            )
            .await["defects"]["pageInfo"]["endCursor"]
            .clone();
        assert_eq!(
            app.code(Some(&eng.token), LIST, json!({ "a": other }))
                .await,
            "BAD_USER_INPUT"
        );
    }
}

#[tokio::test]
async fn a_notification_is_hidden_while_its_defect_is_invisible_and_after_a_delete() {
    use NotificationKind::{Assigned, Commented};
    for app in apps().await {
        let s = site(&app).await;
        let (eng, admin) = (&s.cast.engineer, &s.cast.admin);
        let [a, b] = &s.defects;
        let na = notify(&app, &[eng], a, Assigned).await[0].id;
        let nb = notify(&app, &[eng], b, Commented).await[0].id;
        assert_eq!(ids(&list(&app, eng, json!({})).await), [nb, na]);

        // Removed from the project: nothing, and nothing to count or mark.
        app.ok(
            admin,
            "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) { id } }",
            json!({ "p": s.project.to_string(), "u": eng.gid() }),
        )
        .await;
        let gone = list(&app, eng, json!({})).await;
        assert_eq!(ids(&gone), Vec::<i32>::new(), "[{}]", app.backend);
        assert_eq!(
            (gone["totalCount"].as_i64(), gone["unreadCount"].as_i64()),
            (Some(0), Some(0))
        );
        assert_eq!(
            app.ok(eng, MARK, json!({})).await["markNotificationsRead"],
            0
        );
        assert_eq!(
            app.ok(eng, MARK, json!({ "ids": [na.to_string()] })).await["markNotificationsRead"],
            0
        );
        assert_eq!(read_at(&app, &[na, nb]).await, [false, false]);

        // Back in it: both again. The second defect deleted: its notification goes.
        app.add_member(s.project, eng.id).await;
        assert_eq!(ids(&list(&app, eng, json!({})).await), [nb, na]);
        app.ok(
            &s.cast.manager,
            "mutation($id: ID!) { deleteDefect(id: $id) }",
            json!({ "id": b.id.to_string() }),
        )
        .await;
        let left = list(&app, eng, json!({})).await;
        assert_eq!(ids(&left), [na], "[{}]", app.backend);
        assert_eq!(
            (left["totalCount"].as_i64(), left["unreadCount"].as_i64()),
            (Some(1), Some(1))
        );
        // Marking all marks what the list shows, not the hidden one.
        assert_eq!(
            app.ok(eng, MARK, json!({})).await["markNotificationsRead"],
            1
        );
        assert_eq!(
            read_at(&app, &[na, nb]).await,
            [true, false],
            "[{}]",
            app.backend
        );

        // Restored: it is back, unread.
        app.ok(
            &s.cast.manager,
            "mutation($id: ID!) { restoreDefect(id: $id) { id } }",
            json!({ "id": b.id.to_string() }),
        )
        .await;
        let back = list(&app, eng, json!({})).await;
        assert_eq!(ids(&back), [nb, na], "[{}]", app.backend);
        assert_eq!(back["unreadCount"].as_i64(), Some(1));

        // A row the consumer wrote from a state read before a delete committed (it
        // says "live"): hidden once the consumer reaches the DELETED event.
        app.pump().await;
        app.ok(
            &s.cast.manager,
            "mutation($id: ID!) { deleteDefect(id: $id) }",
            json!({ "id": b.id.to_string() }),
        )
        .await;
        notifications::Entity::update_many()
            .col_expr(notifications::Column::DefectDeleted, Expr::value(false))
            .filter(notifications::Column::Id.eq(nb))
            .exec(app.db())
            .await
            .unwrap();
        assert_eq!(ids(&list(&app, eng, json!({})).await), [nb, na]);
        app.pump().await;
        assert_eq!(
            ids(&list(&app, eng, json!({})).await),
            [na],
            "[{}]",
            app.backend
        );
        // And a row inserted about a deleted defect is stored hidden.
        let late = notify(&app, &[eng], b, Commented).await[0].id;
        assert!(
            notifications::Entity::find_by_id(late)
                .one(app.db())
                .await
                .unwrap()
                .unwrap()
                .defect_deleted
        );
        assert_eq!(ids(&list(&app, eng, json!({})).await), [na]);
    }
}

#[tokio::test]
async fn marking_read_touches_only_the_viewers_own_and_counts_what_changed() {
    use NotificationKind::{Assigned, Commented, StatusChanged};
    for app in apps().await {
        let s = site(&app).await;
        let (eng, mgr) = (&s.cast.engineer, &s.cast.manager);
        let [a, b] = &s.defects;
        let n1 = notify(&app, &[eng], a, Assigned).await[0].id;
        let n2 = notify(&app, &[eng], b, Commented).await[0].id;
        let n3 = notify(&app, &[eng], a, StatusChanged).await[0].id;
        let other = notify(&app, &[mgr], a, Commented).await[0].id;

        // Another's id (and one that is nobody's, and garbage): nothing changes, no error.
        let before = app.snapshot().await;
        let got = app
            .ok(
                eng,
                MARK,
                json!({ "ids": [other.to_string(), "999999", "x"] }),
            )
            .await;
        assert_eq!(got["markNotificationsRead"], 0, "[{}]", app.backend);
        assert_eq!(app.snapshot().await, before, "[{}]", app.backend);
        assert_eq!(
            app.ok(eng, MARK, json!({ "ids": [] })).await["markNotificationsRead"],
            0
        );

        // Own ids, one twice and one of another's beside them: one changes.
        let got = app
            .ok(
                eng,
                MARK,
                json!({ "ids": [n2.to_string(), n2.to_string(), other.to_string()] }),
            )
            .await;
        assert_eq!(got["markNotificationsRead"], 1);
        assert_eq!(
            read_at(&app, &[n1, n2, n3, other]).await,
            [false, true, false, false]
        );
        // Again: already read, nothing changes.
        assert_eq!(
            app.ok(eng, MARK, json!({ "ids": [n2.to_string()] })).await["markNotificationsRead"],
            0
        );

        let unread = list(&app, eng, json!({ "u": true })).await;
        assert_eq!(ids(&unread), [n3, n1], "[{}]", app.backend);
        assert_eq!(
            (
                unread["totalCount"].as_i64(),
                unread["unreadCount"].as_i64()
            ),
            (Some(2), Some(2))
        );
        let all = list(&app, eng, json!({ "u": false })).await;
        assert_eq!(ids(&all), [n3, n2, n1]);
        assert_eq!(
            (all["totalCount"].as_i64(), all["unreadCount"].as_i64()),
            (Some(3), Some(2))
        );
        assert!(all["nodes"][1]["readAt"].is_string());
        assert!(all["nodes"][0]["readAt"].is_null());

        // Too many ids: refused naming `ids`, nothing changes.
        let before = app.snapshot().await;
        let many: Vec<String> = (0..501).map(|i| i.to_string()).collect();
        let body = app
            .gql(Some(&eng.token), MARK, json!({ "ids": many }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("ids"),
            "{body}"
        );
        assert_eq!(app.snapshot().await, before);

        // Without ids: every unread one the list shows; the manager's stays unread.
        assert_eq!(
            app.ok(eng, MARK, json!({})).await["markNotificationsRead"],
            2
        );
        assert_eq!(
            read_at(&app, &[n1, n2, n3, other]).await,
            [true, true, true, false]
        );
        let none = list(&app, eng, json!({ "u": true })).await;
        assert_eq!(
            (none["totalCount"].as_i64(), none["unreadCount"].as_i64()),
            (Some(0), Some(0))
        );
        assert_eq!(app.code(None, MARK, json!({})).await, "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn settings_default_update_per_field_and_refuse_an_unknown_language() {
    for app in apps().await {
        let eng = app.actor(Role::Engineer).await;
        let got = app.ok(&eng, SETTINGS, json!({})).await["myNotificationSettings"].clone();
        assert_eq!(got, json!({ "email": true, "muted": [], "language": "en" }));
        assert_eq!(app.count("notification_settings").await, 0);

        let got = app
            .ok(
                &eng,
                UPDATE_SETTINGS,
                json!({ "m": ["COMMENTED", "OVERDUE", "COMMENTED"], "l": "ru" }),
            )
            .await["updateMyNotificationSettings"]
            .clone();
        assert_eq!(
            got,
            json!({ "email": true, "muted": ["COMMENTED", "OVERDUE"], "language": "ru" })
        );
        // Only what is given changes.
        let got = app.ok(&eng, UPDATE_SETTINGS, json!({ "e": false })).await["updateMyNotificationSettings"].clone();
        assert_eq!(
            got,
            json!({ "email": false, "muted": ["COMMENTED", "OVERDUE"], "language": "ru" })
        );
        let got = app.ok(&eng, SETTINGS, json!({})).await["myNotificationSettings"].clone();
        assert_eq!(got["language"], "ru");
        let row = notification_settings::Entity::find_by_id(eng.id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.email, row.language.as_str()),
            (false, "ru"),
            "[{}]",
            app.backend
        );
        let stored = store::settings_of(app.db(), [eng.id]).await.unwrap()[&eng.id].clone();
        assert_eq!(
            stored.muted,
            [NotificationKind::Commented, NotificationKind::Overdue]
        );

        // Another user is untouched.
        let other = app.actor(Role::Engineer).await;
        let got = app.ok(&other, SETTINGS, json!({})).await["myNotificationSettings"].clone();
        assert_eq!(got, json!({ "email": true, "muted": [], "language": "en" }));

        // Refusals change nothing.
        let before = app.snapshot().await;
        for lang in ["de", "", "EN"] {
            let body = app
                .gql(
                    Some(&eng.token),
                    UPDATE_SETTINGS,
                    json!({ "e": true, "l": lang }),
                )
                .await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{body}"
            );
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("language"),
                "{body}"
            );
        }
        assert_eq!(
            app.code(Some(&eng.token), UPDATE_SETTINGS, json!({ "m": ["NOPE"] }))
                .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(app.snapshot().await, before, "[{}]", app.backend);
        assert_eq!(app.code(None, SETTINGS, json!({})).await, "UNAUTHENTICATED");
    }
}

const FULL: &str = r"
    query($f: Int) {
      notifications(first: $f) {
        totalCount unreadCount
        nodes {
          id kind text createdAt readAt
          defect { id key title project { id } }
          event { id kind actor { id } }
          actor { id username }
        }
      }
    }
";

#[tokio::test]
async fn a_notification_names_its_defect_event_and_actor_and_a_page_costs_the_same_at_3_and_20_rows()
 {
    use NotificationKind::{Commented, Overdue};
    for app in apps().await {
        let s = site(&app).await;
        let (eng, mgr) = (&s.cast.engineer, &s.cast.manager);
        let [a, b] = &s.defects;
        let n = notify(&app, &[eng], a, Commented).await[0].clone();
        let late = notify(&app, &[eng], b, Overdue).await[0].clone();
        let page = list_full(&app, eng, 2).await;
        let (o, c) = (&page["nodes"][0], &page["nodes"][1]);
        assert_eq!(o["id"], late.id.to_string());
        assert_eq!(o["kind"], "OVERDUE");
        assert!(o["event"].is_null() && o["actor"].is_null(), "{o}");
        assert_eq!(o["defect"]["key"], "СК1-002");
        assert_eq!(c["kind"], "COMMENTED");
        assert_eq!(c["event"]["id"], n.event_id.unwrap().to_string());
        assert_eq!(c["actor"]["id"], mgr.gid());
        assert_eq!(c["event"]["actor"]["id"], mgr.gid());
        assert_eq!(c["defect"]["title"], "Crack in the screed");
        assert!(c["text"].as_str().unwrap().contains("СК1-001"), "{c}");
        assert!(o["text"].as_str().unwrap().contains("СК1-002"), "{o}");
        assert!(c["createdAt"].is_string() && c["readAt"].is_null());

        // Statements for a page: the same for 3 and for 20 rows over several defects,
        // actors and events (clock kinds among them).
        let more = app.actor(Role::Manager).await;
        let mut cost = Vec::new();
        for rows in [3usize, 20] {
            let who = app.actor(Role::Engineer).await;
            app.add_member(s.project, who.id).await;
            for i in 0..rows {
                let d = DefectBuilder::new(s.project, if i % 2 == 0 { mgr } else { &more }, mgr)
                    .title(&format!("D{i}"))
                    .create(&app)
                    .await;
                let kind = if i % 3 == 0 { Overdue } else { Commented };
                notify(&app, &[&who], &d, kind).await;
            }
            let before = app.statements.load(Ordering::SeqCst);
            let page = list_full(&app, &who, 20).await;
            cost.push(app.statements.load(Ordering::SeqCst) - before);
            assert_eq!(page["nodes"].as_array().unwrap().len(), rows);
        }
        assert_eq!(
            cost[0], cost[1],
            "[{}] statements for 3 and 20 rows: {cost:?}",
            app.backend
        );
    }
}

async fn list_full(app: &TestApp, who: &Actor, first: i32) -> Value {
    app.ok(who, FULL, json!({ "f": first })).await["notifications"].clone()
}
