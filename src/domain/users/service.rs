//! Use cases for user accounts.
use crate::i18n::Msg;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set, TransactionTrait, sea_query::Expr,
};

use super::{policy, queries};
use crate::{
    auth::{
        Viewer,
        password::{self, HashPool},
    },
    domain::{
        Patch,
        pagination::{Page, PageArgs},
        require, search, validate,
    },
    entities::{enums::Role, refresh_tokens, users},
    error::{AppError, AppResult},
    time,
};

pub use queries::UserFilter;

pub struct NewUser {
    pub username: String,
    pub email: String,
    pub full_name: Option<String>,
    pub password: String,
    pub role: Role,
}

#[derive(Default)]
pub struct UserPatch {
    pub email: Patch<String>,
    pub full_name: Patch<String>,
    pub password: Patch<String>,
    pub is_active: Patch<bool>,
}

pub async fn me(db: &DatabaseConnection, viewer: &Viewer) -> AppResult<users::Model> {
    users::Entity::find_by_id(viewer.id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::UserNotFound))
}

pub async fn get(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<users::Model> {
    require(
        id == viewer.id || policy::can_list(viewer.role),
        Msg::OnlyManagersLookUpUsers,
    )?;
    users::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::UserNotFound))
}

fn require_list(viewer: &Viewer) -> AppResult<()> {
    require(policy::can_list(viewer.role), Msg::OnlyManagersListUsers)
}

fn require_manage(viewer: &Viewer) -> AppResult<()> {
    require(policy::can_manage(viewer.role), Msg::OnlyAdminsManageUsers)
}

pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &UserFilter,
    args: &PageArgs,
) -> AppResult<Page<users::Model>> {
    require_list(viewer)?;
    validate::search(filter.search.as_deref())?;
    let rows = queries::page(filter, args.after.as_ref())?
        .limit(args.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, args, queries::cursor))
}

pub async fn count(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &UserFilter,
) -> AppResult<u64> {
    require_list(viewer)?;
    validate::search(filter.search.as_deref())?;
    Ok(queries::filtered(filter).count(db).await?)
}

fn valid_username(raw: &str) -> AppResult<String> {
    let v = raw.trim();
    let ok_len = (3..=150).contains(&v.chars().count());
    let ok_chars = v
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'));
    if !ok_len || !ok_chars {
        return Err(AppError::BadUserInput(Msg::BadUsername {
            field: "username".into(),
        }));
    }
    Ok(v.to_owned())
}

fn valid_email(raw: &str) -> AppResult<String> {
    let v = raw.trim().to_lowercase();
    let shaped = v.len() <= 254
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if !shaped {
        return Err(AppError::BadUserInput(Msg::BadEmail {
            field: "email".into(),
        }));
    }
    Ok(v)
}

async fn ensure_unique(
    db: &impl ConnectionTrait,
    column: users::Column,
    field: &str,
    value: &str,
    except: Option<i32>,
) -> AppResult<()> {
    let mut q = users::Entity::find().filter(column.eq(value));
    if let Some(id) = except {
        q = q.filter(users::Column::Id.ne(id));
    }
    if q.count(db).await? > 0 {
        return Err(AppError::BadUserInput(Msg::AlreadyTaken {
            field: field.into(),
        }));
    }
    Ok(())
}

/// Creates an account. Admins only, except for the bootstrap path (`create-admin`).
/// Hashing goes through `hasher`, the process's bounded pool (as logins do): an admin
/// creating accounts in a loop cannot run unbounded argon2 hashes at once.
pub async fn create(
    db: &DatabaseConnection,
    hasher: &HashPool,
    viewer: &Viewer,
    input: NewUser,
) -> AppResult<users::Model> {
    require_manage(viewer)?;
    insert(db, hasher, input).await
}

/// The first admin of a fresh installation (the `create-admin` command).
pub async fn create_admin(
    db: &DatabaseConnection,
    hasher: &HashPool,
    username: &str,
    email: &str,
    password: &str,
) -> AppResult<users::Model> {
    insert(
        db,
        hasher,
        NewUser {
            username: username.into(),
            email: email.into(),
            full_name: None,
            password: password.into(),
            role: Role::Admin,
        },
    )
    .await
}

async fn insert(
    db: &DatabaseConnection,
    hasher: &HashPool,
    input: NewUser,
) -> AppResult<users::Model> {
    let username = valid_username(&input.username)?;
    let email = valid_email(&input.email)?;
    let full_name = validate::line(
        "fullName",
        input.full_name.as_deref().unwrap_or("").trim(),
        200,
    )?;
    password::validate(&input.password)?;
    ensure_unique(db, users::Column::Username, "username", &username, None).await?;
    ensure_unique(db, users::Column::Email, "email", &email, None).await?;
    let hash = hasher.hash(input.password).await?;
    let now = time::now();
    Ok(users::ActiveModel {
        search_text: Set(search::normalize(&[&username, &full_name, &email])),
        username: Set(username),
        email: Set(email),
        full_name: Set(full_name),
        password_hash: Set(hash),
        role: Set(input.role),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

async fn load(db: &impl ConnectionTrait, id: i32) -> AppResult<users::Model> {
    users::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::UserNotFound))
}

pub async fn update(
    db: &DatabaseConnection,
    hasher: &HashPool,
    viewer: &Viewer,
    id: i32,
    patch: UserPatch,
) -> AppResult<users::Model> {
    require_manage(viewer)?;
    let user = load(db, id).await?;
    let mut next = user.clone();
    let mut revoke_sessions = false;
    if let Some(email) = patch.email {
        let email = valid_email(&email.ok_or_else(|| {
            AppError::BadUserInput(Msg::MustNotBeNull {
                field: "email".into(),
            })
        })?)?;
        ensure_unique(db, users::Column::Email, "email", &email, Some(id)).await?;
        next.email = email;
    }
    if let Some(name) = patch.full_name {
        next.full_name = validate::line("fullName", name.unwrap_or_default().trim(), 200)?;
    }
    if let Some(active) = patch.is_active {
        let active = active.ok_or_else(|| {
            AppError::BadUserInput(Msg::MustNotBeNull {
                field: "isActive".into(),
            })
        })?;
        if !active && id == viewer.id {
            return Err(AppError::BadUserInput(Msg::OwnDeactivation {
                field: "isActive".into(),
            }));
        }
        revoke_sessions |= !active;
        next.is_active = active;
    }
    // Last: hashing is the expensive step, done only once everything else is valid.
    if let Some(pw) = patch.password {
        let pw = pw.ok_or_else(|| {
            AppError::BadUserInput(Msg::MustNotBeNull {
                field: "password".into(),
            })
        })?;
        password::validate(&pw)?;
        next.password_hash = hasher.hash(pw).await?;
        revoke_sessions = true;
    }
    next.search_text = search::normalize(&[&next.username, &next.full_name, &next.email]);
    next.updated_at = time::now();
    let txn = db.begin().await?;
    let updated = users::ActiveModel::from(next)
        .reset_all()
        .update(&txn)
        .await?;
    if revoke_sessions {
        // A new password or a deactivation ends every session of the account.
        refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(time::now()))
            .filter(refresh_tokens::Column::UserId.eq(id))
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(updated)
}

pub async fn set_role(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
    role: Role,
) -> AppResult<users::Model> {
    require_manage(viewer)?;
    let user = load(db, id).await?;
    if id == viewer.id && role != user.role {
        return Err(AppError::BadUserInput(Msg::OwnRole {
            field: "role".into(),
        }));
    }
    let mut am: users::ActiveModel = user.into();
    am.role = Set(role);
    am.updated_at = Set(time::now());
    Ok(am.update(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails_are_validated() {
        assert_eq!(valid_username(" ann.smith ").unwrap(), "ann.smith");
        assert!(valid_username("ab").is_err());
        assert!(valid_username("ann smith").is_err());
        assert!(valid_username("ann';--").is_err());
        assert_eq!(valid_email("Ann@Example.COM").unwrap(), "ann@example.com");
        for bad in [
            "ann",
            "ann@",
            "@x.org",
            "ann@x",
            "a b@x.org",
            "ann@x.org.",
            "a@b@x.org",
        ] {
            assert!(valid_email(bad).is_err(), "{bad}");
        }
    }
}
