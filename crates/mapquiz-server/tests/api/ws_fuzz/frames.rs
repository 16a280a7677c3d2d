//! Property tests of the gateway's parse-and-dispatch path, through a real socket of a running app: proptest
//! generates frames (arbitrary JSON, envelopes with any type and payload, message payloads with wrong, missing
//! and extra fields, frames near and beyond the size limit, deep nesting, non-JSON text, binary frames), each
//! is sent on an authenticated socket of a user who owns a lobby and has a friend, and:
//! - the answer is the one protocol §2.5 gives the envelope (an exact envelope error, `pong`, `authenticated`,
//!   the unknown-type error naming the type), and for a routed type its `<type>_success` or one of that type's
//!   documented errors (§2.7);
//! - every frame on the socket is one of the protocol's shapes, and every lobby state keeps the invariants;
//! - the socket still answers `ping` afterwards, unless the frame broke a documented limit (binary: 1003,
//!   oversized: 1009), in which case that exact close comes;
//! - no panic anywhere in the server.
//!
//! Cases are generated with proptest's runner from the printed seed (no shrinking: the failing frame itself is
//! reported, and the seed replays the run).

use super::invariants::{self, Transitions};
use super::shapes::{self, Frame, MESSAGE_TYPES, UNSUPPORTED};
use super::{
    MAX_MESSAGE_BYTES, Read, WAIT, env_number, fuzz_app, read, seed, send_binary, send_text, server_panics,
    watch_panics,
};
use crate::support::ws::Ws;
use crate::support::{TestApp, TestUser};
use futures_util::SinkExt;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as RawFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// Lobby capacity of the fuzzed app (the default).
const CAPACITY: usize = 10;

/// Payload keys a message may carry (§2.7), and `userId` that `authenticate` ignores.
const FIELDS: [&str; 15] = [
    "lobbyId",
    "friendId",
    "playerId",
    "receiverTag",
    "requestId",
    "action",
    "name",
    "settings",
    "status",
    "ready",
    "validatedCountries",
    "incorrectCountries",
    "score",
    "totalQuestions",
    "userId",
];

const REGIONS: [&str; 8] =
    ["Océanie", "Europe", "Asie", "Afrique", "Amérique du Sud", "Amérique du Nord", "Australie", "Oceanie"];

const CODES: [&str; 11] = ["AUS", "FJI", "NCL", "NZL", "PNG", "SLB", "VUT", "FRA", "", "ABCDEFGHI", "aus"];

/// A frame to send.
#[derive(Clone, Debug)]
enum Case {
    Text(String),
    Binary(Vec<u8>),
    /// A text message sent in fragments (a text frame, then continuation frames) cut at any byte.
    Fragments(Vec<Vec<u8>>),
    /// A text frame whose payload is not UTF-8.
    NotUtf8(Vec<u8>),
    /// A continuation frame with no message to continue.
    StrayContinuation(Vec<u8>),
}

/// The ids the generators aim at: the user's own lobby, the user, a friend.
#[derive(Clone)]
struct Ids {
    lobby: String,
    me: String,
    my_tag: String,
    friend: String,
    friend_tag: String,
}

fn text_value() -> BoxedStrategy<String> {
    prop_oneof![
        3 => ".{0,12}",
        1 => Just(String::new()),
        1 => "[ \t\n]{1,3}",
        1 => "\\PC{0,40}",
        1 => prop::sample::select(MESSAGE_TYPES.to_vec()).prop_map(str::to_owned),
    ]
    .boxed()
}

fn key() -> BoxedStrategy<String> {
    prop_oneof![2 => prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned), 1 => Just("type".to_owned()), 1 => ".{0,8}"]
        .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        text_value().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

fn uuid_like() -> BoxedStrategy<String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}".boxed()
}

/// A value that is right, or nearly right, for `field`.
fn plausible(field: &str, ids: &Ids) -> BoxedStrategy<Value> {
    let s = |v: &str| Just(Value::from(v));
    match field {
        "lobbyId" => prop_oneof![
            4 => s(&ids.lobby),
            2 => uuid_like().prop_map(Value::from),
            1 => s(""),
            1 => "x{37,300}".prop_map(Value::from),
            1 => s(&ids.me),
        ]
        .boxed(),
        "friendId" | "playerId" | "userId" => prop_oneof![
            3 => s(&ids.friend),
            2 => s(&ids.me),
            1 => uuid_like().prop_map(Value::from),
            1 => s(""),
            1 => "[a-zA-Z0-9]{33,200}".prop_map(Value::from),
        ]
        .boxed(),
        "receiverTag" => prop_oneof![
            s(&ids.friend_tag),
            s(&ids.my_tag),
            s(&format!("  {}  ", ids.friend_tag.to_lowercase())),
            s("   "),
            s(""),
            "[A-Z0-9#]{1,12}".prop_map(Value::from),
        ]
        .boxed(),
        "requestId" => prop_oneof![uuid_like().prop_map(Value::from), s(""), s(&ids.lobby)].boxed(),
        "action" => prop_oneof![s("accept"), s("reject"), s("ACCEPT"), s("")].boxed(),
        "name" => prop_oneof![3 => text_value().prop_map(Value::from), 1 => ".{95,110}".prop_map(Value::from), 1 => s("<b>Soirée</b>")]
            .boxed(),
        "settings" => (
            prop::collection::vec(prop::sample::select(REGIONS.to_vec()), 0..4),
            prop::option::of(prop_oneof![s("quiz"), s("training"), s("Quiz"), json_value()]),
            prop::option::of(json_value()),
        )
            .prop_map(|(regions, mode, extra)| {
                let mut o = Map::new();
                o.insert("selectedRegions".into(), json!(regions));
                if let Some(mode) = mode {
                    o.insert("gameMode".into(), mode);
                }
                if let Some(extra) = extra {
                    o.insert("maxPlayers".into(), extra);
                }
                Value::Object(o)
            })
            .boxed(),
        "status" => prop_oneof![s("ready"), s("joined"), s("playing"), s("READY")].boxed(),
        "ready" => prop_oneof![Just(Value::Bool(true)), Just(Value::Bool(false)), s("true"), Just(json!(1))].boxed(),
        "validatedCountries" | "incorrectCountries" => prop_oneof![
            4 => prop::collection::vec(prop::sample::select(CODES.to_vec()), 0..10).prop_map(|c| json!(c)),
            1 => (490usize..520).prop_map(|n| json!(vec!["AUS"; n])),
            1 => prop::collection::vec(json_value(), 0..4).prop_map(Value::Array),
        ]
        .boxed(),
        _ => json_value(),
    }
}

/// A payload object: each field present or not, plausible or any JSON, and perhaps keys no message reads.
fn payload(ids: &Ids) -> BoxedStrategy<Map<String, Value>> {
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = FIELDS
        .iter()
        .map(|f| {
            let weight = if *f == "lobbyId" { 0.85 } else { 0.35 };
            let value = prop_oneof![3 => plausible(f, ids), 1 => json_value()];
            prop::option::weighted(weight, value.prop_map(move |v| (f.to_string(), v))).boxed()
        })
        .collect();
    (fields, prop::collection::vec((".{1,10}", json_value()), 0..2))
        .prop_map(|(fields, extra)| extra.into_iter().chain(fields.into_iter().flatten()).collect())
        .boxed()
}

fn all_types() -> Vec<&'static str> {
    MESSAGE_TYPES.iter().copied().chain(["ping", "authenticate"]).collect()
}

/// `{type?, payload?, …}` with any type (routed, gateway's own, unknown, not a string) and any payload.
fn envelope(ids: &Ids) -> BoxedStrategy<Case> {
    let kind = prop::option::weighted(
        0.9,
        prop_oneof![
            4 => prop::sample::select(all_types()).prop_map(Value::from),
            2 => text_value().prop_map(Value::from),
            1 => json_value(),
        ],
    );
    let body = prop::option::weighted(0.85, prop_oneof![3 => payload(ids).prop_map(Value::Object), 1 => json_value()]);
    let extra = prop::collection::vec((key(), json_value()), 0..3);
    (kind, body, extra)
        .prop_map(|(kind, body, extra)| {
            let mut o: Map<String, Value> = extra.into_iter().collect();
            match kind {
                Some(k) => o.insert("type".into(), k),
                None => o.remove("type"),
            };
            match body {
                Some(b) => o.insert("payload".into(), b),
                None => o.remove("payload"),
            };
            Case::Text(Value::Object(o).to_string())
        })
        .boxed()
}

/// A routed message type with a generated payload object.
fn message(ids: &Ids) -> BoxedStrategy<Case> {
    (prop::sample::select(MESSAGE_TYPES.to_vec()), payload(ids))
        .prop_map(|(kind, payload)| Case::Text(json!({"type": kind, "payload": payload}).to_string()))
        .boxed()
}

/// A message of `target` bytes or so: padding in a string field, or a long progress list.
fn huge(ids: &Ids) -> BoxedStrategy<Case> {
    let lobby = ids.lobby.clone();
    let sizes = prop_oneof![
        2 => (MAX_MESSAGE_BYTES - 512)..=MAX_MESSAGE_BYTES,
        2 => (MAX_MESSAGE_BYTES + 1)..(MAX_MESSAGE_BYTES + 4096),
        1 => (MAX_MESSAGE_BYTES / 2)..(MAX_MESSAGE_BYTES * 4),
    ];
    let kinds =
        prop::sample::select(vec!["create_lobby", "send_friend_request", "join_lobby", "update_player_progress", "x"]);
    (kinds, sizes, any::<bool>(), any::<bool>())
        .prop_map(move |(kind, target, multibyte, list)| {
            if list {
                let n = target / 6;
                let text = json!({"type": "update_player_progress", "payload": {"lobbyId": lobby, "validatedCountries": vec!["AUS"; n]}});
                return Case::Text(text.to_string());
            }
            let field = match kind {
                "create_lobby" => "name",
                "send_friend_request" => "receiverTag",
                "join_lobby" => "lobbyId",
                _ => "x",
            };
            let skeleton = json!({"type": kind, "payload": {field: ""}}).to_string();
            let room = target.saturating_sub(skeleton.len());
            let pad = if multibyte { "é".repeat(room / 2) + &"x".repeat(room % 2) } else { "x".repeat(room) };
            Case::Text(json!({"type": kind, "payload": {field: pad}}).to_string())
        })
        .boxed()
}

/// Values nested `depth` deep, alone or inside a message, closed or cut short.
fn deep(ids: &Ids) -> BoxedStrategy<Case> {
    let lobby = ids.lobby.clone();
    let depths = prop_oneof![3 => 1usize..140, 2 => 120usize..140, 2 => 140usize..5_000, 1 => Just(30_000usize)];
    (depths, 0..4u8, any::<bool>())
        .prop_map(move |(depth, shape, closed)| {
            let (open, leaf, close) = match shape {
                0 | 3 => ("[", "1", "]"),
                _ => ("{\"a\":", "1", "}"),
            };
            let value = format!("{}{leaf}{}", open.repeat(depth), if closed { close.repeat(depth) } else { String::new() });
            let text = match shape {
                0 | 1 => value,
                2 => format!("{{\"type\":\"create_lobby\",\"payload\":{{\"settings\":{value}}}}}"),
                _ => format!("{{\"type\":\"update_player_progress\",\"payload\":{{\"lobbyId\":\"{lobby}\",\"validatedCountries\":{value}}}}}"),
            };
            Case::Text(text)
        })
        .boxed()
}

/// Text that is not one JSON value, a few edge cases that are, and binary frames.
fn garbage() -> BoxedStrategy<Case> {
    let valid = r#"{"type":"ping"}"#;
    prop_oneof![
        3 => any::<String>().prop_map(Case::Text),
        2 => "\\PC{0,64}".prop_map(Case::Text),
        2 => (1usize..15).prop_map(move |cut| Case::Text(valid[..cut].to_owned())),
        1 => prop::sample::select(vec![
            format!("\u{feff}{valid}"),
            format!(" \n{valid}\t "),
            format!("{valid}{valid}"),
            "null".to_owned(),
            "\"ping\"".to_owned(),
            String::new(),
            "{\"type\":\"ping\",\"type\":\"pong\"}".to_owned(),
            "{\"type\":\"ping\",\"payload\":{}, }".to_owned(),
            "{'type':'ping'}".to_owned(),
            "{\"type\":\"\\ud800\"}".to_owned(),
        ])
        .prop_map(Case::Text),
        2 => prop::collection::vec(any::<u8>(), 0..2048).prop_map(Case::Binary),
    ]
    .boxed()
}

/// Frames below the message layer: fragmented messages, text frames that are not UTF-8, stray continuations.
fn framing(ids: &Ids) -> BoxedStrategy<Case> {
    let fragmented =
        (message(ids), prop::collection::vec(any::<prop::sample::Index>(), 0..6)).prop_map(|(case, cuts)| {
            let Case::Text(text) = case else { unreachable!("message() gives text") };
            let bytes = text.into_bytes();
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            at.sort_unstable();
            at.dedup();
            let mut pieces = Vec::new();
            let mut from = 0;
            for cut in at.into_iter().chain([bytes.len()]) {
                pieces.push(bytes[from..cut].to_vec());
                from = cut;
            }
            Case::Fragments(pieces)
        });
    let not_utf8 = (
        ".{0,20}",
        prop::sample::select(vec![vec![0xff], vec![0xc3], vec![0xed, 0xa0, 0x80], vec![0xf8, 0x88, 0x80, 0x80, 0x80]]),
        ".{0,20}",
    )
        .prop_map(|(a, bad, b)| Case::NotUtf8([a.into_bytes(), bad, b.into_bytes()].concat()));
    prop_oneof![
        3 => fragmented,
        1 => not_utf8,
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Case::StrayContinuation),
    ]
    .boxed()
}

/// What protocol §2.4–§2.7 says the frame earns.
#[derive(Debug, PartialEq)]
enum Expected {
    Close(u16),
    Error(String),
    Pong,
    Authenticated,
    /// `<type>_success` or one of the type's errors.
    Reply(&'static str),
}

fn expected(case: &Case) -> Expected {
    let whole;
    let text = match case {
        Case::Binary(_) => return Expected::Close(1003),
        // RFC 6455 §7.4.1: 1007 for data inconsistent with the message type, 1002 for a protocol error.
        Case::NotUtf8(_) => return Expected::Close(1007),
        Case::StrayContinuation(_) => return Expected::Close(1002),
        Case::Fragments(pieces) => {
            whole = String::from_utf8(pieces.concat()).expect("cut from a string");
            return expected(&Case::Text(whole));
        }
        Case::Text(t) if t.len() > MAX_MESSAGE_BYTES => return Expected::Close(1009),
        Case::Text(t) => t,
    };
    let error = |m: &str| Expected::Error(m.to_owned());
    let Ok(value) = serde_json::from_str::<Value>(text) else { return error("Message JSON invalide") };
    let Value::Object(o) = value else { return error("Message invalide") };
    if o.get("payload").is_some_and(|p| !p.is_object()) {
        return error("Message invalide");
    }
    match o.get("type").and_then(Value::as_str) {
        None => error("Type de message requis"),
        Some("ping") => Expected::Pong,
        Some("authenticate") => Expected::Authenticated,
        Some(kind) => match MESSAGE_TYPES.iter().find(|k| **k == kind) {
            Some(k) => Expected::Reply(k),
            None => error(&format!("{UNSUPPORTED}{kind}")),
        },
    }
}

/// The running app, its user, and the user's socket (reopened after a close the test provoked).
struct Target {
    app: TestApp,
    me: TestUser,
    ws: Option<Ws>,
    sockets: u64,
    transitions: Transitions,
    outcomes: BTreeMap<String, u64>,
}

impl Target {
    async fn new() -> (Target, Ids) {
        let app = fuzz_app(false, CAPACITY, 400).await.expect("SQLite is always available");
        let me = app.sign_up("Fuzz").await;
        let friend = app.sign_up("Ami").await;
        app.befriend(&me, &friend).await;
        let mut ws = app.ws(&me).await;
        let reply = ws
            .request(json!({"type": "create_lobby", "payload": {"settings": {"selectedRegions": ["Océanie"]}}}))
            .await;
        let lobby = reply["data"]["lobbyId"].as_str().expect("the lobby is created").to_owned();
        let ids = Ids {
            lobby,
            me: me.id.clone(),
            my_tag: me.tag.clone(),
            friend: friend.id.clone(),
            friend_tag: friend.tag.clone(),
        };
        (
            Target {
                app,
                me,
                ws: Some(ws),
                sockets: 0,
                transitions: Transitions::default(),
                outcomes: BTreeMap::new(),
            },
            ids,
        )
    }

    /// The socket, reopened (not yet authenticated: the next message authenticates implicitly) when the
    /// last case closed it.
    async fn socket(&mut self) -> &mut Ws {
        if self.ws.is_none() {
            self.sockets += 1;
            self.ws = Some(Ws::connect(self.app.address, Some(&self.me.cookie)).await);
        }
        self.ws.as_mut().expect("just opened")
    }

    /// Checks a frame that is not the reply awaited: a push, with its lobby invariants.
    fn push(&mut self, frame: &Frame) -> Result<(), String> {
        let Frame::Push { kind, body } = frame else { return Err(format!("an unexpected reply {frame:?}")) };
        if kind == "lobby_update" {
            invariants::lobby_state(body, CAPACITY)?;
            let lobby = body["lobbyId"].as_str().unwrap_or_default();
            self.transitions.saw(self.sockets, lobby, body["status"].as_str().unwrap_or_default())?;
        }
        if kind == "update_player_progress" {
            for entry in body["players"].as_array().into_iter().flatten() {
                invariants::progress(entry, None)?;
            }
        }
        Ok(())
    }

    /// The next frame that is not a push (pushes checked on the way), or how the socket ended.
    async fn reply(&mut self) -> Result<Result<Frame, Option<u16>>, String> {
        loop {
            let ws = self.ws.as_mut().ok_or("no socket")?;
            match read(ws, WAIT).await {
                Read::Frame(v) => {
                    let frame = shapes::classify(&v)?;
                    if frame.is_reply() {
                        return Ok(Ok(frame));
                    }
                    self.push(&frame)?;
                }
                Read::Closed(code) => return Ok(Err(code)),
                Read::Silent => return Err(format!("no answer within {WAIT:?}")),
            }
        }
    }

    /// Sends one case and checks everything it earns; the outcome's label.
    async fn run(&mut self, case: &Case) -> Result<String, String> {
        let want = expected(case);
        let ws = self.socket().await;
        match case {
            Case::Binary(bytes) => send_binary(ws, bytes.clone()).await,
            Case::Text(text) => {
                send_text(ws, text).await;
            }
            Case::Fragments(pieces) => {
                // Queued, then written at once: frame by frame, Nagle's algorithm would hold each piece 40 ms.
                let last = pieces.len() - 1;
                for (i, piece) in pieces.iter().enumerate() {
                    let opcode = if i == 0 { Data::Text } else { Data::Continue };
                    let _ = ws
                        .stream
                        .feed(Message::Frame(RawFrame::message(piece.clone(), OpCode::Data(opcode), i == last)))
                        .await;
                }
                let _ = ws.stream.flush().await;
            }
            Case::NotUtf8(bytes) => {
                send_frame(ws, RawFrame::message(bytes.clone(), OpCode::Data(Data::Text), true)).await
            }
            Case::StrayContinuation(bytes) => {
                send_frame(ws, RawFrame::message(bytes.clone(), OpCode::Data(Data::Continue), true)).await
            }
        }
        let got = self.reply().await?;
        let label = match (&want, got) {
            (Expected::Close(code), Err(closed)) if closed == Some(*code) => {
                self.ws = None;
                return Ok(format!("close {code}"));
            }
            (_, Err(closed)) => return Err(format!("closed with {closed:?}, expected {want:?}")),
            (Expected::Error(m), Ok(Frame::Error { message })) if *m == message => {
                // One bucket for the unknown types, whatever they were.
                if message.starts_with(UNSUPPORTED) {
                    "error unknown type".to_owned()
                } else {
                    format!("error {message}")
                }
            }
            (Expected::Pong, Ok(Frame::Pong)) => "pong".to_owned(),
            (Expected::Authenticated, Ok(Frame::Authenticated { user_id })) if user_id == self.me.id => {
                "authenticated".to_owned()
            }
            (Expected::Reply(kind), Ok(Frame::Success { kind: k, data })) if *kind == k => {
                self.success(kind, &data)?;
                format!("{kind}_success")
            }
            (Expected::Reply(kind), Ok(Frame::Error { message }))
                if shapes::errors_of(kind).contains(&message.as_str()) =>
            {
                format!("{kind}: {message}")
            }
            (_, Ok(frame)) => return Err(format!("answered {frame:?}, expected {want:?}")),
        };
        // The socket stays usable: a ping round trip, pushes checked on the way.
        send_text(self.ws.as_mut().ok_or("no socket")?, r#"{"type":"ping"}"#).await;
        match self.reply().await? {
            Ok(Frame::Pong) => Ok(label),
            other => Err(format!("after the case, ping got {other:?}")),
        }
    }

    /// The invariants a success's data carries.
    fn success(&mut self, kind: &str, data: &Value) -> Result<(), String> {
        match kind {
            "get_lobby_state" if !data["lobbyState"].is_null() => {
                invariants::lobby_state(&data["lobbyState"], CAPACITY)
            }
            "get_game_state" if !data["gameState"].is_null() => invariants::lobby_state(&data["gameState"], CAPACITY),
            "get_game_results" => invariants::rankings(data),
            _ => Ok(()),
        }
    }
}

/// Runs `cases` cases of the strategy `make(ids)` gives against a fresh app; panics with the failing case.
async fn property(name: &str, make: fn(&Ids) -> BoxedStrategy<Case>) {
    watch_panics();
    let seed = seed(name);
    let cases = env_number("TEST_FUZZ_CASES", 1000);
    let (mut target, ids) = Target::new().await;
    let strategy = make(&ids);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let started = std::time::Instant::now();
    for i in 0..cases {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        match target.run(&case).await {
            Ok(label) => *target.outcomes.entry(label).or_default() += 1,
            Err(e) => panic!("{name}, case {i} (seed {seed}): {e}\nframe: {}", describe(&case)),
        }
        let panics = server_panics();
        assert!(
            panics.is_empty(),
            "{name}, case {i} (seed {seed}): the server panicked: {panics:?}\nframe: {}",
            describe(&case)
        );
    }
    report!(
        "{name}: {cases} cases in {:.1} s, {} sockets reopened; outcomes {:?}",
        started.elapsed().as_secs_f64(),
        target.sockets,
        target.outcomes
    );
}

/// Sends one raw frame; errors are ignored, the close is what is checked.
async fn send_frame(ws: &mut Ws, frame: RawFrame) {
    let _ = ws.stream.send(Message::Frame(frame)).await;
}

fn describe(case: &Case) -> String {
    match case {
        Case::Fragments(pieces) => {
            format!("{} fragments of {:?}", pieces.len(), String::from_utf8_lossy(&pieces.concat()))
        }
        Case::NotUtf8(bytes) | Case::StrayContinuation(bytes) => format!("{case:?} ({} bytes)", bytes.len()),
        Case::Text(t) if t.len() > 400 => {
            format!("text of {} bytes: {}…", t.len(), t.chars().take(300).collect::<String>())
        }
        Case::Text(t) => format!("text {t:?}"),
        Case::Binary(b) => format!("binary of {} bytes", b.len()),
    }
}

#[tokio::test]
async fn arbitrary_json_frames_get_the_envelope_errors() {
    property("arbitrary_json", |_| json_value().prop_map(|v| Case::Text(v.to_string())).boxed()).await;
}

#[tokio::test]
async fn envelopes_with_any_type_payload_and_extra_keys_get_documented_answers() {
    property("envelopes", envelope).await;
}

#[tokio::test]
async fn payloads_with_wrong_missing_and_extra_fields_get_documented_answers() {
    property("payloads", message).await;
}

#[tokio::test]
async fn frames_near_and_beyond_the_size_limit_are_answered_or_closed_with_1009() {
    property("sizes", huge).await;
}

#[tokio::test]
async fn deeply_nested_values_never_break_the_parser() {
    property("nesting", deep).await;
}

#[tokio::test]
async fn non_json_text_and_binary_frames_get_their_error_or_1003() {
    property("garbage", |_| garbage()).await;
}

#[tokio::test]
async fn fragmented_messages_non_utf8_text_and_stray_continuations_are_answered_or_closed() {
    property("framing", framing).await;
}

/// Regression: a text frame that is not UTF-8, or a continuation of nothing, cut the connection without a
/// close frame; the client now learns why (RFC 6455 §7.4.1), and a fragmented message is still answered.
#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007_and_a_stray_continuation_with_1002() {
    let app = TestApp::spawn().await;
    let user = app.sign_up("Octets").await;
    let mut ws = app.ws(&user).await;
    send_frame(&mut ws, RawFrame::message(vec![b'{', 0xff, b'}'], OpCode::Data(Data::Text), true)).await;
    assert_eq!(ws.closed().await, Some(1007));

    let mut ws = app.ws(&user).await;
    send_frame(&mut ws, RawFrame::message(b"{}".to_vec(), OpCode::Data(Data::Continue), true)).await;
    assert_eq!(ws.closed().await, Some(1002));

    // "é" cut between its two bytes across two frames is one valid message.
    let mut ws = app.ws(&user).await;
    let text = r#"{"type":"é"}"#.as_bytes();
    let cut = text.iter().position(|b| *b == 0xc3).unwrap() + 1;
    send_frame(&mut ws, RawFrame::message(text[..cut].to_vec(), OpCode::Data(Data::Text), false)).await;
    send_frame(&mut ws, RawFrame::message(text[cut..].to_vec(), OpCode::Data(Data::Continue), true)).await;
    assert_eq!(ws.recv().await, json!({"type": "error", "message": "Type de message non supporté: é"}));
    ws.settled().await;
}
