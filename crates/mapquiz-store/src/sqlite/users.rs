//! Users and the accounts they sign in with, the account takeover guard of provider linking, and bulk
//! loads of users (demo data).

use super::SqliteStore;
use crate::db_time::{DbTime, time, time_opt};
use crate::users::like_prefix;
use crate::{Account, NewUser, StoreError, User, UserSearch, Users, name_key};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

/// Rows per multi-row INSERT of users: 9 columns, and SQLite takes at most 32 766 parameters.
const ROWS_PER_STATEMENT: usize = 3000;

/// The columns [`user_at`] reads, in its order.
macro_rules! user_columns {
    () => {
        "id, name, email, email_verified, image, tag, is_online, last_seen, created_at, updated_at"
    };
}
pub(super) use user_columns;

/// The columns [`account_at`] reads, in its order.
macro_rules! account_columns {
    () => {
        "id, user_id, provider_id, account_id, password_hash, created_at, updated_at"
    };
}

/// Reads a user from the ten columns of [`user_columns`] starting at `at` (joins put them after others).
pub(super) fn user_at(row: &SqliteRow, at: usize) -> Result<User, sqlx::Error> {
    Ok(User {
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

fn account_at(row: &SqliteRow) -> Result<Account, sqlx::Error> {
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

async fn insert_account(conn: &mut SqliteConnection, account: &Account, user_id: &str) -> Result<(), StoreError> {
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
impl Users for SqliteStore {
    async fn create_user(&self, user: &NewUser, account: &Account) -> Result<User, StoreError> {
        let mut tx = self.writer.begin().await?;
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
        .try_map(|row: SqliteRow| user_at(&row, 0))
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
            .try_map(|row: SqliteRow| user_at(&row, 0))
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1"))
            .bind(email)
            .try_map(|row: SqliteRow| user_at(&row, 0))
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn user_by_tag(&self, tag: &str) -> Result<Option<User>, StoreError> {
        Ok(sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE tag = $1"))
            .bind(tag)
            .try_map(|row: SqliteRow| user_at(&row, 0))
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn assign_tag(&self, user_id: &str, tag: &str, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET tag = $1, updated_at = $2 WHERE id = $3 AND tag IS NULL")
            .bind(tag)
            .bind(DbTime(now))
            .bind(user_id)
            .execute(&self.writer)
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
        .try_map(|row: SqliteRow| user_at(&row, 0))
        .fetch_optional(&self.writer)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn search_users(&self, search: &UserSearch) -> Result<Vec<User>, StoreError> {
        let mut sql = QueryBuilder::<Sqlite>::new(concat!("SELECT ", user_columns!(), " FROM users WHERE id <> "));
        sql.push_bind(&search.exclude_id);
        if let Some(prefix) = &search.prefix {
            // SQLite's LIKE ignores ASCII case; harmless, as keys are lower-case and tags upper-case.
            sql.push(" AND (name_key LIKE ")
                .push_bind(like_prefix(prefix))
                .push(" ESCAPE '\\' OR tag LIKE ")
                .push_bind(like_prefix(&prefix.to_uppercase()))
                .push(" ESCAPE '\\')");
        }
        // TEXT compares byte-wise (BINARY) here: the PostgreSQL backend asks for "C" to give the same order.
        if let Some((key, id)) = &search.after {
            sql.push(" AND (name_key > ")
                .push_bind(key)
                .push(" OR (name_key = ")
                .push_bind(key)
                .push(" AND id > ")
                .push_bind(id)
                .push("))");
        }
        sql.push(" ORDER BY name_key, id LIMIT ").push_bind(i64::from(search.limit));
        Ok(sql.build().try_map(|row: SqliteRow| user_at(&row, 0)).fetch_all(&self.reader).await?)
    }

    async fn account(&self, provider_id: &str, account_id: &str) -> Result<Option<Account>, StoreError> {
        Ok(sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE provider_id = $1 AND account_id = $2"
        ))
        .bind(provider_id)
        .bind(account_id)
        .try_map(|row: SqliteRow| account_at(&row))
        .fetch_optional(&self.reader)
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
        .try_map(|row: SqliteRow| account_at(&row))
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn link_account(&self, account: &Account) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        insert_account(&mut conn, account, &account.user_id).await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str, now: Timestamp) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE user_id = $3 AND provider_id = 'credential'",
        )
        .bind(hash)
        .bind(DbTime(now))
        .bind(user_id)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn verify_email_and_drop_credentials(
        &self,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM accounts WHERE user_id = $1 AND provider_id = 'credential'")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let hashes: Vec<String> = sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query("UPDATE users SET email_verified = 1, updated_at = $1 WHERE id = $2")
            .bind(DbTime(now))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(hashes)
    }

    async fn insert_users(&self, users: &[NewUser]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for chunk in users.chunks(ROWS_PER_STATEMENT) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "INSERT INTO users (id, name, name_key, email, email_verified, image, tag, created_at, updated_at) ",
            );
            sql.push_values(chunk, |mut row, u| {
                row.push_bind(&u.id)
                    .push_bind(&u.name)
                    .push_bind(name_key(&u.name))
                    .push_bind(&u.email)
                    .push_bind(u.email_verified)
                    .push_bind(&u.image)
                    .push_bind(&u.tag)
                    .push_bind(DbTime(u.created_at))
                    .push_bind(DbTime(u.created_at));
            });
            sql.build().persistent(false).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
