//! Users and the accounts they sign in with, the account takeover guard of provider linking, and bulk
//! loads of users (demo data): the statements both engines share are `crate::users`'.

use super::SqliteStore;
use crate::users::like_prefix;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};

/// Rows per multi-row INSERT of users: 9 columns, and SQLite takes at most 32 766 parameters.
const ROWS_PER_STATEMENT: usize = 3000;

crate::users::impl_users!(SqliteStore, SqliteRow, {
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
});
