//! A lobby's name and settings as the client sends them, parsed once at the edge (protocol §2.7.3, §2.7.7).

use super::LobbyError;
use crate::{Region, scores::GameMode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest lobby name, in characters after trimming.
pub const MAX_NAME_CHARS: usize = 100;

/// The shown name of a user whose stored name is empty (protocol §0.6).
pub const FALLBACK_PLAYER_NAME: &str = "Joueur";

/// A lobby's name: trimmed, at most [`MAX_NAME_CHARS`] characters, never empty, stored verbatim (no HTML
/// interpretation: the client renders it as text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LobbyName(String);

impl LobbyName {
    /// The `name` of `create_lobby`: absent, `null` or blank gives `Lobby de <host name>`.
    ///
    /// `null` is read as absent: the field is optional and a client that writes `null` for "no name" means
    /// exactly that.
    pub fn parse(raw: Option<&Value>, host_name: &str) -> Result<Self, LobbyError> {
        let trimmed = match raw {
            None | Some(Value::Null) => "",
            Some(Value::String(s)) => s.trim(),
            Some(_) => return Err(LobbyError::InvalidName),
        };
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(LobbyError::InvalidName);
        }
        if trimmed.is_empty() { Ok(Self(format!("Lobby de {host_name}"))) } else { Ok(Self(trimmed.to_owned())) }
    }

    /// A stored name, trusted as the store holds it.
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    /// The name as shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `LobbySettings` of protocol §0.6: the selected regions (distinct, in the order first sent) and the mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LobbySettings {
    #[serde(rename = "selectedRegions")]
    pub regions: Vec<Region>,
    #[serde(rename = "gameMode")]
    pub mode: GameMode,
}

impl LobbySettings {
    /// The `settings` of `create_lobby`: an object whose `selectedRegions` is a non-empty array of known
    /// regions; `gameMode` defaults to `quiz`; other keys (`maxPlayers`, …) are dropped.
    pub fn parse(raw: Option<&Value>) -> Result<Self, LobbyError> {
        let update = SettingsUpdate::parse(raw)?;
        if update.regions.is_empty() {
            return Err(LobbyError::InvalidSettings);
        }
        Ok(Self { regions: update.regions, mode: update.mode.unwrap_or(GameMode::Quiz) })
    }
}

/// The `settings` of `update_lobby_settings`: the regions may be empty (the host is mid-edit, §7 quirk 10) and
/// a missing `gameMode` keeps the current one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsUpdate {
    pub regions: Vec<Region>,
    pub mode: Option<GameMode>,
}

impl SettingsUpdate {
    /// Parses the object; duplicate regions are dropped, keeping the first occurrence's order.
    pub fn parse(raw: Option<&Value>) -> Result<Self, LobbyError> {
        let obj = raw.and_then(Value::as_object).ok_or(LobbyError::InvalidSettings)?;
        let items = obj.get("selectedRegions").and_then(Value::as_array).ok_or(LobbyError::InvalidSettings)?;
        let mut regions = Vec::with_capacity(items.len().min(Region::ALL.len()));
        for item in items {
            let region = item.as_str().and_then(Region::parse).ok_or(LobbyError::InvalidSettings)?;
            if !regions.contains(&region) {
                regions.push(region);
            }
        }
        let mode = match obj.get("gameMode") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_str().and_then(GameMode::parse).ok_or(LobbyError::InvalidSettings)?),
        };
        Ok(Self { regions, mode })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_trimmed_bounded_and_default_to_the_host() {
        let p = |v: Value| LobbyName::parse(Some(&v), "Alice");
        assert_eq!(p(json!("  Soirée  ")).unwrap().as_str(), "Soirée");
        assert_eq!(p(json!("")).unwrap().as_str(), "Lobby de Alice");
        assert_eq!(p(json!("   ")).unwrap().as_str(), "Lobby de Alice");
        assert_eq!(LobbyName::parse(None, "Alice").unwrap().as_str(), "Lobby de Alice");
        assert_eq!(p(Value::Null).unwrap().as_str(), "Lobby de Alice");
        assert_eq!(p(json!("<script>alert('test')</script>")).unwrap().as_str(), "<script>alert('test')</script>");
        assert_eq!(p(json!("é".repeat(100))).unwrap().as_str().chars().count(), 100);
        assert_eq!(p(json!(format!(" {} ", "é".repeat(101)))), Err(LobbyError::InvalidName));
        assert_eq!(p(json!(7)), Err(LobbyError::InvalidName));
    }

    #[test]
    fn create_settings_need_known_regions_and_a_valid_mode() {
        let p = |v: Value| LobbySettings::parse(Some(&v));
        let s = p(json!({"selectedRegions": ["Asie", "Europe", "Asie"], "maxPlayers": 4})).unwrap();
        assert_eq!(s.regions, vec![Region::Asie, Region::Europe]);
        assert_eq!(s.mode, GameMode::Quiz);
        assert_eq!(p(json!({"selectedRegions": ["Europe"], "gameMode": "training"})).unwrap().mode, GameMode::Training);
        assert_eq!(p(json!({"selectedRegions": []})), Err(LobbyError::InvalidSettings));
        assert_eq!(p(json!({"selectedRegions": ["Australie"]})), Err(LobbyError::InvalidSettings));
        assert_eq!(
            p(json!({"selectedRegions": ["Europe"], "gameMode": "invalid-mode"})),
            Err(LobbyError::InvalidSettings)
        );
        assert_eq!(p(json!({"selectedRegions": "Europe"})), Err(LobbyError::InvalidSettings));
        assert_eq!(p(json!(["Europe"])), Err(LobbyError::InvalidSettings));
        assert_eq!(LobbySettings::parse(None), Err(LobbyError::InvalidSettings));
        assert!(LobbyError::InvalidSettings.to_string().contains("invalide"));
    }

    #[test]
    fn updates_may_be_empty_and_keep_the_mode() {
        let u = SettingsUpdate::parse(Some(&json!({"selectedRegions": []}))).unwrap();
        assert_eq!(u, SettingsUpdate { regions: vec![], mode: None });
        assert_eq!(SettingsUpdate::parse(Some(&json!({"gameMode": "quiz"}))), Err(LobbyError::InvalidSettings));
    }

    #[test]
    fn settings_serialise_with_both_keys() {
        let s = LobbySettings { regions: vec![Region::AmeriqueDuSud, Region::Oceanie], mode: GameMode::Quiz };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"selectedRegions":["Amérique du Sud","Océanie"],"gameMode":"quiz"}"#
        );
    }
}
