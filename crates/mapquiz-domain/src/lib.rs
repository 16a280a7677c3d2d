//! MapQuiz's pure domain: the rules and values every other crate builds on.
//!
//! Nothing here performs I/O, reads a clock or draws randomness: callers pass those in, so every rule is
//! testable on its own.

pub mod account;
pub mod bug_reports;
pub mod id;
pub mod lobby;
pub mod region;
pub mod scores;
pub mod time;

pub use account::{DisplayName, Email, ImageUrl, Password, PasswordError, Tag};
pub use id::{InvitationId, LobbyId, MAX_ID_LEN, UserId, new_id};
pub use region::{CountryCode, Region};
pub use time::Timestamp;
