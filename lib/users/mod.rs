//! Staff accounts: the `users` table and the rules about who may manage
//! whom. The HTTP handlers live in [`collection`], [`item`] and [`me`].

pub mod collection;
pub mod item;
pub mod me;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Role, password};
use crate::error::{ApiError, ApiResult};
use crate::patch::version_mismatch;
use crate::validate::Check;

pub const USERNAME_MAX: usize = 150;
pub const FULL_NAME_MAX: usize = 150;
pub const PHONE_MAX: usize = 32;
/// RFC 5321's longest forward path, as Django's `EmailField` allows.
pub const EMAIL_MAX: usize = 254;

/// A staff account as the API shows it (never with its password hash).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    #[schema(example = "kasir1")]
    pub username: String,
    #[schema(example = "Siti Rahma")]
    pub full_name: String,
    /// `""` when none was given.
    #[schema(example = "siti@example.com")]
    pub email: String,
    #[schema(example = "+62 812 3456 7890")]
    pub phone: String,
    pub role: Role,
    pub is_active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A live account with its password hash, for logging in.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

pub struct NewUser {
    pub username: String,
    pub full_name: String,
    pub email: String,
    pub phone: String,
    pub role: Role,
    pub is_active: bool,
    pub password_hash: String,
}

#[derive(Default)]
pub struct Changes {
    pub username: Option<String>,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    pub password_hash: Option<String>,
}

// ---- input checks shared by the CLI, create and update ----

/// Django's username rule: 1-150 letters, digits and `@.+-_`.
pub fn check_username(c: &mut Check, field: &str, value: &str) -> String {
    let value = c.text(field, value, 1, USERNAME_MAX);
    if !value.is_empty()
        && !value
            .chars()
            .all(|ch| ch.is_alphanumeric() || "@.+-_".contains(ch))
    {
        c.add(
            field,
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        );
    }
    value
}

pub fn check_password(c: &mut Check, field: &str, value: &str) {
    let len = value.chars().count();
    if len < password::MIN_LENGTH {
        c.add(
            field,
            format!(
                "This password is too short. It must contain at least {} characters.",
                password::MIN_LENGTH
            ),
        );
    } else if len > password::MAX_LENGTH {
        c.add(
            field,
            format!(
                "Ensure this field has no more than {} characters.",
                password::MAX_LENGTH
            ),
        );
    }
}

pub fn check_role(c: &mut Check, field: &str, value: &str) -> Option<Role> {
    match value.parse::<Role>() {
        Ok(role) => Some(role),
        Err(e) => {
            c.add(field, e.to_string());
            None
        }
    }
}

pub fn check_full_name(c: &mut Check, value: &str) -> String {
    if value.trim().is_empty() {
        return String::new();
    }
    c.text("full_name", value, 1, FULL_NAME_MAX)
}

/// Digits with the usual separators and an optional leading `+`.
pub fn check_phone(c: &mut Check, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    let value = c.text("phone", value, 1, PHONE_MAX);
    if !value
        .chars()
        .all(|ch| ch.is_ascii_digit() || " +-().".contains(ch))
        || !value.chars().any(|ch| ch.is_ascii_digit())
    {
        c.add("phone", "Enter a valid phone number.");
    }
    value
}

/// A plausible address or `""`: one `@`, a local part, and a domain with a
/// dot between non-empty labels; no spaces. Whether it receives mail is
/// not ours to know.
pub fn check_email(c: &mut Check, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    let value = c.text("email", value, 1, EMAIL_MAX);
    let plausible = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && domain.split('.').all(|label| !label.is_empty())
                && !value.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !plausible {
        c.add("email", "Enter a valid email address.");
    }
    value
}

/// The fields of an account that describe its person: what anyone edits on
/// their own account (`PATCH /api/me`) and a manager on staff's. Absent
/// fields stay; present ones are trimmed and checked by [`ProfilePatch::check`].
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1-150 letters, digits and `@.+-_`; unique among live accounts
    /// (case-insensitively).
    #[schema(pattern = r"^[\w@.+-]+$", min_length = 1, max_length = 150)]
    pub username: Option<String>,
    /// Up to 150 characters; `""` clears it.
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 150
    )]
    pub full_name: Option<String>,
    /// A plausible address (up to 254 characters); `""` clears it.
    #[schema(
        pattern = r"^$|^[^\s@\u0000-\u001f\u007f-\u009f]+@[^\s@.\u0000-\u001f\u007f-\u009f]+(\.[^\s@.\u0000-\u001f\u007f-\u009f]+)+$",
        max_length = 254
    )]
    pub email: Option<String>,
    /// Digits with spaces, `+-().`; up to 32 characters; `""` clears it.
    #[schema(pattern = r"^([0-9 +().-]*[0-9][0-9 +().-]*)?$", max_length = 32)]
    pub phone: Option<String>,
    /// The version being edited, as an alternative to `If-Match`.
    #[schema(minimum = 1)]
    pub version: Option<i32>,
}

impl ProfilePatch {
    /// The checked, normalised changes; problems go into `c`.
    pub fn check(&self, c: &mut Check) -> Changes {
        Changes {
            username: self
                .username
                .as_deref()
                .map(|v| check_username(c, "username", v)),
            full_name: self.full_name.as_deref().map(|v| check_full_name(c, v)),
            email: self.email.as_deref().map(|v| check_email(c, v)),
            phone: self.phone.as_deref().map(|v| check_phone(c, v)),
            ..Changes::default()
        }
    }
}

fn permission_denied() -> ApiError {
    ApiError::PermissionDenied("You may not manage accounts with that role.".into())
}

fn duplicate_username(err: sqlx::Error) -> ApiError {
    match &err {
        sqlx::Error::Database(db) if db.constraint() == Some("users_live_username") => {
            ApiError::Conflict("A user with that username already exists.".into())
        }
        _ => err.into(),
    }
}

// ---- queries ----

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(
        User,
        r#"SELECT id, username, full_name, email, phone, role AS "role: Role", is_active, version,
                  created_at, updated_at
           FROM users WHERE id = $1 AND deleted_at IS NULL"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// The live account called `username` (case-insensitively), if any.
pub async fn credentials_by_username(
    db: impl PgExecutor<'_>,
    username: &str,
) -> sqlx::Result<Option<Credentials>> {
    let row = sqlx::query!(
        r#"SELECT id, username, full_name, email, phone, role AS "role: Role", is_active, version,
                  created_at, updated_at, password_hash
           FROM users WHERE lower(username) = lower($1) AND deleted_at IS NULL"#,
        username
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Credentials {
        user: User {
            id: r.id,
            username: r.username,
            full_name: r.full_name,
            email: r.email,
            phone: r.phone,
            role: r.role,
            is_active: r.is_active,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        },
        password_hash: r.password_hash,
    }))
}

pub async fn password_hash(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "SELECT password_hash FROM users WHERE id = $1 AND deleted_at IS NULL AND is_active",
        id
    )
    .fetch_optional(db)
    .await
}

/// The role of `id` when that account may still log in (live and active).
pub async fn active_role(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Role>> {
    sqlx::query_scalar!(
        r#"SELECT role AS "role: Role" FROM users
           WHERE id = $1 AND deleted_at IS NULL AND is_active"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// Replaces the hash only if it is still `old`, so a re-hash after login
/// cannot undo a password change that raced it.
pub async fn replace_password_hash(
    db: impl PgExecutor<'_>,
    id: Uuid,
    old: &str,
    new: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
        id,
        old,
        new
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_password_hash(db: impl PgExecutor<'_>, id: Uuid, hash: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE users SET password_hash = $2, version = version + 1, updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL",
        id,
        hash
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Whether any account was ever created (deleted ones count: a store that
/// removed its demo owner does not want it back).
pub async fn any_exist(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users) AS "exists!""#)
        .fetch_one(db)
        .await
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewUser) -> ApiResult<User> {
    sqlx::query_as!(
        User,
        r#"INSERT INTO users (username, full_name, email, phone, role, is_active, password_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING id, username, full_name, email, phone, role AS "role: Role", is_active, version,
                     created_at, updated_at"#,
        new.username,
        new.full_name,
        new.email,
        new.phone,
        new.role.as_str(),
        new.is_active,
        new.password_hash,
    )
    .fetch_one(db)
    .await
    .map_err(duplicate_username)
}

/// Creates an account on behalf of `actor`.
pub async fn create(db: impl PgExecutor<'_>, actor: Role, new: &NewUser) -> ApiResult<User> {
    if !actor.manages(new.role) {
        return Err(permission_denied());
    }
    insert(db, new).await
}

/// Live accounts with one of `roles`, oldest first, after the keyset
/// position `after` (`created_at`, `id`).
pub async fn list(
    db: impl PgExecutor<'_>,
    roles: &[Role],
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<User>> {
    let roles: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
    let (after_at, after_id) = after.unzip();
    sqlx::query_as!(
        User,
        r#"SELECT id, username, full_name, email, phone, role AS "role: Role", is_active, version,
                  created_at, updated_at
           FROM users
           WHERE deleted_at IS NULL
             AND role = ANY($1)
             AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
           ORDER BY created_at, id
           LIMIT $4"#,
        &roles,
        after_at,
        after_id,
        limit
    )
    .fetch_all(db)
    .await
}

/// The roles `actor` may see and manage.
pub fn manageable_roles(actor: Role) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| actor.manages(*r))
        .collect()
}

/// `id` as `actor` may see it: 404 when missing, 403 when out of reach.
pub async fn get(db: impl PgExecutor<'_>, actor: Role, id: Uuid) -> ApiResult<User> {
    let user = find(db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("User"))?;
    if !actor.manages(user.role) {
        return Err(permission_denied());
    }
    Ok(user)
}

/// Locks account `id` for a change. Every change first takes one
/// transaction-scoped advisory lock: staff edits are rare, and serialising
/// them makes the last-owner check race-free without two transactions
/// locking owner rows in opposite orders (a deadlock).
async fn lock(conn: &mut PgConnection, id: Uuid) -> ApiResult<User> {
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('kasirgo.users.change'))")
        .execute(&mut *conn)
        .await?;
    sqlx::query_as!(
        User,
        r#"SELECT id, username, full_name, email, phone, role AS "role: Role", is_active, version,
                  created_at, updated_at
           FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::not_found("User"))
}

/// Refuses to leave the store without an active owner. Runs under
/// [`lock`]'s advisory lock, so two owners demoting each other at once
/// cannot both pass the count.
async fn keep_an_owner(conn: &mut PgConnection, leaving: Uuid) -> ApiResult<()> {
    let owners = sqlx::query_scalar!(
        "SELECT id FROM users WHERE role = 'owner' AND is_active AND deleted_at IS NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    if owners.iter().all(|id| *id == leaving) {
        return Err(ApiError::Conflict(
            "This is the last active owner: make another owner first.".into(),
        ));
    }
    Ok(())
}

/// Applies `changes` to `id` on behalf of `actor`; run inside a transaction.
pub async fn update(
    conn: &mut PgConnection,
    actor: Role,
    id: Uuid,
    changes: Changes,
    expected_version: Option<i32>,
) -> ApiResult<User> {
    let current = lock(conn, id).await?;
    if !actor.manages(current.role) || changes.role.is_some_and(|r| !actor.manages(r)) {
        return Err(permission_denied());
    }
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(version_mismatch("user"));
    }
    let stays_owner = changes.role.unwrap_or(current.role) == Role::Owner
        && changes.is_active.unwrap_or(current.is_active);
    if current.role == Role::Owner && current.is_active && !stays_owner {
        keep_an_owner(conn, id).await?;
    }
    write(conn, id, changes).await
}

/// Applies the profile fields of `changes` (username, full name, e-mail,
/// phone: what [`ProfilePatch::check`] gives; role, activity and password
/// are left alone) to the caller's own account `id`. No role rule applies:
/// everyone edits their own profile; a deactivated account may not. Run
/// inside a transaction.
pub async fn update_own(
    conn: &mut PgConnection,
    id: Uuid,
    changes: Changes,
    expected_version: Option<i32>,
) -> ApiResult<User> {
    let current = lock(conn, id).await?;
    if !current.is_active {
        return Err(ApiError::PermissionDenied(
            "This account is deactivated.".into(),
        ));
    }
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(version_mismatch("user"));
    }
    let profile_only = Changes {
        username: changes.username,
        full_name: changes.full_name,
        email: changes.email,
        phone: changes.phone,
        ..Changes::default()
    };
    write(conn, id, profile_only).await
}

/// The one UPDATE behind [`update`] and [`update_own`], after their checks.
async fn write(conn: &mut PgConnection, id: Uuid, changes: Changes) -> ApiResult<User> {
    sqlx::query_as!(
        User,
        r#"UPDATE users SET
               username = coalesce($2, username),
               full_name = coalesce($3, full_name),
               email = coalesce($4, email),
               phone = coalesce($5, phone),
               role = coalesce($6, role),
               is_active = coalesce($7, is_active),
               password_hash = coalesce($8, password_hash),
               version = version + 1,
               updated_at = now()
           WHERE id = $1
           RETURNING id, username, full_name, email, phone, role AS "role: Role", is_active, version,
                     created_at, updated_at"#,
        id,
        changes.username,
        changes.full_name,
        changes.email,
        changes.phone,
        changes.role.map(Role::as_str),
        changes.is_active,
        changes.password_hash,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(duplicate_username)
}

/// Soft-deletes `id` on behalf of `actor`; run inside a transaction.
pub async fn delete(conn: &mut PgConnection, actor: Role, id: Uuid) -> ApiResult<()> {
    let current = lock(conn, id).await?;
    if !actor.manages(current.role) {
        return Err(permission_denied());
    }
    if current.role == Role::Owner && current.is_active {
        keep_an_owner(conn, id).await?;
    }
    sqlx::query!(
        "UPDATE users SET deleted_at = now(), is_active = false, version = version + 1,
                          updated_at = now()
         WHERE id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The `kasirgo create-user` and demo-owner path: checks input like the API.
pub async fn create_checked(
    db: impl PgExecutor<'_>,
    username: &str,
    password: &str,
    role: &str,
) -> ApiResult<User> {
    let mut c = Check::new();
    let username = check_username(&mut c, "username", username);
    check_password(&mut c, "password", password);
    let role = check_role(&mut c, "role", role);
    c.finish()?;
    let password_hash = password::hash_blocking(password.to_string()).await?;
    insert(
        db,
        &NewUser {
            username,
            full_name: String::new(),
            email: String::new(),
            phone: String::new(),
            role: role.expect("checked"),
            is_active: true,
            password_hash,
        },
    )
    .await
}
