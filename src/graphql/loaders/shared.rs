//! Loaders one live batch shares among the subscriptions that resolve its events
//! (issue 19: 512 subscriptions of one screen-heavy observer each loaded the same
//! project, members, comments and authors for every event, ~9 statements per event and
//! subscription).
//!
//! The set is made by the first subscription that resolves an event of the batch and
//! kept in the batch (`crate::live::Batch::shared`). It holds rows only, keyed by id
//! (a defect, a project, a user, a defect's comments): the same for every viewer. Each
//! subscription asks it only for what hangs off events that passed its own visibility
//! check (`Access::sees`), and the fields whose value depends on the viewer (a user's
//! e-mail, a defect's allowed transitions) are computed from the subscription's own
//! viewer as it resolves them. So nothing one subscriber may not see reaches it.
//!
//! Each key is loaded once for the batch: concurrent askers within async-graphql's
//! batching delay share one query (the `DataLoader`), later askers the loaded value or
//! the query in flight (the `flights`). A failed load is forgotten, so the next asker
//! tries again.
use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::dataloader::{DataLoader, Loader};
use futures_util::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use sea_orm::DatabaseConnection;

use super::{Add, each};
use crate::error::AppError;

type Flight<V> = Shared<BoxFuture<'static, Result<Option<V>, AppError>>>;

/// One relation: its loader, and every key asked for so far with its (pending) answer.
struct Once<L: Loader<i32, Error = AppError>> {
    loader: Arc<DataLoader<L>>,
    flights: Mutex<HashMap<i32, Flight<L::Value>>>,
}

/// Every loader of a request, shared by the subscriptions resolving one batch.
pub struct BatchLoaders(HashMap<TypeId, Box<dyn Any + Send + Sync>>);

impl Add for BatchLoaders {
    fn add<L: Loader<i32, Error = AppError>>(mut self, loader: L) -> Self {
        let once = Once {
            loader: Arc::new(DataLoader::new(loader, tokio::spawn)),
            flights: Mutex::new(HashMap::new()),
        };
        self.0.insert(TypeId::of::<L>(), Box::new(once));
        self
    }
}

impl BatchLoaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        each(db, BatchLoaders(HashMap::new()))
    }

    /// `key` through the shared `L`; `None` when `L` is not one of the set (a bug: the
    /// caller falls back to the subscription's own loader).
    pub(super) async fn load_one<L>(&self, key: i32) -> Option<Result<Option<L::Value>, AppError>>
    where
        L: Loader<i32, Error = AppError>,
    {
        let once = self.0.get(&TypeId::of::<L>())?.downcast_ref::<Once<L>>()?;
        let flight = once
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert_with(|| {
                let loader = once.loader.clone();
                async move { loader.load_one(key).await }.boxed().shared()
            })
            .clone();
        let got = flight.await;
        if got.is_err() {
            once.flights
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
        }
        Some(got)
    }
}

/// A subscription's way to the loaders of the batch whose event it is resolving: set by
/// the subscription before it yields an event, read by `load_one` below the event.
/// async-graphql resolves a subscription's events one at a time (the next is not taken
/// from the stream before the previous one is resolved), so the slot holds the right
/// batch for the whole of each event's resolution. Empty for an event the subscription
/// read from the journal for itself: then its own loaders serve.
#[derive(Clone, Default)]
pub struct BatchSlot(Arc<Mutex<Option<Arc<BatchLoaders>>>>);

impl BatchSlot {
    pub fn set(&self, loaders: Option<Arc<BatchLoaders>>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = loaders;
    }

    pub(super) fn get(&self) -> Option<Arc<BatchLoaders>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
