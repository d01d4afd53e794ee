use defect_control::entities::{enums::Role, users};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::helpers::{apps, outcome};

const CREATE: &str = r"
    mutation($i: CreateUserInput!) {
      createUser(input: $i) { id username email role isActive }
    }
";
const UPDATE: &str = r"
    mutation($id: ID!, $i: UpdateUserInput!) {
      updateUser(id: $id, input: $i) { id email fullName isActive }
    }
";
const SET_ROLE: &str = r"
    mutation($id: ID!, $r: Role!) {
      setUserRole(id: $id, role: $r) { id role }
    }
";

fn new_user(name: &str) -> serde_json::Value {
    json!({ "username": name, "email": format!("{name}@example.org"), "password": "long-enough-1", "role": "ENGINEER" })
}

#[tokio::test]
async fn only_managers_and_admins_list_users() {
    for app in apps().await {
        let cast = app.cast().await;
        let q = r"
            {
              users(first: 100) {
                totalCount
                nodes { username }
              }
            }
        ";
        let one = r"
            query($id: ID!) {
              user(id: $id) { username }
            }
        ";
        for actor in cast.all() {
            let expected = if matches!(actor.role, Role::Admin | Role::Manager) {
                "OK"
            } else {
                "FORBIDDEN"
            };
            let body = app.gql(Some(&actor.token), q, json!({})).await;
            assert_eq!(
                outcome(&body),
                expected,
                "[{}] {:?} users",
                app.backend,
                actor.role
            );
            if expected == "OK" {
                assert_eq!(body["data"]["users"]["totalCount"], 5);
            }
            let body = app
                .gql(Some(&actor.token), one, json!({ "id": cast.admin.gid() }))
                .await;
            assert_eq!(
                outcome(&body),
                expected,
                "[{}] {:?} user(id)",
                app.backend,
                actor.role
            );
            // Everyone may read their own account.
            let own = app
                .gql(Some(&actor.token), one, json!({ "id": actor.gid() }))
                .await;
            assert_eq!(own["data"]["user"]["username"], actor.username.as_str());
        }
        // Unknown and non-numeric ids are NOT_FOUND, never a 500.
        for id in ["999999", "1 OR 1=1", "'; DROP TABLE users; --"] {
            assert_eq!(
                app.code(Some(&cast.admin.token), one, json!({ "id": id }))
                    .await,
                "NOT_FOUND"
            );
        }
    }
}

#[tokio::test]
async fn only_admins_create_users_and_refusals_change_nothing() {
    for app in apps().await {
        let cast = app.cast().await;
        for actor in [&cast.manager, &cast.engineer, &cast.observer] {
            let before = app.snapshot().await;
            let code = app
                .code(
                    Some(&actor.token),
                    CREATE,
                    json!({ "i": new_user("newbie") }),
                )
                .await;
            assert_eq!(code, "FORBIDDEN", "{:?}", actor.role);
            assert_eq!(app.snapshot().await, before);
        }
        let data = app
            .ok(&cast.admin, CREATE, json!({ "i": new_user("newbie") }))
            .await;
        assert_eq!(data["createUser"]["username"], "newbie");
        assert_eq!(data["createUser"]["role"], "ENGINEER");
        assert_eq!(data["createUser"]["isActive"], true);
        // The new account can sign in with its password.
        let login = app
            .post_json(
                "/api/auth/login/",
                None,
                json!({ "username": "newbie", "password": "long-enough-1" }),
            )
            .await;
        assert_eq!(login.status, 200);
    }
}

#[tokio::test]
async fn invalid_or_duplicate_users_are_bad_input_naming_the_field() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        app.ok(&admin, CREATE, json!({ "i": new_user("taken") }))
            .await;
        let cases = [
            (
                json!({ "username": "taken", "email": "other@example.org", "password": "long-enough-1", "role": "OBSERVER" }),
                "username",
            ),
            (
                json!({ "username": "fresh", "email": "TAKEN@example.org", "password": "long-enough-1", "role": "OBSERVER" }),
                "email",
            ),
            (
                json!({ "username": "fresh", "email": "not-an-email", "password": "long-enough-1", "role": "OBSERVER" }),
                "email",
            ),
            (
                json!({ "username": "fresh", "email": "fresh@example.org", "password": "short", "role": "OBSERVER" }),
                "password",
            ),
            (
                json!({ "username": "x", "email": "fresh@example.org", "password": "long-enough-1", "role": "OBSERVER" }),
                "username",
            ),
        ];
        for (input, field) in cases {
            let before = app.snapshot().await;
            let body = app
                .gql(Some(&admin.token), CREATE, json!({ "i": input }))
                .await;
            assert_eq!(outcome(&body), "BAD_USER_INPUT", "{input}");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.starts_with(field), "{message} names {field}");
            assert_eq!(app.snapshot().await, before);
        }
        // An unknown role in a variable does not coerce: the caller's input, naming it.
        let body = app
            .gql(Some(&admin.token), CREATE, json!({ "i": { "username": "z1", "email": "z1@x.org", "password": "long-enough-1", "role": "KING" } }))
            .await;
        assert_eq!(outcome(&body), "BAD_USER_INPUT");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("role")
        );
    }
}

#[tokio::test]
async fn only_admins_update_users_and_change_roles() {
    for app in apps().await {
        let cast = app.cast().await;
        let target = cast.engineer.gid();
        for actor in [&cast.manager, &cast.engineer, &cast.observer] {
            let before = app.snapshot().await;
            let c1 = app
                .code(
                    Some(&actor.token),
                    UPDATE,
                    json!({ "id": target, "i": { "fullName": "Hacked" } }),
                )
                .await;
            let c2 = app
                .code(
                    Some(&actor.token),
                    SET_ROLE,
                    json!({ "id": target, "r": "ADMIN" }),
                )
                .await;
            assert_eq!(
                (c1.as_str(), c2.as_str()),
                ("FORBIDDEN", "FORBIDDEN"),
                "{:?}",
                actor.role
            );
            assert_eq!(app.snapshot().await, before);
        }
        let data = app
            .ok(&cast.admin, UPDATE, json!({ "id": target, "i": { "fullName": "Ivan Petrov", "email": "IVAN@Example.org" } }))
            .await;
        assert_eq!(data["updateUser"]["fullName"], "Ivan Petrov");
        assert_eq!(data["updateUser"]["email"], "ivan@example.org");
        // Omitted fields are left as they are.
        let data = app
            .ok(&cast.admin, UPDATE, json!({ "id": target, "i": {} }))
            .await;
        assert_eq!(data["updateUser"]["fullName"], "Ivan Petrov");
        let data = app
            .ok(
                &cast.admin,
                SET_ROLE,
                json!({ "id": target, "r": "MANAGER" }),
            )
            .await;
        assert_eq!(data["setUserRole"]["role"], "MANAGER");
        // Admins cannot lock themselves out.
        let before = app.snapshot().await;
        assert_eq!(
            app.code(
                Some(&cast.admin.token),
                UPDATE,
                json!({ "id": cast.admin.gid(), "i": { "isActive": false } })
            )
            .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(
                Some(&cast.admin.token),
                SET_ROLE,
                json!({ "id": cast.admin.gid(), "r": "OBSERVER" })
            )
            .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(
                Some(&cast.admin.token),
                UPDATE,
                json!({ "id": target, "i": { "email": null } })
            )
            .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(
                Some(&cast.admin.token),
                UPDATE,
                json!({ "id": "424242", "i": { "fullName": "x" } })
            )
            .await,
            "NOT_FOUND"
        );
        assert_eq!(app.snapshot().await, before);
    }
}

#[tokio::test]
async fn users_filter_by_role_and_search_and_page_by_username() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        for name in ["Юлия", "yulia", "Zed", "anna", "Boris"] {
            let input = json!({ "username": name, "email": format!("{}@x.org", name.len() * 7 + name.chars().count()), "fullName": format!("{name} Тестова"), "password": "long-enough-1", "role": "OBSERVER" });
            let input = {
                let mut i = input;
                i["email"] = json!(format!(
                    "u{}@x.org",
                    users::Entity::find().count(app.db()).await.unwrap()
                ));
                i
            };
            app.ok(&admin, CREATE, json!({ "i": input })).await;
        }
        let q = r"
            query($r: Role, $s: String, $a: String) {
              users(role: $r, search: $s, first: 2, after: $a) {
                totalCount
                nodes { username }
                pageInfo { hasNextPage endCursor }
              }
            }
        ";
        let data = app.ok(&admin, q, json!({ "s": "ЮЛИЯ" })).await;
        assert_eq!(
            data["users"]["nodes"],
            json!([{ "username": "Юлия" }]),
            "Cyrillic search folds case"
        );
        let data = app
            .ok(&admin, q, json!({ "s": "тестова", "r": "OBSERVER" }))
            .await;
        assert_eq!(data["users"]["totalCount"], 5);
        let data = app.ok(&admin, q, json!({ "r": "ADMIN" })).await;
        assert_eq!(data["users"]["totalCount"], 1);
        // Walk every page of observers.
        let mut seen = Vec::new();
        let mut after = serde_json::Value::Null;
        loop {
            let data = app
                .ok(&admin, q, json!({ "r": "OBSERVER", "a": after }))
                .await;
            for n in data["users"]["nodes"].as_array().unwrap() {
                seen.push(n["username"].as_str().unwrap().to_owned());
            }
            if data["users"]["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = data["users"]["pageInfo"]["endCursor"].clone();
        }
        // The walk sees every row once, in the same order as one big page.
        let all = app
            .ok(
                &admin,
                r"
                {
                  users(role: OBSERVER, first: 100) {
                    nodes { username }
                  }
                }
                ",
                json!({}),
            )
            .await;
        let all: Vec<String> = all["users"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["username"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(seen, all);
        assert_eq!(seen.len(), 5);
    }
}

#[tokio::test]
async fn lists_default_to_twenty_rows_and_say_more_follow() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        for _ in 0..24 {
            app.actor(Role::Observer).await;
        }
        let data = app
            .ok(
                &admin,
                r"
                {
                  users {
                    totalCount
                    nodes { id }
                    edges { cursor }
                    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
                  }
                }
                ",
                json!({}),
            )
            .await;
        let u = &data["users"];
        assert_eq!(u["totalCount"], 25);
        assert_eq!(u["nodes"].as_array().unwrap().len(), 20);
        assert_eq!(u["pageInfo"]["hasNextPage"], true);
        assert_eq!(u["pageInfo"]["hasPreviousPage"], false);
        assert_eq!(u["pageInfo"]["startCursor"], u["edges"][0]["cursor"]);
        assert_eq!(u["pageInfo"]["endCursor"], u["edges"][19]["cursor"]);
        let rest = app
            .ok(
                &admin,
                r"
                query($a: String) {
                  users(after: $a) {
                    nodes { id }
                    pageInfo { hasNextPage hasPreviousPage }
                  }
                }
                ",
                json!({ "a": u["pageInfo"]["endCursor"] }),
            )
            .await;
        assert_eq!(rest["users"]["nodes"].as_array().unwrap().len(), 5);
        assert_eq!(rest["users"]["pageInfo"]["hasNextPage"], false);
        assert_eq!(rest["users"]["pageInfo"]["hasPreviousPage"], true);
    }
}
