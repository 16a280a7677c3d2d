//! A lobby's timers (protocol §3.10) as deadlines in its state: disconnect grace per member, empty-lobby
//! deletion, idle cleanup. The actor sleeps until [`Lobby::next_deadline`] and applies
//! [`super::Command::TimerFired`] for each of [`Lobby::due_timers`].

use super::membership::after;
use super::{AuditEntry, Member};
use super::{Change, Effect, GameStatus, Lobby, TransferReason};
use crate::{Timestamp, UserId};

/// A deadline of a lobby.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Timer {
    /// This member's disconnect grace ended (§3.8).
    Grace(UserId),
    /// The lobby stayed empty for the deletion delay.
    EmptyLobby,
    /// No member was connected for the idle time.
    Idle,
}

impl Lobby {
    /// The earliest pending deadline; `None` when nothing is scheduled (or the lobby is deleted).
    pub fn next_deadline(&self) -> Option<Timestamp> {
        if self.deleted {
            return None;
        }
        let graces = self.members.iter().filter_map(|m| m.grace_until);
        graces.chain(self.empty_deadline).chain(self.idle_deadline).min()
    }

    /// The timers whose deadline is at or before `now`, members' graces first in join order.
    pub fn due_timers(&self, now: Timestamp) -> Vec<Timer> {
        if self.deleted {
            return Vec::new();
        }
        let due = |t: Option<Timestamp>| t.is_some_and(|t| t <= now);
        let mut timers: Vec<Timer> =
            self.members.iter().filter(|m| due(m.grace_until)).map(|m| Timer::Grace(m.id().clone())).collect();
        if due(self.empty_deadline) {
            timers.push(Timer::EmptyLobby);
        }
        if due(self.idle_deadline) {
            timers.push(Timer::Idle);
        }
        timers
    }

    /// Runs a timer if it is still due; a cancelled or moved one does nothing.
    pub(super) fn timer_fired(&mut self, timer: Timer, now: Timestamp) -> Vec<Effect> {
        let due = |t: Option<Timestamp>| t.is_some_and(|t| t <= now);
        match timer {
            Timer::Grace(user) if due(self.member(&user).and_then(|m| m.grace_until)) => self.grace_expired(&user, now),
            Timer::EmptyLobby if due(self.empty_deadline) && self.members.is_empty() => self.delete(),
            Timer::Idle if due(self.idle_deadline) && !self.members.iter().any(|m| m.connected) => self.delete(),
            Timer::Grace(_) | Timer::EmptyLobby | Timer::Idle => Vec::new(),
        }
    }

    /// Grace expiry (§3.8): removed as by a leave while waiting; away (no longer blocking the end) while
    /// playing or finished, with the host role moving on.
    fn grace_expired(&mut self, user: &UserId, now: Timestamp) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.status == GameStatus::Waiting {
            self.remove_member(user, now, None, &mut out);
            return out;
        }
        if let Some(member) = self.member_mut(user) {
            member.grace_until = None;
            member.away = true;
        }
        if self.host == *user
            && let Some(to) = self.transfer_host(user, &mut out)
        {
            self.push_update(&mut out);
            let reason = TransferReason::GraceExpired;
            out.push(Effect::Audit(AuditEntry::HostTransferred { from: user.clone(), to, reason }));
        }
        self.end_if_over(&mut out);
        out
    }

    fn delete(&mut self) -> Vec<Effect> {
        self.deleted = true;
        self.empty_deadline = None;
        self.idle_deadline = None;
        for member in &mut self.members {
            member.grace_until = None;
        }
        vec![Effect::Persist(Change::DeleteLobby), Effect::Dispose]
    }

    /// Keeps the lobby-wide deadlines in line with the members after every command: an empty lobby is
    /// deleted after the empty delay; one whose members are all disconnected, after the idle time. A
    /// deadline already running is kept, so repeated commands do not postpone it.
    pub(super) fn schedule_lobby_timers(&mut self, now: Timestamp) {
        if self.deleted {
            return;
        }
        if self.members.is_empty() {
            self.idle_deadline = None;
            self.empty_deadline.get_or_insert(after(now, self.config.empty_lobby_ttl));
        } else {
            self.empty_deadline = None;
            if self.members.iter().any(|m: &Member| m.connected) {
                self.idle_deadline = None;
            } else {
                self.idle_deadline.get_or_insert(after(now, self.config.idle_ttl));
            }
        }
    }
}
