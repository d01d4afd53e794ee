//! The tick that removes finished documents' files once kept [`super::KEEP`]: the
//! object is deleted, then the row forgets its key (so `url` is null); the row stays
//! for the requester's list. Rows are read by the `expires_at` index, a batch at a time.
use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

use super::watch::Wake;
use crate::{
    engine::Tick,
    entities::document_jobs::{self, Column},
    error::{AppError, AppResult},
    storage::Storage,
    time,
};

const BATCH: u64 = 256;

pub(super) struct Expiry {
    pub(super) storage: Arc<Storage>,
    pub(super) wake: Arc<Wake>,
}

#[async_trait]
impl Tick for Expiry {
    fn name(&self) -> &'static str {
        "document-expiry"
    }

    fn every(&self) -> Duration {
        Duration::from_secs(300)
    }

    async fn run(&self, db: &DatabaseConnection) -> AppResult<()> {
        loop {
            let due: Vec<(i64, Option<String>)> = document_jobs::Entity::find()
                .select_only()
                .columns([Column::Id, Column::ObjectKey])
                .filter(Column::ExpiresAt.lt(time::now()))
                .filter(Column::ObjectKey.is_not_null())
                .order_by_asc(Column::ExpiresAt)
                .limit(BATCH)
                .into_tuple()
                .all(db)
                .await?;
            for (id, key) in &due {
                let Some(key) = key else { continue };
                // The object first: a row without a key never names a file left behind.
                self.storage.delete(key).await.map_err(AppError::internal)?;
                document_jobs::Entity::update_many()
                    .col_expr(Column::ObjectKey, Expr::value(Option::<String>::None))
                    .col_expr(Column::UpdatedAt, Expr::value(time::now()))
                    .filter(Column::Id.eq(*id))
                    .filter(Column::ObjectKey.eq(key.as_str()))
                    .exec(db)
                    .await?;
            }
            if !due.is_empty() {
                self.wake.bump();
            }
            if (due.len() as u64) < BATCH {
                return Ok(());
            }
        }
    }
}
