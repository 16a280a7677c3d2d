//! MapQuiz Server: the backend of the MapQuiz web client, as a library so that the tests can start it.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod health;
pub mod http;
pub mod leaderboards;
pub mod openapi;
pub mod ops;
pub mod scores;
pub mod state;
pub mod telemetry;
pub mod users;
