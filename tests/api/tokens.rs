//! API tokens (NOTIFY.md, "API tokens"): made once by a signed-in user, stored as a
//! hash, accepted as a bearer token with the user's current role and state, READ scope,
//! expiry, revocation, the 20-live cap and `lastUsedAt`. Every edge (HTTP, WebSocket,
//! REST) is in `tokens/edges.rs`.
mod edges;

use chrono::{Duration, Utc};
use defect_control::entities::api_tokens;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    defects::{CREATE, world},
    helpers::{Actor, TestApp, apps, outcome},
};

pub const CREATE_TOKEN: &str = r"
    mutation($n: String!, $s: ApiTokenScope!, $e: DateTime) {
      createApiToken(name: $n, scope: $s, expiresAt: $e) {
        secret
        token { id name scope createdAt lastUsedAt expiresAt }
      }
    }
";
const REVOKE: &str = r"
    mutation($id: ID!) {
      revokeApiToken(id: $id)
    }
";
const MINE: &str = r"
    {
      myApiTokens { id name scope lastUsedAt expiresAt }
    }
";
const ME: &str = r"
    {
      me { username role }
    }
";

/// A token of `actor` with `scope` (`READ` or `READ_WRITE`): (id, secret).
pub async fn token(app: &TestApp, actor: &Actor, scope: &str) -> (String, String) {
    let data = app
        .ok(
            actor,
            CREATE_TOKEN,
            json!({ "n": "nightly export", "s": scope }),
        )
        .await;
    let made = &data["createApiToken"];
    (
        made["token"]["id"].as_str().unwrap().to_owned(),
        made["secret"].as_str().unwrap().to_owned(),
    )
}

fn new_defect(w: &crate::defects::World, title: &str) -> Value {
    json!({ "i": { "projectId": w.project, "stageId": w.stage, "title": title } })
}

async fn row(app: &TestApp, id: &str) -> api_tokens::Model {
    api_tokens::Entity::find_by_id(id.parse::<i32>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Moves a token's `expires_at` or `last_used_at` as time passing would.
async fn set(app: &TestApp, id: &str, column: api_tokens::Column, at: chrono::DateTime<Utc>) {
    api_tokens::Entity::update_many()
        .col_expr(column, Expr::value(at))
        .filter(api_tokens::Column::Id.eq(id.parse::<i32>().unwrap()))
        .exec(app.db())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_secret_is_shown_once_and_only_its_hash_is_stored() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let data = app
            .ok(mgr, CREATE_TOKEN, json!({ "n": "BI pull", "s": "READ" }))
            .await;
        let made = &data["createApiToken"];
        let secret = made["secret"].as_str().unwrap();
        assert!(secret.starts_with("dct_") && secret.len() == 47, "{secret}");
        assert_eq!(made["token"]["name"], "BI pull");
        assert_eq!(made["token"]["scope"], "READ");
        assert_eq!(made["token"]["lastUsedAt"], Value::Null);
        assert_eq!(made["token"]["expiresAt"], Value::Null);

        let everything = app.snapshot().await;
        assert!(
            !everything.contains(&secret[4..]),
            "[{}] the secret is in the database",
            app.backend
        );
        let stored = row(&app, made["token"]["id"].as_str().unwrap()).await;
        assert_eq!(stored.secret_hash, hex::encode(Sha256::digest(secret)));
        assert_eq!(stored.user_id, mgr.id);

        // Listed without its secret (the type has none), and only to its owner.
        let mine = app.ok(mgr, MINE, json!({})).await;
        assert_eq!(mine["myApiTokens"][0]["id"], made["token"]["id"]);
        let others = app.ok(&w.cast.admin, MINE, json!({})).await;
        assert_eq!(others["myApiTokens"], json!([]));
    }
}

#[tokio::test]
async fn a_token_speaks_for_its_user_with_the_current_role_and_state() {
    for app in apps().await {
        let w = world(&app).await;
        let (admin, mgr) = (&w.cast.admin, &w.cast.manager);
        let (_, secret) = token(&app, mgr, "READ_WRITE").await;
        let me = app.gql(Some(&secret), ME, json!({})).await;
        assert_eq!(me["data"]["me"]["username"], mgr.username.as_str());
        assert_eq!(me["data"]["me"]["role"], "MANAGER");

        // A write as the user.
        let made = app
            .gql(Some(&secret), CREATE, new_defect(&w, "Crack by script"))
            .await;
        assert_eq!(outcome(&made), "OK", "[{}] {made}", app.backend);
        assert_eq!(
            made["data"]["createDefect"]["author"]["username"],
            mgr.username.as_str()
        );

        // The role is read on each request.
        app.ok(
            admin,
            "mutation($id: ID!) { setUserRole(id: $id, role: OBSERVER) { id } }",
            json!({ "id": mgr.gid() }),
        )
        .await;
        let me = app.gql(Some(&secret), ME, json!({})).await;
        assert_eq!(me["data"]["me"]["role"], "OBSERVER");
        let refused = app
            .gql(Some(&secret), CREATE, new_defect(&w, "Now an observer"))
            .await;
        assert_eq!(
            outcome(&refused),
            "FORBIDDEN",
            "[{}] {refused}",
            app.backend
        );

        // A deactivated user's tokens stop.
        app.ok(
            admin,
            "mutation($id: ID!) { updateUser(id: $id, input: { isActive: false }) { id } }",
            json!({ "id": mgr.gid() }),
        )
        .await;
        assert_eq!(
            app.code(Some(&secret), ME, json!({})).await,
            "UNAUTHENTICATED"
        );
    }
}

#[tokio::test]
async fn a_read_token_queries_but_its_mutations_are_forbidden_and_change_nothing() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let (id, secret) = token(&app, mgr, "READ").await;
        // The first use records `lastUsedAt`; within the minute nothing more is written.
        let me = app.gql(Some(&secret), ME, json!({})).await;
        assert_eq!(outcome(&me), "OK", "[{}] {me}", app.backend);
        let before = app.snapshot().await;
        for (doc, vars) in [
            (CREATE, new_defect(&w, "Not by a READ token")),
            (REVOKE, json!({ "id": id })),
            (CREATE_TOKEN, json!({ "n": "more", "s": "READ" })),
            ("mutation { markNotificationsRead }", json!({})),
        ] {
            let body = app.gql(Some(&secret), doc, vars).await;
            assert_eq!(outcome(&body), "FORBIDDEN", "[{}] {body}", app.backend);
            let msg = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(msg.contains("READ"), "[{}] {msg}", app.backend);
        }
        assert_eq!(app.snapshot().await, before, "[{}]", app.backend);
        // Queries still run.
        let mine = app.gql(Some(&secret), MINE, json!({})).await;
        assert_eq!(mine["data"]["myApiTokens"][0]["id"], id.as_str());
    }
}

#[tokio::test]
async fn a_token_cannot_create_tokens() {
    for app in apps().await {
        let mgr = app
            .actor(defect_control::entities::enums::Role::Manager)
            .await;
        let (_, secret) = token(&app, &mgr, "READ_WRITE").await;
        app.gql(Some(&secret), ME, json!({})).await;
        let before = app.snapshot().await;
        let body = app
            .gql(
                Some(&secret),
                CREATE_TOKEN,
                json!({ "n": "child", "s": "READ_WRITE" }),
            )
            .await;
        assert_eq!(outcome(&body), "FORBIDDEN", "[{}] {body}", app.backend);
        assert_eq!(app.snapshot().await, before);
        assert_eq!(app.count("api_tokens").await, 1);
    }
}

#[tokio::test]
async fn revoking_takes_effect_on_the_next_request_and_only_for_the_owner() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng) = (&w.cast.manager, &w.cast.engineer);
        let (id, secret) = token(&app, mgr, "READ").await;
        let (_, other) = token(&app, mgr, "READ").await;
        assert_eq!(outcome(&app.gql(Some(&secret), ME, json!({})).await), "OK");

        // Someone else's token is not found, and keeps working.
        assert_eq!(
            app.code(Some(&eng.token), REVOKE, json!({ "id": id }))
                .await,
            "NOT_FOUND"
        );
        assert_eq!(outcome(&app.gql(Some(&secret), ME, json!({})).await), "OK");

        let done = app.ok(mgr, REVOKE, json!({ "id": id })).await;
        assert_eq!(done["revokeApiToken"], id.as_str());
        assert_eq!(
            app.code(Some(&secret), ME, json!({})).await,
            "UNAUTHENTICATED"
        );
        // Revoking twice: not found; the owner's other token is untouched.
        assert_eq!(
            app.code(Some(&mgr.token), REVOKE, json!({ "id": id }))
                .await,
            "NOT_FOUND"
        );
        assert_eq!(outcome(&app.gql(Some(&other), ME, json!({})).await), "OK");
        let mine = app.ok(mgr, MINE, json!({})).await;
        assert_eq!(mine["myApiTokens"].as_array().unwrap().len(), 1);
        assert!(row(&app, &id).await.revoked_at.is_some());
    }
}

#[tokio::test]
async fn an_expired_token_is_unauthenticated_and_a_past_expiry_is_refused() {
    for app in apps().await {
        let mgr = app
            .actor(defect_control::entities::enums::Role::Manager)
            .await;
        let before = app.snapshot().await;
        let past = (Utc::now() - Duration::seconds(5)).to_rfc3339();
        let body = app
            .gql(
                Some(&mgr.token),
                CREATE_TOKEN,
                json!({ "n": "late", "s": "READ", "e": past }),
            )
            .await;
        assert_eq!(outcome(&body), "BAD_USER_INPUT", "[{}] {body}", app.backend);
        let msg = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("expiresAt"), "[{}] {msg}", app.backend);
        assert_eq!(app.snapshot().await, before);

        let soon = (Utc::now() + Duration::days(30)).to_rfc3339();
        let data = app
            .ok(
                &mgr,
                CREATE_TOKEN,
                json!({ "n": "month", "s": "READ", "e": soon }),
            )
            .await;
        let made = &data["createApiToken"];
        assert!(made["token"]["expiresAt"].is_string());
        let (id, secret) = (
            made["token"]["id"].as_str().unwrap(),
            made["secret"].as_str().unwrap(),
        );
        assert_eq!(outcome(&app.gql(Some(secret), ME, json!({})).await), "OK");
        set(
            &app,
            id,
            api_tokens::Column::ExpiresAt,
            Utc::now() - Duration::seconds(1),
        )
        .await;
        assert_eq!(
            app.code(Some(secret), ME, json!({})).await,
            "UNAUTHENTICATED"
        );
        // Expired tokens are not listed.
        let mine = app.ok(&mgr, MINE, json!({})).await;
        assert_eq!(mine["myApiTokens"], json!([]));
    }
}

#[tokio::test]
async fn the_21st_live_token_is_refused() {
    for app in apps().await {
        let mgr = app
            .actor(defect_control::entities::enums::Role::Manager)
            .await;
        let mut ids = Vec::new();
        for _ in 0..20 {
            ids.push(token(&app, &mgr, "READ").await.0);
        }
        let before = app.snapshot().await;
        let body = app
            .gql(
                Some(&mgr.token),
                CREATE_TOKEN,
                json!({ "n": "21st", "s": "READ" }),
            )
            .await;
        assert_eq!(outcome(&body), "BAD_USER_INPUT", "[{}] {body}", app.backend);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("20"),
            "{body}"
        );
        assert_eq!(app.snapshot().await, before, "[{}]", app.backend);
        // Another user has a cap of their own.
        let other = app
            .actor(defect_control::entities::enums::Role::Engineer)
            .await;
        token(&app, &other, "READ").await;
        // A revoked or expired token frees a place.
        app.ok(&mgr, REVOKE, json!({ "id": ids[0] })).await;
        token(&app, &mgr, "READ").await;
        set(
            &app,
            &ids[1],
            api_tokens::Column::ExpiresAt,
            Utc::now() - Duration::seconds(1),
        )
        .await;
        token(&app, &mgr, "READ").await;
        let mine = app.ok(&mgr, MINE, json!({})).await;
        assert_eq!(mine["myApiTokens"].as_array().unwrap().len(), 20);
    }
}

/// Creations at once cannot pass the cap together: the count is taken in the insert's
/// transaction with the user's creations serialised.
#[tokio::test]
async fn parallel_creations_hold_the_cap() {
    for app in apps().await {
        let mgr = app
            .actor(defect_control::entities::enums::Role::Manager)
            .await;
        for _ in 0..15 {
            token(&app, &mgr, "READ").await;
        }
        let tries = (0..12).map(|i| {
            app.gql(
                Some(&mgr.token),
                CREATE_TOKEN,
                json!({ "n": format!("racer {i}"), "s": "READ" }),
            )
        });
        let results = futures_util::future::join_all(tries).await;
        let codes: Vec<String> = results.iter().map(outcome).collect();
        let made = codes.iter().filter(|c| *c == "OK").count();
        assert_eq!(made, 5, "[{}] {codes:?}", app.backend);
        assert!(
            codes.iter().all(|c| c == "OK" || c == "BAD_USER_INPUT"),
            "[{}] {codes:?}",
            app.backend
        );
        assert_eq!(app.count("api_tokens").await, 20);
    }
}

/// `lastUsedAt` is written at most once a minute, and a request with a token costs the
/// same statements as one with a JWT once it is recorded.
#[tokio::test]
async fn last_used_at_is_written_once_a_minute() {
    for app in apps().await {
        let mgr = app
            .actor(defect_control::entities::enums::Role::Manager)
            .await;
        let (id, secret) = token(&app, &mgr, "READ").await;
        assert_eq!(row(&app, &id).await.last_used_at, None);
        let t0 = Utc::now();
        app.gql(Some(&secret), ME, json!({})).await;
        let first = row(&app, &id).await.last_used_at.expect("recorded");
        assert!(first >= t0 - Duration::seconds(1), "{first} {t0}");
        for _ in 0..5 {
            app.gql(Some(&secret), ME, json!({})).await;
        }
        assert_eq!(row(&app, &id).await.last_used_at, Some(first));
        let listed = app.ok(&mgr, MINE, json!({})).await;
        assert!(listed["myApiTokens"][0]["lastUsedAt"].is_string());

        // No write per request: the same statements as a JWT's request.
        let statements = |app: &TestApp| app.statements.load(std::sync::atomic::Ordering::SeqCst);
        let n = statements(&app);
        app.gql(Some(&mgr.token), ME, json!({})).await;
        let jwt = statements(&app) - n;
        let n = statements(&app);
        app.gql(Some(&secret), ME, json!({})).await;
        let api = statements(&app) - n;
        assert_eq!(api, jwt, "[{}] token {api}, JWT {jwt}", app.backend);

        // A minute later the next request records it again.
        let old = Utc::now() - Duration::seconds(61);
        set(&app, &id, api_tokens::Column::LastUsedAt, old).await;
        app.gql(Some(&secret), ME, json!({})).await;
        let again = row(&app, &id).await.last_used_at.expect("recorded");
        assert!(again > old + Duration::seconds(30), "{again}");
    }
}

#[tokio::test]
async fn names_are_checked() {
    for app in apps().await {
        let mgr = app
            .actor(defect_control::entities::enums::Role::Manager)
            .await;
        let before = app.snapshot().await;
        for name in ["", "   ", &"x".repeat(101), "tab\u{0}nul"] {
            let body = app
                .gql(
                    Some(&mgr.token),
                    CREATE_TOKEN,
                    json!({ "n": name, "s": "READ" }),
                )
                .await;
            assert_eq!(outcome(&body), "BAD_USER_INPUT", "[{}] {body}", app.backend);
            let msg = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(msg.starts_with("name"), "{msg}");
        }
        assert_eq!(app.snapshot().await, before);
    }
}
