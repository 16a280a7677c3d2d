//! The numbers a lobby's rules depend on, passed in by the server's configuration (protocol §3.10).

use std::time::Duration;

/// Timers and limits of one lobby. `Default` holds the protocol's defaults; nothing else in the rules
/// hides a number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LobbyConfig {
    /// Most members of one lobby (protocol §2.7.4: 10).
    pub capacity: usize,
    /// How long a member whose last socket closed keeps their place before they are removed (waiting) or
    /// counted away (playing, finished) (§3.8: 30 s).
    pub disconnect_grace: Duration,
    /// How long an empty lobby waits for a member before it is deleted (§3.10: 180 s).
    pub empty_lobby_ttl: Duration,
    /// How long a lobby none of whose members is connected lives (§3.10: 30 min).
    pub idle_ttl: Duration,
    /// How long an undelivered invitation may still be delivered at the invitee's next connection (§3.9: 1 h).
    pub invitation_ttl: Duration,
    /// Marks on results that look faster than a human (issue 12, fair play).
    pub fair_play: FairPlayConfig,
}

impl Default for LobbyConfig {
    fn default() -> Self {
        Self {
            capacity: 10,
            disconnect_grace: Duration::from_secs(30),
            empty_lobby_ttl: Duration::from_secs(180),
            idle_ttl: Duration::from_secs(30 * 60),
            invitation_ttl: Duration::from_secs(60 * 60),
            fair_play: FairPlayConfig::default(),
        }
    }
}

/// When a result gets the `flagged` mark. Flagging never changes the game: the player still finishes and
/// is ranked; the mark and an audit entry are for a human to look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FairPlayConfig {
    /// Least average time per validated country over the game; faster is flagged (default 1.5 s).
    /// Only validated countries count: skipped and wrong answers never lower a player's average.
    pub min_time_per_country: Duration,
    /// The average is judged only from this many validated countries on (default 5), so one lucky first
    /// click is not "faster than a human".
    pub min_sample: usize,
    /// Most new codes one update may add (default 10). The web client sends one update per answer; the
    /// margin covers answers coalesced around a reconnection.
    pub max_new_codes_per_update: usize,
}

impl Default for FairPlayConfig {
    fn default() -> Self {
        Self { min_time_per_country: Duration::from_millis(1500), min_sample: 5, max_new_codes_per_update: 10 }
    }
}
