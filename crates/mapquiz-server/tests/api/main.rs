//! Black-box tests: the real application on port 0 with its own database, driven by real HTTP clients.
//! Tests marked for both backends run on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set
//! (required under `CI`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod auth_email;
mod auth_hardening;
mod authorization;
mod binary;
mod bug_reports;
mod config;
mod cors;
mod docs;
mod faults;
mod friends;
mod gateway;
mod google;
mod health;
mod import;
mod leaderboards;
mod lobbies;
mod maintenance;
mod observability;
mod otel;
mod presence;
mod rate_limit;
mod redis_deployments;
mod roles;
mod routing;
mod score_concurrency;
mod scores;
mod secrets_in_logs;
mod session_cache;
mod sessions;
mod socket_limit;
mod support;
mod two_factor;
mod two_nodes;
mod users;
mod ws_fuzz;
