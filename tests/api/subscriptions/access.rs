//! The subscriber's standing is read again for every delivery and every operation on an
//! open socket, as on every request (API.md: "role and active flag are read from the
//! database on every request … whatever tokens the user holds"): a role change stops or
//! resumes delivery at once, and a revoked session (refresh-token reuse, a new password)
//! closes the socket with 4403, at the next delivery or the next operation. The token
//! given in `connection_init` is no pass for later.
use std::time::Duration;

use axum::http::StatusCode;
use defect_control::entities::{defects, refresh_tokens};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::{
    Got, Ws, comment_over_http, next_event, open, open_with, recv, send, serve, subscribe,
};
use crate::{
    defects::{create, world},
    helpers::{Actor, PASSWORD, TestApp, apps},
};

const SET_ROLE: &str = r"
    mutation($id: ID!, $r: Role!) {
      setUserRole(id: $id, role: $r) { role }
    }
";
const QUIET: Duration = Duration::from_millis(1500);

/// Runs a query or mutation over the socket as operation `id`; returns its payload.
async fn over_socket(ws: &mut Ws, id: &str, query: &str, vars: Value) -> Value {
    send(
        ws,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": vars } }),
    )
    .await;
    let mut payload = None;
    loop {
        match recv(ws, Duration::from_secs(5)).await {
            Got::Json(v) if v["id"] == id && v["type"] == "next" => {
                payload = Some(v["payload"].clone());
            }
            Got::Json(v) if v["id"] == id && v["type"] == "complete" => {
                return payload.expect("a result before complete");
            }
            Got::Json(v) if v["id"] == id && v["type"] == "error" => {
                return json!({ "errors": v["payload"] });
            }
            // Events of a running subscription may come first.
            Got::Json(v) if v["type"] == "next" => continue,
            other => panic!("{id}: {other:?}"),
        }
    }
}

async fn set_role(app: &TestApp, admin: &Actor, who: &Actor, role: &str) {
    let got = app
        .ok(admin, SET_ROLE, json!({ "id": who.gid(), "r": role }))
        .await;
    assert_eq!(got["setUserRole"]["role"], role);
}

async fn deleted_at(app: &TestApp, id: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    defects::Entity::find_by_id(id.as_str().unwrap().parse::<i32>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .deleted_at
}

#[tokio::test]
async fn a_role_change_takes_effect_on_the_next_delivery_and_the_next_operation() {
    for app in apps().await {
        let w = world(&app).await;
        let (admin, mgr) = (&w.cast.admin, &w.cast.manager);
        let d = create(
            &app,
            admin,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let (addr, _stop) = serve(&app).await;
        // The manager is no member of the project: as a manager it sees everything.
        let mut ws = open(addr, mgr).await;
        subscribe(&mut ws, "1", json!({})).await;
        comment_over_http(addr, admin, &d["id"], "one").await;
        let e = next_event(&mut ws, Duration::from_secs(1)).await.unwrap();
        assert_eq!(e["comment"]["body"], "one");

        // Demoted to engineer: sees nothing of a project it is not a member of.
        set_role(&app, admin, mgr, "ENGINEER").await;
        comment_over_http(addr, admin, &d["id"], "two").await;
        assert!(
            next_event(&mut ws, QUIET).await.is_none(),
            "[{}] delivered to a demoted manager",
            app.backend
        );
        // Operations on the open socket run with the role as it is now.
        let me = over_socket(&mut ws, "me", "{ me { role } }", json!({})).await;
        assert_eq!(
            me["data"]["me"]["role"], "ENGINEER",
            "[{}] {me}",
            app.backend
        );
        let delete = "mutation($id: ID!) { deleteDefect(id: $id) }";
        let refused = over_socket(&mut ws, "del", delete, json!({ "id": d["id"] })).await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "[{}] {refused}",
            app.backend
        );
        assert_eq!(deleted_at(&app, &d["id"]).await, None);

        // Observers see every project: delivery resumes with the next event, and the
        // one written meanwhile stays undelivered.
        set_role(&app, admin, mgr, "OBSERVER").await;
        comment_over_http(addr, admin, &d["id"], "three").await;
        let e = next_event(&mut ws, Duration::from_secs(1)).await.unwrap();
        assert_eq!(e["comment"]["body"], "three", "[{}]", app.backend);
        let refused = over_socket(&mut ws, "del2", delete, json!({ "id": d["id"] })).await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
        assert_eq!(deleted_at(&app, &d["id"]).await, None);
        assert!(
            next_event(&mut ws, Duration::from_millis(300))
                .await
                .is_none()
        );
    }
}

const LOGIN: &str = "/api/auth/login/";
const REFRESH: &str = "/api/auth/refresh/";

/// A fresh login of `who`: (access, refresh).
async fn login(app: &TestApp, who: &Actor) -> (String, String) {
    let res = app
        .post_json(
            LOGIN,
            None,
            json!({ "username": who.username, "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    (
        res.body["access"].as_str().unwrap().to_owned(),
        res.body["refresh"].as_str().unwrap().to_owned(),
    )
}

/// The socket closes with 4403 (graphql-transport-ws: "Forbidden") instead of
/// delivering: its session is gone, so nothing more can run on it.
async fn ended(app: &TestApp, ws: &mut Ws) {
    match recv(ws, QUIET).await {
        Got::Closed(code) => assert_eq!(code, Some(4403), "[{}]", app.backend),
        other => panic!("[{}] {other:?}", app.backend),
    }
}

#[tokio::test]
async fn a_revoked_session_closes_the_socket_at_once() {
    for app in apps().await {
        let w = world(&app).await;
        let (admin, eng) = (&w.cast.admin, &w.cast.engineer);
        let d = create(
            &app,
            admin,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let (addr, _stop) = serve(&app).await;

        // Refresh-token reuse revokes the login's whole family, the socket's included.
        let (access, r1) = login(&app, eng).await;
        let mut ws = open_with(addr, &access).await;
        subscribe(&mut ws, "1", json!({})).await;
        comment_over_http(addr, admin, &d["id"], "one").await;
        let e = next_event(&mut ws, Duration::from_secs(1)).await.unwrap();
        assert_eq!(e["comment"]["body"], "one");
        let rotated = app.post_json(REFRESH, None, json!({ "refresh": r1 })).await;
        assert_eq!(rotated.status, StatusCode::OK);
        // Rotation keeps the session: still delivered.
        comment_over_http(addr, admin, &d["id"], "two").await;
        let e = next_event(&mut ws, Duration::from_secs(1)).await.unwrap();
        assert_eq!(e["comment"]["body"], "two");
        let reused = app.post_json(REFRESH, None, json!({ "refresh": r1 })).await;
        assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
        let live = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::UserId.eq(eng.id))
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .all(app.db())
            .await
            .unwrap();
        // Only the builder's session is left.
        assert_eq!(live.len(), 1, "[{}]", app.backend);
        comment_over_http(addr, admin, &d["id"], "three").await;
        ended(&app, &mut ws).await;
        // Another session of the same user goes on.
        let mut other = open(addr, eng).await;
        subscribe(&mut other, "1", json!({})).await;
        comment_over_http(addr, admin, &d["id"], "four").await;
        let e = next_event(&mut other, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(e["comment"]["body"], "four");

        // A new password set by an admin ends every session of the account.
        app.ok(
            admin,
            "mutation($id: ID!) { updateUser(id: $id, input: { password: \"another-secret-42\" }) { id } }",
            json!({ "id": eng.gid() }),
        )
        .await;
        comment_over_http(addr, admin, &d["id"], "five").await;
        ended(&app, &mut other).await;
        let live = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::UserId.eq(eng.id))
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .all(app.db())
            .await
            .unwrap();
        assert!(live.is_empty(), "[{}]", app.backend);
    }
}

#[tokio::test]
async fn an_operation_on_a_socket_whose_session_was_revoked_closes_it_with_4403() {
    for app in apps().await {
        let eng = app
            .actor(defect_control::entities::enums::Role::Engineer)
            .await;
        let (addr, _stop) = serve(&app).await;
        let (access, refresh) = login(&app, &eng).await;
        let mut ws = open_with(addr, &access).await;
        let me = over_socket(&mut ws, "me", "{ me { id } }", json!({})).await;
        assert_eq!(me["data"]["me"]["id"], eng.gid(), "[{}] {me}", app.backend);
        // Reusing a rotated refresh token revokes the family; no subscription runs.
        let rotated = app
            .post_json(REFRESH, None, json!({ "refresh": refresh }))
            .await;
        assert_eq!(rotated.status, StatusCode::OK);
        let reused = app
            .post_json(REFRESH, None, json!({ "refresh": refresh }))
            .await;
        assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
        send(
            &mut ws,
            json!({ "id": "again", "type": "subscribe", "payload": { "query": "{ me { id } }" } }),
        )
        .await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Closed(code) => assert_eq!(code, Some(4403), "[{}]", app.backend),
            other => panic!("[{}] {other:?}", app.backend),
        }
    }
}
