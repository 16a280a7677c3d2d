//! Unit and property tests of the lobby rules: one file per area of protocol §3, all through `apply`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod game;
mod membership;
mod progress;
mod properties;
mod support;
mod timers;
mod wire;
