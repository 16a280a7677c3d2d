//! Sign-in sessions and the short-lived verification values, and the clean-up of expired ones: the same
//! statements on both engines (`crate::sessions`).

crate::sessions::impl_sessions!(super::PgStore, sqlx::postgres::PgRow);
