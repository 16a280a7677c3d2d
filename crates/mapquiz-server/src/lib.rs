//! MapQuiz Server: the backend of the MapQuiz web client, as a library so that the tests can start it.
//!
//! A map of the crate. `pub` modules are what the binary and the black-box tests reach; the rest is
//! `pub(crate)`.

// Start-up and the process: building the app, its state and configuration, the command line.
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod state;
pub mod telemetry;

// Features, one folder each: their routes, handlers and WebSocket messages.
pub(crate) mod auth;
pub(crate) mod bug_reports;
pub mod friends;
pub(crate) mod leaderboards;
pub(crate) mod lobbies;
pub(crate) mod scores;
pub mod users;

// Edges: HTTP (middleware, errors, API documentation) and the WebSocket gateway with its wire contract.
pub(crate) mod docs;
pub(crate) mod error;
pub(crate) mod http;
pub(crate) mod openapi;
pub mod ws;

// Live services: this node's sockets and presence, the socket lifecycle, the bus between nodes, and the names
// of everything they keep in Redis.
pub mod bus;
pub(crate) mod live;
pub mod redis_keys;

// Plumbing: audit trail, health, metrics, maintenance and backups.
pub(crate) mod audit;
pub(crate) mod health;
pub mod ops;

// Switching from the original server.
pub mod import;
