//! Spreads a seeded defect's timestamps over the past weeks. The services stamp every
//! write with the current instant, so without this a whole demo would be created and
//! closed within one second (`avgResolutionHours` ≈ 0). The spread is a fixed function
//! of the defect's place in the seed file, so every seeding gives the same shape.
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
    sea_query::Expr,
};

use crate::{
    entities::{comments, defect_events, defects, enums::DefectEventKind, status_changes},
    error::AppResult,
};

/// Hours between two consecutive status changes of defect `index`, step `step`: 6 to 95.
fn step_hours(index: usize, step: usize) -> i64 {
    6 + ((index * 31 + step * 17) % 90) as i64
}

/// Rewrites creation, history, comment, update and closing times of one defect that was
/// just seeded: created 1 to 20 days before its history ends (and a week before an
/// overdue deadline), each status change 6 to 95 hours after the one before. Its journal
/// events take the times of what they record, so the activity feed tells the same story.
pub async fn spread(
    db: &DatabaseConnection,
    defect_id: i32,
    index: usize,
    deadline_in_days: Option<i64>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let history = status_changes::Entity::find()
        .filter(status_changes::Column::DefectId.eq(defect_id))
        .order_by_asc(status_changes::Column::Id)
        .all(db)
        .await?;
    let notes = comments::Entity::find()
        .filter(comments::Column::DefectId.eq(defect_id))
        .order_by_asc(comments::Column::Id)
        .all(db)
        .await?;
    let steps: Vec<i64> = (1..history.len()).map(|k| step_hours(index, k)).collect();
    let work: i64 = steps.iter().sum();
    let idle = 24 * (1 + (index * 11 % 20) as i64);
    let before_deadline = deadline_in_days.map_or(0, |d| (7 - d).max(0) * 24);
    let created = now - TimeDelta::hours((work + idle).max(before_deadline));

    let events = defect_events::Entity::find()
        .filter(defect_events::Column::DefectId.eq(defect_id))
        .order_by_asc(defect_events::Column::Id)
        .all(db)
        .await?;

    let mut at = created;
    let mut times = vec![created];
    for h in &steps {
        at += TimeDelta::hours(*h);
        times.push(at);
    }
    let last = at;
    let txn = db.begin().await?;
    for (row, when) in history.iter().zip(&times) {
        status_changes::Entity::update_many()
            .col_expr(status_changes::Column::ChangedAt, Expr::value(*when))
            .filter(status_changes::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
    }
    // Comments between creation and the last change (or the day after creation).
    let span = if last > created {
        last - created
    } else {
        TimeDelta::hours(24)
    };
    let gap = span / i32::try_from(notes.len() + 1).unwrap_or(i32::MAX);
    let mut comment_times = Vec::with_capacity(notes.len());
    for (j, note) in notes.iter().enumerate() {
        let when = created + gap * i32::try_from(j + 1).unwrap_or(i32::MAX);
        comments::Entity::update_many()
            .col_expr(comments::Column::CreatedAt, Expr::value(when))
            .filter(comments::Column::Id.eq(note.id))
            .exec(&txn)
            .await?;
        comment_times.push((note.id, when));
    }
    // An event that records a status change or a comment takes its time; the creation
    // takes the creation's; any other (the assignment, made right after the creation)
    // the time of the event before it.
    let mut previous = created;
    for event in &events {
        let recorded = event
            .status_change_id
            .and_then(|id| history.iter().position(|h| h.id == id))
            .and_then(|k| times.get(k).copied())
            .or_else(|| {
                let id = event.comment_id?;
                comment_times
                    .iter()
                    .find(|(c, _)| *c == id)
                    .map(|(_, t)| *t)
            });
        let when = match (recorded, event.kind) {
            (Some(t), _) => t,
            (None, DefectEventKind::Created) => created,
            (None, _) => previous,
        };
        previous = when;
        defect_events::Entity::update_many()
            .col_expr(defect_events::Column::At, Expr::value(when))
            .filter(defect_events::Column::Id.eq(event.id))
            .exec(&txn)
            .await?;
    }
    let closed = history
        .last()
        .filter(|h| h.to_status == crate::entities::enums::DefectStatus::Closed)
        .map(|_| last);
    let before = defects::Entity::find_by_id(defect_id).one(&txn).await?;
    defects::Entity::update_many()
        .col_expr(defects::Column::CreatedAt, Expr::value(created))
        .col_expr(defects::Column::UpdatedAt, Expr::value(last))
        .col_expr(defects::Column::ClosedAt, Expr::value(closed))
        .filter(defects::Column::Id.eq(defect_id))
        .exec(&txn)
        .await?;
    // The closing time moved: the reports' aggregate follows in the same transaction
    // (the row after the update is the row before with the three columns it set).
    let after = before.clone().map(|mut d| {
        d.created_at = created;
        d.updated_at = last;
        d.closed_at = closed;
        d
    });
    crate::domain::reports::tally::apply(&txn, before.as_ref(), after.as_ref()).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn steps_stay_within_their_bounds() {
        for i in 0..100 {
            for k in 1..8 {
                let h = super::step_hours(i, k);
                assert!((6..=95).contains(&h), "{i} {k}: {h}");
            }
        }
    }
}
