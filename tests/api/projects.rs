use defect_control::entities::enums::{DefectStatus, Role};
use serde_json::{Value, json};

use crate::{
    builders::DefectBuilder,
    helpers::{apps, outcome},
};

#[tokio::test]
async fn engineers_see_only_their_projects_others_see_all() {
    for app in apps().await {
        let cast = app.cast().await;
        let mine = app.project(&cast.manager, "Mine").await;
        let other = app.project(&cast.manager, "Other").await;
        app.add_member(mine.id, cast.engineer.id).await;
        let list = r"
            {
              projects {
                totalCount
                nodes {
                  id title
                  members { username }
                  stages { id }
                }
              }
            }
        ";
        let one = r"
            query($id: ID!) {
              project(id: $id) { title }
            }
        ";
        for actor in cast.all() {
            let data = app.ok(actor, list, json!({})).await;
            let expected = match actor.username.as_str() {
                _ if actor.id == cast.engineer.id => 1,
                _ if actor.id == cast.outsider.id => 0,
                _ => 2,
            };
            assert_eq!(
                data["projects"]["totalCount"], expected,
                "[{}] {:?}",
                app.backend, actor.role
            );
            assert_eq!(
                data["projects"]["nodes"].as_array().unwrap().len(),
                expected
            );
            let data = app
                .ok(actor, one, json!({ "id": other.id.to_string() }))
                .await;
            let visible = actor.role != Role::Engineer;
            assert_eq!(
                data["project"].is_null(),
                !visible,
                "{:?} other",
                actor.role
            );
        }
        let data = app
            .ok(&cast.engineer, one, json!({ "id": mine.id.to_string() }))
            .await;
        assert_eq!(data["project"]["title"], "Mine");
    }
}

/// Every cell of the matrix for projects, stages and members: expected outcome per actor.
#[tokio::test]
async fn project_and_stage_mutations_follow_the_matrix() {
    for app in apps().await {
        let cast = app.cast().await;
        let project = app.project(&cast.admin, "Matrix").await;
        app.add_member(project.id, cast.engineer.id).await;
        let stage = app.stage(project.id, "Foundations").await;
        let member = app.actor(Role::Engineer).await;
        let pid = project.id.to_string();
        let sid = stage.id.to_string();
        let ops: Vec<(&str, String, Value)> = vec![
            (
                "createProject",
                r#"
                mutation {
                  createProject(input: { title: "New" }) { id }
                }
                "#
                .into(),
                json!({}),
            ),
            (
                "updateProject",
                r#"
                mutation($id: ID!) {
                  updateProject(id: $id, input: { description: "changed" }) { id }
                }
                "#
                .into(),
                json!({ "id": pid }),
            ),
            (
                "addProjectMember",
                r"
                mutation($p: ID!, $u: ID!) {
                  addProjectMember(projectId: $p, userId: $u) { id }
                }
                "
                .into(),
                json!({ "p": pid, "u": member.gid() }),
            ),
            (
                "removeProjectMember",
                r"
                mutation($p: ID!, $u: ID!) {
                  removeProjectMember(projectId: $p, userId: $u) { id }
                }
                "
                .into(),
                json!({ "p": pid, "u": member.gid() }),
            ),
            (
                "createStage",
                r#"
                mutation($p: ID!) {
                  createStage(projectId: $p, input: { title: "Roof" }) { id }
                }
                "#
                .into(),
                json!({ "p": pid }),
            ),
            (
                "updateStage",
                r#"
                mutation($id: ID!) {
                  updateStage(id: $id, input: { title: "Renamed" }) { id }
                }
                "#
                .into(),
                json!({ "id": sid }),
            ),
            (
                "deleteStage",
                r"
                mutation($id: ID!) {
                  deleteStage(id: $id)
                }
                "
                .into(),
                json!({ "id": sid }),
            ),
            (
                "deleteProject",
                r"
                mutation($id: ID!) {
                  deleteProject(id: $id)
                }
                "
                .into(),
                json!({ "id": pid }),
            ),
        ];
        // Refusals first: engineers (member: FORBIDDEN; outsider: NOT_FOUND except for
        // createProject, which names no object) and observers.
        for (name, query, vars) in &ops {
            for actor in [&cast.engineer, &cast.outsider, &cast.observer] {
                let expected = if actor.id == cast.outsider.id && *name != "createProject" {
                    "NOT_FOUND"
                } else {
                    "FORBIDDEN"
                };
                let before = app.snapshot().await;
                let body = app.gql(Some(&actor.token), query, vars.clone()).await;
                assert_eq!(
                    outcome(&body),
                    expected,
                    "[{}] {name} as {}",
                    app.backend,
                    actor.username
                );
                assert_eq!(
                    app.snapshot().await,
                    before,
                    "{name} as {} changed data",
                    actor.username
                );
            }
        }
        // Managers may do all of it, in order (the last two delete).
        for (name, query, vars) in &ops {
            let body = app
                .gql(Some(&cast.manager.token), query, vars.clone())
                .await;
            assert_eq!(
                outcome(&body),
                "OK",
                "[{}] {name} as manager: {body}",
                app.backend
            );
        }
        // And admins too, on a project of their own.
        let p2 = app.project(&cast.admin, "Admin's").await;
        let s2 = app.stage(p2.id, "S").await;
        for (name, query, _) in &ops {
            let vars = json!({ "id": if name.contains("Stage") && *name != "createStage" { s2.id.to_string() } else { p2.id.to_string() }, "p": p2.id.to_string(), "u": member.gid() });
            let body = app.gql(Some(&cast.admin.token), query, vars).await;
            assert_eq!(
                outcome(&body),
                "OK",
                "[{}] {name} as admin: {body}",
                app.backend
            );
        }
        assert_eq!(
            app.count("projects").await,
            2,
            "the two createProject calls remain"
        );
    }
}

#[tokio::test]
async fn deleting_a_project_or_stage_with_defects_is_a_conflict() {
    for app in apps().await {
        let cast = app.cast().await;
        let project = app.project(&cast.manager, "Busy").await;
        let stage = app.stage(project.id, "Frame").await;
        app.add_member(project.id, cast.engineer.id).await;
        DefectBuilder::new(project.id, &cast.manager, &cast.manager)
            .title("Crack")
            .stage(Some(stage.id))
            .performer(Some(cast.engineer.id))
            .status(DefectStatus::InProgress)
            .create(&app)
            .await;
        let before = app.snapshot().await;
        let del_p = r"
            mutation($id: ID!) {
              deleteProject(id: $id)
            }
        ";
        let del_s = r"
            mutation($id: ID!) {
              deleteStage(id: $id)
            }
        ";
        let remove = r"
            mutation($p: ID!, $u: ID!) {
              removeProjectMember(projectId: $p, userId: $u) { id }
            }
        ";
        assert_eq!(
            app.code(
                Some(&cast.manager.token),
                del_p,
                json!({ "id": project.id.to_string() })
            )
            .await,
            "CONFLICT"
        );
        assert_eq!(
            app.code(
                Some(&cast.manager.token),
                del_s,
                json!({ "id": stage.id.to_string() })
            )
            .await,
            "CONFLICT"
        );
        // The engineer performs an open defect there: removal would orphan it.
        assert_eq!(
            app.code(
                Some(&cast.manager.token),
                remove,
                json!({ "p": project.id.to_string(), "u": cast.engineer.gid() })
            )
            .await,
            "CONFLICT"
        );
        assert_eq!(app.snapshot().await, before);
        assert_eq!(app.count("defects").await, 1);

        // An empty project goes, with its stages and memberships.
        let empty = app.project(&cast.manager, "Empty").await;
        app.stage(empty.id, "Only").await;
        app.add_member(empty.id, cast.engineer.id).await;
        let (stages_before, members_before) = (
            app.count("stages").await,
            app.count("project_members").await,
        );
        let data = app
            .ok(&cast.manager, del_p, json!({ "id": empty.id.to_string() }))
            .await;
        assert_eq!(data["deleteProject"], empty.id.to_string());
        assert_eq!(app.count("stages").await, stages_before - 1);
        assert_eq!(app.count("project_members").await, members_before - 1);
    }
}

#[tokio::test]
async fn updates_leave_omitted_fields_and_clear_explicit_nulls() {
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        let create = r#"
            mutation {
              createProject(
                input: { title: "  Tower  ", startDate: "2026-01-01", endDate: "2026-12-31" }
              ) {
                id title status startDate endDate description
              }
            }
        "#;
        let data = app.ok(&manager, create, json!({})).await;
        let p = &data["createProject"];
        assert_eq!(p["title"], "Tower");
        assert_eq!(p["status"], "ACTIVE");
        assert_eq!(p["description"], "");
        let id = p["id"].clone();
        let update = r"
            mutation($id: ID!, $i: UpdateProjectInput!) {
              updateProject(id: $id, input: $i) { title startDate endDate status }
            }
        ";
        let data = app
            .ok(
                &manager,
                update,
                json!({ "id": id, "i": { "endDate": null, "status": "CLOSED" } }),
            )
            .await;
        assert_eq!(
            data["updateProject"],
            json!({ "title": "Tower", "startDate": "2026-01-01", "endDate": null, "status": "CLOSED" })
        );
        let before = app.snapshot().await;
        for (input, field) in [
            (json!({ "title": null }), "title"),
            (json!({ "title": "   " }), "title"),
            (json!({ "endDate": "2025-01-01" }), "endDate"),
            (json!({ "title": "x".repeat(201) }), "title"),
        ] {
            let body = app
                .gql(
                    Some(&manager.token),
                    update,
                    json!({ "id": id, "i": input }),
                )
                .await;
            assert_eq!(outcome(&body), "BAD_USER_INPUT", "{input}");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(field)
            );
        }
        // A malformed date is refused by the Date scalar.
        let body = app
            .gql(
                Some(&manager.token),
                update,
                json!({ "id": id, "i": { "startDate": "31.12.2026" } }),
            )
            .await;
        assert_ne!(outcome(&body), "OK");
        assert!(!outcome(&body).starts_with('<'), "coded: {body}");
        assert_eq!(app.snapshot().await, before);

        // Stages: position defaults to after the last one; stages come back in order.
        let cs = r"
            mutation($p: ID!, $t: String!) {
              createStage(projectId: $p, input: { title: $t }) { position }
            }
        ";
        for (t, pos) in [("A", 1), ("B", 2), ("C", 3)] {
            let data = app.ok(&manager, cs, json!({ "p": id, "t": t })).await;
            assert_eq!(data["createStage"]["position"], pos);
        }
        let data = app
            .ok(
                &manager,
                r"
                query($id: ID!) {
                  project(id: $id) {
                    stages {
                      title position
                      project { title }
                    }
                  }
                }
                ",
                json!({ "id": id }),
            )
            .await;
        let titles: Vec<&str> = data["project"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, ["A", "B", "C"]);
        assert_eq!(data["project"]["stages"][0]["project"]["title"], "Tower");
    }
}

#[tokio::test]
async fn project_search_is_case_insensitive_and_literal() {
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        for t in [
            "ЖК «Северный»",
            "Southern 100% done",
            "Southern 1000 done",
            "under_score",
            "underXscore",
        ] {
            app.project(&manager, t).await;
        }
        let q = r"
            query($s: String) {
              projects(search: $s) {
                totalCount
                nodes { title }
              }
            }
        ";
        let count = |d: &Value| d["projects"]["totalCount"].as_i64().unwrap();
        assert_eq!(
            count(&app.ok(&manager, q, json!({ "s": "северный" })).await),
            1
        );
        assert_eq!(
            count(&app.ok(&manager, q, json!({ "s": "СЕВЕРН" })).await),
            1
        );
        assert_eq!(count(&app.ok(&manager, q, json!({ "s": "100%" })).await), 1);
        assert_eq!(
            count(&app.ok(&manager, q, json!({ "s": "under_" })).await),
            1
        );
        assert_eq!(
            count(&app.ok(&manager, q, json!({ "s": "southern" })).await),
            2
        );
        assert_eq!(count(&app.ok(&manager, q, json!({ "s": "" })).await), 5);
    }
}

#[tokio::test]
async fn paging_while_rows_are_added_never_repeats_or_skips() {
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        for i in 0..7 {
            app.project(&manager, &format!("P{i}")).await;
        }
        let q = r"
            query($a: String) {
              projects(first: 3, after: $a) {
                edges {
                  cursor
                  node { title }
                }
                pageInfo { hasNextPage hasPreviousPage endCursor }
              }
            }
        ";
        let mut seen = Vec::new();
        let mut after = Value::Null;
        let mut pages = 0;
        loop {
            let data = app.ok(&manager, q, json!({ "a": after })).await;
            pages += 1;
            assert_eq!(data["projects"]["pageInfo"]["hasPreviousPage"], pages > 1);
            for e in data["projects"]["edges"].as_array().unwrap() {
                seen.push(e["node"]["title"].as_str().unwrap().to_owned());
            }
            if pages == 1 {
                // Rows added before and after the cursor during the walk.
                app.project(&manager, "A-early").await;
                app.project(&manager, "Z-late").await;
            }
            if data["projects"]["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = data["projects"]["pageInfo"]["endCursor"].clone();
        }
        let originals: Vec<String> = (0..7).map(|i| format!("P{i}")).collect();
        for t in &originals {
            assert_eq!(
                seen.iter().filter(|s| *s == t).count(),
                1,
                "{t} exactly once in {seen:?}"
            );
        }
        assert!(
            !seen.contains(&"A-early".to_owned()),
            "a row before the cursor is not served late"
        );
        for bad in [json!({ "a": "not-a-cursor" }), json!({ "a": "W10" })] {
            let body = app.gql(Some(&manager.token), q, bad.clone()).await;
            assert_eq!(outcome(&body), "BAD_USER_INPUT", "{bad}");
        }
    }
}
