//! Every client message type the gateway routes besides `ping` and `authenticate`: the features' tables,
//! joined. A feature's messages are declared in its own module; a new feature adds its table here once.

use crate::state::AppState;
use crate::ws::protocol::incoming::MessageSpec;

/// The features' message tables, in the protocol's order.
static FEATURES: &[&[MessageSpec<AppState>]] =
    &[crate::friends::messages::MESSAGES, crate::lobbies::messages::MESSAGES];

/// Every message type with a handler.
pub fn all() -> impl Iterator<Item = &'static MessageSpec<AppState>> {
    FEATURES.iter().flat_map(|feature| feature.iter())
}

/// The message a `type` names, if the gateway handles it.
pub fn find(kind: &str) -> Option<&'static MessageSpec<AppState>> {
    all().find(|m| m.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_type_is_routed_to_one_handler_only() {
        let mut seen = HashSet::new();
        for m in all() {
            assert!(!["ping", "authenticate"].contains(&m.kind), "{} is the gateway's own", m.kind);
            assert!(seen.insert(m.kind), "{} is declared twice", m.kind);
            assert!((m.example)().is_object(), "{}'s example payload is an object", m.kind);
            assert_eq!(find(m.kind).map(|f| f.kind), Some(m.kind));
        }
        assert!(find("send_friend_request").is_some());
        assert!(find("update_player_progress").is_some());
        assert!(find("no_such_message").is_none());
    }
}
