//! The authenticated caller, resolved once per request by the transport.
use axum::http::HeaderMap;
use sea_orm::{DatabaseConnection, EntityTrait};

use crate::{
    entities::{enums::Role, users},
    error::{AppError, AppResult},
    state::AppState,
};

#[derive(Clone, Debug)]
pub struct Viewer {
    pub id: i32,
    pub username: String,
    pub role: Role,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// ADMIN or MANAGER: may manage projects, stages, members and any defect.
    pub fn is_manager(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Manager)
    }

    pub fn from_user(user: &users::Model) -> Self {
        Viewer {
            id: user.id,
            username: user.username.clone(),
            role: user.role,
        }
    }
}

/// What the request's `Authorization` header amounts to. An invalid header does not
/// fail the whole request: `login` still works, everything else is UNAUTHENTICATED.
#[derive(Clone, Debug)]
pub enum Auth {
    Anonymous,
    Authenticated(Viewer),
    Invalid(AppError),
}

impl Auth {
    pub fn viewer(&self) -> AppResult<&Viewer> {
        match self {
            Auth::Authenticated(v) => Ok(v),
            Auth::Anonymous => Err(AppError::Unauthenticated("authentication required".into())),
            Auth::Invalid(e) => Err(e.clone()),
        }
    }
}

/// The client's address for the login throttle.
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

pub async fn resolve(state: &AppState, headers: &HeaderMap) -> Auth {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Auth::Anonymous;
    };
    let invalid = || Auth::Invalid(AppError::Unauthenticated("invalid or expired token".into()));
    let Some(token) = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    }) else {
        return invalid();
    };
    let user_id = match state.keys.verify_access(token.trim()) {
        Ok(id) => id,
        Err(e) => return Auth::Invalid(e),
    };
    match load_active(&state.db, user_id).await {
        Ok(Some(user)) => Auth::Authenticated(Viewer::from_user(&user)),
        Ok(None) => invalid(),
        Err(e) => Auth::Invalid(e),
    }
}

/// Role and active flag come from the database on every request, so a role change or a
/// deactivation takes effect whatever tokens the user still holds.
async fn load_active(db: &DatabaseConnection, id: i32) -> AppResult<Option<users::Model>> {
    Ok(users::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|u| u.is_active))
}
