//! Users and the accounts they sign in with.

use crate::StoreError;
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use serde::{Deserialize, Serialize};

/// A player's account record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    /// Normalised (trimmed, lower-cased).
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    /// `None` only for users imported from before tags existed.
    pub tag: Option<String>,
    pub is_online: bool,
    pub last_seen: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The key users are ordered and searched by: the name, lower-cased. Computed in Rust on both backends so
/// that SQLite and PostgreSQL agree on every script.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A LIKE pattern matching strings that start with `prefix` literally: `%`, `_` and `\` are escaped with
/// `\`, so the query must say `ESCAPE '\'`.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A user to create; `name_key` (the lower-cased name) is derived by the store.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub tag: String,
    pub created_at: Timestamp,
}

/// How a user signs in: `credential` (email and password) or an identity provider such as `google`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub user_id: String,
    pub provider_id: String,
    /// The provider's subject; the user id for `credential`.
    pub account_id: String,
    /// Argon2id PHC string, `credential` accounts only.
    pub password_hash: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A page request over users, in (lower-cased name, id) order.
#[derive(Clone, Debug)]
pub struct UserSearch {
    /// The caller, never listed.
    pub exclude_id: String,
    /// Lower-cased prefix of the name, or upper-cased prefix of the tag: either matches. `None`: everyone.
    pub prefix: Option<String>,
    /// Start strictly after this (name_key, id) position.
    pub after: Option<(String, String)>,
    /// Rows to return, at most.
    pub limit: u32,
}

/// Users and their accounts.
#[async_trait]
pub trait Users: Send + Sync {
    /// Creates a user and its first account in one transaction.
    ///
    /// `Conflict("users_email_key")` when the email is taken, `Conflict("users_tag_key")` when the tag is
    /// (draw another and retry), `Conflict("accounts_provider_account_key")` when the account exists.
    async fn create_user(&self, user: &NewUser, account: &Account) -> Result<User, StoreError>;

    /// The user with this id.
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// The user with this normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// The user with this (upper-case) tag.
    async fn user_by_tag(&self, tag: &str) -> Result<Option<User>, StoreError>;

    /// Gives a tag to a user that has none; `Ok(false)` when the user already has one (or does not
    /// exist), `Conflict("users_tag_key")` when another user holds it.
    async fn assign_tag(&self, user_id: &str, tag: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Changes the name and/or the image (`Some(None)` clears it); `NotFound` for an unknown user.
    async fn update_profile(
        &self,
        user_id: &str,
        name: Option<&str>,
        image: Option<Option<&str>>,
        now: Timestamp,
    ) -> Result<User, StoreError>;

    /// A page of users in (lower-cased name, id) order, see [`UserSearch`].
    async fn search_users(&self, search: &UserSearch) -> Result<Vec<User>, StoreError>;

    /// The account `(provider_id, account_id)`.
    async fn account(&self, provider_id: &str, account_id: &str) -> Result<Option<Account>, StoreError>;

    /// The user's account with this provider (`credential` holds the password).
    async fn account_of_user(&self, user_id: &str, provider_id: &str) -> Result<Option<Account>, StoreError>;

    /// Adds an account to an existing user (Google linked by verified email).
    async fn link_account(&self, account: &Account) -> Result<(), StoreError>;

    /// Replaces the password hash of the user's `credential` account; `NotFound` when it has none.
    async fn set_password_hash(&self, user_id: &str, hash: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Before an identity provider that vouches for the email takes over an account whose email was never
    /// verified: in one transaction, removes its password, deletes its sessions (returning their token
    /// hashes) and marks the email verified. Whoever registered the address first keeps no way in.
    async fn verify_email_and_drop_credentials(&self, user_id: &str, now: Timestamp)
    -> Result<Vec<String>, StoreError>;

    /// Creates many users at once (demo data), without accounts; one transaction for the whole slice.
    async fn insert_users(&self, users: &[NewUser]) -> Result<(), StoreError>;
}

/// The columns `user_at` reads, in its order.
macro_rules! user_columns {
    () => {
        "id, name, email, email_verified, image, tag, is_online, last_seen, created_at, updated_at"
    };
}
pub(crate) use user_columns;

/// Implements [`Users`] for `$store`, whose rows are `$row`, from the engine's own `search_users` and
/// `insert_users` (given as the block, which sees the imports below) and the statements both engines share (a
/// macro, not generic code: see `pools.rs`). Also defines the backend's `user_at`, which its other parts use.
macro_rules! impl_users {
    ($store:ty, $row:ty, { $($own:tt)* }) => {
        /// Reads a user from the ten columns of `user_columns!` starting at `at` (joins put them after others).
        pub(super) fn user_at(row: &$row, at: usize) -> Result<$crate::User, ::sqlx::Error> {
            use $crate::db_time::{time, time_opt};
            use ::sqlx::Row as _;
            Ok($crate::User {
                id: row.try_get(at)?,
                name: row.try_get(at + 1)?,
                email: row.try_get(at + 2)?,
                email_verified: row.try_get(at + 3)?,
                image: row.try_get(at + 4)?,
                tag: row.try_get(at + 5)?,
                is_online: row.try_get(at + 6)?,
                last_seen: time_opt(row, at + 7)?,
                created_at: time(row, at + 8)?,
                updated_at: time(row, at + 9)?,
            })
        }

        const _: () = {
            use $crate::db_time::{DbTime, time};
            use $crate::pools::Pools;
            use $crate::users::user_columns;
            use $crate::{Account, NewUser, StoreError, User, UserSearch, Users, name_key};
            use ::async_trait::async_trait;
            use ::mapquiz_domain::Timestamp;
            use ::sqlx::Row as _;

            // The columns `account_at` reads, in its order.
            macro_rules! account_columns {
                () => {
                    "id, user_id, provider_id, account_id, password_hash, created_at, updated_at"
                };
            }

            fn account_at(row: &$row) -> Result<Account, sqlx::Error> {
                Ok(Account {
                    id: row.try_get(0)?,
                    user_id: row.try_get(1)?,
                    provider_id: row.try_get(2)?,
                    account_id: row.try_get(3)?,
                    password_hash: row.try_get(4)?,
                    created_at: time(row, 5)?,
                    updated_at: time(row, 6)?,
                })
            }

            async fn insert_account(conn: &mut <<$store as Pools>::Db as ::sqlx::Database>::Connection, account: &Account, user_id: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO accounts (id, user_id, provider_id, account_id, password_hash, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&account.id)
                .bind(user_id)
                .bind(&account.provider_id)
                .bind(&account.account_id)
                .bind(&account.password_hash)
                .bind(DbTime(account.created_at))
                .bind(DbTime(account.updated_at))
                .execute(conn)
                .await?;
                Ok(())
            }

            #[async_trait]
            impl Users for $store {
                            $($own)*

                async fn create_user(&self, user: &NewUser, account: &Account) -> Result<User, StoreError> {
                    let mut tx = self.writes().begin().await?;
                    let created = sqlx::query(concat!(
                        "INSERT INTO users (id, name, name_key, email, email_verified, image, tag, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
                        user_columns!()
                    ))
                    .bind(&user.id)
                    .bind(&user.name)
                    .bind(name_key(&user.name))
                    .bind(&user.email)
                    .bind(user.email_verified)
                    .bind(&user.image)
                    .bind(&user.tag)
                    .bind(DbTime(user.created_at))
                    .bind(DbTime(user.created_at))
                    .try_map(|row: $row| user_at(&row, 0))
                    .fetch_one(&mut *tx)
                    .await?;
                    // The first account belongs to the user being created, whatever `account.user_id` says.
                    insert_account(&mut tx, account, &user.id).await?;
                    tx.commit().await?;
                    Ok(created)
                }

                async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
                    Ok(sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
                        .bind(id)
                        .try_map(|row: $row| user_at(&row, 0))
                        .fetch_optional(self.reads())
                        .await?)
                }

                async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
                    Ok(sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1"))
                        .bind(email)
                        .try_map(|row: $row| user_at(&row, 0))
                        .fetch_optional(self.reads())
                        .await?)
                }

                async fn user_by_tag(&self, tag: &str) -> Result<Option<User>, StoreError> {
                    Ok(sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE tag = $1"))
                        .bind(tag)
                        .try_map(|row: $row| user_at(&row, 0))
                        .fetch_optional(self.reads())
                        .await?)
                }

                async fn assign_tag(&self, user_id: &str, tag: &str, now: Timestamp) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE users SET tag = $1, updated_at = $2 WHERE id = $3 AND tag IS NULL")
                        .bind(tag)
                        .bind(DbTime(now))
                        .bind(user_id)
                        .execute(self.writes())
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn update_profile(
                    &self,
                    user_id: &str,
                    name: Option<&str>,
                    image: Option<Option<&str>>,
                    now: Timestamp,
                ) -> Result<User, StoreError> {
                    // One statement whatever changes: NULL keeps the name, the flag says whether the image is replaced.
                    sqlx::query(concat!(
                        "UPDATE users SET name = coalesce($1, name), name_key = coalesce($2, name_key), \
                         image = CASE WHEN $3 THEN $4 ELSE image END, updated_at = $5 WHERE id = $6 RETURNING ",
                        user_columns!()
                    ))
                    .bind(name)
                    .bind(name.map(name_key))
                    .bind(image.is_some())
                    .bind(image.flatten())
                    .bind(DbTime(now))
                    .bind(user_id)
                    .try_map(|row: $row| user_at(&row, 0))
                    .fetch_optional(self.writes())
                    .await?
                    .ok_or(StoreError::NotFound)
                }


                async fn account(&self, provider_id: &str, account_id: &str) -> Result<Option<Account>, StoreError> {
                    Ok(sqlx::query(concat!(
                        "SELECT ",
                        account_columns!(),
                        " FROM accounts WHERE provider_id = $1 AND account_id = $2"
                    ))
                    .bind(provider_id)
                    .bind(account_id)
                    .try_map(|row: $row| account_at(&row))
                    .fetch_optional(self.reads())
                    .await?)
                }

                async fn account_of_user(&self, user_id: &str, provider_id: &str) -> Result<Option<Account>, StoreError> {
                    // Nothing stops two accounts of one provider (two Google identities): the oldest answers, always the same.
                    Ok(sqlx::query(concat!(
                        "SELECT ",
                        account_columns!(),
                        " FROM accounts WHERE user_id = $1 AND provider_id = $2 ORDER BY created_at, id LIMIT 1"
                    ))
                    .bind(user_id)
                    .bind(provider_id)
                    .try_map(|row: $row| account_at(&row))
                    .fetch_optional(self.reads())
                    .await?)
                }

                async fn link_account(&self, account: &Account) -> Result<(), StoreError> {
                    let mut conn = self.writes().acquire().await?;
                    insert_account(&mut conn, account, &account.user_id).await
                }

                async fn set_password_hash(&self, user_id: &str, hash: &str, now: Timestamp) -> Result<(), StoreError> {
                    let done = sqlx::query(
                        "UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE user_id = $3 AND provider_id = 'credential'",
                    )
                    .bind(hash)
                    .bind(DbTime(now))
                    .bind(user_id)
                    .execute(self.writes())
                    .await?;
                    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                }

                async fn verify_email_and_drop_credentials(
                    &self,
                    user_id: &str,
                    now: Timestamp,
                ) -> Result<Vec<String>, StoreError> {
                    let mut tx = self.writes().begin().await?;
                    sqlx::query("DELETE FROM accounts WHERE user_id = $1 AND provider_id = 'credential'")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    let hashes: Vec<String> = sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash")
                        .bind(user_id)
                        .fetch_all(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE users SET email_verified = TRUE, updated_at = $1 WHERE id = $2")
                        .bind(DbTime(now))
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(hashes)
                }

            }
        };
    };
}
pub(crate) use impl_users;
