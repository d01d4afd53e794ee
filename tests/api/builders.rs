//! Test data, built through the domain services (the way crates.io's `CrateBuilder`
//! builds crates), so a fixture obeys the same rules as a request and a change of a
//! service's signature is fixed here once. `create` is `#[track_caller]`: a failed
//! build names the test line that asked for it, not this file.
//!
//! One exception: users are written as rows, with one argon2 hash shared by all (the
//! service hashes every password on purpose slowly, seconds per user in a debug build);
//! their access token still comes from a real login session.
use std::{future::Future, panic::Location, sync::OnceLock};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use defect_control::{
    auth::{Viewer, viewer::Via},
    domain::{
        defects::{
            service::{self as defect_service, NewDefect},
            transitions::path_to,
        },
        projects::{service as project_service, stages as stage_service},
        reports::tally,
        users::service as user_service,
    },
    entities::{
        defects,
        enums::{DefectStatus, Priority, Role},
        projects, stages, users,
    },
};
use sea_orm::{ActiveModelTrait, EntityTrait, Set, TransactionTrait};

use crate::helpers::{Actor, PASSWORD, TestApp};

/// Panics with the caller's location: what `#[track_caller]` gives a sync builder,
/// carried into the future (an `async fn` cannot be `#[track_caller]` on stable Rust).
fn built<T, E: std::fmt::Debug>(at: &Location<'_>, what: &str, r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{at}: building {what} failed: {e:?}"),
    }
}

/// Memberships and stages record no actor, so the builder makes them as an admin
/// that needs no row of its own.
fn fixture_admin() -> Viewer {
    Viewer {
        id: 0,
        username: "fixture-admin".into(),
        role: Role::Admin,
        via: Via::Session,
    }
}

/// One argon2 hash of [`PASSWORD`] for every fixture user, computed once.
fn fixture_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        use argon2::{
            Argon2, PasswordHasher,
            password_hash::{SaltString, rand_core::OsRng},
        };
        Argon2::default()
            .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
            .expect("hash")
            .to_string()
    })
}

/// A user with password [`PASSWORD`] and a session: `UserBuilder::new(role, name)`.
pub struct UserBuilder {
    role: Role,
    username: String,
}

impl UserBuilder {
    pub fn new(role: Role, username: impl Into<String>) -> Self {
        UserBuilder {
            role,
            username: username.into(),
        }
    }

    #[track_caller]
    pub fn create(self, app: &TestApp) -> impl Future<Output = Actor> + '_ {
        let at = Location::caller();
        async move {
            let UserBuilder { role, username } = self;
            let now = defect_control::time::now();
            let user = users::ActiveModel {
                username: Set(username.clone()),
                email: Set(format!("{username}@test.local")),
                full_name: Set(format!("Test {username}")),
                password_hash: Set(fixture_hash().to_owned()),
                role: Set(role),
                is_active: Set(true),
                search_text: Set(format!(
                    "{username}\ntest {username}\n{username}@test.local"
                )),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(app.db())
            .await;
            let user = built(at, "a user", user);
            // A real login session: access tokens live only as long as their session.
            let session =
                defect_control::auth::service::open_session(app.state.sessions(), user.clone())
                    .await;
            let token = built(at, "a session", session).access;
            Actor {
                id: user.id,
                username,
                role,
                token,
            }
        }
    }
}

/// A project owned by `owner`, with members and stages added through the services.
pub struct ProjectBuilder<'a> {
    owner: &'a Actor,
    title: String,
    code: Option<String>,
    members: Vec<i32>,
}

impl<'a> ProjectBuilder<'a> {
    pub fn new(owner: &'a Actor, title: &str) -> Self {
        ProjectBuilder {
            owner,
            title: title.into(),
            code: None,
            members: Vec::new(),
        }
    }

    /// The defect-key prefix (none by default).
    pub fn code(mut self, code: &str) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn member(mut self, user: i32) -> Self {
        self.members.push(user);
        self
    }

    #[track_caller]
    pub fn create(self, app: &'a TestApp) -> impl Future<Output = projects::Model> + 'a {
        let at = Location::caller();
        async move {
            let project = project_service::create(
                app.db(),
                &self.owner.viewer(),
                project_service::NewProject {
                    title: self.title.clone(),
                    code: self.code.clone(),
                    description: None,
                    start_date: None,
                    end_date: None,
                    status: None,
                    time_zone: None,
                    sla: None,
                    escalate_after_days: None,
                },
            )
            .await;
            let project = built(at, "a project", project);
            for user in self.members {
                add_member(app, at, project.id, user).await;
            }
            project
        }
    }
}

async fn add_member(app: &TestApp, at: &Location<'_>, project: i32, user: i32) {
    let added = project_service::add_member(app.db(), &fixture_admin(), project, user).await;
    built(at, "a membership", added);
}

/// Makes `user` a member of `project`.
#[track_caller]
pub fn member(app: &TestApp, project: i32, user: i32) -> impl Future<Output = ()> + '_ {
    let at = Location::caller();
    add_member(app, at, project, user)
}

/// A stage of `project`, at position 1 (where every fixture stage has always been).
#[track_caller]
pub fn stage<'a>(
    app: &'a TestApp,
    project: i32,
    title: &'a str,
) -> impl Future<Output = stages::Model> + 'a {
    let at = Location::caller();
    async move {
        let stage = stage_service::create(
            app.db(),
            &fixture_admin(),
            project,
            stage_service::NewStage {
                title: title.into(),
                description: None,
                position: Some(1),
                start_date: None,
                end_date: None,
            },
        )
        .await;
        built(at, "a stage", stage)
    }
}

/// A defect created by `author`, assigned and walked to its status along
/// [`path_to`] by `manager`, optionally backdated:
/// `DefectBuilder::new(project, &author, &manager).status(DefectStatus::Review)`.
pub struct DefectBuilder<'a> {
    author: &'a Actor,
    manager: &'a Actor,
    input: NewDefect,
    performer: Option<i32>,
    status: DefectStatus,
    created_at: Option<DateTime<Utc>>,
    hours_to_close: f64,
}

impl<'a> DefectBuilder<'a> {
    pub fn new(project: i32, author: &'a Actor, manager: &'a Actor) -> Self {
        DefectBuilder {
            author,
            manager,
            input: NewDefect {
                project_id: project,
                stage_id: None,
                title: "Defect".into(),
                description: None,
                priority: None,
                deadline: None,
                performer_id: None,
                location: None,
            },
            performer: None,
            status: DefectStatus::New,
            created_at: None,
            hours_to_close: 0.0,
        }
    }

    pub fn title(mut self, title: &str) -> Self {
        self.input.title = title.into();
        self
    }

    pub fn stage(mut self, stage: Option<i32>) -> Self {
        self.input.stage_id = stage;
        self
    }

    pub fn description(mut self, description: Option<String>) -> Self {
        self.input.description = description;
        self
    }

    pub fn priority(mut self, priority: Priority) -> Self {
        self.input.priority = Some(priority);
        self
    }

    pub fn deadline(mut self, deadline: Option<NaiveDate>) -> Self {
        self.input.deadline = deadline;
        self
    }

    /// Pinned on `plan` at (`x`, `y`) when created.
    pub fn pinned(mut self, plan: i32, x: f64, y: f64) -> Self {
        self.input.location = Some(defect_control::domain::defects::location::LocationInput {
            plan_id: Some(plan),
            x,
            y,
            label: None,
        });
        self
    }

    /// Assigned by the manager after creation (as a manager would in the UI).
    pub fn performer(mut self, performer: Option<i32>) -> Self {
        self.performer = performer;
        self
    }

    /// Given in the creating call itself (as `createDefect(performerId:)` does: no
    /// separate assignment, the defect stays at version 1); the author must manage.
    pub fn created_with_performer(mut self, performer: i32) -> Self {
        self.input.performer_id = Some(performer);
        self
    }

    pub fn status(mut self, status: DefectStatus) -> Self {
        self.status = status;
        self
    }

    /// Rewrites `created_at` after the walk (the services stamp the current instant);
    /// a CLOSED defect gets `closed_at` = `created_at` + [`Self::hours_to_close`].
    pub fn created_at(mut self, at: DateTime<Utc>) -> Self {
        self.created_at = Some(at);
        self
    }

    pub fn hours_to_close(mut self, hours: f64) -> Self {
        self.hours_to_close = hours;
        self
    }

    #[track_caller]
    pub fn create(self, app: &'a TestApp) -> impl Future<Output = defects::Model> + 'a {
        let at = Location::caller();
        async move {
            let db = app.db();
            let created = defect_service::create(db, &self.author.viewer(), self.input).await;
            let mut row = built(at, "a defect", created);
            let manager = self.manager.viewer();
            if let Some(p) = self.performer {
                let assigned = defect_service::assign(db, &manager, row.id, Some(p), None).await;
                row = built(at, "an assignment", assigned);
            }
            for &to in path_to(self.status) {
                let moved = defect_service::change_status(db, &manager, row.id, to, None, None);
                row = built(at, "a status change", moved.await);
            }
            let Some(created_at) = self.created_at else {
                return row;
            };
            // Fetched again: the row the services returned is what they wrote.
            let fresh = defects::Entity::find_by_id(row.id).one(db).await;
            let fresh = built(at, "a defect read", fresh).expect("the defect exists");
            let mut am: defects::ActiveModel = fresh.clone().into();
            am.created_at = Set(created_at);
            if self.status == DefectStatus::Closed {
                let ms = (self.hours_to_close * 3_600_000.0).round() as i64;
                am.closed_at = Set(Some(created_at + Duration::milliseconds(ms)));
            }
            // As the seed's backdating does: the reports' aggregate follows the rewrite.
            let txn = built(at, "a transaction", db.begin().await);
            let row = built(at, "a backdated defect", am.update(&txn).await);
            let tallied = tally::apply(&txn, Some(&fresh), Some(&row)).await;
            built(at, "the report aggregate", tallied);
            built(at, "a commit", txn.commit().await);
            row
        }
    }
}

/// A NEW defect titled `title` by `author` in `project` (a GraphQL id, as the world of
/// `defects.rs` keeps it); returns the defect's GraphQL id.
#[track_caller]
pub fn new_defect<'a>(
    app: &'a TestApp,
    author: &'a Actor,
    project: &str,
    title: &str,
) -> impl Future<Output = serde_json::Value> + 'a {
    let project = project.parse().expect("a project id");
    let built = DefectBuilder::new(project, author, author)
        .title(title)
        .create(app);
    async move { serde_json::json!(built.await.id.to_string()) }
}

/// Deactivates a user through the users service (which also ends their sessions).
#[track_caller]
pub fn deactivate(app: &TestApp, user: i32) -> impl Future<Output = ()> + '_ {
    let at = Location::caller();
    async move {
        let patch = user_service::UserPatch {
            is_active: Some(Some(false)),
            ..Default::default()
        };
        let done =
            user_service::update(app.db(), &app.state.hasher, &fixture_admin(), user, patch).await;
        built(at, "a deactivation", done);
    }
}
