//! MapQuiz Server: the backend of the MapQuiz web client, as a library so that the tests can start it.

pub mod app;
pub mod audit;
pub mod auth;
pub mod bug_reports;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod docs;
pub mod error;
pub mod friends;
pub mod health;
pub mod http;
pub mod leaderboards;
pub mod live;
pub mod lobbies;
pub mod openapi;
pub mod ops;
pub mod scores;
pub mod state;
pub mod telemetry;
pub mod users;
pub mod ws;
