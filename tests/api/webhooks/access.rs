//! Who manages webhooks, whose events they carry, and where they may point: the
//! permissions (admins: any scope; managers: their member projects; others: none), a
//! creator who loses access stops the deliveries, and the address rule at creation
//! (literal addresses in every spelling, a name resolving to loopback) and at delivery
//! (a name that resolves to loopback is refused by the client's resolver).
use defect_control::{domain::projects::service as project_service, entities::enums::Role};
use serde_json::json;

use super::{
    CREATE, create, defect, deliveries, hook_apps,
    receiver::{Mode, Receiver},
    setup,
};
use crate::{builders::deactivate, helpers::apps};

const LIST: &str = "query($p: ID) { webhooks(projectId: $p) { id project { id } } }";
const UPDATE: &str = "mutation($id: ID!, $u: String, $a: Boolean) { updateWebhook(id: $id, url: $u, active: $a) { id url active } }";
const DELETE: &str = "mutation($id: ID!) { deleteWebhook(id: $id) }";

#[tokio::test]
async fn admins_manage_any_scope_managers_their_projects_others_nothing() {
    for app in hook_apps().await {
        let s = setup(&app).await;
        let outsider = app.actor(Role::Manager).await;
        let engineer = app.actor(Role::Engineer).await;
        let observer = app.actor(Role::Observer).await;
        app.add_member(s.project, engineer.id).await;
        let url = "http://127.0.0.1:9/hook";
        let p = s.project.to_string();
        let before = app.snapshot().await;
        for (who, project, want) in [
            (&outsider, Some(p.clone()), "FORBIDDEN"),
            (&s.manager, None, "FORBIDDEN"),
            (&engineer, Some(p.clone()), "FORBIDDEN"),
            (&observer, Some(p.clone()), "FORBIDDEN"),
            (&s.admin, Some("999999".into()), "NOT_FOUND"),
        ] {
            let code = app
                .code(Some(&who.token), CREATE, json!({"p": project, "u": url}))
                .await;
            assert_eq!(code, want, "[{}] {} {project:?}", app.backend, who.username);
        }
        assert_eq!(app.snapshot().await, before, "refusals change nothing");

        let (mine, _) = create(&app, &s.manager, Some(s.project), url, json!([])).await;
        let (global, _) = create(&app, &s.admin, None, url, json!([])).await;
        let ids = |v: &serde_json::Value| -> Vec<String> {
            v["webhooks"]
                .as_array()
                .expect("list")
                .iter()
                .map(|w| w["id"].as_str().expect("id").to_owned())
                .collect()
        };
        let admin_sees = app.ok(&s.admin, LIST, json!({})).await;
        assert_eq!(ids(&admin_sees), [mine.clone(), global.clone()]);
        let admin_project = app.ok(&s.admin, LIST, json!({"p": p})).await;
        assert_eq!(ids(&admin_project), std::slice::from_ref(&mine));
        let manager_sees = app.ok(&s.manager, LIST, json!({})).await;
        assert_eq!(
            ids(&manager_sees),
            std::slice::from_ref(&mine),
            "not the every-project one"
        );
        assert_eq!(
            ids(&app.ok(&outsider, LIST, json!({})).await),
            Vec::<String>::new()
        );
        for who in [&engineer, &observer] {
            assert_eq!(
                app.code(Some(&who.token), LIST, json!({})).await,
                "FORBIDDEN"
            );
        }
        assert_eq!(
            app.code(Some(&outsider.token), LIST, json!({"p": p})).await,
            "FORBIDDEN"
        );

        let before = app.snapshot().await;
        for (who, id, want) in [
            (&outsider, &mine, "NOT_FOUND"),
            (&s.manager, &global, "NOT_FOUND"),
            (&engineer, &mine, "FORBIDDEN"),
        ] {
            let code = app.code(Some(&who.token), DELETE, json!({"id": id})).await;
            assert_eq!(code, want, "[{}] delete by {}", app.backend, who.username);
            let code = app
                .code(Some(&who.token), UPDATE, json!({"id": id, "a": false}))
                .await;
            assert_eq!(code, want, "[{}] update by {}", app.backend, who.username);
        }
        assert_eq!(app.snapshot().await, before);
        let data = app
            .ok(&s.manager, UPDATE, json!({"id": mine, "a": false}))
            .await;
        assert_eq!(data["updateWebhook"]["active"], false);
        let data = app.ok(&s.manager, DELETE, json!({"id": mine})).await;
        assert_eq!(data["deleteWebhook"], mine);
        assert_eq!(app.count("webhooks").await, 1);
    }
}

#[tokio::test]
async fn a_creator_removed_or_deactivated_stops_the_deliveries() {
    for app in hook_apps().await {
        let rx = Receiver::start(Mode::Statuses(&[])).await;
        let removed = Receiver::start(Mode::Statuses(&[])).await;
        let s = setup(&app).await;
        let other = app.actor(Role::Manager).await;
        app.add_member(s.project, other.id).await;
        create(&app, &s.manager, Some(s.project), &rx.url(), json!([])).await;
        create(&app, &other, Some(s.project), &removed.url(), json!([])).await;
        defect(&app, &s, "seen by both").await;
        app.pump().await;
        assert_eq!((rx.got().len(), removed.got().len()), (1, 1));

        project_service::remove_member(app.db(), &s.admin.viewer(), s.project, other.id)
            .await
            .expect("remove");
        defect(&app, &s, "after the removal").await;
        app.pump().await;
        assert_eq!(rx.got().len(), 2);
        assert_eq!(removed.got().len(), 1, "[{}] removed creator", app.backend);

        deactivate(&app, s.manager.id).await;
        // The manager's defects are made by the admin now.
        crate::builders::DefectBuilder::new(s.project, &s.admin, &s.admin)
            .title("after the deactivation")
            .create(&app)
            .await;
        app.pump().await;
        assert_eq!(rx.got().len(), 2, "[{}] deactivated creator", app.backend);
        assert_eq!(app.count("webhook_deliveries").await, 3);
    }
}

#[tokio::test]
async fn internal_addresses_are_refused_at_creation() {
    for app in apps().await {
        let s = setup(&app).await;
        let before = app.snapshot().await;
        for url in [
            "http://127.0.0.1/hook",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[fe80::1]/hook",
            "http://[fd00::1]/hook",
            "http://10.1.2.3/hook",
            "http://192.168.0.10/hook",
            "http://172.16.0.1/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/hook",
            "http://2130706433/hook",
            "http://localhost/hook",
            "ftp://93.184.216.34/hook",
            "https://user:secret@93.184.216.34/hook",
            "not a url",
        ] {
            let body = app
                .gql(Some(&s.admin.token), CREATE, json!({"p": null, "u": url}))
                .await;
            let err = &body["errors"][0];
            assert_eq!(
                err["extensions"]["code"], "BAD_USER_INPUT",
                "[{}] {url}: {body}",
                app.backend
            );
            assert!(
                err["message"]
                    .as_str()
                    .expect("message")
                    .starts_with("url:"),
                "{url}: {body}"
            );
        }
        let long = format!("https://93.184.216.34/{}", "a".repeat(2048));
        let code = app
            .code(Some(&s.admin.token), CREATE, json!({"u": long}))
            .await;
        assert_eq!(code, "BAD_USER_INPUT");
        assert_eq!(
            app.snapshot().await,
            before,
            "[{}] nothing created",
            app.backend
        );
        // The public address is accepted (no request is made at creation).
        create(
            &app,
            &s.admin,
            None,
            "https://93.184.216.34/hook",
            json!([]),
        )
        .await;
    }
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_delivery() {
    for app in hook_apps().await {
        let rx = Receiver::start(Mode::Statuses(&[])).await;
        let s = setup(&app).await;
        // Accepted where private addresses are allowed; delivered by an instance where
        // they are not (as when a name's DNS answer changes after creation).
        let by_name = rx.url().replace("127.0.0.1", "localhost");
        create(&app, &s.admin, Some(s.project), &by_name, json!([])).await;
        create(&app, &s.admin, Some(s.project), &rx.url(), json!([])).await;
        defect(&app, &s, "a").await;
        let strict = app.twin().await;
        assert!(!strict.state.config.webhook_allow_private);
        strict.pump().await;
        assert!(
            rx.got().is_empty(),
            "[{}] nothing reached the receiver",
            app.backend
        );
        let log = deliveries(&app, &s.admin).await;
        assert_eq!(log.len(), 2);
        for d in &log {
            assert_eq!(d["status"], "PENDING");
            assert_eq!(d["attempts"], 1);
            assert!(d["responseCode"].is_null());
        }
        let errors: Vec<&str> = log
            .iter()
            .map(|d| d["error"].as_str().expect("error"))
            .collect();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("resolves only to addresses webhooks may not reach")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("address is one webhooks may not reach")),
            "{errors:?}"
        );
        drop(strict);
    }
}
