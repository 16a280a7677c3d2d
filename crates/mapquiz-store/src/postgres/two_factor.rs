//! Authenticator-app settings: the same statements on both engines (`crate::two_factor`).

crate::two_factor::impl_two_factor!(super::PgStore, sqlx::postgres::PgRow);
