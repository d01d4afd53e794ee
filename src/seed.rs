//! Demo fixtures, loaded through the services. Idempotent: what exists is left alone.
//! Every person-readable text is a [`Label`] in Russian and English; the language is
//! chosen when seeding (`--lang`).
use crate::i18n::Msg;
use std::path::Path;

mod backdate;
mod label;

pub use label::Label;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Deserialize;

use crate::{
    auth::Viewer,
    domain::{defects, projects, users},
    entities::{
        defects as defect_rows,
        enums::{DefectStatus, Priority, ProjectStatus, Role},
        projects as project_rows, stages as stage_rows, users as user_rows,
    },
    error::{AppError, AppResult},
    i18n::Lang,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub projects: Vec<SeedProject>,
    #[serde(default)]
    pub defects: Vec<SeedDefect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDefect {
    /// Project title, in either language.
    pub project: String,
    /// Stage title within the project, in either language.
    pub stage: Option<String>,
    pub title: Label,
    #[serde(default)]
    pub description: Label,
    pub priority: Option<Priority>,
    /// Relative to the day of seeding, so the demo always has overdue and upcoming work.
    pub deadline_in_days: Option<i64>,
    /// Usernames.
    pub author: String,
    pub performer: Option<String>,
    /// The status to walk the defect to, through the transition service.
    pub status: DefectStatus,
    /// Return it from review once on the way (rework).
    #[serde(default)]
    pub rework: bool,
    #[serde(default)]
    pub comments: Vec<SeedComment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedComment {
    pub author: String,
    pub body: Label,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub username: String,
    pub email: String,
    #[serde(default)]
    pub full_name: Label,
    pub password: String,
    pub role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProject {
    pub title: Label,
    /// The defect-key prefix (`СК1` gives keys like `СК1-001`).
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub description: Label,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    #[serde(default)]
    pub status: Option<ProjectStatus>,
    #[serde(default)]
    pub stages: Vec<Label>,
    /// Usernames.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub users_created: usize,
    pub projects_created: usize,
    pub stages_created: usize,
    pub defects_created: usize,
}

/// A seed file that could not be read or applied; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SeedError {
    pub path: String,
    pub message: String,
}

/// Reads `path` and applies it with its labels in `lang`.
pub async fn load_file(
    db: &DatabaseConnection,
    path: &Path,
    lang: Lang,
) -> Result<SeedReport, SeedError> {
    let fail = |e: &dyn std::fmt::Display| SeedError {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(&e))?;
    let file: SeedFile = serde_json::from_str(&text).map_err(|e| fail(&e))?;
    apply(db, &file, lang).await.map_err(|e| fail(&e))
}

async fn find_user(db: &DatabaseConnection, username: &str) -> AppResult<Option<user_rows::Model>> {
    Ok(user_rows::Entity::find()
        .filter(user_rows::Column::Username.eq(username))
        .one(db)
        .await?)
}

/// Finds what an earlier seeding stored under `label` in either language.
fn titled<C: ColumnTrait>(column: C, label: &Label) -> sea_orm::sea_query::SimpleExpr {
    column.is_in(label.variants())
}

pub async fn apply(db: &DatabaseConnection, file: &SeedFile, lang: Lang) -> AppResult<SeedReport> {
    let mut report = SeedReport::default();
    // The seed hashes its users one after another: a pool of its own, one slot.
    let hasher = crate::auth::password::HashPool::new(1, 1);
    let first_admin = file
        .users
        .iter()
        .find(|u| u.role == Role::Admin)
        .ok_or_else(|| {
            AppError::BadUserInput(Msg::SeedNeedsAdmin {
                field: "users".into(),
            })
        })?;
    let admin = match find_user(db, &first_admin.username).await? {
        Some(u) => u,
        None => {
            report.users_created += 1;
            users::service::create_admin(
                db,
                &hasher,
                &first_admin.username,
                &first_admin.email,
                &first_admin.password,
            )
            .await?
        }
    };
    let viewer = Viewer::from_user(&admin);
    for u in &file.users {
        if find_user(db, &u.username).await?.is_some() {
            continue;
        }
        users::service::create(
            db,
            &hasher,
            &viewer,
            users::service::NewUser {
                username: u.username.clone(),
                email: u.email.clone(),
                full_name: Some(u.full_name.get(lang).to_owned()),
                password: u.password.clone(),
                role: u.role,
            },
        )
        .await?;
        report.users_created += 1;
    }
    for p in &file.projects {
        let existing = project_rows::Entity::find()
            .filter(titled(project_rows::Column::Title, &p.title))
            .one(db)
            .await?;
        let project = match existing {
            Some(project) => project,
            None => {
                report.projects_created += 1;
                projects::service::create(
                    db,
                    &viewer,
                    projects::service::NewProject {
                        title: p.title.get(lang).to_owned(),
                        code: p.code.clone(),
                        description: Some(p.description.get(lang).to_owned()),
                        start_date: p.start_date,
                        end_date: p.end_date,
                        status: p.status,
                        time_zone: None,
                        sla: None,
                        escalate_after_days: None,
                    },
                )
                .await?
            }
        };
        for title in &p.stages {
            let exists = stage_rows::Entity::find()
                .filter(stage_rows::Column::ProjectId.eq(project.id))
                .filter(titled(stage_rows::Column::Title, title))
                .one(db)
                .await?
                .is_some();
            if !exists {
                projects::stages::create(
                    db,
                    &viewer,
                    project.id,
                    projects::stages::NewStage {
                        title: title.get(lang).to_owned(),
                        description: None,
                        position: None,
                        start_date: None,
                        end_date: None,
                    },
                )
                .await?;
                report.stages_created += 1;
            }
        }
        for username in &p.members {
            let user = find_user(db, username).await?.ok_or_else(|| {
                AppError::BadUserInput(Msg::SeedUnknownUser {
                    field: "members".into(),
                    name: username.to_string(),
                })
            })?;
            projects::service::add_member(db, &viewer, project.id, user.id).await?;
        }
    }
    let manager = match file.users.iter().find(|u| u.role == Role::Manager) {
        Some(m) => find_user(db, &m.username)
            .await?
            .map(|u| Viewer::from_user(&u)),
        None => None,
    }
    .unwrap_or_else(|| viewer.clone());
    let now = crate::time::now();
    for (index, d) in file.defects.iter().enumerate() {
        if let Some(id) = seed_defect(db, &manager, file, d, lang).await? {
            backdate::spread(db, id, index, d.deadline_in_days, now).await?;
            report.defects_created += 1;
        }
    }
    Ok(report)
}

async fn user_viewer(db: &DatabaseConnection, username: &str) -> AppResult<Viewer> {
    find_user(db, username)
        .await?
        .map(|u| Viewer::from_user(&u))
        .ok_or_else(|| {
            AppError::BadUserInput(Msg::SeedUnknownUser {
                field: "defects".into(),
                name: username.to_string(),
            })
        })
}

/// Creates one defect and walks it to its status as real users would; `None` when a
/// defect with that title already exists in the project.
async fn seed_defect(
    db: &DatabaseConnection,
    manager: &Viewer,
    file: &SeedFile,
    d: &SeedDefect,
    lang: Lang,
) -> AppResult<Option<i32>> {
    // A defect names its project and stage in either language; one the file does not
    // define is looked up as written (a project seeded earlier).
    let in_file = file.projects.iter().find(|p| p.title.is(&d.project));
    let project_label = in_file
        .map(|p| p.title.clone())
        .unwrap_or_else(|| Label::Same(d.project.clone()));
    let project = project_rows::Entity::find()
        .filter(titled(project_rows::Column::Title, &project_label))
        .one(db)
        .await?
        .ok_or_else(|| {
            AppError::BadUserInput(Msg::SeedUnknownProject {
                field: "defects".into(),
                name: d.project.to_string(),
            })
        })?;
    let exists = defect_rows::Entity::find()
        .filter(defect_rows::Column::ProjectId.eq(project.id))
        .filter(titled(defect_rows::Column::Title, &d.title))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(None);
    }
    let stage_id = match &d.stage {
        Some(title) => Some(
            stage_rows::Entity::find()
                .filter(stage_rows::Column::ProjectId.eq(project.id))
                .filter(titled(
                    stage_rows::Column::Title,
                    &in_file
                        .and_then(|p| p.stages.iter().find(|s| s.is(title)).cloned())
                        .unwrap_or_else(|| Label::Same(title.clone())),
                ))
                .one(db)
                .await?
                .ok_or_else(|| {
                    AppError::BadUserInput(Msg::SeedUnknownStage {
                        field: "defects".into(),
                        name: title.to_string(),
                    })
                })?
                .id,
        ),
        None => None,
    };
    let author = user_viewer(db, &d.author).await?;
    let performer = match &d.performer {
        Some(p) => Some(user_viewer(db, p).await?),
        None => None,
    };
    // Deadlines count from the project's today (its zone's local date).
    let today = crate::domain::projects::site_time::today(&project.time_zone);
    let defect = defects::service::create(
        db,
        &author,
        defects::service::NewDefect {
            project_id: project.id,
            stage_id,
            title: d.title.get(lang).to_owned(),
            description: Some(d.description.get(lang).to_owned()),
            priority: d.priority,
            deadline: d
                .deadline_in_days
                .map(|n| today + chrono::Duration::days(n)),
            performer_id: None,
            location: None,
        },
    )
    .await?;
    if let Some(p) = &performer {
        defects::service::assign(db, manager, defect.id, Some(p.id), None).await?;
    }
    use DefectStatus::*;
    let mut path = defects::transitions::path_to(d.status).to_vec();
    if d.rework
        && let Some(review) = path.iter().position(|s| *s == Review)
    {
        // Returned once and sent to review again, right after the first review.
        path.splice(review + 1..review + 1, [InProgress, Review]);
    }
    let mut current = New;
    for to in path {
        // The performer sends work to review; managers make every other move.
        let by = match (to, &performer) {
            (Review, Some(p)) => p,
            _ => manager,
        };
        let note = match (current, to, lang) {
            (_, Review, Lang::En) => Some("Ready for review".to_owned()),
            (_, Review, Lang::Ru) => Some("Готово к проверке".to_owned()),
            (Review, InProgress, Lang::En) => Some("Returned for rework".to_owned()),
            (Review, InProgress, Lang::Ru) => Some("Возвращено на доработку".to_owned()),
            _ => None,
        };
        defects::service::change_status(db, by, defect.id, to, note, None).await?;
        current = to;
    }
    for c in &d.comments {
        let who = user_viewer(db, &c.author).await?;
        defects::comments::add(db, &who, defect.id, c.body.get(lang)).await?;
    }
    Ok(Some(defect.id))
}
