//! One row of a sheet as a `NewDefect`: names (stage and plan titles, usernames) to ids
//! and text to values. The create rules themselves are `creation::check`'s; this only
//! reads the cells, and a cell it cannot read is refused naming its column.
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::read::Sheet;
use crate::{
    domain::{
        defects::{creation::NewDefect, location::LocationInput},
        reports::export::priority_named,
    },
    entities::{plans, stages, users},
    error::{AppError, AppResult},
    i18n::Msg,
};

/// Stage and plan titles of the project and the usernames the sheet names, to ids.
pub struct Names {
    stages: HashMap<String, i32>,
    plans: HashMap<String, i32>,
    users: HashMap<String, i32>,
}

/// Titles are matched without regard to case or surrounding spaces.
fn key(s: &str) -> String {
    s.trim().to_lowercase()
}

impl Names {
    /// Three statements, whatever the number of rows.
    pub async fn load(db: &DatabaseConnection, project_id: i32, sheet: &Sheet) -> AppResult<Self> {
        let titles = |rows: Vec<(i32, String)>| {
            let mut map = HashMap::new();
            for (id, title) in rows {
                // The first of two equal titles (by id) is the one meant.
                map.entry(key(&title)).or_insert(id);
            }
            map
        };
        let stages = stages::Entity::find()
            .select_only()
            .columns([stages::Column::Id, stages::Column::Title])
            .filter(stages::Column::ProjectId.eq(project_id))
            .order_by_asc(stages::Column::Id)
            .into_tuple::<(i32, String)>()
            .all(db)
            .await?;
        let plans = plans::Entity::find()
            .select_only()
            .columns([plans::Column::Id, plans::Column::Title])
            .filter(plans::Column::ProjectId.eq(project_id))
            .order_by_asc(plans::Column::Id)
            .into_tuple::<(i32, String)>()
            .all(db)
            .await?;
        let named: HashSet<&str> = sheet
            .rows
            .iter()
            .map(|(_, cells)| sheet.cell(cells, "performer"))
            .filter(|u| !u.is_empty())
            .collect();
        let users = if named.is_empty() {
            Vec::new()
        } else {
            users::Entity::find()
                .select_only()
                .columns([users::Column::Id, users::Column::Username])
                .filter(users::Column::Username.is_in(named))
                .into_tuple::<(i32, String)>()
                .all(db)
                .await?
        };
        Ok(Names {
            stages: titles(stages),
            plans: titles(plans),
            users: users.into_iter().map(|(id, u)| (u, id)).collect(),
        })
    }
}

fn bad(msg: Msg) -> AppError {
    AppError::BadUserInput(msg)
}

fn field(name: &str) -> String {
    name.to_owned()
}

fn coordinate(name: &str, raw: &str) -> AppResult<Option<f64>> {
    if raw.is_empty() {
        return Ok(None);
    }
    // The Russian spreadsheet's decimal comma too.
    raw.replace(',', ".")
        .parse::<f64>()
        .map(Some)
        .map_err(|_| bad(Msg::Between0And1 { field: field(name) }))
}

/// The defect a row describes; BAD_USER_INPUT naming the column of a cell that is not a
/// value (an unknown stage, performer or plan; a priority, date or coordinate that is
/// not one).
pub fn parse(
    sheet: &Sheet,
    cells: &[String],
    names: &Names,
    project_id: i32,
) -> AppResult<NewDefect> {
    let cell = |c: &str| sheet.cell(cells, c);
    let stage_id = match cell("stage") {
        "" => None,
        s => Some(*names.stages.get(&key(s)).ok_or_else(|| {
            bad(Msg::NoSuchStage {
                field: field("stage"),
            })
        })?),
    };
    let performer_id = match cell("performer") {
        "" => None,
        u => Some(*names.users.get(u).ok_or_else(|| {
            bad(Msg::NoSuchUser {
                field: field("performer"),
            })
        })?),
    };
    let priority = match cell("priority") {
        "" => None,
        p => Some(priority_named(p).ok_or_else(|| {
            bad(Msg::ExpectedAnyOf {
                field: field("priority"),
                choices: "low, medium, high".into(),
            })
        })?),
    };
    let deadline = match cell("deadline") {
        "" => None,
        d => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            bad(Msg::ExpectedDate {
                field: field("deadline"),
            })
        })?),
    };
    let x = coordinate("x", cell("x"))?;
    let y = coordinate("y", cell("y"))?;
    let label = cell("location");
    let location = match cell("plan") {
        "" if x.is_none() && y.is_none() && label.is_empty() => None,
        "" => {
            return Err(bad(Msg::PinNeedsPlan {
                field: field("plan"),
            }));
        }
        plan => {
            let (Some(x), Some(y)) = (x, y) else {
                let missing = if x.is_none() { "x" } else { "y" };
                return Err(bad(Msg::PinNeedsPlan {
                    field: field(missing),
                }));
            };
            Some(LocationInput {
                // An unknown title is the plan rule's refusal (not in the project).
                plan_id: names.plans.get(&key(plan)).copied(),
                x,
                y,
                label: (!label.is_empty()).then(|| label.to_owned()),
            })
        }
    };
    let description = sheet.raw(cells, "description");
    Ok(NewDefect {
        project_id,
        stage_id,
        title: cell("title").to_owned(),
        description: (!description.trim().is_empty()).then(|| description.to_owned()),
        priority,
        deadline,
        performer_id,
        location,
    })
}

/// The sheet's column that a create rule's `field` is about (the export's machine
/// name): `stageId` is `stage`, `location.x` is `x`, and so on.
pub fn column_of(api_field: &str) -> &str {
    match api_field {
        "stageId" => "stage",
        "performerId" => "performer",
        "location.planId" => "plan",
        "location.x" => "x",
        "location.y" => "y",
        "location.label" => "location",
        other => other,
    }
}
