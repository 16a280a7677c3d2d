//! Users and the accounts they sign in with, the account takeover guard of provider linking, and bulk
//! loads of users (demo data): the statements both engines share are `crate::users`'.

use super::PgStore;
use crate::users::like_prefix;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder};

crate::users::impl_users!(PgStore, PgRow, {
    async fn search_users(&self, search: &UserSearch) -> Result<Vec<User>, StoreError> {
        let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", user_columns!(), " FROM users WHERE id <> "));
        sql.push_bind(&search.exclude_id);
        if let Some(prefix) = &search.prefix {
            sql.push(" AND (name_key LIKE ")
                .push_bind(like_prefix(prefix))
                .push(" ESCAPE '\\' OR tag LIKE ")
                .push_bind(like_prefix(&prefix.to_uppercase()))
                .push(" ESCAPE '\\')");
        }
        // Byte-wise ("C") comparisons, as SQLite's BINARY: the database's locale must not change the order.
        if let Some((key, id)) = &search.after {
            sql.push(" AND (name_key COLLATE \"C\" > ")
                .push_bind(key)
                .push(" OR (name_key = ")
                .push_bind(key)
                .push(" AND id COLLATE \"C\" > ")
                .push_bind(id)
                .push("))");
        }
        sql.push(" ORDER BY name_key COLLATE \"C\", id COLLATE \"C\" LIMIT ").push_bind(i64::from(search.limit));
        Ok(sql.build().try_map(|row: PgRow| user_at(&row, 0)).fetch_all(&self.pool).await?)
    }

    async fn insert_users(&self, users: &[NewUser]) -> Result<(), StoreError> {
        if users.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO users (id, name, name_key, email, email_verified, image, tag, created_at, updated_at) \
             SELECT id, name, name_key, email, email_verified, image, tag, created_at, created_at \
               FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[], \
                           $8::timestamptz[]) \
                 AS n (id, name, name_key, email, email_verified, image, tag, created_at)",
        )
        .bind(users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>())
        .bind(users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>())
        .bind(users.iter().map(|u| name_key(&u.name)).collect::<Vec<_>>())
        .bind(users.iter().map(|u| u.email.as_str()).collect::<Vec<_>>())
        .bind(users.iter().map(|u| u.email_verified).collect::<Vec<_>>())
        .bind(users.iter().map(|u| u.image.as_deref()).collect::<Vec<_>>())
        .bind(users.iter().map(|u| u.tag.as_str()).collect::<Vec<_>>())
        .bind(users.iter().map(|u| DbTime(u.created_at)).collect::<Vec<_>>())
        .execute(&self.pool)
        .await?;
        super::scores::refresh_statistics(&self.pool).await
    }
});
