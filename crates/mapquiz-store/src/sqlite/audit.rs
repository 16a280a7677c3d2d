//! The audit trail. `details` is JSON in TEXT.

use super::time;
use crate::{AuditEntry, StoreError};
use mapquiz_domain::Timestamp;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

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

pub(super) async fn append_audit(writer: &SqlitePool, entry: &AuditEntry) -> Result<(), StoreError> {
    let details = entry
        .details
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Other(sqlx::Error::Encode(e.into())))?;
    sqlx::query(concat!("INSERT INTO audit_log (", audit_columns!(), ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(&entry.id)
        .bind(entry.occurred_at.millis())
        .bind(&entry.action)
        .bind(&entry.user_id)
        .bind(&entry.target_id)
        .bind(&entry.ip_address)
        .bind(&entry.user_agent)
        .bind(details)
        .execute(writer)
        .await?;
    Ok(())
}

pub(super) async fn audit_trail(
    reader: &SqlitePool,
    user_id: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let query = match user_id {
        Some(user_id) => sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_log WHERE user_id = ? ORDER BY occurred_at DESC, id DESC LIMIT ?"
        ))
        .bind(user_id),
        None => sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_log ORDER BY occurred_at DESC, id DESC LIMIT ?"
        )),
    };
    Ok(query.bind(i64::from(limit)).try_map(|row: SqliteRow| entry_at(&row)).fetch_all(reader).await?)
}

pub(super) async fn audit_since(
    reader: &SqlitePool,
    user_id: Option<&str>,
    since: Timestamp,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    // Two statements rather than `? IS NULL OR …`, so each uses its index: (user_id, occurred_at) or occurred_at.
    let query = match user_id {
        Some(user_id) => sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_log WHERE user_id = ? AND occurred_at >= ? ORDER BY occurred_at DESC, id DESC LIMIT ?"
        ))
        .bind(user_id),
        None => sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_log WHERE occurred_at >= ? ORDER BY occurred_at DESC, id DESC LIMIT ?"
        )),
    };
    Ok(query
        .bind(since.millis())
        .bind(i64::from(limit))
        .try_map(|row: SqliteRow| entry_at(&row))
        .fetch_all(reader)
        .await?)
}
