//! `connection_init`: the token in its payload resolved like the HTTP `Authorization`
//! header, the user's place under `WS_MAX_PER_USER`, and the token's expiry.
#[allow(clippy::wildcard_imports)]
use super::*;
use crate::auth::viewer::Via;

/// Resolves when the token accepted in `connection_init` expires (never when none was).
pub(super) async fn expiry_after(rx: oneshot::Receiver<u64>) {
    let Ok(exp) = rx.await else {
        return std::future::pending().await;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    tokio::time::sleep(Duration::from_secs(exp.saturating_sub(now))).await;
}

pub(super) async fn init(
    state: AppState,
    caps: Arc<SocketCaps>,
    place: Arc<Mutex<Option<KeyPlace<i32>>>>,
    payload: serde_json::Value,
    expiry: oneshot::Sender<u64>,
    client: ClientAddr,
) -> async_graphql::Result<Data> {
    let refused = || async_graphql::Error::new(REFUSED);
    let value = payload
        .as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        })
        .and_then(|(_, v)| v.as_str())
        .ok_or_else(refused)?;
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(value).map_err(|_| refused())?,
    );
    let auth = resolve(&state.db, &state.keys, &headers).await;
    let Auth::Authenticated(viewer) = &auth else {
        return Err(refused());
    };
    let Some(user) = caps.user(viewer.id) else {
        return Err(async_graphql::Error::new(USER_FULL));
    };
    *place.lock().unwrap_or_else(PoisonError::into_inner) = Some(user);
    let token = value.get(7..).unwrap_or_default().trim();
    let api_token_expiry = match viewer.via {
        Via::ApiToken { expires_at, .. } => expires_at,
        Via::Session => None,
    };
    if let Some(exp) = state.keys.access_expiry(token).or(api_token_expiry) {
        let _ = expiry.send(exp);
    }
    let mut data = Data::default();
    data.insert(auth);
    // Subscriptions re-check the token (user, role, session) before each delivery.
    data.insert(crate::auth::viewer::BearerToken(token.to_owned()));
    // A `login` over the socket counts against the client's address budget (without it
    // every socket's login shared one "unknown" key).
    data.insert(client);
    Ok(data)
}
