//! The one place that turns a defect filter and order into SQL. The GraphQL list, the
//! reports and the CSV export all use it.
use crate::i18n::Msg;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, QueryFilter, QueryOrder, Select,
    sea_query::{Expr, ExprTrait, NullOrdering, Order},
};
use serde_json::Value;

use crate::{
    domain::{pagination::Cursor, projects::site_time::Todays, search, validate::one_of},
    entities::{
        defects::{self, Column},
        enums::{DefectStatus, Priority},
    },
    error::{AppError, AppResult},
};

/// All given fields combine with AND. Ids that are not ours match nothing. Serialised
/// as JSON when a document job keeps it for later.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DefectFilter {
    pub project_id: Option<i32>,
    pub stage_id: Option<i32>,
    pub performer_id: Option<i32>,
    pub author_id: Option<i32>,
    /// Any of these; empty means any status.
    pub status: Vec<DefectStatus>,
    /// Any of these; empty means any priority.
    pub priority: Vec<Priority>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub deadline_from: Option<NaiveDate>,
    pub deadline_to: Option<NaiveDate>,
    /// `true`: open and the deadline is before the project's today; `false`: anything else.
    pub overdue: Option<bool>,
    pub search: Option<String>,
    /// Pinned on this plan.
    pub plan_id: Option<i32>,
}

fn open_statuses() -> Vec<i16> {
    DefectStatus::OPEN.iter().map(|s| s.to_value()).collect()
}

/// The deadline is before its project's today (`todays`: the zones' todays at one instant).
fn past_deadline(todays: &Todays) -> Expr {
    todays.before_today(
        Expr::col((defects::Entity, Column::Deadline)),
        Expr::col((defects::Entity, Column::ProjectId)),
    )
}

/// Open and past its deadline on its project's today.
pub fn overdue_condition(todays: &Todays) -> Condition {
    Condition::all()
        .add(Column::Status.is_in(open_statuses()))
        .add(Column::Deadline.is_not_null())
        .add(past_deadline(todays))
}

fn not_overdue_condition(todays: &Todays) -> Condition {
    Condition::any()
        .add(Column::Status.is_not_in(open_statuses()))
        .add(Column::Deadline.is_null())
        .add(past_deadline(todays).not())
}

impl DefectFilter {
    /// What `condition` cannot refuse: text that is not a search query.
    pub fn check(&self) -> AppResult<()> {
        crate::domain::validate::search(self.search.as_deref())
    }

    /// What [`DefectFilter::condition`] needs to know about the projects' todays: read
    /// (one statement) only when the filter asks for `overdue`.
    pub async fn todays(&self, db: &impl ConnectionTrait) -> AppResult<Todays> {
        match self.overdue {
            Some(_) => Todays::load(db, crate::time::now()).await,
            None => Ok(Todays::at(crate::time::now(), [])),
        }
    }

    /// `todays`: what today is for each project (only `overdue` reads it; see
    /// [`DefectFilter::todays`]).
    pub fn condition(&self, todays: &Todays) -> Condition {
        let mut c = Condition::all();
        if let Some(id) = self.project_id {
            c = c.add(Column::ProjectId.eq(id));
        }
        if let Some(id) = self.stage_id {
            c = c.add(Column::StageId.eq(id));
        }
        if let Some(id) = self.performer_id {
            c = c.add(Column::PerformerId.eq(id));
        }
        if let Some(id) = self.author_id {
            c = c.add(Column::AuthorId.eq(id));
        }
        if let Some(id) = self.plan_id {
            c = c.add(Column::PlanId.eq(id));
        }
        // Deduplicated: a 70,000-entry list must not become 70,000 SQL parameters.
        if !self.status.is_empty() {
            c = c.add(one_of(Column::Status, &self.status));
        }
        if !self.priority.is_empty() {
            c = c.add(one_of(Column::Priority, &self.priority));
        }
        if let Some(t) = self.created_from {
            c = c.add(Column::CreatedAt.gte(t));
        }
        if let Some(t) = self.created_to {
            c = c.add(Column::CreatedAt.lte(t));
        }
        if let Some(d) = self.deadline_from {
            c = c.add(Column::Deadline.gte(d));
        }
        if let Some(d) = self.deadline_to {
            c = c.add(Column::Deadline.lte(d));
        }
        match self.overdue {
            Some(true) => c = c.add(overdue_condition(todays)),
            Some(false) => c = c.add(not_overdue_condition(todays)),
            None => {}
        }
        if let Some(query) = self.search.as_deref() {
            // Text, or a key / bare number matched exactly (`СК1-042`, `42`).
            let text = search::matches(Column::SearchText, query);
            let key = super::keys::search_condition(query);
            match (text, key) {
                (Some(t), Some(k)) => c = c.add(Condition::any().add(t).add(k)),
                (Some(t), None) => c = c.add(t),
                (None, Some(k)) => c = c.add(k),
                (None, None) => {}
            }
        }
        c
    }
}

#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DefectOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Deadline,
    Priority,
    Status,
    Title,
    /// The defect's number in its project (`Defect.number`).
    Number,
}

#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortDirection {
    Asc,
    #[default]
    Desc,
}

// Default: newest first. Ties break by id in the same direction; defects without a
// deadline sort last in both directions. Also the GraphQL input `DefectOrder` (one type,
// not a copy field by field); `//` rather than `///` keeps the schema's description as it was.
#[derive(async_graphql::InputObject, Clone, Copy, Debug, Default)]
pub struct DefectOrder {
    pub field: DefectOrderField,
    #[graphql(default_with = "SortDirection::Desc")]
    pub direction: SortDirection,
}

impl DefectOrder {
    fn column(&self) -> Column {
        match self.field {
            DefectOrderField::CreatedAt => Column::CreatedAt,
            DefectOrderField::UpdatedAt => Column::UpdatedAt,
            DefectOrderField::Deadline => Column::Deadline,
            DefectOrderField::Priority => Column::Priority,
            DefectOrderField::Status => Column::Status,
            DefectOrderField::Title => Column::Title,
            DefectOrderField::Number => Column::Number,
        }
    }

    fn order(&self) -> Order {
        match self.direction {
            SortDirection::Asc => Order::Asc,
            SortDirection::Desc => Order::Desc,
        }
    }

    pub fn apply(&self, q: Select<defects::Entity>) -> Select<defects::Entity> {
        let q = if self.field == DefectOrderField::Deadline {
            q.order_by_with_nulls(Column::Deadline, self.order(), NullOrdering::Last)
        } else {
            q.order_by(self.column(), self.order())
        };
        q.order_by(Column::Id, self.order())
    }

    /// The row's sort key: `[value, id]`.
    pub fn cursor(&self, d: &defects::Model) -> Cursor {
        let key = match self.field {
            DefectOrderField::CreatedAt => Value::from(d.created_at.to_rfc3339()),
            DefectOrderField::UpdatedAt => Value::from(d.updated_at.to_rfc3339()),
            DefectOrderField::Deadline => d
                .deadline
                .map_or(Value::Null, |x| Value::from(x.to_string())),
            DefectOrderField::Priority => Value::from(d.priority.to_value()),
            DefectOrderField::Status => Value::from(d.status.to_value()),
            DefectOrderField::Title => Value::from(d.title.clone()),
            DefectOrderField::Number => Value::from(d.number),
        };
        Cursor(vec![key, d.id.into()])
    }

    /// Rows strictly after the cursor in this order.
    pub fn after(&self, c: &Cursor) -> AppResult<Condition> {
        let invalid = || {
            AppError::BadUserInput(Msg::BadCursorOrder {
                field: "after".into(),
            })
        };
        if c.len() != 2 {
            return Err(invalid());
        }
        let id = c.id()?;
        let desc = self.direction == SortDirection::Desc;
        let col = self.column();
        let beyond = |v: sea_orm::Value| if desc { col.lt(v) } else { col.gt(v) };
        let id_beyond = if desc {
            Column::Id.lt(id)
        } else {
            Column::Id.gt(id)
        };
        let value: sea_orm::Value = match self.field {
            DefectOrderField::CreatedAt | DefectOrderField::UpdatedAt => {
                DateTime::parse_from_rfc3339(&c.str(0)?)
                    .map_err(|_| invalid())?
                    .with_timezone(&Utc)
                    .into()
            }
            DefectOrderField::Deadline => match &c.0[0] {
                Value::Null => {
                    // Among the trailing rows without a deadline.
                    return Ok(Condition::all()
                        .add(Column::Deadline.is_null())
                        .add(id_beyond));
                }
                _ => NaiveDate::parse_from_str(&c.str(0)?, "%Y-%m-%d")
                    .map_err(|_| invalid())?
                    .into(),
            },
            DefectOrderField::Priority | DefectOrderField::Status => {
                i16::try_from(c.int(0)?).map_err(|_| invalid())?.into()
            }
            DefectOrderField::Title => c.str(0)?.into(),
            DefectOrderField::Number => i32::try_from(c.int(0)?).map_err(|_| invalid())?.into(),
        };
        let after = Condition::any()
            .add(beyond(value.clone()))
            .add(Condition::all().add(col.eq(value)).add(id_beyond));
        Ok(if self.field == DefectOrderField::Deadline {
            Condition::any()
                .add(
                    Condition::all()
                        .add(Column::Deadline.is_not_null())
                        .add(after),
                )
                .add(Column::Deadline.is_null())
        } else {
            after
        })
    }
}

/// `select` narrowed by the filter.
pub fn filtered(
    select: Select<defects::Entity>,
    filter: &DefectFilter,
    todays: &Todays,
) -> Select<defects::Entity> {
    select.filter(filter.condition(todays))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, EntityTrait, QueryTrait};

    fn sql(f: &DefectFilter) -> String {
        defects::Entity::find()
            .filter(
                f.condition(&Todays::at(
                    DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
                        .unwrap()
                        .with_timezone(&Utc),
                    ["UTC".to_owned()],
                )),
            )
            .build(DbBackend::Postgres)
            .to_string()
    }

    #[test]
    fn an_empty_filter_constrains_no_column() {
        let s = sql(&DefectFilter::default());
        let where_part = s.split(" WHERE ").nth(1).unwrap_or("");
        assert!(!where_part.contains('"'), "{s}");
    }

    #[test]
    fn not_overdue_includes_rows_without_a_deadline() {
        let s = sql(&DefectFilter {
            overdue: Some(false),
            ..Default::default()
        });
        assert!(s.contains("\"deadline\" IS NULL"), "{s}");
    }

    #[test]
    fn cursors_from_another_order_are_refused() {
        let order = DefectOrder {
            field: DefectOrderField::CreatedAt,
            direction: SortDirection::Desc,
        };
        assert!(
            order
                .after(&Cursor(vec![Value::from("Title"), Value::from(3)]))
                .is_err()
        );
        assert!(order.after(&Cursor(vec![Value::from(3)])).is_err());
        let by_deadline = DefectOrder {
            field: DefectOrderField::Deadline,
            direction: SortDirection::Asc,
        };
        assert!(
            by_deadline
                .after(&Cursor(vec![Value::Null, Value::from(3)]))
                .is_ok()
        );
    }
}
