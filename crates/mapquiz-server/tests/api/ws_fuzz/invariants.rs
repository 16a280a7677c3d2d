//! The lobby invariants of the domain's property tests (mapquiz-domain `lobby/tests/properties.rs`), checked
//! on what a client sees: every `LobbyState` in a push or a reply, every progress push, every ranking, and
//! the order of a lobby's statuses on one socket.

use crate::ws_fuzz::shapes::exact_keys;
use mapquiz_domain::Region;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Checks a `LobbyState` (already of the protocol's shape) of a lobby of `capacity` members.
pub fn lobby_state(state: &Value, capacity: usize) -> Result<(), String> {
    let players = state["players"].as_array().ok_or("players")?;
    let ids: Vec<&str> = players.iter().filter_map(|p| p["id"].as_str()).collect();
    let distinct: BTreeSet<&str> = ids.iter().copied().collect();
    if distinct.len() != ids.len() {
        return Err(format!("a player listed twice: {ids:?}"));
    }
    if ids.len() > capacity {
        return Err(format!("{} players in a lobby of {capacity}", ids.len()));
    }
    let host = state["hostId"].as_str().unwrap_or_default();
    if !ids.is_empty() && !distinct.contains(host) {
        return Err(format!("the host {host} is not a member"));
    }
    let status = state["status"].as_str().unwrap_or_default();
    // Settings only change while waiting, so a game's required codes are those of the regions shown.
    let total = (status != "waiting").then(|| total_of(state));
    for p in players {
        let who = p["id"].as_str().unwrap_or_default();
        let player_status = p["status"].as_str().unwrap_or_default();
        let allowed: &[&str] = if status == "waiting" { &["joined", "ready"] } else { &["playing", "finished"] };
        if !allowed.contains(&player_status) {
            return Err(format!("{who} is {player_status} in a {status} lobby"));
        }
        progress(p, total).map_err(|e| format!("{who}: {e}"))?;
        if status == "waiting"
            && (p["score"] != 0 || p["progress"] != 0 || !lists(p).0.is_empty() || !lists(p).1.is_empty())
        {
            return Err(format!("{who} keeps a game's progress in a waiting lobby"));
        }
        if player_status == "finished" && p["progress"] != 100 {
            return Err(format!("{who} finished below 100 %"));
        }
    }
    Ok(())
}

/// The number of distinct codes the lobby's regions require.
pub fn total_of(state: &Value) -> u64 {
    let regions: Vec<Region> = state["settings"]["selectedRegions"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r.as_str().and_then(Region::parse)).collect())
        .unwrap_or_default();
    mapquiz_domain::region::required_codes(&regions).len() as u64
}

fn lists(p: &Value) -> (Vec<&str>, Vec<&str>) {
    let strings = |key: &str| -> Vec<&str> {
        p[key].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
    };
    (strings("validatedCountries"), strings("incorrectCountries"))
}

/// A `LobbyPlayer` or `ProgressEntry`: score = |validated|, disjoint lists without repeats, and the progress
/// derived from them when the total is known.
pub fn progress(p: &Value, total: Option<u64>) -> Result<(), String> {
    let (validated, incorrect) = lists(p);
    let all: BTreeSet<&str> = validated.iter().chain(&incorrect).copied().collect();
    if all.len() != validated.len() + incorrect.len() {
        return Err(format!("a code classified twice: {validated:?} / {incorrect:?}"));
    }
    if p["score"].as_u64() != Some(validated.len() as u64) {
        return Err(format!("score {} is not |validated| = {}", p["score"], validated.len()));
    }
    let answered = all.len() as u64;
    let shown = p["progress"].as_u64().unwrap_or(u64::MAX);
    if shown > 100 {
        return Err(format!("progress {shown}"));
    }
    if let Some(total) = total.filter(|t| *t > 0) {
        if answered > total {
            return Err(format!("{answered} answers of {total} questions"));
        }
        if shown != 100 * answered / total {
            return Err(format!("progress {shown} is not floor(100 × {answered} / {total})"));
        }
    }
    Ok(())
}

/// `get_game_results`: ranks are 1 + the number of strictly higher scores, entries in rank order.
pub fn rankings(data: &Value) -> Result<(), String> {
    let list = data["rankings"].as_array().ok_or("rankings")?;
    let scores: Vec<u64> = list.iter().filter_map(|r| r["score"].as_u64()).collect();
    let mut last_rank = 0;
    for r in list {
        exact_keys(r, &["id", "name", "score", "rank", "completionTime"], &[])?;
        let score = r["score"].as_u64().unwrap_or_default();
        let want = 1 + scores.iter().filter(|s| **s > score).count() as u64;
        let rank = r["rank"].as_u64().unwrap_or_default();
        if rank != want {
            return Err(format!("rank {rank} for score {score} in {scores:?}"));
        }
        if rank < last_rank {
            return Err("rankings are in rank order".into());
        }
        last_rank = rank;
    }
    Ok(())
}

/// The statuses one socket saw each lobby in, through `lobby_update`s: waiting → playing → finished → waiting,
/// with playing → waiting for a restart or an emptied lobby, and nothing else.
#[derive(Default)]
pub struct Transitions {
    last: HashMap<(u64, String), String>,
}

impl Transitions {
    /// Records `socket` seeing `lobby` in `status`; an illegal step is an error.
    pub fn saw(&mut self, socket: u64, lobby: &str, status: &str) -> Result<(), String> {
        let key = (socket, lobby.to_owned());
        if let Some(before) = self.last.get(&key) {
            let legal = before == status
                || matches!(
                    (before.as_str(), status),
                    ("waiting", "playing") | ("playing", "finished") | ("playing", "waiting") | ("finished", "waiting")
                );
            if !legal {
                return Err(format!("lobby {lobby} went from {before} to {status} on socket {socket}"));
            }
        }
        self.last.insert(key, status.to_owned());
        Ok(())
    }

    /// The last status `socket` saw `lobby` in.
    pub fn last(&self, socket: u64, lobby: &str) -> Option<&str> {
        self.last.get(&(socket, lobby.to_owned())).map(String::as_str)
    }
}

/// Within one game, as one socket sees it, a player's lists only grow (the earlier list is a prefix of the
/// later one) and a finished player stays finished.
#[derive(Default)]
pub struct Progression {
    /// (socket, lobby, player) → what was seen last.
    last: HashMap<(u64, String, String), Seen>,
}

/// A player's validated and incorrect lists and last known status.
type Seen = (Vec<String>, Vec<String>, Option<String>);

impl Progression {
    /// A game starts or the lobby is back to waiting on `socket`: what came before no longer counts.
    pub fn new_game(&mut self, socket: u64, lobby: &str) {
        self.last.retain(|(s, l, _), _| !(*s == socket && l == lobby));
    }

    /// Records a `LobbyPlayer` or `ProgressEntry` (`status` when the entry carries one).
    pub fn saw(&mut self, socket: u64, lobby: &str, entry: &Value, status: Option<&str>) -> Result<(), String> {
        let id = entry["id"].as_str().unwrap_or_default().to_owned();
        let (validated, incorrect) = lists(entry);
        let (validated, incorrect): (Vec<String>, Vec<String>) =
            (validated.into_iter().map(str::to_owned).collect(), incorrect.into_iter().map(str::to_owned).collect());
        let key = (socket, lobby.to_owned(), id.clone());
        let mut status = status.map(str::to_owned);
        if let Some((old_validated, old_incorrect, old_status)) = self.last.get(&key) {
            if !validated.starts_with(old_validated) || !incorrect.starts_with(old_incorrect) {
                return Err(format!(
                    "{id}'s lists shrank or changed in lobby {lobby} on socket {socket}: {old_validated:?}/{old_incorrect:?} then {validated:?}/{incorrect:?}"
                ));
            }
            if old_status.as_deref() == Some("finished") && status.as_deref().is_some_and(|s| s != "finished") {
                return Err(format!("{id} finished, then was {status:?} in the same game of {lobby}"));
            }
            if status.is_none() {
                status = old_status.clone();
            }
        }
        self.last.insert(key, (validated, incorrect, status));
        Ok(())
    }
}
