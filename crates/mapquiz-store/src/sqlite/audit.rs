//! The audit trail: the same statements on both engines (`crate::audit`).

crate::audit::impl_audit!(super::SqliteStore, sqlx::sqlite::SqliteRow);
