//! Identifiers: opaque strings on the wire, new ones are UUIDv7 (time-ordered).
//!
//! Each kind of id is its own type, so a lobby id cannot be passed where a user id is expected. Parsing only
//! bounds the length: an id that is well-formed but unknown, or malformed, is "not found" for the caller
//! (protocol §0.3), never a validation error.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// Longest identifier the server accepts from a client; anything longer cannot exist (protocol §0.3).
pub const MAX_ID_LEN: usize = 64;

/// A new lower-case, hyphenated UUIDv7 string.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// Whether `s` can be an identifier: non-empty and at most [`MAX_ID_LEN`] characters.
fn plausible(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= MAX_ID_LEN
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh UUIDv7 id, for the server to mint.
            #[allow(clippy::new_without_default, reason = "a fresh random id is not a default value")]
            pub fn new() -> Self {
                Self(new_id())
            }

            /// The id a client or the store sent, if it can be one (non-empty, at most `MAX_ID_LEN` characters).
            pub fn parse(s: &str) -> Option<Self> {
                plausible(s).then(|| Self(s.to_owned()))
            }

            /// The id as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The owned string, for storage.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;

            fn try_from(s: String) -> Result<Self, InvalidId> {
                if plausible(&s) { Ok(Self(s)) } else { Err(InvalidId) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Deserialising checks the same bounds as `parse`, so a payload cannot smuggle a 1 MB "id" past it.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type! {
    /// A user's id (`user.id`): 32 alphanumerics for imported users, UUIDv7 for new ones.
    UserId
}
id_type! {
    /// A multiplayer lobby's id (`lobbyId`).
    LobbyId
}
id_type! {
    /// A stored lobby invitation's id.
    InvitationId
}

/// The string cannot be an identifier: empty or longer than [`MAX_ID_LEN`] characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("identifiant invalide")]
pub struct InvalidId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_lowercase_hyphenated_v7_and_ordered() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a, a.to_lowercase());
        assert_eq!(&a[14..15], "7", "version nibble");
        assert!(a < b, "v7 ids sort by creation time");
    }

    #[test]
    fn parse_bounds_length_only() {
        assert_eq!(LobbyId::parse("non-existent-lobby-id").unwrap().as_str(), "non-existent-lobby-id");
        assert_eq!(UserId::parse(""), None);
        assert!(UserId::parse(&"a".repeat(MAX_ID_LEN)).is_some());
        assert_eq!(UserId::parse(&"a".repeat(MAX_ID_LEN + 1)), None);
        // Characters, not bytes: 64 two-byte letters are still a plausible (if unknown) id.
        assert!(UserId::parse(&"é".repeat(MAX_ID_LEN)).is_some());
        let minted = LobbyId::new();
        assert_eq!(LobbyId::parse(minted.as_str()), Some(minted.clone()));
        assert_eq!(minted.to_string(), minted.as_str());
    }

    #[test]
    fn serde_is_a_plain_string_and_checks_bounds() {
        let id = UserId::parse("abc").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"abc\"");
        assert_eq!(serde_json::from_str::<UserId>("\"abc\"").unwrap(), id);
        assert!(serde_json::from_str::<UserId>("\"\"").is_err());
        assert!(serde_json::from_str::<UserId>(&format!("\"{}\"", "x".repeat(65))).is_err());
        assert_eq!(InvitationId::try_from(String::new()), Err(InvalidId));
    }
}
