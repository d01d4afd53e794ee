use defect_control::{
    entities::{defects, status_changes},
    seed,
};
use sea_orm::{EntityTrait, QueryOrder};

use crate::helpers::apps;

#[tokio::test]
async fn the_demo_seed_loads_through_the_services_and_is_idempotent() {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/seed/demo.json"));
    for app in apps().await {
        let first = seed::load_file(app.db(), path).await.expect("seed");
        assert_eq!((first.users_created, first.projects_created), (8, 3));
        assert!(first.defects_created >= 30, "{first:?}");
        let again = seed::load_file(app.db(), path).await.expect("seed again");
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
