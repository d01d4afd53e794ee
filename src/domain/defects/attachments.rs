//! Uploading and deleting attachments. Storage and database stay consistent: an object
//! whose row could not be written is removed, a row is only written after its objects
//! are stored, and deleting rows removes their objects.
use crate::i18n::Msg;
use bytes::Bytes;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};

use super::{files, journal, policy, service};
use crate::{
    auth::Viewer,
    auth::tokens::random_token,
    domain::require,
    entities::{attachments, defects, enums::DefectEventKind},
    error::{AppError, AppResult},
    storage::{FileKind, LinkSigner, Storage},
    time,
};

pub struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
}

fn storage_error(e: impl std::error::Error + Send + Sync + 'static) -> AppError {
    AppError::internal(e)
}

/// `max_bytes` is the configured upload limit (`MAX_UPLOAD_BYTES`).
pub async fn upload(
    db: &DatabaseConnection,
    storage: &Storage,
    max_bytes: u64,
    viewer: &Viewer,
    defect_id: i32,
    file: Upload,
) -> AppResult<attachments::Model> {
    let defect = service::get(db, viewer, defect_id).await?;
    require(policy::can_upload(viewer, &defect), Msg::OnlyOwnAttach)?;
    policy::refuse_final(&defect, |status| Msg::FinalNoUpload {
        field: "defectId".into(),
        status,
    })?;
    let (filename, bytes, inspected) =
        files::accept(file, max_bytes, files::Thumbnail::Make).await?;
    // Generated keys: the user's filename never reaches the storage path.
    let key = format!("attachments/{}/{}", defect.id, random_token());
    let thumb_key = inspected
        .thumbnail
        .as_ref()
        .map(|_| format!("{key}-thumb.jpg"));
    storage.put(&key, bytes).await.map_err(storage_error)?;
    if let (Some(tk), Some(thumb)) = (&thumb_key, inspected.thumbnail)
        && let Err(e) = storage.put(tk, Bytes::from(thumb)).await
    {
        storage.delete_all(std::slice::from_ref(&key)).await;
        return Err(storage_error(e));
    }
    let row = insert_journalled(
        db,
        viewer,
        &defect,
        attachments::ActiveModel {
            defect_id: Set(defect.id),
            uploaded_by: Set(viewer.id),
            filename: Set(filename),
            content_type: Set(inspected.content_type.to_owned()),
            size: Set(i64::try_from(inspected.size).unwrap_or(i64::MAX)),
            sha256: Set(inspected.sha256),
            width: Set(inspected.width.map(|w| w as i32)),
            height: Set(inspected.height.map(|h| h as i32)),
            storage_key: Set(key.clone()),
            thumbnail_key: Set(thumb_key.clone()),
            created_at: Set(time::now()),
            ..Default::default()
        },
    )
    .await;
    match row {
        Ok(row) => Ok(row),
        Err(e) => {
            let keys: Vec<String> = std::iter::once(key).chain(thumb_key).collect();
            storage.delete_all(&keys).await;
            Err(e)
        }
    }
}

/// The row and its ATTACHMENT_ADDED event, in one transaction.
async fn insert_journalled(
    db: &DatabaseConnection,
    viewer: &Viewer,
    defect: &defects::Model,
    row: attachments::ActiveModel,
) -> AppResult<attachments::Model> {
    let txn = db.begin().await?;
    let row = row.insert(&txn).await?;
    journal::hold_live(&txn, defect.id).await?;
    let about = journal::About {
        attachment: Some(&row),
        ..Default::default()
    };
    let kind = DefectEventKind::AttachmentAdded;
    journal::record(&txn, viewer.id, defect, kind, &[], about).await?;
    txn.commit().await?;
    Ok(row)
}

/// An attachment whose defect the viewer can see, with that defect.
pub async fn get(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
) -> AppResult<(attachments::Model, defects::Model)> {
    let row = attachments::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::AttachmentNotFound))?;
    let defect = service::get(db, viewer, row.defect_id)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => AppError::NotFound(Msg::AttachmentNotFound),
            other => other,
        })?;
    Ok((row, defect))
}

/// An attachment opened by a signed link (`exp`, `sig` from [`LinkSigner::url`]): the
/// link is the authority, so no viewer is needed. FORBIDDEN for a bad or expired link,
/// checked before the row is read.
pub async fn open_signed(
    db: &DatabaseConnection,
    links: &LinkSigner,
    id: i32,
    kind: FileKind,
    exp: u64,
    sig: &str,
) -> AppResult<attachments::Model> {
    require(
        links.verify(id, kind, exp, sig, time::unix_now()),
        Msg::BadLink,
    )?;
    let row = attachments::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::AttachmentNotFound))?;
    // A link issued before its defect was deleted stops working with the deletion.
    let live = defects::Entity::find_by_id(row.defect_id)
        .filter(defects::Column::DeletedAt.is_null())
        .one(db)
        .await?;
    live.map(|_| row)
        .ok_or_else(|| AppError::NotFound(Msg::AttachmentNotFound))
}

pub async fn delete(
    db: &DatabaseConnection,
    storage: &Storage,
    viewer: &Viewer,
    id: i32,
) -> AppResult<i32> {
    let (row, defect) = get(db, viewer, id).await?;
    require(
        policy::can_delete_attachment(viewer, row.uploaded_by),
        Msg::OnlyOwnDeleteAttachment,
    )?;
    policy::refuse_final(&defect, |status| Msg::FinalKeepsAttachments {
        field: "id".into(),
        status,
    })?;
    let txn = db.begin().await?;
    // The delete first (SQLite's write lock), then the defect held live, then the event.
    attachments::Entity::delete_by_id(row.id).exec(&txn).await?;
    journal::hold_live(&txn, defect.id).await?;
    let about = journal::About {
        attachment: Some(&row),
        ..Default::default()
    };
    let kind = DefectEventKind::AttachmentRemoved;
    journal::record(&txn, viewer.id, &defect, kind, &[], about).await?;
    txn.commit().await?;
    storage
        .delete_all(&object_keys(std::slice::from_ref(&row)))
        .await;
    Ok(row.id)
}

pub fn object_keys(rows: &[attachments::Model]) -> Vec<String> {
    rows.iter()
        .flat_map(|a| std::iter::once(a.storage_key.clone()).chain(a.thumbnail_key.clone()))
        .collect()
}

/// The stored objects of a defect's attachments (collected before the defect is deleted).
pub async fn keys_of_defect(db: &DatabaseConnection, defect_id: i32) -> AppResult<Vec<String>> {
    let rows = attachments::Entity::find()
        .filter(attachments::Column::DefectId.eq(defect_id))
        .all(db)
        .await?;
    Ok(object_keys(&rows))
}
