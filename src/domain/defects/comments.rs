//! Comments: anyone who sees a defect may comment, final defects included.
use crate::i18n::Msg;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set, TransactionTrait};

use super::{journal, policy, service, watchers};
use crate::{
    auth::Viewer,
    domain::require,
    domain::validate,
    entities::{comments, enums::DefectEventKind},
    error::{AppError, AppResult},
    time,
};

pub const BODY_MAX: usize = 10_000;

pub async fn add(
    db: &DatabaseConnection,
    viewer: &Viewer,
    defect_id: i32,
    body: &str,
) -> AppResult<comments::Model> {
    let defect = service::get(db, viewer, defect_id).await?;
    require(policy::can_comment(viewer), Msg::NoComment)?;
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::BadUserInput(Msg::MustNotBeEmpty {
            field: "body".into(),
        }));
    }
    let body = validate::text("body", body, BODY_MAX)?;
    let txn = db.begin().await?;
    let comment = comments::ActiveModel {
        defect_id: Set(defect.id),
        author_id: Set(viewer.id),
        body: Set(body),
        created_at: Set(time::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    journal::hold_live(&txn, defect.id).await?;
    watchers::auto_watch(&txn, defect.id, [viewer.id]).await?;
    let about = journal::About {
        comment_id: Some(comment.id),
        ..Default::default()
    };
    journal::record(
        &txn,
        viewer.id,
        &defect,
        DefectEventKind::Commented,
        &[],
        about,
    )
    .await?;
    txn.commit().await?;
    Ok(comment)
}
