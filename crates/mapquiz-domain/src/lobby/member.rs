//! A lobby's members: who they are (public fields only), their status in the game, and their connection.

use super::settings::FALLBACK_PLAYER_NAME;
use crate::{CountryCode, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// The public fields of a user (`PublicUser`, protocol §0.6): never an email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicProfile {
    id: UserId,
    name: String,
    image: Option<String>,
    tag: String,
}

impl PublicProfile {
    /// A profile as the store holds it; an empty name is shown as `Joueur` (the client takes its first letter).
    pub fn new(id: UserId, name: &str, image: Option<String>, tag: String) -> Self {
        let name = if name.trim().is_empty() { FALLBACK_PLAYER_NAME.to_owned() } else { name.to_owned() };
        Self { id, name, image, tag }
    }

    /// The user's id.
    pub fn id(&self) -> &UserId {
        &self.id
    }

    /// The shown name, never empty.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The profile image URL, if any.
    pub fn image(&self) -> Option<&str> {
        self.image.as_deref()
    }

    /// The friend tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

/// A member's status (protocol §3.5). Connection is reported apart, in `connected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlayerStatus {
    /// In the lobby, not ready ("En attente").
    Joined,
    /// Ready in a waiting lobby ("Prêt !").
    Ready,
    /// In a running game ("En jeu").
    Playing,
    /// Answered every required code; sticky until the next start or restart.
    Finished,
}

impl PlayerStatus {
    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PlayerStatus::Joined => "joined",
            PlayerStatus::Ready => "ready",
            PlayerStatus::Playing => "playing",
            PlayerStatus::Finished => "finished",
        }
    }

    /// The status with this stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [PlayerStatus::Joined, PlayerStatus::Ready, PlayerStatus::Playing, PlayerStatus::Finished]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// One member of a lobby. The lobby hands out only shared references, so reading the fields is safe and
/// every change goes through `Lobby::apply`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub profile: PublicProfile,
    pub status: PlayerStatus,
    /// Required codes answered right, in arrival order.
    pub validated: Vec<CountryCode>,
    /// Required codes answered wrong or skipped, in arrival order.
    pub incorrect: Vec<CountryCode>,
    /// Whole seconds from the game's start to this member's last answer, once finished.
    pub completion_secs: Option<u32>,
    /// Has at least one authenticated socket (as the server last told us).
    pub connected: bool,
    /// Disconnected past the grace period in a playing or finished lobby: no longer blocks the end (§3.1).
    pub away: bool,
    /// When the disconnect grace ends, while it runs.
    pub grace_until: Option<Timestamp>,
    /// Orders members: `players` and the host transfer follow join time.
    pub joined_at: Timestamp,
    /// This game's result will carry the fair-play `flagged` mark.
    pub flagged: bool,
    /// When the last update that validated a new country arrived (the fair-play floor's clock).
    pub last_validated_at: Option<Timestamp>,
    /// Out-of-set codes already reported for this game, so a cumulative list does not report them again.
    pub reported_codes: Vec<String>,
}

impl Member {
    /// A new member, connected (they are joining from a socket), with nothing answered.
    pub fn new(profile: PublicProfile, now: Timestamp) -> Self {
        Self {
            profile,
            status: PlayerStatus::Joined,
            validated: Vec::new(),
            incorrect: Vec::new(),
            completion_secs: None,
            connected: true,
            away: false,
            grace_until: None,
            joined_at: now,
            flagged: false,
            last_validated_at: None,
            reported_codes: Vec::new(),
        }
    }

    /// The member's user id.
    pub fn id(&self) -> &UserId {
        self.profile.id()
    }

    /// Distinct required codes answered right (the server-derived score, §3.4).
    pub fn score(&self) -> u32 {
        u32::try_from(self.validated.len()).unwrap_or(u32::MAX)
    }

    /// `floor(100 × answered / total)`, within 0..=100; 0 when there is no game.
    pub fn progress(&self, total: usize) -> u8 {
        if total == 0 {
            return 0;
        }
        let answered = (self.validated.len() + self.incorrect.len()).min(total);
        u8::try_from(100 * answered / total).unwrap_or(100)
    }

    /// Clears everything a game accumulates and sets `status`.
    pub(crate) fn reset_game(&mut self, status: PlayerStatus) {
        self.status = status;
        self.validated.clear();
        self.incorrect.clear();
        self.completion_secs = None;
        self.flagged = false;
        self.last_validated_at = None;
        self.reported_codes.clear();
    }
}
