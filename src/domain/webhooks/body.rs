//! The body of a delivery (NOTIFY.md, "Body"): `{"type", "timestamp", "data": {"event",
//! "defect"}}`, ids as strings, enums as the GraphQL enum values, `changes` as
//! `FieldChange` objects. The defect is as it is at the attempt (null once deleted or
//! purged): a receiver that acts on it sees the state it would read from the API.
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use crate::{
    domain::defects::{journal, keys},
    entities::{defect_events, defects, projects},
    error::AppResult,
};

/// The JSON name of an enum value (its serde form is the GraphQL value).
fn name<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The body as bytes, for `event`.
pub async fn build(db: &impl ConnectionTrait, event: &defect_events::Model) -> AppResult<Vec<u8>> {
    let defect = defects::Entity::find_by_id(event.defect_id)
        .one(db)
        .await?
        .filter(|d| d.deleted_at.is_none());
    let code = match &defect {
        Some(d) => projects::Entity::find_by_id(d.project_id)
            .one(db)
            .await?
            .and_then(|p| p.code),
        None => None,
    };
    Ok(render(event, defect.as_ref(), code.as_deref())
        .to_string()
        .into_bytes())
}

/// The body for `event` and its defect (None: deleted) in a project with `code`.
pub fn render(
    event: &defect_events::Model,
    defect: Option<&defects::Model>,
    code: Option<&str>,
) -> Value {
    let kind = name(&event.kind);
    let kind_text = kind.as_str().unwrap_or_default().to_lowercase();
    let changes: Vec<Value> = journal::changes_of(event)
        .into_iter()
        .map(|c| json!({"field": c.field, "from": c.from, "to": c.to}))
        .collect();
    let defect = defect.map(|d| {
        json!({
            "id": d.id.to_string(),
            "key": code.map(|c| keys::format(c, d.number)),
            "title": d.title,
            "status": name(&d.status),
            "priority": name(&d.priority),
            "deadline": d.deadline.map(|x| x.to_string()),
            "performerId": d.performer_id.map(|p| p.to_string()),
        })
    });
    json!({
        "type": format!("defect.{kind_text}"),
        "timestamp": event.at.to_rfc3339(),
        "data": {
            "event": {
                "id": event.id.to_string(),
                "kind": kind,
                "defectId": event.defect_id.to_string(),
                "projectId": event.project_id.to_string(),
                "actorId": event.actor_id.to_string(),
                "at": event.at.to_rfc3339(),
                "changes": changes,
            },
            "defect": defect,
        }
    })
}
