//! The protocol bot: [`USERS`] users, friends in a ring and across it, each with a socket (sometimes two,
//! sometimes none), play for a bounded time in lobbies they create, join, leave and get kicked from. Each
//! step picks a user and an action: a valid message for what the bot believes the user's situation is, an
//! invalid one (unknown type, unknown lobby, missing or mistyped fields, broken envelopes, an anonymous
//! socket), a disconnect (clean or abrupt) and a later reconnect (explicit or implicit authentication), or a
//! pause that lets the grace and deletion timers fire. All along:
//! - every frame on every socket is one of the protocol's shapes ([`shapes`]); each reply is its message's
//!   `<type>_success` or one of that type's documented errors, exactly the protocol's answer where the bot
//!   can know it (unknown lobby, missing `lobbyId`, envelope errors, anonymous socket);
//! - every lobby state keeps the domain's invariants ([`invariants`]) and reaches only its members, statuses
//!   move only along waiting → playing → finished → waiting on each socket, `game_end` follows the
//!   `finished` update, rankings rank by score;
//! - the server never closes a socket (the test app's rate limits are far above the bot's pace, so no
//!   socket breaks a limit), never panics, and at the end every socket answers a valid request.
//!
//! A seed replays the bot's choices; the server's timers and concurrency may still interleave differently.

use super::invariants::{self, Progression, Transitions};
use super::shapes::{self, Frame, UNSUPPORTED};
use super::{
    Read, Rng, WAIT, env_number, fuzz_app, fuzz_settings, read, ready_frames, seed, send_text, server_panics,
    watch_panics,
};
use crate::support::on_both_backends;
use crate::support::ws::Ws;
use crate::support::{TestApp, TestUser, json as body_of, test_redis_url};
use mapquiz_domain::Region;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Players in the run.
const USERS: usize = 7;
/// A small lobby capacity, so that "Le lobby est complet" happens.
const CAPACITY: usize = 4;
/// The disconnect grace of the bot's app: short, so that expiries happen between steps.
const GRACE_MS: u64 = 200;
/// Lobbies the bot keeps creating until this many are known.
const MAX_LOBBIES: usize = 8;
/// The region sets lobbies are created with (7 and 20 codes: games end within a run).
const REGION_SETS: [&[&str]; 2] = [&["Océanie"], &["Océanie", "Amérique du Sud"]];

/// Counts for the report.
#[derive(Default, Debug)]
struct Stats {
    steps: u64,
    valid: u64,
    invalid: u64,
    disconnects: u64,
    reconnects: u64,
    anonymous: u64,
    bursts: u64,
    lobbies: u64,
    pushes: BTreeMap<String, u64>,
    games_started: BTreeSet<(String, String)>,
    games_ended: u64,
    replies: BTreeMap<String, u64>,
}

struct Sock {
    id: u64,
    ws: Ws,
    /// Whether a message other than `ping` went out: until then the socket is not registered and no push
    /// may reach it (§2.2).
    registered: bool,
}

struct Player {
    user: TestUser,
    socks: Vec<Sock>,
    /// Lobbies this user was invited to.
    invited: BTreeSet<String>,
    /// The cumulative lists this user sent per lobby game (lobby, start time).
    lists: BTreeMap<(String, String), (Vec<String>, Vec<String>)>,
}

/// A valid message the bot chose: its type and payload, the lobby and the other user it names.
struct Chosen {
    kind: &'static str,
    payload: Value,
    lobby: String,
    other: usize,
}

/// What the reply to a message must be.
enum Expect {
    /// `<kind>_success` or one of the kind's documented errors.
    Documented(&'static str),
    /// Exactly this frame.
    Exact(Value),
}

struct Bot {
    app: TestApp,
    rng: Rng,
    players: Vec<Player>,
    /// The latest state seen of every lobby created, in creation order.
    lobbies: Vec<(String, Value)>,
    /// The start time of each lobby's current game.
    games: BTreeMap<String, String>,
    transitions: Transitions,
    /// The last `lobby_update` each socket got of each lobby: a socket's frames are in order, the bot's
    /// overall view need not be.
    seen: BTreeMap<(u64, String), Value>,
    /// Each player's lists and status in the current game, as each socket saw them.
    progression: Progression,
    next_socket: u64,
    stats: Stats,
    /// The last actions, for the failure report.
    trace: VecDeque<String>,
}

impl Bot {
    async fn new(app: TestApp, seed: u64) -> Bot {
        let mut users = Vec::new();
        for i in 0..USERS {
            users.push(app.sign_up(&format!("Joueur {i}")).await);
        }
        // Friends in a ring and across it: everyone has friends, and some pairs are strangers.
        for i in 0..USERS {
            app.befriend(&users[i], &users[(i + 1) % USERS]).await;
            if i % 2 == 0 {
                app.befriend(&users[i], &users[(i + 3) % USERS]).await;
            }
        }
        let players = users
            .into_iter()
            .map(|user| Player { user, socks: Vec::new(), invited: BTreeSet::new(), lists: BTreeMap::new() })
            .collect();
        let mut bot = Bot {
            app,
            rng: Rng::new(seed),
            players,
            lobbies: Vec::new(),
            games: BTreeMap::new(),
            transitions: Transitions::default(),
            seen: BTreeMap::new(),
            progression: Progression::default(),
            next_socket: 0,
            stats: Stats::default(),
            trace: VecDeque::new(),
        };
        for u in 0..USERS {
            bot.connect(u, true).await.expect("every user connects");
        }
        bot
    }

    fn note(&mut self, what: String) {
        if self.trace.len() == 40 {
            self.trace.pop_front();
        }
        self.trace.push_back(what);
    }

    /// Opens a socket for `u`, authenticating explicitly or leaving it to the next message.
    async fn connect(&mut self, u: usize, explicit: bool) -> Result<(), String> {
        let ws = Ws::connect(self.app.address, Some(&self.players[u].user.cookie)).await;
        self.next_socket += 1;
        let id = self.next_socket;
        self.players[u].socks.push(Sock { id, ws, registered: false });
        self.note(format!("user {u} opens socket {id} (explicit: {explicit})"));
        if explicit {
            let s = self.players[u].socks.len() - 1;
            let want = json!({"type": "authenticated", "data": {"userId": self.players[u].user.id}});
            self.exchange(
                u,
                s,
                &json!({"type": "authenticate", "payload": {"userId": "ignored"}}).to_string(),
                &Expect::Exact(want),
            )
            .await?;
        }
        Ok(())
    }

    /// Checks a push `u`'s socket `socket` received, and learns from it.
    fn observe(&mut self, u: usize, socket: u64, frame: Frame) -> Result<(), String> {
        let Frame::Push { kind, body } = frame else { return Err(format!("a reply nobody asked for: {frame:?}")) };
        *self.stats.pushes.entry(kind.clone()).or_default() += 1;
        let me = self.players[u].user.id.clone();
        let lobby = body["lobbyId"].as_str().unwrap_or_default().to_owned();
        let listed =
            |body: &Value| body["players"].as_array().is_some_and(|p| p.iter().any(|p| p["id"] == me.as_str()));
        match kind.as_str() {
            "lobby_update" => {
                invariants::lobby_state(&body, CAPACITY)?;
                if !listed(&body) {
                    return Err(format!("user {u} is not a member of the lobby it hears of: {body}"));
                }
                let status = body["status"].as_str().unwrap_or_default();
                self.transitions.saw(socket, &lobby, status)?;
                if status == "waiting" {
                    self.progression.new_game(socket, &lobby);
                }
                for p in body["players"].as_array().into_iter().flatten() {
                    self.progression.saw(socket, &lobby, p, p["status"].as_str())?;
                }
                self.seen.insert((socket, lobby.clone()), body.clone());
                self.remember(&lobby, body);
            }
            "game_start" => {
                let start = body["startTime"].as_str().unwrap_or_default().to_owned();
                self.progression.new_game(socket, &lobby);
                self.stats.games_started.insert((lobby.clone(), start.clone()));
                self.games.insert(lobby, start);
            }
            "game_end" => {
                if let Some(last) = self.transitions.last(socket, &lobby)
                    && last != "finished"
                {
                    return Err(format!("game_end of {lobby} on socket {socket} after a {last} update"));
                }
                self.stats.games_ended += 1;
            }
            "update_player_progress" => {
                if !listed(&body) {
                    return Err(format!("user {u} hears the progress of a lobby it is not in: {body}"));
                }
                let total = self
                    .seen
                    .get(&(socket, lobby.clone()))
                    .filter(|s| s["status"] != "waiting")
                    .map(invariants::total_of);
                for entry in body["players"].as_array().into_iter().flatten() {
                    invariants::progress(entry, total)?;
                    self.progression.saw(socket, &lobby, entry, None)?;
                }
            }
            "player_removed" => {
                if let Some((_, state)) = self.lobbies.iter_mut().find(|(id, _)| *id == lobby)
                    && let Some(players) = state["players"].as_array_mut()
                {
                    players.retain(|p| p["id"] != me.as_str());
                }
            }
            "lobby_invitation" => {
                self.players[u].invited.insert(lobby);
            }
            _ => {}
        }
        Ok(())
    }

    fn remember(&mut self, lobby: &str, state: Value) {
        match self.lobbies.iter_mut().find(|(id, _)| id == lobby) {
            Some(entry) => entry.1 = state,
            None => self.lobbies.push((lobby.to_owned(), state)),
        }
    }

    fn state(&self, lobby: &str) -> Option<&Value> {
        self.lobbies.iter().find(|(id, _)| id == lobby).map(|(_, s)| s)
    }

    /// Sends `text` on `u`'s socket `s` and checks its reply (pushes before it are observed).
    async fn exchange(&mut self, u: usize, s: usize, text: &str, expect: &Expect) -> Result<Frame, String> {
        self.send_on(u, s, text).await?;
        self.await_reply(u, s, expect).await
    }

    async fn send_on(&mut self, u: usize, s: usize, text: &str) -> Result<(), String> {
        let socket = self.players[u].socks[s].id;
        if !text.contains(r#""type":"ping""#) {
            self.players[u].socks[s].registered = true;
        }
        if send_text(&mut self.players[u].socks[s].ws, text).await {
            Ok(())
        } else {
            Err(format!("socket {socket} is gone"))
        }
    }

    /// The next reply on `u`'s socket `s`, checked against `expect` (pushes before it are observed).
    async fn await_reply(&mut self, u: usize, s: usize, expect: &Expect) -> Result<Frame, String> {
        let socket = self.players[u].socks[s].id;
        loop {
            let frame = match read(&mut self.players[u].socks[s].ws, WAIT).await {
                Read::Frame(v) => shapes::classify(&v)?,
                Read::Closed(code) => return Err(format!("the server closed socket {socket} with {code:?}")),
                Read::Silent => return Err(format!("no reply on socket {socket} within {WAIT:?}")),
            };
            if !frame.is_reply() {
                self.observe(u, socket, frame)?;
                continue;
            }
            let label = match (&frame, expect) {
                (Frame::Success { kind, data }, Expect::Documented(k)) if kind == k => {
                    self.learn(u, kind, data)?;
                    format!("{kind}_success")
                }
                (Frame::Error { message }, Expect::Documented(k))
                    if shapes::errors_of(k).contains(&message.as_str()) =>
                {
                    format!("{k}: {message}")
                }
                (_, Expect::Exact(want)) if reframe(&frame) == *want => match &frame {
                    Frame::Error { message } => format!("error: {message}"),
                    _ => want["type"].as_str().unwrap_or_default().to_owned(),
                },
                (_, Expect::Documented(k)) => return Err(format!("{k} answered {frame:?}")),
                (_, Expect::Exact(want)) => return Err(format!("answered {frame:?}, the protocol says {want}")),
            };
            *self.stats.replies.entry(label).or_default() += 1;
            return Ok(frame);
        }
    }

    /// What a success teaches the bot, and the invariants its data carries.
    fn learn(&mut self, u: usize, kind: &str, data: &Value) -> Result<(), String> {
        match kind {
            "create_lobby" => {
                self.stats.lobbies += 1;
                let lobby = data["lobbyId"].as_str().unwrap_or_default().to_owned();
                if data["hostId"] != self.players[u].user.id.as_str() {
                    return Err(format!("the creator is not the host: {data}"));
                }
                let state = json!({
                    "lobbyId": lobby, "status": "waiting", "hostId": data["hostId"], "settings": data["settings"],
                    "players": [{"id": data["hostId"]}],
                });
                self.remember(&lobby, state);
            }
            "get_lobby_state" | "get_game_state" => {
                let key = if kind == "get_lobby_state" { "lobbyState" } else { "gameState" };
                let state = &data[key];
                if !state.is_null() {
                    invariants::lobby_state(state, CAPACITY)?;
                    if kind == "get_game_state"
                        && !state["totalQuestions"].is_null()
                        && state["totalQuestions"] != invariants::total_of(state)
                    {
                        return Err(format!("totalQuestions is not the regions' distinct codes: {state}"));
                    }
                }
            }
            "get_game_results" => invariants::rankings(data)?,
            _ => {}
        }
        Ok(())
    }

    /// Reads what every socket already holds; a socket the server closed is a failure.
    fn drain(&mut self) -> Result<(), String> {
        for u in 0..USERS {
            for s in 0..self.players[u].socks.len() {
                let socket = self.players[u].socks[s].id;
                let frames = ready_frames(&mut self.players[u].socks[s].ws)
                    .map_err(|code| format!("the server closed socket {socket} of user {u} with {code:?}"))?;
                if !frames.is_empty() && !self.players[u].socks[s].registered {
                    return Err(format!("socket {socket} got {frames:?} before it authenticated"));
                }
                for v in frames {
                    let frame = shapes::classify(&v)?;
                    self.observe(u, socket, frame)?;
                }
            }
        }
        Ok(())
    }

    /// Lobbies `u` is a member of, as far as the bot has seen.
    fn member_lobbies(&self, u: usize) -> Vec<String> {
        let me = self.players[u].user.id.as_str();
        self.lobbies
            .iter()
            .filter(|(_, s)| s["players"].as_array().is_some_and(|p| p.iter().any(|p| p["id"] == me)))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A lobby for `u` to act on: mostly one of its own, else any the bot knows, else a made-up id.
    fn some_lobby(&mut self, u: usize) -> String {
        let own = self.member_lobbies(u);
        if !own.is_empty() && self.rng.chance(80) {
            return self.rng.pick(&own).clone();
        }
        let invited: Vec<String> = self.players[u].invited.iter().cloned().collect();
        if !invited.is_empty() && self.rng.chance(60) {
            return self.rng.pick(&invited).clone();
        }
        if self.lobbies.is_empty() {
            return uuid::Uuid::now_v7().to_string();
        }
        let recent = self.lobbies.len().saturating_sub(MAX_LOBBIES);
        self.lobbies[recent + self.rng.below(self.lobbies.len() - recent)].0.clone()
    }

    fn other_user(&mut self, u: usize) -> usize {
        (u + 1 + self.rng.below(USERS - 1)) % USERS
    }

    /// One step of the run.
    async fn step(&mut self) -> Result<(), String> {
        self.stats.steps += 1;
        let u = self.rng.below(USERS);
        if self.players[u].socks.is_empty() {
            // A disconnected user comes back now and then, so that some stay away past the grace.
            if self.rng.chance(15) {
                self.stats.reconnects += 1;
                let explicit = self.rng.chance(50);
                self.connect(u, explicit).await?;
            }
            return Ok(());
        }
        let s = self.rng.below(self.players[u].socks.len());
        let roll = self.rng.below(100);
        match roll {
            0..=59 => self.valid_message(u, s).await,
            60..=81 => self.invalid_message(u, s).await,
            82..=86 => {
                self.stats.disconnects += 1;
                let sock = self.players[u].socks.remove(s);
                self.note(format!("user {u} drops socket {}", sock.id));
                if self.rng.chance(50) {
                    sock.ws.close().await;
                } else {
                    drop(sock);
                }
                Ok(())
            }
            87..=88 if self.players[u].socks.len() < 2 => {
                self.stats.reconnects += 1;
                let explicit = self.rng.chance(50);
                self.connect(u, explicit).await
            }
            89..=90 => self.anonymous().await,
            93..=96 => self.burst().await,
            91..=92 => {
                // A pause: grace expiries, host transfers and deletions happen meanwhile.
                let ms = 50 + self.rng.below(300) as u64;
                self.note(format!("pause {ms} ms"));
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(())
            }
            _ => {
                self.stats.valid += 1;
                self.exchange(u, s, r#"{"type":"ping"}"#, &Expect::Exact(json!({"type": "pong"}))).await.map(|_| ())
            }
        }
    }

    /// A well-formed message suited to what the bot believes `u`'s situation is.
    async fn valid_message(&mut self, u: usize, s: usize) -> Result<(), String> {
        if self.rng.chance(5) {
            return self.respond_to_a_request(u, s).await;
        }
        if self.rng.chance(1) {
            return self.remove_a_friend(u).await;
        }
        let chosen = self.choose(u);
        self.note(format!("user {u} sends {} {}", chosen.kind, chosen.payload));
        let text = json!({"type": chosen.kind, "payload": chosen.payload}).to_string();
        let reply = self.exchange(u, s, &text, &Expect::Documented(chosen.kind)).await?;
        self.adjust(u, &chosen, &reply);
        Ok(())
    }

    /// Several users' messages sent at once (each on one of the user's sockets), then every reply read:
    /// the server handles them concurrently, as it does for real clients.
    async fn burst(&mut self) -> Result<(), String> {
        let mut senders: Vec<usize> = (0..USERS).filter(|u| !self.players[*u].socks.is_empty()).collect();
        let mut chosen = Vec::new();
        while chosen.len() < 4 && !senders.is_empty() {
            let u = senders.swap_remove(self.rng.below(senders.len()));
            let s = self.rng.below(self.players[u].socks.len());
            // Pipelined: one socket may carry two messages, answered in order.
            for _ in 0..1 + usize::from(self.rng.chance(30)) {
                chosen.push((u, s, self.choose(u)));
            }
        }
        self.stats.bursts += 1;
        self.note(format!(
            "a burst of {} messages from {:?}",
            chosen.len(),
            chosen.iter().map(|(u, _, c)| (*u, c.kind)).collect::<Vec<_>>()
        ));
        for (u, s, c) in &chosen {
            self.send_on(*u, *s, &json!({"type": c.kind, "payload": c.payload}).to_string()).await?;
        }
        for (u, s, c) in &chosen {
            let reply = self.await_reply(*u, *s, &Expect::Documented(c.kind)).await?;
            self.adjust(*u, c, &reply);
        }
        Ok(())
    }

    /// A well-formed message for `u`.
    fn choose(&mut self, u: usize) -> Chosen {
        self.stats.valid += 1;
        let lobby = self.some_lobby(u);
        // Mostly a neighbour in the ring of friends, so that invitations succeed and lobbies fill up.
        let other =
            if self.rng.chance(60) { (u + 1 + (USERS - 2) * self.rng.below(2)) % USERS } else { self.other_user(u) };
        let other_id = self.players[other].user.id.clone();
        let state = self.state(&lobby);
        let status = state.and_then(|st| st["status"].as_str()).unwrap_or("waiting").to_owned();
        let members = state.and_then(|st| st["players"].as_array()).map_or(0, Vec::len);
        // A lone host who is ready starts a game alone: in a thin waiting lobby, invite first, now and then.
        let invite_first =
            status == "waiting" && members < CAPACITY && self.rng.chance(if members < 3 { 60 } else { 30 });
        let (kind, payload): (&'static str, Value) = match self.rng.below(100) {
            0..=7 if self.lobbies.len() < MAX_LOBBIES || self.rng.chance(10) => {
                let regions = *self.rng.pick(&REGION_SETS);
                let mut payload = json!({"settings": {"selectedRegions": regions}});
                if self.rng.chance(50) {
                    payload["name"] = json!(format!("Partie {}", self.stats.steps));
                }
                ("create_lobby", payload)
            }
            0..=17 => ("join_lobby", json!({"lobbyId": lobby})),
            18..=21 => ("leave_lobby", json!({"lobbyId": lobby})),
            22..=28 => ("invite_to_lobby", json!({"lobbyId": lobby, "friendId": other_id})),
            29..=36 | 44..=65 if invite_first => ("invite_to_lobby", json!({"lobbyId": lobby, "friendId": other_id})),
            29..=36 => ("set_player_ready", json!({"lobbyId": lobby, "ready": self.rng.chance(85)})),
            37..=39 => {
                let status = if self.rng.chance(80) { "ready" } else { "joined" };
                ("update_player_status", json!({"lobbyId": lobby, "status": status}))
            }
            40..=43 => ("start_game", json!({"lobbyId": lobby})),
            44..=65 if status == "playing" => ("update_player_progress", self.progress(u, &lobby)),
            44..=65 => ("set_player_ready", json!({"lobbyId": lobby, "ready": true})),
            66..=68 => ("restart_game", json!({"lobbyId": lobby})),
            69..=71 => ("remove_player", json!({"lobbyId": lobby, "playerId": other_id})),
            72..=74 => {
                let regions: Vec<&str> =
                    if self.rng.chance(15) { vec![] } else { self.rng.pick(&REGION_SETS).to_vec() };
                ("update_lobby_settings", json!({"lobbyId": lobby, "settings": {"selectedRegions": regions}}))
            }
            75..=80 => ("get_lobby_state", json!({"lobbyId": lobby})),
            81..=85 => ("get_game_state", json!({"lobbyId": lobby})),
            86..=90 => ("get_game_results", json!({"lobbyId": lobby})),
            91..=94 => {
                let tag = self.players[if self.rng.chance(10) { u } else { other }].user.tag.clone();
                ("send_friend_request", json!({"receiverTag": tag}))
            }
            _ => ("get_lobby_state", json!({"lobbyId": lobby})),
        };
        Chosen { kind, payload, lobby, other }
    }

    /// Updates the bot's view of memberships from a reply (no push tells a leaver, or the last member, what
    /// became of the lobby), so that its next choices stay relevant.
    fn adjust(&mut self, u: usize, chosen: &Chosen, reply: &Frame) {
        let Chosen { kind, lobby, other, .. } = chosen;
        let me = self.players[u].user.id.clone();
        let other_id = self.players[*other].user.id.clone();
        let Some(index) = self.lobbies.iter().position(|(id, _)| id == lobby) else { return };
        let without = |state: &mut Value, id: &str| {
            if let Some(players) = state["players"].as_array_mut() {
                players.retain(|p| p["id"] != id);
            }
        };
        match reply {
            Frame::Error { message } if message.ends_with("Lobby non trouvé") => {
                self.lobbies.remove(index);
            }
            Frame::Error { message } if message.ends_with("Vous n'êtes pas dans ce lobby") => {
                without(&mut self.lobbies[index].1, &me)
            }
            Frame::Success { .. } if *kind == "leave_lobby" => without(&mut self.lobbies[index].1, &me),
            Frame::Success { .. } if *kind == "remove_player" => without(&mut self.lobbies[index].1, &other_id),
            Frame::Success { .. } if *kind == "join_lobby" => {
                let state = &mut self.lobbies[index].1;
                let listed = state["players"].as_array().is_some_and(|p| p.iter().any(|p| p["id"] == me.as_str()));
                if let (false, Some(players)) = (listed, state["players"].as_array_mut()) {
                    players.push(json!({"id": me}));
                }
            }
            _ => {}
        }
    }

    /// The user's cumulative lists for the lobby's current game, grown by a few answers (or, now and
    /// then, an older and shorter copy: a stale update).
    fn progress(&mut self, u: usize, lobby: &str) -> Value {
        let start = self.games.get(lobby).cloned().unwrap_or_default();
        let regions: Vec<Region> = self
            .state(lobby)
            .and_then(|s| s["settings"]["selectedRegions"].as_array())
            .map(|a| a.iter().filter_map(|r| r.as_str().and_then(Region::parse)).collect())
            .unwrap_or_default();
        let mut pool: Vec<String> =
            mapquiz_domain::region::required_codes(&regions).iter().map(|c| c.to_string()).collect();
        pool.extend(["FRA".to_owned(), "ATF".to_owned()]);
        let key = (lobby.to_owned(), start);
        let (mut validated, mut incorrect) = self.players[u].lists.get(&key).cloned().unwrap_or_default();
        if self.rng.chance(10) {
            let keep = self.rng.below(validated.len() + 1);
            validated.truncate(keep);
            return json!({"lobbyId": lobby, "validatedCountries": validated, "incorrectCountries": incorrect});
        }
        for _ in 0..1 + self.rng.below(4) {
            // Mostly a question not answered yet, so that games end; now and then a repeat or a stray code.
            let fresh: Vec<String> =
                pool.iter().filter(|c| !validated.contains(c) && !incorrect.contains(c)).cloned().collect();
            let code = if fresh.is_empty() || self.rng.chance(15) {
                self.rng.pick(&pool).clone()
            } else {
                self.rng.pick(&fresh).clone()
            };
            if self.rng.chance(80) { validated.push(code) } else { incorrect.push(code) }
        }
        self.players[u].lists.insert(key, (validated.clone(), incorrect.clone()));
        json!({"lobbyId": lobby, "validatedCountries": validated, "incorrectCountries": incorrect,
               "score": validated.len(), "totalQuestions": 51})
    }

    /// `respond_friend_request` for one of `u`'s pending requests (read over HTTP as the client does), or
    /// for a made-up one.
    async fn respond_to_a_request(&mut self, u: usize, s: usize) -> Result<(), String> {
        let (status, list) = body_of(self.app.get_as(&self.players[u].user, "/api/friends/requests").await).await;
        if status != 200 {
            return Err(format!("GET /api/friends/requests: {status} {list}"));
        }
        let ids: Vec<String> = list["friendRequests"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let id = if ids.is_empty() || self.rng.chance(10) {
            uuid::Uuid::now_v7().to_string()
        } else {
            self.rng.pick(&ids).clone()
        };
        let action = *self.rng.pick(&["accept", "accept", "reject", "ignore"]);
        let payload = json!({"requestId": id, "action": action});
        self.note(format!("user {u} sends respond_friend_request {payload}"));
        let text = json!({"type": "respond_friend_request", "payload": payload}).to_string();
        self.exchange(u, s, &text, &Expect::Documented("respond_friend_request")).await.map(|_| ())
    }

    /// Ends a friendship over HTTP (the client's only way): the former friend gets `friend_removed`, and
    /// friend requests over the socket may make them friends again.
    async fn remove_a_friend(&mut self, u: usize) -> Result<(), String> {
        let other = self.other_user(u);
        let friend_id = self.players[other].user.id.clone();
        self.note(format!("user {u} removes user {other} from its friends (HTTP)"));
        let res = self
            .app
            .client
            .delete(self.app.url("/api/friends/remove"))
            .header("cookie", &self.players[u].user.cookie)
            .json(&json!({"friendId": friend_id}))
            .send()
            .await
            .map_err(|e| format!("DELETE /api/friends/remove: {e}"))?;
        let (status, reply) = body_of(res).await;
        if status == 200 { Ok(()) } else { Err(format!("DELETE /api/friends/remove: {status} {reply}")) }
    }

    /// A message the protocol refuses, with the exact answer when the bot can know it.
    async fn invalid_message(&mut self, u: usize, s: usize) -> Result<(), String> {
        self.stats.invalid += 1;
        let kind = *self.rng.pick(super::shapes::LOBBY_MESSAGE_TYPES);
        let other = self.other_user(u);
        let full = |lobby: Value, other: &str| {
            json!({"lobbyId": lobby, "friendId": other, "playerId": other, "ready": true, "status": "ready",
                   "settings": {"selectedRegions": ["Océanie"]}, "validatedCountries": [], "incorrectCountries": []})
        };
        let other_id = self.players[other].user.id.clone();
        let error = |m: &str| json!({"type": "error", "message": m});
        let (text, expect) = match self.rng.below(8) {
            0 => {
                let unknown = *self.rng.pick(&["set_player_absent", "leave_game", "lobby_update", "Join_Lobby", ""]);
                let text = json!({"type": unknown, "payload": {"lobbyId": self.some_lobby(u)}}).to_string();
                (text, Expect::Exact(error(&format!("{UNSUPPORTED}{unknown}"))))
            }
            1 => {
                let lobby = uuid::Uuid::now_v7().to_string();
                let text = json!({"type": kind, "payload": full(json!(lobby), &other_id)}).to_string();
                (text, Expect::Exact(unknown_lobby(kind, &lobby)))
            }
            2 => {
                let missing = self.rng.pick(&[Value::Null, json!(""), json!(42), json!(["x"])]).clone();
                let mut payload = full(missing, &other_id);
                if self.rng.chance(50) {
                    payload.as_object_mut().map(|o| o.remove("lobbyId"));
                }
                (json!({"type": kind, "payload": payload}).to_string(), Expect::Exact(error("lobbyId requis")))
            }
            3 => {
                // The right lobby with fields of the wrong type.
                let lobby = self.some_lobby(u);
                let payload = json!({"lobbyId": lobby, "friendId": 7, "playerId": {}, "ready": "yes", "status": 1,
                                     "settings": "Europe", "validatedCountries": "AUS", "incorrectCountries": [1, 2]});
                (json!({"type": kind, "payload": payload}).to_string(), Expect::Documented(kind))
            }
            4 => {
                let payload = json!({"settings": {"selectedRegions": self.rng.pick(&[json!([]), json!(["Atlantide"]), json!("Océanie")])}, "name": self.rng.pick(&[json!(42), json!("x".repeat(101))])});
                (json!({"type": "create_lobby", "payload": payload}).to_string(), Expect::Documented("create_lobby"))
            }
            5 => {
                let tag = *self.rng.pick(&["", "   ", "ZZZZZZ"]);
                (
                    json!({"type": "send_friend_request", "payload": {"receiverTag": tag}}).to_string(),
                    Expect::Documented("send_friend_request"),
                )
            }
            6 => {
                let (text, message) = *self.rng.pick(&[
                    (r#"{"type":"join_lobby","payload":"#, "Message JSON invalide"),
                    (r#"[{"type":"ping"}]"#, "Message invalide"),
                    (r#"{"type":"join_lobby","payload":["x"]}"#, "Message invalide"),
                    (r#"{"payload":{}}"#, "Type de message requis"),
                    (r#"{"type":null}"#, "Type de message requis"),
                ]);
                (text.to_owned(), Expect::Exact(error(message)))
            }
            _ => {
                let payload = json!({"requestId": self.rng.pick(&[json!(""), json!(5)]), "action": "accept"});
                (
                    json!({"type": "respond_friend_request", "payload": payload}).to_string(),
                    Expect::Exact(error("requestId et action requis")),
                )
            }
        };
        self.note(format!("user {u} sends (invalid) {text}"));
        self.exchange(u, s, &text, &expect).await.map(|_| ())
    }

    /// A socket without credentials: refused politely, and still answering `ping`.
    async fn anonymous(&mut self) -> Result<(), String> {
        self.stats.anonymous += 1;
        self.note("an anonymous socket".into());
        let mut ws = Ws::connect(self.app.address, None).await;
        let lobby = json!({"type": "join_lobby", "payload": {"lobbyId": uuid::Uuid::now_v7().to_string()}});
        let answers = [
            (lobby, json!({"type": "error", "message": "Non authentifié - veuillez vous connecter"})),
            (json!({"type": "authenticate"}), json!({"type": "authentication_failed", "message": "Session invalide"})),
            (json!({"type": "ping"}), json!({"type": "pong"})),
        ];
        for (message, want) in answers {
            send_text(&mut ws, &message.to_string()).await;
            match read(&mut ws, WAIT).await {
                Read::Frame(v) if v == want => {}
                other => return Err(format!("anonymous {message}: {other:?}, the protocol says {want}")),
            }
        }
        ws.close().await;
        Ok(())
    }

    /// The end: every user gets a socket, and every socket answers a ping and a lobby request.
    async fn finish(&mut self) -> Result<u64, String> {
        self.drain()?;
        let mut checked = 0;
        for u in 0..USERS {
            if self.players[u].socks.is_empty() {
                self.connect(u, true).await?;
            }
            for s in 0..self.players[u].socks.len() {
                self.exchange(u, s, r#"{"type":"ping"}"#, &Expect::Exact(json!({"type": "pong"}))).await?;
                let lobby = self.some_lobby(u);
                let text = json!({"type": "get_lobby_state", "payload": {"lobbyId": lobby}}).to_string();
                match self.exchange(u, s, &text, &Expect::Documented("get_lobby_state")).await? {
                    Frame::Success { .. } => checked += 1,
                    other => return Err(format!("the final request got {other:?}")),
                }
            }
        }
        self.converged().await?;
        Ok(checked)
    }

    /// Once everyone is connected and the grace timers are over, every user asks every lobby for its state:
    /// the members all get the same state, which lists exactly them, all connected; the others get null.
    async fn converged(&mut self) -> Result<(), String> {
        tokio::time::sleep(Duration::from_millis(3 * GRACE_MS)).await;
        self.drain()?;
        let lobbies: Vec<String> = self.lobbies.iter().map(|(id, _)| id.clone()).collect();
        for lobby in lobbies {
            let text = json!({"type": "get_lobby_state", "payload": {"lobbyId": lobby}}).to_string();
            let mut states = Vec::new();
            for u in 0..USERS {
                let reply = self.exchange(u, 0, &text, &Expect::Documented("get_lobby_state")).await?;
                let Frame::Success { data, .. } = reply else { return Err(format!("get_lobby_state got {reply:?}")) };
                states.push(data["lobbyState"].clone());
            }
            let Some(state) = states.iter().find(|s| !s.is_null()) else { continue };
            let ids: BTreeSet<&str> =
                state["players"].as_array().into_iter().flatten().filter_map(|p| p["id"].as_str()).collect();
            for (u, seen) in states.iter().enumerate() {
                let member = ids.contains(self.players[u].user.id.as_str());
                if member && seen != state {
                    return Err(format!("members of {lobby} disagree: {state} / {seen}"));
                }
                if !member && !seen.is_null() {
                    return Err(format!("user {u} is not in {lobby} yet gets its state {seen}"));
                }
            }
            if let Some(away) = state["players"].as_array().into_iter().flatten().find(|p| p["connected"] != true) {
                return Err(format!("everyone is connected, yet {lobby} shows {away}"));
            }
        }
        Ok(())
    }
}

/// The exact answer to a lobby message naming a lobby that does not exist (§2.7, §2.9).
fn unknown_lobby(kind: &str, lobby: &str) -> Value {
    let error = |m: &str| json!({"type": "error", "message": m});
    match kind {
        "leave_lobby" => json!({"type": "leave_lobby_success", "data": {"success": true, "message": "Lobby quitté"}}),
        "get_lobby_state" => json!({"type": "get_lobby_state_success", "data": {"lobbyId": lobby, "lobbyState": null}}),
        "get_game_state" => json!({"type": "get_game_state_success",
            "data": {"lobbyId": lobby, "gameState": null, "message": "Aucun état de jeu disponible"}}),
        "get_game_results" => error("Impossible de récupérer les résultats: Lobby non trouvé"),
        "remove_player" => error("Impossible de supprimer le joueur: Lobby non trouvé"),
        _ => error("Lobby non trouvé"),
    }
}

/// A checked frame back as the JSON it came as, for exact comparisons.
fn reframe(frame: &Frame) -> Value {
    match frame {
        Frame::Connected => json!({"type": "connected", "data": {"message": "Connexion WebSocket établie"}}),
        Frame::Authenticated { user_id } => json!({"type": "authenticated", "data": {"userId": user_id}}),
        Frame::AuthenticationFailed => json!({"type": "authentication_failed", "message": "Session invalide"}),
        Frame::AuthenticationError => json!({"type": "authentication_error", "message": "Erreur d'authentification"}),
        Frame::Pong => json!({"type": "pong"}),
        Frame::Success { kind, data } => json!({"type": format!("{kind}_success"), "data": data}),
        Frame::Error { message } => json!({"type": "error", "message": message}),
        Frame::Push { kind, body } => json!({"type": kind, "payload": body}),
    }
}

/// The bot's time: `TEST_FUZZ_SECS` (default 60 s), a third of it for the slower or extra backends.
fn duration(full: bool) -> Duration {
    let secs = env_number("TEST_FUZZ_SECS", 60);
    Duration::from_secs(if full { secs } else { secs.div_ceil(3) })
}

async fn the_bot_keeps_the_protocol_and_the_lobby_invariants(postgres: bool) {
    let Some(app) = fuzz_app(postgres, CAPACITY, GRACE_MS).await else { return };
    let name = if postgres { "bot (PostgreSQL)" } else { "bot (SQLite)" };
    run(name, app, duration(!postgres)).await;
}

/// The same over the Redis bus and lobby ownership (PostgreSQL and `TEST_REDIS_URL`, both required under
/// `CI`): pushes then travel through Redis while replies do not. The run's keys have their own prefix.
#[tokio::test]
async fn the_bot_keeps_the_protocol_over_the_redis_bus() {
    let Some(redis) = test_redis_url() else { return };
    let prefix = format!("fuzz{}:", uuid::Uuid::now_v7().simple());
    let app = TestApp::spawn_with(true, |f| {
        fuzz_settings(f, CAPACITY, GRACE_MS).merge(("redis_url", redis)).merge(("redis_key_prefix", prefix))
    })
    .await;
    let Some(app) = app else { return };
    run("bot (PostgreSQL and Redis)", app, duration(false)).await;
}

/// Runs the bot on `app` for `duration`; panics with the seed and the last actions on the first failure.
async fn run(name: &str, app: TestApp, duration: Duration) {
    watch_panics();
    let seed = seed(name);
    let mut bot = Bot::new(app, seed).await;
    let started = Instant::now();
    let mut outcome = Ok(());
    while started.elapsed() < duration {
        outcome = match bot.step().await {
            Ok(()) => bot.drain(),
            e => e,
        };
        let panics = server_panics();
        if !panics.is_empty() {
            outcome = Err(format!("the server panicked: {panics:?}"));
        }
        if outcome.is_err() {
            break;
        }
    }
    let finished = match outcome {
        Ok(()) => bot.finish().await,
        Err(e) => Err(e),
    };
    let elapsed = started.elapsed().as_secs_f64();
    let s = &bot.stats;
    report!(
        "{name}: {:.1} s, {} steps, {} valid and {} invalid messages, {} anonymous sockets, {} disconnects, \
         {} reconnects, {} bursts, {} lobbies, {} games started, {} game_end pushes, {} pushes checked",
        elapsed,
        s.steps,
        s.valid,
        s.invalid,
        s.anonymous,
        s.disconnects,
        s.reconnects,
        s.bursts,
        s.lobbies,
        s.games_started.len(),
        s.games_ended,
        s.pushes.values().sum::<u64>()
    );
    report!("{name}: pushes {:?}", s.pushes);
    report!("{name}: replies {:?}", s.replies);
    match finished {
        Ok(sockets) => report!("{name}: {sockets} sockets answered at the end, none closed by the server"),
        Err(e) => panic!(
            "{name} (TEST_FUZZ_SEED={seed}), step {}: {e}\nlast actions:\n{}",
            bot.stats.steps,
            bot.trace.iter().cloned().collect::<Vec<_>>().join("\n")
        ),
    }
    assert!(server_panics().is_empty(), "the server panicked: {:?}", server_panics());
    assert!(!bot.stats.games_started.is_empty() || duration < Duration::from_secs(5), "the run played no game");
}

on_both_backends!(the_bot_keeps_the_protocol_and_the_lobby_invariants);
