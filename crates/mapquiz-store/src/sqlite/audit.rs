//! The audit trail. `details` is JSON in TEXT.

use super::SqliteStore;
use crate::db_time::{DbTime, time};
use crate::{Audit, AuditEntry, StoreError};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// The columns [`entry_at`] reads, in its order.
macro_rules! audit_columns {
    () => {
        "id, occurred_at, action, user_id, target_id, ip_address, user_agent, details"
    };
}

fn entry_at(row: &SqliteRow) -> Result<AuditEntry, sqlx::Error> {
    let details: Option<String> = row.try_get(7)?;
    Ok(AuditEntry {
        id: row.try_get(0)?,
        occurred_at: time(row, 1)?,
        action: row.try_get(2)?,
        user_id: row.try_get(3)?,
        target_id: row.try_get(4)?,
        ip_address: row.try_get(5)?,
        user_agent: row.try_get(6)?,
        details: details
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| sqlx::Error::ColumnDecode { index: "details".into(), source: e.into() })?,
    })
}

#[async_trait]
impl Audit for SqliteStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let details = entry
            .details
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Other(sqlx::Error::Encode(e.into())))?;
        sqlx::query(concat!("INSERT INTO audit_log (", audit_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&entry.id)
            .bind(DbTime(entry.occurred_at))
            .bind(&entry.action)
            .bind(&entry.user_id)
            .bind(&entry.target_id)
            .bind(&entry.ip_address)
            .bind(&entry.user_agent)
            .bind(details)
            .execute(&self.writer)
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
        Ok(query.bind(i64::from(limit)).try_map(|row: SqliteRow| entry_at(&row)).fetch_all(&self.reader).await?)
    }

    async fn audit_since(
        &self,
        user_id: Option<&str>,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        // Two statements rather than `? IS NULL OR …`, so each uses its index: (user_id, occurred_at) or occurred_at.
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
            .try_map(|row: SqliteRow| entry_at(&row))
            .fetch_all(&self.reader)
            .await?)
    }

    async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM audit_log WHERE occurred_at < $1")
            .bind(DbTime(before))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
