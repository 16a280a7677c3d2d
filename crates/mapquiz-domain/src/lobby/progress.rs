//! Progress rules (protocol §3.4): the client's cumulative lists merged into server-held sets, with the score,
//! progress and end derived from the region table, never from the client; and the fair-play marks.

use super::{FairPlayConfig, FlagReason, LobbyError, Member, PlayerStatus};
use crate::Region;
use crate::{CountryCode, Timestamp, region::required_codes};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// Most entries in one list of an update.
pub const MAX_CODES_PER_LIST: usize = 500;
/// Length of one entry, in characters.
pub const CODE_CHARS: std::ops::RangeInclusive<usize> = 1..=8;
/// Out-of-set codes remembered per player and game, so the audit log cannot be flooded by one client.
const MAX_REPORTED_CODES: usize = 32;

/// The two lists of an `update_player_progress`, checked for shape only (their meaning is the merge's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawLists")]
pub struct ProgressLists {
    validated: Vec<String>,
    incorrect: Vec<String>,
}

impl ProgressLists {
    /// `validatedCountries` and `incorrectCountries` of a payload; a missing (or `null`) list counts as `[]`.
    pub fn parse(validated: Option<&Value>, incorrect: Option<&Value>) -> Result<Self, LobbyError> {
        Self::new(list(validated)?, list(incorrect)?)
    }

    /// Checks already-decoded lists: at most 500 entries of 1–8 characters each.
    pub fn new(validated: Vec<String>, incorrect: Vec<String>) -> Result<Self, LobbyError> {
        let ok =
            |l: &[String]| l.len() <= MAX_CODES_PER_LIST && l.iter().all(|c| CODE_CHARS.contains(&c.chars().count()));
        if ok(&validated) && ok(&incorrect) {
            Ok(Self { validated, incorrect })
        } else {
            Err(LobbyError::InvalidProgress)
        }
    }
}

/// [`ProgressLists`] as decoded, before [`ProgressLists::new`] checks it.
#[derive(Deserialize)]
struct RawLists {
    validated: Vec<String>,
    incorrect: Vec<String>,
}

impl TryFrom<RawLists> for ProgressLists {
    type Error = LobbyError;

    fn try_from(raw: RawLists) -> Result<Self, LobbyError> {
        ProgressLists::new(raw.validated, raw.incorrect)
    }
}

fn list(raw: Option<&Value>) -> Result<Vec<String>, LobbyError> {
    match raw {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= MAX_CODES_PER_LIST => {
            items.iter().map(|v| v.as_str().map(str::to_owned).ok_or(LobbyError::InvalidProgress)).collect()
        }
        Some(_) => Err(LobbyError::InvalidProgress),
    }
}

/// The facts of a running (or finished) game, fixed at its start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Game {
    pub start_time: Timestamp,
    /// The distinct codes of the selected regions, sorted for lookup.
    required: Vec<CountryCode>,
}

impl Game {
    /// A game of `regions` starting at `start_time`.
    pub fn new(start_time: Timestamp, regions: &[Region]) -> Self {
        let mut required = required_codes(regions);
        required.sort_unstable();
        required.dedup();
        Self { start_time, required }
    }

    /// A stored game: codes outside the region table are dropped.
    pub fn restored(start_time: Timestamp, codes: &[String]) -> Self {
        let mut required: Vec<CountryCode> = codes.iter().filter_map(|c| table_code(c)).collect();
        required.sort_unstable();
        required.dedup();
        Self { start_time, required }
    }

    /// The required codes, sorted.
    pub fn required(&self) -> &[CountryCode] {
        &self.required
    }

    /// |required|: the game's `totalQuestions`.
    pub fn total(&self) -> usize {
        self.required.len()
    }

    /// The table's own string for `code` if the game requires it.
    pub fn required_code(&self, code: &str) -> Option<CountryCode> {
        self.required.binary_search(&code).ok().map(|i| self.required[i])
    }

    /// Whole seconds from the start to `now`, rounded down (0 if the clock went back).
    pub fn seconds_since_start(&self, now: Timestamp) -> u32 {
        let ms = (now.millis() - self.start_time.millis()).max(0);
        u32::try_from(ms / 1000).unwrap_or(u32::MAX)
    }
}

/// The region table's `&'static str` for a code, if the table has it.
pub fn table_code(code: &str) -> Option<CountryCode> {
    let codes = Region::of_code(code)?.codes();
    codes.binary_search(&code).ok().map(|i| codes[i])
}

/// What one merge did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// New codes classified by this update.
    pub added: usize,
    /// Out-of-set codes not reported before for this player and game.
    pub newly_ignored: Vec<String>,
    /// This update set the burst mark.
    pub burst: Option<FlagReason>,
    /// This update finished the player.
    pub finished: bool,
}

/// Merges `lists` into a playing member (§3.4): out-of-set codes ignored, first classification kept, a code
/// new in both lists counts as incorrect, nothing ever removed; finishing is sticky.
pub fn merge(member: &mut Member, lists: &ProgressLists, game: &Game, now: Timestamp, fair: &FairPlayConfig) -> Merged {
    let mut seen: HashSet<CountryCode> = member.validated.iter().chain(&member.incorrect).copied().collect();
    let claimed_wrong: HashSet<&str> = lists.incorrect.iter().map(String::as_str).collect();
    let mut merged = Merged::default();
    let mut ignored = Vec::new();
    let mut validated_any = false;
    for (code, is_validated_list) in
        lists.validated.iter().map(|c| (c, true)).chain(lists.incorrect.iter().map(|c| (c, false)))
    {
        let Some(code) = game.required_code(code) else {
            ignored.push(code);
            continue;
        };
        if is_validated_list && claimed_wrong.contains(code) {
            continue; // classified as incorrect when the second list reaches it
        }
        if seen.insert(code) {
            merged.added += 1;
            if is_validated_list {
                member.validated.push(code);
                validated_any = true;
            } else {
                member.incorrect.push(code);
            }
        }
    }
    if validated_any {
        member.last_validated_at = Some(now);
    }
    for code in ignored {
        if member.reported_codes.len() < MAX_REPORTED_CODES && !member.reported_codes.iter().any(|c| c == code) {
            member.reported_codes.push(code.clone());
            merged.newly_ignored.push(code.clone());
        }
    }
    if merged.added > fair.max_new_codes_per_update && !member.flagged {
        member.flagged = true;
        merged.burst = Some(FlagReason::Burst { new_codes: u32::try_from(merged.added).unwrap_or(u32::MAX) });
    }
    if member.validated.len() + member.incorrect.len() >= game.total() {
        member.status = PlayerStatus::Finished;
        member.completion_secs = Some(game.seconds_since_start(now));
        merged.finished = true;
    }
    merged
}

/// The fair-play floor (issue 12), judged at the end of the game over validated countries only: the time
/// from the start to the update that validated the last of them, divided by their number. A member restored
/// after a server restart has no such instant; their completion time (rounded up, to favour the player)
/// stands in, and without one they are not judged.
pub fn too_fast(member: &Member, game: &Game, fair: &FairPlayConfig) -> Option<FlagReason> {
    let validated = member.validated.len();
    if validated == 0 || validated < fair.min_sample {
        return None;
    }
    let elapsed_ms = match (member.last_validated_at, member.completion_secs) {
        (Some(at), _) => (at.millis() - game.start_time.millis()).max(0),
        (None, Some(secs)) => (i64::from(secs) + 1) * 1000,
        (None, None) => return None,
    };
    let elapsed_ms = u64::try_from(elapsed_ms).unwrap_or(0);
    let count = u64::try_from(validated).unwrap_or(u64::MAX);
    let floor_ms = u64::try_from(fair.min_time_per_country.as_millis()).unwrap_or(u64::MAX);
    (elapsed_ms < floor_ms.saturating_mul(count)).then(|| FlagReason::TooFast {
        avg_ms_per_country: elapsed_ms / count,
        validated: u32::try_from(validated).unwrap_or(u32::MAX),
    })
}
