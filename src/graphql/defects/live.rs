//! `Subscription.defectEvents`: the journal, live (see `domain::defects::live`).
use std::{collections::VecDeque, time::Duration};

use async_graphql::{Context, ErrorExtensions, ID, Subscription};
use futures_util::{Stream, stream};

use super::DefectEvent;
use crate::{
    auth::viewer::{Auth, BearerToken, from_token},
    domain::defects::{activity::ActivityFilter, live},
    entities::{defect_events, enums::DefectEventKind},
    error::{AppError, GqlResultExt},
    graphql::{context::ContextExt, scalars::id},
    state::AppState,
};

/// A missed or lagging wake-up costs at most this long.
const POLL: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct DefectSubscription;

struct Cursor {
    state: AppState,
    wake: tokio::sync::watch::Receiver<u64>,
    token: BearerToken,
    filter: ActivityFilter,
    last: i32,
    pending: VecDeque<defect_events::Model>,
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
            .map_err(|_| {
                AppError::Unauthenticated("subscriptions need a WebSocket connection".into())
                    .extend()
            })?
            .clone();
        let state = ctx.state().clone();
        let opt = |what: &str, v: &Option<ID>| v.as_ref().map(|v| id(what, v)).transpose();
        let filter = ActivityFilter {
            project_id: opt("projectId", &project_id)?,
            defect_id: opt("defectId", &defect_id)?,
            kinds,
            ..Default::default()
        };
        // Subscribe before reading the starting point, so nothing committed in between
        // goes unnoticed.
        let wake = state.journal_wake.subscribe();
        let last = live::start(&state.db, &viewer, &filter, after.as_deref())
            .await
            .gql()?;
        let cursor = Cursor {
            state,
            wake,
            token,
            filter,
            last,
            pending: VecDeque::new(),
        };
        Ok(stream::unfold(Some(cursor), |c| async move {
            let mut c = c?;
            loop {
                if let Some(e) = c.pending.pop_front() {
                    return Some((Ok(DefectEvent(e)), Some(c)));
                }
                // Before reading, so a commit during the read wakes the next wait.
                c.wake.mark_unchanged();
                // Token, session, role and active flag as a request would check them now
                // (a revoked session or a deactivated user ends the subscription);
                // membership is checked by the read below.
                let viewer = match from_token(&c.state.db, &c.state.keys, &c.token).await {
                    Auth::Authenticated(v) => v,
                    _ => return None,
                };
                match live::next(&c.state.db, &viewer, &c.filter, c.last).await {
                    Ok(rows) if !rows.is_empty() => {
                        c.last = rows.last().map_or(c.last, |r| r.id);
                        c.pending.extend(rows);
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => return Some((Err(e.extend()), None)),
                }
                tokio::select! {
                    _ = c.wake.changed() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
        }))
    }
}
