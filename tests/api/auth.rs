use axum::http::StatusCode;
use defect_control::entities::{enums::Role, refresh_tokens};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{
    builders,
    helpers::{PASSWORD, apps, apps_with},
};

const LOGIN: &str = r"
    mutation($u: String!, $p: String!) {
      login(username: $u, password: $p) {
        access refresh tokenType expiresIn
        user { username role }
      }
    }
";
const REFRESH: &str = r"
    mutation($r: String!) {
      refreshToken(refresh: $r) { access refresh }
    }
";
const ME: &str = r"
    {
      me { id username role isActive }
    }
";

#[tokio::test]
async fn rest_login_returns_the_contract_shape_and_the_token_works() {
    for app in apps().await {
        let user = app.actor(Role::Engineer).await;
        let res = app
            .post_json(
                "/api/auth/login/",
                None,
                json!({ "username": user.username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["token_type"], "Bearer");
        assert_eq!(res.body["expires_in"], 900);
        let access = res.body["access"].as_str().unwrap();
        assert!(res.body["refresh"].as_str().unwrap().len() >= 32);
        let me = app.gql(Some(access), ME, json!({})).await;
        assert_eq!(me["data"]["me"]["username"], user.username.as_str());
        assert_eq!(me["data"]["me"]["role"], "ENGINEER");
        // Refresh tokens are stored hashed, never as given.
        let stored = refresh_tokens::Entity::find()
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert_ne!(stored.token_hash, res.body["refresh"].as_str().unwrap());
    }
}

#[tokio::test]
async fn login_answers_the_same_401_for_unknown_user_wrong_password_and_inactive_user() {
    for app in apps().await {
        let user = app.actor(Role::Manager).await;
        let inactive = app.actor(Role::Manager).await;
        builders::deactivate(&app, inactive.id).await;

        let sessions_before = refresh_tokens::Entity::find()
            .count(app.db())
            .await
            .unwrap();
        let mut bodies = Vec::new();
        for (username, password) in [
            ("nobody-at-all", PASSWORD),
            (user.username.as_str(), "wrong-password"),
            (inactive.username.as_str(), PASSWORD),
        ] {
            let res = app
                .post_json(
                    "/api/auth/login/",
                    None,
                    json!({ "username": username, "password": password }),
                )
                .await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{username}");
            assert_eq!(res.body["error"]["code"], "UNAUTHENTICATED");
            bodies.push(res.body);
        }
        assert!(
            bodies.windows(2).all(|w| w[0] == w[1]),
            "identical bodies: {bodies:?}"
        );
        assert_eq!(
            refresh_tokens::Entity::find()
                .count(app.db())
                .await
                .unwrap(),
            sessions_before,
            "no session was opened"
        );
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    for app in apps().await {
        let user = app.actor(Role::Observer).await;
        let first = app
            .gql(None, LOGIN, json!({ "u": user.username, "p": PASSWORD }))
            .await;
        let r1 = first["data"]["login"]["refresh"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(first["data"]["login"]["tokenType"], "Bearer");

        let second = app.gql(None, REFRESH, json!({ "r": r1 })).await;
        let r2 = second["data"]["refreshToken"]["refresh"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_ne!(r1, r2);
        assert!(
            app.gql(
                Some(second["data"]["refreshToken"]["access"].as_str().unwrap()),
                ME,
                json!({})
            )
            .await["data"]["me"]
                .is_object()
        );

        // REST refresh rotates too.
        let res = app
            .post_json("/api/auth/refresh/", None, json!({ "refresh": r2 }))
            .await;
        assert_eq!(res.status, StatusCode::OK);
        let r3 = res.body["refresh"].as_str().unwrap().to_owned();

        // Presenting the already-used r1 is refused and revokes r3, its descendant.
        assert_eq!(
            app.code(None, REFRESH, json!({ "r": r1 })).await,
            "UNAUTHENTICATED"
        );
        let res = app
            .post_json("/api/auth/refresh/", None, json!({ "refresh": r3 }))
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.body["error"]["code"], "UNAUTHENTICATED");
        let family = refresh_tokens::Entity::find()
            .filter(
                refresh_tokens::Column::TokenHash
                    .eq(defect_control::auth::tokens::hash_refresh(&r1)),
            )
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
            .family_id;
        let live = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::FamilyId.eq(family))
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(live, 0, "the whole family is revoked");

        // A separate login is a separate family and still works.
        let again = app
            .gql(None, LOGIN, json!({ "u": user.username, "p": PASSWORD }))
            .await;
        let r4 = again["data"]["login"]["refresh"].as_str().unwrap();
        assert!(app.gql(None, REFRESH, json!({ "r": r4 })).await["errors"].is_null());
    }
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    for app in apps().await {
        let user = app.actor(Role::Admin).await;
        let login = app
            .gql(None, LOGIN, json!({ "u": user.username, "p": PASSWORD }))
            .await;
        let refresh = login["data"]["login"]["refresh"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut tampered = user.token.clone();
        tampered.pop();
        tampered.push(if user.token.ends_with('A') { 'B' } else { 'A' });
        let foreign = defect_control::auth::tokens::Keys::new(b"another-secret-another-secret-123")
            .issue_access(
                user.id,
                "no-such-session",
                std::time::Duration::from_secs(60),
            )
            .unwrap();
        for token in [
            refresh.as_str(),
            tampered.as_str(),
            foreign.as_str(),
            "garbage",
            "a.b.c",
            "' OR 1=1 --",
        ] {
            assert_eq!(
                app.code(Some(token), ME, json!({})).await,
                "UNAUTHENTICATED",
                "{token}"
            );
        }
        assert_eq!(app.code(None, ME, json!({})).await, "UNAUTHENTICATED");
        // Not "Bearer": refused too.
        let res = app
            .request(
                axum::http::Request::post("/graphql")
                    .header("content-type", "application/json")
                    .header("authorization", format!("Basic {}", user.token))
                    .body(axum::body::Body::from(json!({ "query": ME }).to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "UNAUTHENTICATED"
        );
        // `login` still works with a broken header present.
        let with_bad_header = app
            .gql(
                Some("garbage"),
                LOGIN,
                json!({ "u": user.username, "p": PASSWORD }),
            )
            .await;
        assert!(with_bad_header["data"]["login"]["access"].is_string());
    }
}

#[tokio::test]
async fn deactivation_and_role_changes_take_effect_at_once() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let manager = app.actor(Role::Manager).await;
        let users_q = r"
            {
              users { totalCount }
            }
        ";
        app.ok(&manager, users_q, json!({})).await;
        app.ok(
            &admin,
            r"
            mutation($id: ID!) {
              setUserRole(id: $id, role: ENGINEER) { role }
            }
            ",
            json!({ "id": manager.gid() }),
        )
        .await;
        assert_eq!(
            app.code(Some(&manager.token), users_q, json!({})).await,
            "FORBIDDEN"
        );
        app.ok(
            &admin,
            r"
            mutation($id: ID!) {
              updateUser(id: $id, input: { isActive: false }) { isActive }
            }
            ",
            json!({ "id": manager.gid() }),
        )
        .await;
        assert_eq!(
            app.code(Some(&manager.token), ME, json!({})).await,
            "UNAUTHENTICATED"
        );
    }
}

#[tokio::test]
async fn a_burst_of_failures_is_rate_limited_and_successes_are_not() {
    for app in apps_with(|c| c.login_max_failures = 3).await {
        let user = app.actor(Role::Engineer).await;
        let other = app.actor(Role::Engineer).await;
        // Successful logins never count.
        for _ in 0..5 {
            let ok = app
                .post_json(
                    "/api/auth/login/",
                    None,
                    json!({ "username": other.username, "password": PASSWORD }),
                )
                .await;
            assert_eq!(ok.status, StatusCode::OK);
        }
        for _ in 0..3 {
            let res = app
                .post_json(
                    "/api/auth/login/",
                    None,
                    json!({ "username": user.username, "password": "nope-nope" }),
                )
                .await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        }
        // Locked: even the right password is refused during the cool-down.
        let res = app
            .post_json(
                "/api/auth/login/",
                None,
                json!({ "username": user.username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.body["error"]["code"], "RATE_LIMITED");
        let retry: u64 = res.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 0);
        let gql = app
            .gql(None, LOGIN, json!({ "u": user.username, "p": PASSWORD }))
            .await;
        assert_eq!(gql["errors"][0]["extensions"]["code"], "RATE_LIMITED");
        // Another user from the same address is not locked by three failures.
        let ok = app
            .post_json(
                "/api/auth/login/",
                None,
                json!({ "username": other.username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn malformed_auth_bodies_are_bad_input() {
    for app in apps().await {
        for body in [
            json!({}),
            json!({ "username": 1 }),
            Value::String("not json".into()),
        ] {
            let res = app.post_json("/api/auth/login/", None, body.clone()).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(res.body["error"]["code"], "BAD_USER_INPUT");
        }
        let res = app
            .post_json("/api/auth/refresh/", None, json!({ "refresh": "unknown" }))
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.body["error"]["code"], "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn many_failures_from_one_address_lock_that_address_out() {
    // An address may fail LOGIN_MAX_FAILURES_PER_ADDRESS times, whatever the usernames.
    for app in apps_with(|c| {
        c.login_max_failures = 2;
        c.login_max_failures_per_address = 8;
    })
    .await
    {
        let user = app.actor(Role::Engineer).await;
        for i in 0..8 {
            let res = app
                .post_json(
                    "/api/auth/login/",
                    None,
                    json!({ "username": format!("nobody{i}"), "password": "wrong-wrong" }),
                )
                .await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        }
        // A real user with the right password, from the same address: refused for now.
        let res = app
            .post_json(
                "/api/auth/login/",
                None,
                json!({ "username": user.username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.body["error"]["code"], "RATE_LIMITED");
        assert!(res.headers.contains_key("retry-after"));
    }
}
