//! The audit trail.

use crate::StoreError;
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use serde::{Deserialize, Serialize};

/// One line of the audit trail. `details` never holds secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub occurred_at: Timestamp,
    /// What happened, e.g. `sign_in`, `sign_in_failed`, `password_changed`.
    pub action: String,
    pub user_id: Option<String>,
    pub target_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub details: Option<serde_json::Value>,
}

/// The audit trail.
#[async_trait]
pub trait Audit: Send + Sync {
    /// Appends one line to the audit trail.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The newest `limit` audit lines, optionally only those naming `user_id`, newest first.
    async fn audit_trail(&self, user_id: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// The newest `limit` audit lines that occurred at or after `since`, optionally only those naming
    /// `user_id`, newest first.
    async fn audit_since(
        &self,
        user_id: Option<&str>,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Deletes audit lines that occurred before `before` (retention); returns how many.
    async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// Implements [`Audit`] for `$store`, whose rows are `$row`: both engines run the same statements, `details`
/// being JSON in TEXT on SQLite and JSONB on PostgreSQL through `sqlx::types::Json` (a macro, not generic
/// code: see `pools.rs`).
macro_rules! impl_audit {
    ($store:ty, $row:ty) => {
        const _: () = {
            use $crate::db_time::{DbTime, time};
            use $crate::pools::Pools as _;
            use $crate::{Audit, AuditEntry, StoreError};
            use ::async_trait::async_trait;
            use ::mapquiz_domain::Timestamp;
            use ::sqlx::Row as _;
            use ::sqlx::types::Json;

            // The columns `entry_at` reads, in its order.
            macro_rules! audit_columns {
                () => {
                    "id, occurred_at, action, user_id, target_id, ip_address, user_agent, details"
                };
            }

            fn entry_at(row: &$row) -> Result<AuditEntry, sqlx::Error> {
                let details: Option<Json<serde_json::Value>> = row.try_get(7)?;
                Ok(AuditEntry {
                    id: row.try_get(0)?,
                    occurred_at: time(row, 1)?,
                    action: row.try_get(2)?,
                    user_id: row.try_get(3)?,
                    target_id: row.try_get(4)?,
                    ip_address: row.try_get(5)?,
                    user_agent: row.try_get(6)?,
                    details: details.map(|Json(value)| value),
                })
            }

            #[async_trait]
            impl Audit for $store {
                async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
                    sqlx::query(concat!("INSERT INTO audit_log (", audit_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                        .bind(&entry.id)
                        .bind(DbTime(entry.occurred_at))
                        .bind(&entry.action)
                        .bind(&entry.user_id)
                        .bind(&entry.target_id)
                        .bind(&entry.ip_address)
                        .bind(&entry.user_agent)
                        .bind(entry.details.as_ref().map(Json))
                        .execute(self.writes())
                        .await?;
                    Ok(())
                }

                async fn audit_trail(&self, user_id: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
                    let query = match user_id {
                        Some(user_id) => sqlx::query(concat!(
                            "SELECT ",
                            audit_columns!(),
                            " FROM audit_log WHERE user_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2"
                        ))
                        .bind(user_id),
                        None => sqlx::query(concat!(
                            "SELECT ",
                            audit_columns!(),
                            " FROM audit_log ORDER BY occurred_at DESC, id DESC LIMIT $1"
                        )),
                    };
                    Ok(query.bind(i64::from(limit)).try_map(|row: $row| entry_at(&row)).fetch_all(self.reads()).await?)
                }

                async fn audit_since(
                    &self,
                    user_id: Option<&str>,
                    since: Timestamp,
                    limit: u32,
                ) -> Result<Vec<AuditEntry>, StoreError> {
                    // Two statements rather than `$1 IS NULL OR …`, so each uses its index: (user_id, occurred_at) or occurred_at.
                    let query = match user_id {
                        Some(user_id) => sqlx::query(concat!(
                            "SELECT ",
                            audit_columns!(),
                            " FROM audit_log WHERE user_id = $1 AND occurred_at >= $2 ORDER BY occurred_at DESC, id DESC LIMIT $3"
                        ))
                        .bind(user_id),
                        None => sqlx::query(concat!(
                            "SELECT ",
                            audit_columns!(),
                            " FROM audit_log WHERE occurred_at >= $1 ORDER BY occurred_at DESC, id DESC LIMIT $2"
                        )),
                    };
                    Ok(query
                        .bind(DbTime(since))
                        .bind(i64::from(limit))
                        .try_map(|row: $row| entry_at(&row))
                        .fetch_all(self.reads())
                        .await?)
                }

                async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
                    let done = sqlx::query("DELETE FROM audit_log WHERE occurred_at < $1")
                        .bind(DbTime(before))
                        .execute(self.writes())
                        .await?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
pub(crate) use impl_audit;
