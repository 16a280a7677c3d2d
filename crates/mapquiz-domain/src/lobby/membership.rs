//! Who is in a lobby (protocol §2.7.4–§2.7.6, §2.7.15, §3.7–§3.9): joining, leaving, invitations, kicks,
//! connections and the host role.

use super::reply::{ALREADY_MEMBER_MESSAGE, INVITED_MESSAGE, LEFT_MESSAGE};
use super::{
    Audience, AuditEntry, Change, Effect, Event, GameStatus, InvitationRow, InviteRequest, Lobby, LobbyError,
    LobbyInvitation, Member, MemberRow, PendingInvitation, PlayerLeftGame, PublicProfile, Reply, TransferReason,
    UNKNOWN_PLAYER_NAME,
};
use crate::{Timestamp, UserId};

impl Lobby {
    /// `join_lobby`: idempotent for a member (progress kept, connection refreshed); a newcomer must be
    /// invited, the lobby waiting and not full.
    pub(super) fn join(&mut self, player: PublicProfile, now: Timestamp) -> Result<Vec<Effect>, LobbyError> {
        let user = player.id().clone();
        let mut out = Vec::new();
        if let Some(member) = self.member_mut(&user) {
            member.profile = player;
            member.connected = true;
            member.away = false;
            member.grace_until = None;
        } else {
            if self.host != user && !self.authorized.contains(&user) {
                return Err(LobbyError::NotInvited);
            }
            if self.status != GameStatus::Waiting {
                return Err(LobbyError::AlreadyStarted);
            }
            if self.members.len() >= self.config.capacity {
                return Err(LobbyError::Full);
            }
            let was_empty = self.members.is_empty();
            self.members.push(Member::new(player, now));
            self.invitations.retain(|i| i.row.invitee != user);
            out.push(Effect::Persist(Change::AddMember(MemberRow {
                user: user.clone(),
                status: super::PlayerStatus::Joined,
                joined_at: now,
            })));
            if was_empty && self.host != user {
                self.host = user;
                out.push(Effect::Persist(Change::TransferHost { host: self.host.clone() }));
            }
        }
        out.push(Effect::Reply(Reply::Success));
        self.push_update(&mut out);
        Ok(out)
    }

    /// `leave_lobby`: a non-member's leave is a benign repeat (§2.9).
    pub(super) fn leave(&mut self, user: &UserId, now: Timestamp) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.is_member(user) {
            self.remove_member(user, now, Some(Reply::SuccessMessage(LEFT_MESSAGE)), &mut out);
        } else {
            out.push(Effect::Reply(Reply::SuccessMessage(LEFT_MESSAGE)));
        }
        out
    }

    /// Removes a member as `leave_lobby` does (§2.7.5), also for a grace expiry in a waiting lobby (no reply).
    /// The user stays invited.
    pub(super) fn remove_member(&mut self, user: &UserId, now: Timestamp, reply: Option<Reply>, out: &mut Vec<Effect>) {
        let Some(index) = self.members.iter().position(|m| m.id() == user) else { return };
        let member = self.members.remove(index);
        out.push(Effect::Persist(Change::RemoveMember { user: user.clone() }));
        let transfer = if self.host == *user { self.transfer_host(user, out) } else { None };
        if self.members.is_empty() {
            self.status = GameStatus::Waiting;
            self.game = None;
            self.rankings.clear();
            out.push(Effect::Persist(Change::ResetEmpty));
        }
        if let Some(reply) = reply {
            out.push(Effect::Reply(reply));
        }
        let left = PlayerLeftGame {
            lobby_id: self.id.clone(),
            player_id: user.clone(),
            player_name: member.profile.name().to_owned(),
            timestamp: now.millis(),
        };
        self.push_members(out, Event::PlayerLeftGame(left));
        self.push_update(out);
        if let Some(to) = transfer {
            out.push(Effect::Audit(AuditEntry::HostTransferred {
                from: user.clone(),
                to,
                reason: TransferReason::Left,
            }));
        }
        // A departure never auto-starts a game (§2.7.5) but may end one.
        self.end_if_over(out);
    }

    /// Moves the host role away from `from` (§3.7): to the earliest-joined connected member, else the
    /// earliest-joined member, never back to `from`. Returns the new host, after persisting the change.
    pub(super) fn transfer_host(&mut self, from: &UserId, out: &mut Vec<Effect>) -> Option<UserId> {
        let candidates = || self.members.iter().filter(|m| m.id() != from);
        let to = candidates().find(|m| m.connected).or_else(|| candidates().next())?.id().clone();
        self.host = to.clone();
        out.push(Effect::Persist(Change::TransferHost { host: to.clone() }));
        Some(to)
    }

    /// `invite_to_lobby` (§2.7.6): any member may invite their friends while the lobby waits.
    pub(super) fn invite(&mut self, req: InviteRequest, now: Timestamp) -> Result<Vec<Effect>, LobbyError> {
        let inviter_name = self.member(&req.by).ok_or(LobbyError::NotAllowedToInvite)?.profile.name().to_owned();
        if !req.is_friend {
            return Err(LobbyError::NotAFriend);
        }
        if self.status != GameStatus::Waiting {
            return Err(LobbyError::AlreadyStarted);
        }
        if self.is_member(&req.friend) {
            return Ok(vec![Effect::Reply(Reply::SuccessMessage(ALREADY_MEMBER_MESSAGE))]);
        }
        if !self.authorized.contains(&req.friend) {
            self.authorized.push(req.friend.clone());
        }
        let row = InvitationRow {
            id: req.invitation,
            inviter: req.by.clone(),
            invitee: req.friend.clone(),
            created_at: now,
            delivered: req.friend_online,
        };
        self.invitations.retain(|i| i.row.invitee != req.friend);
        if !req.friend_online {
            self.invitations.push(PendingInvitation { row: row.clone(), inviter_name: inviter_name.clone() });
        }
        let mut out = vec![Effect::Persist(Change::Invite(row)), Effect::Reply(Reply::SuccessMessage(INVITED_MESSAGE))];
        if req.friend_online {
            let push = self.invitation_push(&req.by, inviter_name);
            out.push(Effect::Push(Audience::User(req.friend), Event::LobbyInvitation(push)));
        }
        Ok(out)
    }

    fn invitation_push(&self, inviter: &UserId, inviter_name: String) -> LobbyInvitation {
        let host_name = self.member(&self.host).map_or(UNKNOWN_PLAYER_NAME, |h| h.profile.name());
        LobbyInvitation {
            lobby_id: self.id.clone(),
            host_id: self.host.clone(),
            host_name: host_name.to_owned(),
            lobby_name: self.name.clone(),
            inviter_id: inviter.clone(),
            inviter_name,
        }
    }

    /// `remove_player` (§2.7.15): in any status; the player loses their invitation too, so they cannot
    /// re-join unless invited again.
    pub(super) fn kick(&mut self, by: &UserId, player: &UserId) -> Result<Vec<Effect>, LobbyError> {
        if !self.is_host(by) {
            return Err(LobbyError::KickOnlyHost);
        }
        if by == player {
            return Err(LobbyError::KickSelf);
        }
        self.authorized.retain(|u| u != player);
        self.invitations.retain(|i| i.row.invitee != *player);
        let index = self.members.iter().position(|m| m.id() == player);
        if let Some(index) = index {
            self.members.remove(index);
        }
        let was_member = index.is_some();
        let mut out = vec![
            Effect::Persist(Change::Kick { user: player.clone(), was_member }),
            Effect::Reply(Reply::PlayerRemoved { lobby_id: self.id.clone(), player_id: player.clone() }),
        ];
        if was_member {
            self.push_update(&mut out);
            out.push(Effect::Push(Audience::User(player.clone()), Event::PlayerRemoved { lobby_id: self.id.clone() }));
            out.push(Effect::Audit(AuditEntry::Kicked { by: by.clone(), player: player.clone() }));
            self.end_if_over(&mut out);
        }
        Ok(out)
    }

    /// A socket of `user` authenticated: a member is connected again (an away member is active again and
    /// must finish); a non-member with an invitation pending gets it once, if it is still valid (§3.9).
    pub(super) fn connected(&mut self, user: &UserId, now: Timestamp) -> Vec<Effect> {
        let mut out = Vec::new();
        if let Some(member) = self.member_mut(user) {
            let changed = !member.connected;
            member.connected = true;
            member.away = false;
            member.grace_until = None;
            if changed {
                self.push_update(&mut out);
            }
            return out;
        }
        let Some(index) = self.invitations.iter().position(|i| i.row.invitee == *user) else { return out };
        let age = now.millis() - self.invitations[index].row.created_at.millis();
        let fresh = age < millis(self.config.invitation_ttl);
        if fresh && self.status != GameStatus::Waiting {
            return out; // kept: the lobby may wait again (restart) while the invitation is valid
        }
        let invitation = self.invitations.remove(index);
        out.push(Effect::Persist(Change::InvitationEnded { invitation: invitation.row.id.clone() }));
        if fresh && self.authorized.contains(user) {
            let push = self.invitation_push(&invitation.row.inviter, invitation.inviter_name);
            out.push(Effect::Push(Audience::User(user.clone()), Event::LobbyInvitation(push)));
        }
        out
    }

    /// The last socket of `user` closed: the member shows disconnected and their grace starts (§3.8).
    pub(super) fn dropped(&mut self, user: &UserId, now: Timestamp) -> Vec<Effect> {
        let grace = self.config.disconnect_grace;
        let mut out = Vec::new();
        if let Some(member) = self.member_mut(user)
            && member.connected
        {
            member.connected = false;
            member.grace_until = Some(after(now, grace));
            self.push_update(&mut out);
        }
        out
    }
}

/// A duration in whole milliseconds, saturating.
pub(super) fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `t` moved forward by `d`, saturating at the far future.
pub(super) fn after(t: Timestamp, d: std::time::Duration) -> Timestamp {
    Timestamp::from_millis(t.millis().saturating_add(millis(d))).unwrap_or(t)
}
