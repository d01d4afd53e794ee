//! `defectByKey` with an over-long key: refused with BAD_USER_INPUT naming `key` before
//! any statement of its own (the request's viewer lookup is the only one), however the
//! 10,000 characters are spelled — a valid key padded with whitespace included.
use std::sync::atomic::Ordering;

use defect_control::{domain::defects::keys::KEY_MAX_CHARS, entities::enums::Role};
use serde_json::json;

use super::BY_KEY;
use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    helpers::apps,
};

#[tokio::test]
async fn an_over_long_key_is_refused_without_touching_the_database() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let p = ProjectBuilder::new(&mgr, "Keys")
            .code("СК1")
            .create(&app)
            .await;
        DefectBuilder::new(p.id, &mgr, &mgr)
            .title("One")
            .create(&app)
            .await;
        // What any request of this viewer costs: its viewer lookup.
        let before = app.statements.load(Ordering::SeqCst);
        app.ok(&mgr, "{ __typename }", json!({})).await;
        let viewer_only = app.statements.load(Ordering::SeqCst) - before;
        assert_eq!(viewer_only, 1, "[{}] the viewer lookup alone", app.backend);

        let n = 10_000;
        let long = [
            "A".repeat(n),
            "1".repeat(n),
            format!("{}-001", "Ж".repeat(n)),
            format!("СК1-{}", "0".repeat(n)),
            format!("СК1-{}1", "0".repeat(n)),
            format!("{}СК1-001", "-".repeat(n)),
            "СК1-001".repeat(n / 7),
            format!("{}СК1-001{}", " ".repeat(n / 2), "\t".repeat(n / 2)),
        ];
        for key in &long {
            let before = app.statements.load(Ordering::SeqCst);
            let body = app.gql(Some(&mgr.token), BY_KEY, json!({ "k": key })).await;
            let used = app.statements.load(Ordering::SeqCst) - before;
            let err = &body["errors"][0];
            assert_eq!(
                err["extensions"]["code"],
                "BAD_USER_INPUT",
                "[{}] {}…: {body}",
                app.backend,
                key.chars().take(12).collect::<String>()
            );
            assert!(err["message"].as_str().unwrap().contains("key"), "{body}");
            assert!(body["data"]["defectByKey"].is_null());
            assert_eq!(
                used,
                viewer_only,
                "[{}] statements for {}…",
                app.backend,
                key.chars().take(12).collect::<String>()
            );
        }
        // The short spelling of the same defect still works, and so does a pasted key
        // with spaces up to KEY_MAX_CHARS characters in all; one more is refused.
        let d = app.ok(&mgr, BY_KEY, json!({ "k": "ск1-1" })).await;
        assert_eq!(d["defectByKey"]["title"], "One");
        let padded = |total: usize| format!("{}СК1-001 ", " ".repeat(total - 8));
        assert_eq!(padded(KEY_MAX_CHARS).chars().count(), KEY_MAX_CHARS);
        let d = app
            .ok(&mgr, BY_KEY, json!({ "k": padded(KEY_MAX_CHARS) }))
            .await;
        assert_eq!(d["defectByKey"]["title"], "One");
        assert_eq!(
            app.code(
                Some(&mgr.token),
                BY_KEY,
                json!({ "k": padded(KEY_MAX_CHARS + 1) })
            )
            .await,
            "BAD_USER_INPUT"
        );
    }
}
