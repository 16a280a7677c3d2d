//! The cast a row of the matrix runs against: a host with a lobby, a member of it, a stranger, a user whose
//! session was revoked, and the users their resources point at (a pending friend request to the host, a
//! friend of the host's only, a second session of the host's).

use crate::support::auth::sign_in_again;
use crate::support::ws::Ws;
use crate::support::{TestApp, TestUser};
use serde_json::{Value, json};

/// Who makes a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// No credential at all.
    Anonymous,
    /// The cookie of a session that was signed out.
    Revoked,
    /// Signed in, and related to nothing of the host's.
    Stranger,
    /// Signed in, a friend of the host's and a member of the host's lobby.
    Member,
    /// Signed in, the lobby's host, the addressee of the pending request, owner of the spare session.
    Host,
}

/// Every role, in the order a row's cells run: the owner last, so that whatever the others did is seen by
/// the owner's own attempt (which succeeds only if nothing was taken before it).
pub const ROLES: [Role; 5] = [Role::Anonymous, Role::Revoked, Role::Stranger, Role::Member, Role::Host];

/// The users and resources of one row.
pub struct World {
    pub host: TestUser,
    pub member: TestUser,
    pub stranger: TestUser,
    pub revoked: TestUser,
    /// Sent the pending friend request to the host.
    pub sender: TestUser,
    /// A friend of the host's, not of the member's.
    pub friend: TestUser,
    /// Whom the roles send their own friend requests to.
    pub target: TestUser,
    /// A second session of the host's.
    pub host_spare: TestUser,
    pub lobby: String,
    /// The pending request from `sender` to `host`.
    pub request_id: String,
    /// The host's and the member's sockets, open for the row so both stay connected members.
    _sockets: Vec<Ws>,
}

impl World {
    /// Signs the cast up on `app` and sets their relations up.
    pub async fn new(app: &TestApp) -> World {
        let mut users = Vec::new();
        for name in ["Host", "Member", "Stranger", "Revoked", "Sender", "Friend", "Target"] {
            users.push(app.sign_up(name).await);
        }
        let [host, member, stranger, revoked, sender, friend, target]: [TestUser; 7] = users.try_into().unwrap();
        let res = app.post_as(&revoked, "/api/auth/sign-out", &json!({})).await;
        assert_eq!(res.status(), 200, "the revoked user's sign-out");
        app.befriend(&host, &member).await;
        app.befriend(&host, &friend).await;

        let mut host_ws = Ws::signed_in(app.address, &host).await;
        let lobby = host_ws.create_lobby(&["Océanie"]).await;
        let reply = host_ws.invite(&lobby, &member).await;
        assert_eq!(reply["type"], "invite_to_lobby_success", "{reply}");
        // The member's invitation is delivered when its socket registers, before the join's reply.
        let mut member_ws = Ws::connect(app.address, Some(&member.cookie)).await;
        member_ws.send(json!({"type": "join_lobby", "payload": {"lobbyId": lobby}})).await;
        loop {
            let frame = member_ws.recv().await;
            match frame["type"].as_str() {
                Some("lobby_invitation" | "friend_status_change") => continue,
                _ => assert_eq!(frame["type"], "join_lobby_success", "{frame}"),
            }
            break;
        }

        let (status, body) = app.add_friend(&sender, &host.tag).await;
        assert_eq!(status, 200, "{body}");
        let request_id = app.friend_request_id(&host, &sender).await;
        let host_spare = sign_in_again(app, &host).await;
        World {
            host,
            member,
            stranger,
            revoked,
            sender,
            friend,
            target,
            host_spare,
            lobby,
            request_id,
            _sockets: vec![host_ws, member_ws],
        }
    }

    /// The user behind `role` (`None` for the anonymous caller).
    pub fn caller(&self, role: Role) -> Option<&TestUser> {
        match role {
            Role::Anonymous => None,
            Role::Revoked => Some(&self.revoked),
            Role::Stranger => Some(&self.stranger),
            Role::Member => Some(&self.member),
            Role::Host => Some(&self.host),
        }
    }

    /// Every address of the cast (the spare session is the host's).
    pub fn emails(&self) -> Vec<&str> {
        [&self.host, &self.member, &self.stranger, &self.revoked, &self.sender, &self.friend, &self.target]
            .iter()
            .map(|u| u.email.as_str())
            .collect()
    }

    /// The lobby as the host sees it, through a socket of its own (so no push of the row is mistaken for it).
    pub async fn lobby_state(&self, app: &TestApp) -> Value {
        let mut ws = Ws::signed_in(app.address, &self.host).await;
        let reply = ws.lobby("get_lobby_state", json!({"lobbyId": self.lobby})).await;
        assert_eq!(reply["type"], "get_lobby_state_success", "{reply}");
        ws.close().await;
        reply["data"]["lobbyState"].clone()
    }
}
