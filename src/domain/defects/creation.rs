//! Creating a defect, in three steps that `create` runs in turn and the import
//! (`defects::import`) runs over many rows: [`gate`] (the project and the creator's
//! right, once), [`check`] (the create rules for one defect's fields) and [`insert`]
//! (the rows of one checked defect, inside a transaction the caller holds). One copy of
//! each rule, whoever creates. (Split from `service.rs`, which re-exports `create`.)
use chrono::NaiveDate;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, Set, TransactionTrait};

use super::{
    journal, keys,
    location::{self, LocationInput, Pin},
    policy,
    service::{DESCRIPTION_MAX, TITLE_MAX, check_performer, check_stage},
    versioned::history,
    watchers,
};
use crate::{
    auth::Viewer,
    domain::{
        projects::{service::is_member, settings},
        reports::tally,
        require, search, validate,
    },
    entities::{
        defects,
        enums::{DefectEventKind, DefectStatus, Priority, ProjectStatus},
        projects,
    },
    error::{AppError, AppResult},
    i18n::Msg,
    time,
};

pub struct NewDefect {
    pub project_id: i32,
    pub stage_id: Option<i32>,
    pub title: String,
    pub description: Option<String>,
    pub priority: Option<Priority>,
    pub deadline: Option<NaiveDate>,
    pub performer_id: Option<i32>,
    pub location: Option<LocationInput>,
}

/// A project the viewer may create defects in (see [`gate`]).
pub struct Gate {
    project: projects::Model,
    /// Whether the viewer may name a performer.
    assigns: bool,
}

impl Gate {
    pub fn project_id(&self) -> i32 {
        self.project.id
    }
}

/// A defect's fields that passed the create rules, ready for [`insert`].
pub struct Checked {
    project_id: i32,
    stage_id: Option<i32>,
    title: String,
    description: String,
    priority: Priority,
    deadline: Option<NaiveDate>,
    performer_id: Option<i32>,
    pin: Option<Pin>,
}

/// The project (NOT_FOUND unless visible), the viewer's right to create in it, and an
/// open project; `assigning`: whether a performer is named (managers only).
pub async fn gate(
    db: &DatabaseConnection,
    viewer: &Viewer,
    project_id: i32,
    assigning: bool,
) -> AppResult<Gate> {
    let project = crate::domain::projects::service::get(db, viewer, project_id).await?;
    let member = is_member(db, project.id, viewer.id).await?;
    require(policy::can_create(viewer, member), Msg::NoRegister)?;
    let assigns = policy::can_manage(viewer);
    require(!assigning || assigns, Msg::OnlyManagersAssign)?;
    if project.status == ProjectStatus::Closed {
        return Err(AppError::BadUserInput(Msg::ProjectClosed {
            field: "projectId".into(),
        }));
    }
    Ok(Gate { project, assigns })
}

/// The create rules for one defect's fields in the gated project (its `project_id` is
/// the gate's); BAD_USER_INPUT naming the field at fault.
pub async fn check(db: &impl ConnectionTrait, gate: &Gate, input: NewDefect) -> AppResult<Checked> {
    let project = &gate.project;
    require(
        input.performer_id.is_none() || gate.assigns,
        Msg::OnlyManagersAssign,
    )?;
    let title = validate::title("title", &input.title, TITLE_MAX)?;
    let description = validate::text(
        "description",
        input.description.as_deref().unwrap_or(""),
        DESCRIPTION_MAX,
    )?;
    if let Some(stage) = input.stage_id {
        check_stage(db, project.id, stage).await?;
    }
    if let Some(performer) = input.performer_id {
        check_performer(db, project.id, performer).await?;
    }
    let pin = match input.location {
        Some(l) => Some(location::check(db, project.id, l).await?),
        None => None,
    };
    let priority = input.priority.unwrap_or(Priority::Medium);
    // Without a deadline, the project's SLA rule for the priority gives one (NOTIFY.md).
    let deadline = input
        .deadline
        .or_else(|| settings::sla_deadline(project, priority, time::now()));
    Ok(Checked {
        project_id: project.id,
        stage_id: input.stage_id,
        title,
        description,
        priority,
        deadline,
        performer_id: input.performer_id,
        pin,
    })
}

/// Writes a checked defect (the next number of its project, the row, its first history
/// row, watchers, the journal event, the reports' aggregate) in `txn`.
pub async fn insert(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    c: Checked,
) -> AppResult<defects::Model> {
    let now = time::now();
    let number = keys::next_number(txn, c.project_id).await?;
    let pin = c.pin;
    let defect = defects::ActiveModel {
        project_id: Set(c.project_id),
        number: Set(number),
        stage_id: Set(c.stage_id),
        search_text: Set(search::normalize(&[&c.title, &c.description])),
        title: Set(c.title),
        description: Set(c.description),
        priority: Set(c.priority),
        status: Set(DefectStatus::New),
        performer_id: Set(c.performer_id),
        author_id: Set(viewer.id),
        deadline: Set(c.deadline),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        closed_at: Set(None),
        plan_id: Set(pin.as_ref().map(|p| p.plan_id)),
        location_x: Set(pin.as_ref().map(|p| p.x)),
        location_y: Set(pin.as_ref().map(|p| p.y)),
        location_label: Set(pin.and_then(|p| p.label)),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    history(txn, defect.id, None, DefectStatus::New, viewer.id, None).await?;
    watchers::auto_watch(
        txn,
        defect.id,
        defect.performer_id.into_iter().chain([viewer.id]),
    )
    .await?;
    let changes = journal::diff(None, &defect);
    journal::record(
        txn,
        viewer.id,
        &defect,
        DefectEventKind::Created,
        &changes,
        journal::About::default(),
    )
    .await?;
    tally::apply(txn, None, Some(&defect)).await?;
    Ok(defect)
}

pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    input: NewDefect,
) -> AppResult<defects::Model> {
    let gate = gate(db, viewer, input.project_id, input.performer_id.is_some()).await?;
    let checked = check(db, &gate, input).await?;
    let txn = db.begin().await?;
    let defect = insert(&txn, viewer, checked).await?;
    txn.commit().await?;
    Ok(defect)
}
