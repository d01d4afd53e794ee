//! SQL statements per request, counted on the connection (SeaORM's metric callback)
//! while the app answers each scenario's request in-process.
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{body::Body, http::Request};
use defect_control::{config::Config, db, state::AppState};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub async fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = db::connect(url, None).await?;
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    conn.set_metric_callback(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    let mut config = Config::for_database(url);
    config.jwt_secret = Some("bench-secret-bench-secret-bench-secret!".into());
    let state = AppState::new(conn, config)?;
    // A real session: access tokens are only honoured while their login session lives.
    let user = <defect_control::entities::users::Entity as sea_orm::EntityTrait>::find_by_id(1)
        .one(&state.db)
        .await?
        .ok_or("the bench database has no user 1")?;
    let token = defect_control::auth::service::open_session(state.sessions(), user)
        .await?
        .access;
    let app = defect_control::app(state);
    let count = |query: &'static str, vars: Value| {
        let (app, token, counter) = (app.clone(), token.clone(), counter.clone());
        async move {
            let body = json!({ "query": query, "variables": vars }).to_string();
            let req = Request::post("/graphql")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from(body))
                .expect("request");
            let before = counter.load(Ordering::SeqCst);
            let res = app.oneshot(req).await.expect("response");
            let bytes = res.into_body().collect().await.expect("body").to_bytes();
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            assert!(v.get("errors").is_none(), "{v}");
            counter.load(Ordering::SeqCst) - before
        }
    };
    println!("| request | SQL statements |");
    println!("|---|---|");
    for n in [10, 50, 100] {
        let mut vars = crate::list_vars(7);
        vars["n"] = json!(n);
        println!(
            "| filtered list, {n} rows | {} |",
            count(crate::LIST, vars).await
        );
    }
    println!(
        "| defect detail | {} |",
        count(crate::DETAIL, json!({ "id": "12345" })).await
    );
    println!(
        "| text search, 50 rows | {} |",
        count(crate::SEARCH, crate::search_vars(0)).await
    );
    println!(
        "| text search + totalCount | {} |",
        count(crate::LIST, crate::search_vars(0)).await
    );
    println!(
        "| report: summary | {} |",
        count(crate::SUMMARY, json!({})).await
    );
    println!(
        "| report: byProject | {} |",
        count(crate::BY_PROJECT, json!({})).await
    );
    println!(
        "| report: byEngineer | {} |",
        count(crate::BY_ENGINEER, json!({})).await
    );
    Ok(())
}
