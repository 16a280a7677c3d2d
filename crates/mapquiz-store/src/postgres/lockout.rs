//! The failure counters behind sign-in lockouts: the same statements on both engines (`crate::lockout`).

crate::lockout::impl_lockout!(super::PgStore);
