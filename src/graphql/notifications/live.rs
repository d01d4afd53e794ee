//! `Subscription.notifications`: the viewer's new notifications, live (see
//! `crate::inbox_live`), resumable with `after` like `defectEvents`.
use std::collections::VecDeque;

use async_graphql::{Context, ErrorExtensions, Subscription};
use futures_util::{Stream, stream};
use tokio::sync::broadcast::error::RecvError;

use super::Notification;
use crate::{
    auth::{
        Viewer,
        viewer::{Auth, BearerToken, from_token},
    },
    domain::{defects::live::Standing, notifications::inbox},
    entities::notifications,
    error::{AppError, GqlResultExt},
    graphql::{
        context::ContextExt,
        defects::{subscriber, too_many},
    },
    i18n::Msg,
    inbox_live::Joined,
    state::AppState,
};

#[derive(Default)]
pub struct NotificationSubscription;

/// One subscription's position. It reads the table for itself while it replays from
/// `after` or catches up after falling behind (`catching_up`), and otherwise keeps its
/// user's rows of the process's batches that its viewer may see now. Ids only grow in
/// commit order, so skipping every id at or below `last` makes the switch exact.
struct Position {
    state: AppState,
    joined: Joined,
    token: BearerToken,
    user_id: i32,
    last: i32,
    catching_up: bool,
    pending: VecDeque<notifications::Model>,
}

impl Position {
    /// The viewer as a request would see it now, or `None` (deactivated, session revoked):
    /// the subscription ends.
    async fn viewer(&self) -> Option<Viewer> {
        match from_token(&self.state.db, &self.state.keys, &self.token).await {
            Auth::Authenticated(v) => Some(v),
            _ => None,
        }
    }

    /// The next notification, or `None` when the subscription ends, or an error.
    async fn next(&mut self) -> Option<async_graphql::Result<Notification>> {
        loop {
            if let Some(n) = self.pending.pop_front() {
                return Some(Ok(Notification(n)));
            }
            if self.catching_up {
                let viewer = self.viewer().await?;
                match inbox::next(&self.state.db, &viewer, self.last).await {
                    Ok(rows) => {
                        self.catching_up = rows.len() as u64 == inbox::BATCH;
                        self.last = rows.last().map_or(self.last, |r| r.id);
                        self.pending.extend(rows);
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
            let mine: Vec<&notifications::Model> = batch
                .by_user
                .get(&self.user_id)
                .map(|rows| rows.iter().filter(|n| n.id > self.last).collect())
                .unwrap_or_default();
            if !mine.is_empty() {
                // The viewer's rights now, read by the reader for every subscriber of the
                // batch: the rows it may see, as the list would show them.
                match batch.access.standing(self.joined.who()) {
                    Standing::Viewer(role) => self.pending.extend(
                        mine.into_iter()
                            .filter(|n| batch.access.sees_defect(self.user_id, role, n.defect_id))
                            .cloned(),
                    ),
                    Standing::Refused => return None,
                    // Joined after the reader read the rights (or that read failed): read
                    // from `last` for itself, which this batch is after.
                    Standing::Unchecked => {
                        self.catching_up = true;
                        continue;
                    }
                }
            }
            self.last = self.last.max(batch.last);
        }
    }
}

#[Subscription]
impl NotificationSubscription {
    /// The viewer's new notifications; with `after`, first those after that cursor, without gap or duplicate.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Notification>> + use<>>
    {
        let viewer = ctx.viewer()?.clone();
        // Present on every WebSocket connection (`http::ws` puts it there at init).
        let token = ctx
            .data::<BearerToken>()
            .map_err(|_| AppError::Unauthenticated(Msg::WsOnly).extend())?
            .clone();
        let state = ctx.state().clone();
        let after = after.as_deref().map(inbox::after_id).transpose().gql()?;
        let place = state
            .live
            .place(viewer.id)
            .map_err(|full| too_many(full.max))?;
        // Join before reading the starting point, so nothing committed in between goes
        // unnoticed: the catch-up read below reaches at least where the channel starts.
        let who = subscriber(&state, &viewer, &token)?;
        let joined = state.inbox.join(who, place).await;
        let last = match after {
            Some(id) => id,
            None => inbox::newest(&state.db).await.gql()?,
        };
        let position = Position {
            state,
            joined,
            token,
            user_id: viewer.id,
            last,
            catching_up: true,
            pending: VecDeque::new(),
        };
        Ok(stream::unfold(Some(position), |p| async move {
            let mut p = p?;
            let item = p.next().await?;
            let end = item.is_err();
            Some((item, (!end).then_some(p)))
        }))
    }
}
