//! `Subscription.defectEvents`: the journal, live (see `domain::defects::live`).
use crate::i18n::Msg;
use std::{collections::VecDeque, sync::Arc};

use async_graphql::{Context, ErrorExtensions, ID, Subscription};
use futures_util::{Stream, stream};

use super::DefectEvent;
use crate::{
    auth::{
        Viewer,
        viewer::{Auth, BearerToken, Via, from_token},
    },
    domain::defects::{
        activity::ActivityFilter,
        live::{self, Standing, Subscriber},
    },
    entities::{defect_events, enums::DefectEventKind},
    error::{AppError, GqlResultExt},
    graphql::{
        context::ContextExt,
        loaders::{BatchLoaders, BatchSlot},
        scalars::id,
    },
    live::Joined,
    state::AppState,
};
use tokio::sync::broadcast::error::RecvError;

#[derive(Default)]
pub struct DefectSubscription;

/// One subscription's position. It reads the journal for itself while it replays from
/// `after` or catches up after falling behind (`catching_up`), and otherwise takes the
/// events of the process's batches (`crate::live`) that pass its filter and that its
/// subscriber may see. Ids only grow in commit order (`journal::record`), so skipping
/// every event at or below `last` makes the switch between the two exact.
///
/// An event taken from a batch is resolved with the batch's loaders, shared by every
/// subscription of the process (`loaders::BatchLoaders`, through `slot`); one read for
/// itself, with the subscription's own.
struct Position {
    state: AppState,
    joined: Joined,
    token: BearerToken,
    filter: ActivityFilter,
    last: i32,
    catching_up: bool,
    pending: VecDeque<(defect_events::Model, Option<Arc<BatchLoaders>>)>,
    /// Absent when the operation was run without `loaders::register_uncached`.
    slot: Option<BatchSlot>,
}

impl Position {
    /// The next event, or `None` when the subscription ends (a refused viewer), or an
    /// error.
    async fn next(&mut self) -> Option<async_graphql::Result<DefectEvent>> {
        // The previous event is resolved: its batch's loaders are not held while waiting.
        if let Some(slot) = &self.slot {
            slot.set(None);
        }
        loop {
            if let Some((e, shared)) = self.pending.pop_front() {
                if let Some(slot) = &self.slot {
                    slot.set(shared);
                }
                return Some(Ok(DefectEvent(e)));
            }
            if self.catching_up {
                // Token, session, role and active flag as a request would check them now
                // (a revoked session or a deactivated user ends the subscription);
                // membership is checked by the read below.
                let viewer = match from_token(&self.state.db, &self.state.keys, &self.token).await {
                    Auth::Authenticated(v) => v,
                    _ => return None,
                };
                match live::next(&self.state.db, &viewer, &self.filter, self.last).await {
                    Ok(rows) => {
                        self.catching_up = rows.len() as u64 == live::BATCH;
                        self.last = rows.last().map_or(self.last, |r| r.id);
                        self.pending.extend(rows.into_iter().map(|r| (r, None)));
                        continue;
                    }
                    Err(e) => return Some(Err(e.extend())),
                }
            }
            let batch = match self.joined.rx.recv().await {
                Ok(b) => b,
                Err(RecvError::Lagged(missed)) => {
                    self.joined.fell_behind(missed);
                    self.catching_up = true;
                    continue;
                }
                Err(RecvError::Closed) => return None,
            };
            let who = self.joined.who();
            let role = match batch.access.standing(who) {
                Standing::Viewer(role) => role,
                Standing::Refused => return None,
                Standing::Unchecked => {
                    self.catching_up = true;
                    continue;
                }
            };
            let user = who.user_id;
            let mut shared = None;
            for e in batch.events.iter().filter(|e| e.id > self.last) {
                if self.filter.matches(e) && batch.access.sees(user, role, e) {
                    if shared.is_none() && self.slot.is_some() {
                        shared = batch.shared(|| BatchLoaders::new(&self.state.db));
                    }
                    self.pending.push_back((e.clone(), shared.clone()));
                }
            }
            if let Some(e) = batch.events.last() {
                self.last = self.last.max(e.id);
            }
        }
    }
}

/// Whom a live subscription delivers to (the batched rights read checks it each batch):
/// an API token by its id, a login by its session — shared by `defectEvents` and
/// `notifications`.
pub(crate) fn subscriber(
    state: &AppState,
    viewer: &Viewer,
    token: &BearerToken,
) -> async_graphql::Result<Subscriber> {
    Ok(match viewer.via {
        Via::ApiToken { id, .. } => Subscriber::api_token(viewer.id, id),
        Via::Session => {
            let claims = state.keys.verify_access(&token.0).gql()?;
            Subscriber {
                user_id: claims.user_id,
                session: claims.session,
            }
        }
    })
}

/// The refusal of a subscription beyond `MAX_SUBSCRIPTIONS_PER_USER`: the operation
/// ends with this error, the others go on.
pub(crate) fn too_many(max: usize) -> async_graphql::Error {
    async_graphql::Error::new_with_source(Msg::TooManySubscriptions { max })
        .extend_with(|_, e| e.set("code", "RATE_LIMITED"))
}

#[Subscription]
impl DefectSubscription {
    /// Every matching journal event once, oldest first; with `after` (a cursor of
    /// `activity` or of an event), the events after it first, then live ones.
    async fn defect_events(
        &self,
        ctx: &Context<'_>,
        project_id: Option<ID>,
        defect_id: Option<ID>,
        kinds: Option<Vec<DefectEventKind>>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<DefectEvent>> + use<>> {
        let viewer = ctx.viewer()?.clone();
        // Present on every WebSocket connection (`http::ws` puts it there at init).
        let token = ctx
            .data::<BearerToken>()
            .map_err(|_| AppError::Unauthenticated(Msg::WsOnly).extend())?
            .clone();
        let state = ctx.state().clone();
        let slot = ctx.data_opt::<BatchSlot>().cloned();
        let opt = |what: Msg, v: &Option<ID>| v.as_ref().map(|v| id(what, v)).transpose();
        let filter = ActivityFilter {
            project_id: opt(Msg::ProjectNotFound, &project_id)?,
            defect_id: opt(Msg::DefectNotFound, &defect_id)?,
            kinds,
            ..Default::default()
        };
        let who = subscriber(&state, &viewer, &token)?;
        // Join before reading the starting point, so nothing committed in between goes
        // unnoticed: the catch-up read below reaches at least where the channel starts.
        let joined = state
            .live
            .join(who)
            .await
            .map_err(|full| too_many(full.max))?;
        let last = live::start(&state.db, &viewer, &filter, after.as_deref())
            .await
            .gql()?;
        let position = Position {
            state,
            joined,
            token,
            filter,
            last,
            catching_up: true,
            pending: VecDeque::new(),
            slot,
        };
        Ok(stream::unfold(Some(position), |p| async move {
            let mut p = p?;
            let item = p.next().await?;
            let end = item.is_err();
            Some((item, (!end).then_some(p)))
        }))
    }
}
