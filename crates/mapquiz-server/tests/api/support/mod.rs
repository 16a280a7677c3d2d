//! The harness the suites share: the app in-process and its users ([`app`], re-exported here), a WebSocket
//! client with the protocol's verbs ([`ws`]), the friend verbs ([`friends`]), the lobby verbs ([`lobbies`]), account and cookie helpers
//! ([`auth`]), a TCP proxy to cut a shared service ([`proxy`]), a stand-in OpenID provider
//! ([`oidc_provider`], with its keys in `fixtures/`), a PostgreSQL server of the test's own to stop
//! and start ([`postgres_instance`]), server processes to run and kill as nodes ([`node`]),
//! and throwaway Redis Cluster and Sentinel deployments ([`redis_servers`]). Every in-process app logs at every
//! level into files the secrets audit reads, with the secrets the tests handled ([`logs`]), and answers through
//! an observer that fails any response showing another user's email ([`privacy`]).

pub mod app;
pub mod auth;
pub mod friends;
pub mod lobbies;
pub mod logs;
pub mod node;
pub mod oidc_provider;
pub mod postgres_instance;
pub mod privacy;
pub mod proxy;
pub mod redis_servers;
pub mod ws;

pub use app::*;
