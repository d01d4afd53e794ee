//! `defect-control reports-check [--repair]` and the library function behind it
//! (`reports::check::run`): after a `report_counts` row and a `report_deadlines` row are
//! corrupted directly in the database, the check names the drift and changes nothing, the
//! repair rebuilds the aggregate (reports read the true numbers again) and the next check
//! passes; the binary exits 1 while drift is left, 0 once it is exact.
use chrono::{Duration, Utc};
use defect_control::{
    domain::reports::check,
    entities::{
        enums::{DefectStatus, Role},
        report_counts, report_deadlines,
    },
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::{
    builders::DefectBuilder,
    helpers::{TestApp, apps},
};

/// `n` of the project's NEW, unassigned, MEDIUM `report_counts` row.
async fn new_count(app: &TestApp, project: i32) -> i64 {
    report_counts::Entity::find()
        .filter(report_counts::Column::ProjectId.eq(project))
        .filter(report_counts::Column::PerformerId.eq(0))
        .filter(report_counts::Column::Status.eq(0))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|r| r.n)
        .sum()
}

async fn deadline_rows(app: &TestApp, project: i32) -> usize {
    report_deadlines::Entity::find()
        .filter(report_deadlines::Column::ProjectId.eq(project))
        .all(app.db())
        .await
        .unwrap()
        .len()
}

/// One counts row off by five, one deadline row gone.
async fn corrupt(app: &TestApp, project: i32) {
    for sql in [
        format!(
            "UPDATE report_counts SET n = n + 5 WHERE project_id = {project} AND performer_id = 0 AND status = 0"
        ),
        format!("DELETE FROM report_deadlines WHERE project_id = {project}"),
    ] {
        let done = app.db().execute_unprepared(&sql).await.unwrap();
        assert!(done.rows_affected() >= 1, "[{}] {sql}", app.backend);
    }
}

async fn total(app: &TestApp, who: &crate::helpers::Actor) -> i64 {
    app.ok(who, "{ reports { summary { total } } }", json!({}))
        .await["reports"]["summary"]["total"]
        .as_i64()
        .unwrap()
}

/// The binary's `reports-check` on the app's database: exit code and standard output.
async fn cli(app: &TestApp, args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_defect-control"))
        .arg("reports-check")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.state.config.database_url)
        .env("STORAGE_URL", "memory://")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run the binary");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.code().is_some(),
        "[{}] killed: {}",
        app.backend,
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap(), stdout)
}

#[tokio::test]
async fn reports_check_finds_drift_changes_nothing_and_repair_rebuilds_the_aggregate() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let project = app.project(&mgr, "Tower").await.id;
        let soon = Utc::now().date_naive() + Duration::days(30);
        for (title, deadline) in [("One", None), ("Two", Some(soon)), ("Three", None)] {
            DefectBuilder::new(project, &mgr, &mgr)
                .title(title)
                .deadline(deadline)
                .status(DefectStatus::New)
                .create(&app)
                .await;
        }
        let now = defect_control::time::now();
        let clean = check::run(app.db(), now, false).await.unwrap();
        assert!(clean.drift.is_empty() && clean.exact(), "{clean:?}");
        assert_eq!(cli(&app, &[]).await.0, 0, "[{}]", app.backend);
        assert_eq!(
            (
                new_count(&app, project).await,
                deadline_rows(&app, project).await
            ),
            (3, 1)
        );
        assert_eq!(total(&app, &mgr).await, 3);

        // Corrupted: the check names both buckets and leaves them as they are.
        corrupt(&app, project).await;
        assert_eq!(
            total(&app, &mgr).await,
            8,
            "[{}] reports read the aggregate",
            app.backend
        );
        let found = check::run(app.db(), now, false).await.unwrap();
        assert_eq!(found.drift.len(), 2, "[{}] {found:?}", app.backend);
        assert!(found.left.is_none() && !found.exact());
        let counts = found
            .drift
            .iter()
            .find(|d| d.what.starts_with("counts"))
            .unwrap();
        assert!(
            counts.maintained.starts_with("n=8 ") && counts.fresh.starts_with("n=3 "),
            "{counts:?}"
        );
        assert!(
            found
                .drift
                .iter()
                .any(|d| d.what.starts_with(&format!("deadline {soon}")))
        );
        let (code, out) = cli(&app, &[]).await;
        assert_eq!(code, 1, "[{}] {out}", app.backend);
        assert!(out.contains("maintained n=8 "), "{out}");
        assert!(out.contains("2 difference(s)"), "{out}");
        assert!(out.contains("--repair"), "{out}");
        assert_eq!(
            (
                new_count(&app, project).await,
                deadline_rows(&app, project).await
            ),
            (8, 0)
        );

        // The binary repairs.
        let (code, out) = cli(&app, &["--repair"]).await;
        assert_eq!(code, 0, "[{}] {out}", app.backend);
        assert!(
            out.contains("2 difference(s)") && out.contains("rebuilt: 0 difference(s) left"),
            "{out}"
        );
        assert_eq!(
            (
                new_count(&app, project).await,
                deadline_rows(&app, project).await
            ),
            (3, 1)
        );
        assert_eq!(total(&app, &mgr).await, 3);
        let (code, out) = cli(&app, &["--repair"]).await;
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("0 difference(s)") && !out.contains("rebuilt"),
            "nothing to rebuild: {out}"
        );

        // So does the library function, and says what it left.
        corrupt(&app, project).await;
        let repaired = check::run(app.db(), now, true).await.unwrap();
        assert_eq!(repaired.drift.len(), 2);
        assert_eq!(repaired.left.as_ref().map(Vec::len), Some(0));
        assert!(repaired.exact());
        assert_eq!(
            (
                new_count(&app, project).await,
                deadline_rows(&app, project).await
            ),
            (3, 1)
        );
        let after = check::run(app.db(), now, false).await.unwrap();
        assert!(after.drift.is_empty() && after.exact(), "{after:?}");
        assert_eq!(total(&app, &mgr).await, 3);
    }
}
