use defect_control::{
    entities::{defects, status_changes},
    i18n::Lang,
    seed,
};
use sea_orm::{EntityTrait, QueryOrder};

use crate::helpers::apps;

#[tokio::test]
async fn the_demo_seed_loads_through_the_services_and_is_idempotent() {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/seed/demo.json"));
    for app in apps().await {
        let first = seed::load_file(app.db(), path, Lang::En)
            .await
            .expect("seed");
        assert_eq!((first.users_created, first.projects_created), (8, 3));
        assert!(first.defects_created >= 30, "{first:?}");
        let again = seed::load_file(app.db(), path, Lang::En)
            .await
            .expect("seed again");
        assert_eq!(
            again,
            seed::SeedReport::default(),
            "nothing new the second time"
        );

        let rows = defects::Entity::find().all(app.db()).await.unwrap();
        let history = status_changes::Entity::find()
            .order_by_asc(status_changes::Column::Id)
            .all(app.db())
            .await
            .unwrap();
        let mut statuses = std::collections::BTreeSet::new();
        for d in &rows {
            statuses.insert(d.status);
            let h: Vec<_> = history.iter().filter(|h| h.defect_id == d.id).collect();
            assert_eq!(h[0].from_status, None, "{}", d.title);
            assert!(
                h.windows(2)
                    .all(|w| w[0].to_status == w[1].from_status.unwrap()),
                "consistent chain for {}",
                d.title
            );
            assert_eq!(h.last().unwrap().to_status, d.status);
            assert_eq!(
                d.version as usize,
                1 + (h.len() - 1) + usize::from(d.performer_id.is_some())
            );
            assert_eq!(
                d.closed_at.is_some(),
                d.status == defect_control::entities::enums::DefectStatus::Closed
            );
            // Times spread like real work: history in order, from creation on.
            assert_eq!(h[0].changed_at, d.created_at, "{}", d.title);
            assert!(
                h.windows(2).all(|w| w[0].changed_at < w[1].changed_at),
                "history in time order for {}",
                d.title
            );
            assert_eq!(d.updated_at, h.last().unwrap().changed_at);
            if let Some(closed) = d.closed_at {
                assert_eq!(closed, h.last().unwrap().changed_at);
                assert!(closed - d.created_at >= chrono::TimeDelta::hours(18));
            }
            assert!(d.created_at < chrono::Utc::now());
        }
        let first = rows.iter().map(|d| d.created_at).min().unwrap();
        let last = rows.iter().map(|d| d.created_at).max().unwrap();
        assert!(
            last - first >= chrono::TimeDelta::days(14),
            "creation dates spread over weeks: {first} .. {last}"
        );
        assert_eq!(statuses.len(), 5, "every status is represented");
        // The README's demo login works.
        let res = app
            .post_json(
                "/api/auth/login/",
                None,
                serde_json::json!({ "username": "manager", "password": "manager12345" }),
            )
            .await;
        assert_eq!(res.status, 200);
    }
}

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/seed/demo.json");

/// Every title, description, comment and name the seed stored, sorted.
async fn texts(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    use defect_control::entities::{comments, projects, stages, users};
    let mut all = Vec::new();
    for p in projects::Entity::find().all(db).await.unwrap() {
        all.extend([p.title, p.description]);
    }
    for s in stages::Entity::find().all(db).await.unwrap() {
        all.push(s.title);
    }
    for d in defects::Entity::find().all(db).await.unwrap() {
        all.extend([d.title, d.description]);
    }
    for c in comments::Entity::find().all(db).await.unwrap() {
        all.push(c.body);
    }
    for u in users::Entity::find().all(db).await.unwrap() {
        all.push(u.full_name);
    }
    all.retain(|t| !t.is_empty());
    all.sort();
    all
}

fn cyrillic(text: &str) -> bool {
    text.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

#[tokio::test]
async fn the_demo_seed_speaks_the_chosen_language_and_reseeding_in_the_other_adds_nothing() {
    let path = std::path::Path::new(DEMO);
    for app in apps().await {
        seed::load_file(app.db(), path, Lang::Ru).await.expect("ru");
        let ru = texts(app.db()).await;
        assert!(ru.len() > 100, "{}", ru.len());
        let latin: Vec<_> = ru.iter().filter(|t| !cyrillic(t)).collect();
        assert!(
            latin.is_empty(),
            "English left in the Russian demo: {latin:?}"
        );
        for expected in [
            "ЖК «Северный» — корпус 1",
            "Офисный центр «Риверсайд»",
            "Отсутствует огнезащитный герметик в кабельной проходке",
            "Трещина в стяжке пола, секция 2",
            "Несущие конструкции",
            "Михаил Петров",
            "Нужна вторая бригада, согласую.",
        ] {
            assert!(ru.iter().any(|t| t == expected), "{expected}");
        }
        let notes: Vec<_> = status_changes::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .into_iter()
            .filter_map(|h| h.comment)
            .collect();
        assert!(
            !notes.is_empty() && notes.iter().all(|n| cyrillic(n)),
            "{notes:?}"
        );

        // A database seeded in Russian finds every item under its English label too.
        let again = seed::load_file(app.db(), path, Lang::En).await.expect("en");
        assert_eq!(again, seed::SeedReport::default());
        assert_eq!(texts(app.db()).await, ru, "nothing renamed or added");
    }
    for app in apps().await {
        seed::load_file(app.db(), path, Lang::En).await.expect("en");
        let en = texts(app.db()).await;
        // The project code СК1 is data, not a label; no stored text is Russian.
        let russian: Vec<_> = en.iter().filter(|t| cyrillic(t)).collect();
        assert!(
            russian.is_empty(),
            "Russian left in the English demo: {russian:?}"
        );
        for expected in [
            "Severny Residential Complex, Block 1",
            "Missing fire seal at cable penetration",
            "Crack in floor screed, section 2",
            "Mikhail Petrov",
        ] {
            assert!(en.iter().any(|t| t == expected), "{expected}");
        }
    }
}

#[tokio::test]
async fn a_label_with_one_language_stops_the_seed_naming_it_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let demo: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(DEMO).unwrap()).unwrap();
    let broken = |label: serde_json::Value| {
        let mut file = demo.clone();
        file["defects"][0]["title"] = label;
        let path = dir.path().join("demo.json");
        std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
        path
    };
    let cases = [
        (
            serde_json::json!({ "en": "Crack in floor screed" }),
            r#"label {"en":"Crack in floor screed"} has no "ru" text"#,
        ),
        (
            serde_json::json!({ "en": "Crack", "ru": "Трещина", "de": "Riss" }),
            r#"unknown language "de""#,
        ),
    ];
    for app in apps().await {
        for (label, expected) in &cases {
            let path = broken(label.clone());
            let message = seed::load_file(app.db(), &path, Lang::Ru)
                .await
                .expect_err("a bad label")
                .to_string();
            assert!(
                message.contains("demo.json") && message.contains(expected),
                "{message}"
            );
        }
        assert_eq!(
            defect_control::entities::users::Entity::find()
                .all(app.db())
                .await
                .unwrap()
                .len(),
            0,
            "nothing seeded"
        );
    }
}

#[tokio::test]
async fn the_demo_journal_dates_each_event_when_what_it_records_happened() {
    use defect_control::entities::{comments, defect_events, enums::DefectEventKind};
    for app in apps().await {
        seed::load_file(app.db(), std::path::Path::new(DEMO), Lang::En)
            .await
            .expect("seed");
        let events = defect_events::Entity::find()
            .order_by_asc(defect_events::Column::Id)
            .all(app.db())
            .await
            .unwrap();
        let history = status_changes::Entity::find().all(app.db()).await.unwrap();
        let notes = comments::Entity::find().all(app.db()).await.unwrap();
        let rows = defects::Entity::find().all(app.db()).await.unwrap();
        let (mut changes, mut commented) = (0, 0);
        for e in &events {
            let defect = rows.iter().find(|d| d.id == e.defect_id).unwrap();
            if let Some(id) = e.status_change_id {
                let h = history.iter().find(|h| h.id == id).unwrap();
                assert_eq!(e.at, h.changed_at, "[{}] {e:?}", app.backend);
                changes += 1;
            }
            if let Some(id) = e.comment_id {
                let c = notes.iter().find(|c| c.id == id).unwrap();
                assert_eq!(e.at, c.created_at, "[{}] {e:?}", app.backend);
                commented += 1;
            }
            if e.kind == DefectEventKind::Created {
                assert_eq!(e.at, defect.created_at, "[{}] {e:?}", app.backend);
            }
            assert!(defect.created_at <= e.at, "[{}] {e:?}", app.backend);
            // The demo's history ends a day or more ago (`backdate::spread`): no event
            // of it is dated today.
            assert!(
                chrono::Utc::now() - e.at >= chrono::TimeDelta::hours(23),
                "[{}] {e:?} dated the day of seeding",
                app.backend
            );
        }
        assert!(changes >= rows.len() && commented == notes.len() && commented > 0);
    }
}
