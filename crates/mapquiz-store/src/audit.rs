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
