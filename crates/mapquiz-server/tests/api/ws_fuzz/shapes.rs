//! A checker of every server → client frame against protocol.md §0.5, §0.6, §2.6–§2.8, written from the
//! protocol rather than from the server's types: an unknown `type`, a missing or extra key, a wrong type or
//! an undocumented `error` string is a failure.

use crate::support::is_timestamp;
use mapquiz_domain::Region;
use serde_json::{Map, Value};

/// The client message types the gateway routes besides `ping` and `authenticate` (§2.7).
pub const MESSAGE_TYPES: [&str; 16] = [
    "send_friend_request",
    "respond_friend_request",
    "create_lobby",
    "join_lobby",
    "leave_lobby",
    "invite_to_lobby",
    "update_lobby_settings",
    "update_player_status",
    "set_player_ready",
    "start_game",
    "update_player_progress",
    "get_lobby_state",
    "get_game_state",
    "get_game_results",
    "restart_game",
    "remove_player",
];

/// The types that name a lobby (`payload.lobbyId`): all but the first three.
pub const LOBBY_MESSAGE_TYPES: &[&str] = MESSAGE_TYPES.split_at(3).1;

/// The prefix of the unknown-type error (§2.5).
pub const UNSUPPORTED: &str = "Type de message non supporté: ";

/// Every `error.message` of §2.6 but the unknown-type one.
pub const ERRORS: &[&str] = &[
    "Message JSON invalide",
    "Message invalide",
    "Type de message requis",
    "Non authentifié - veuillez vous connecter",
    "Erreur d'authentification",
    "Trop de messages, veuillez ralentir",
    "Opération échouée",
    "lobbyId requis",
    "playerId requis",
    "friendId requis",
    "receiverTag requis",
    "requestId et action requis",
    "Nom de lobby invalide",
    "Paramètres de lobby invalides",
    "Statut invalide",
    "Données de progression invalides",
    "Le tag est requis",
    "Utilisateur non trouvé",
    "Vous ne pouvez pas vous ajouter vous-même",
    "Vous êtes déjà amis avec cet utilisateur",
    "Une demande est déjà en attente",
    "Action invalide",
    "Demande d'ami non trouvée",
    "Non autorisé",
    "Demande déjà traitée",
    "Lobby non trouvé",
    "Vous n'êtes pas autorisé à rejoindre ce lobby",
    "La partie a déjà commencé",
    "Le lobby est complet",
    "Vous n'êtes pas dans ce lobby",
    "Non autorisé à inviter des joueurs dans ce lobby",
    "Vous ne pouvez inviter que vos amis",
    "Seul l'hôte peut modifier les paramètres du lobby",
    "Seul l'hôte peut démarrer la partie",
    "Aucune région sélectionnée",
    "La partie est déjà terminée",
    "Seul l'hôte peut redémarrer la partie",
    "Impossible de supprimer le joueur: Lobby non trouvé",
    "Impossible de supprimer le joueur: Seul l'hôte peut supprimer des joueurs",
    "Impossible de supprimer le joueur: L'hôte ne peut pas se supprimer lui-même",
    "Impossible de récupérer les résultats: Lobby non trouvé",
    "Impossible de récupérer les résultats: Vous n'êtes pas dans ce lobby",
    "Impossible de récupérer les résultats: La partie n'est pas encore terminée",
];

/// The errors a message of type `kind` may earn once the envelope and the authentication passed (§2.7's
/// checks; "Opération échouée" is left out on purpose: a healthy server never answers it).
pub fn errors_of(kind: &str) -> &'static [&'static str] {
    const LOBBY: &str = "Lobby non trouvé";
    const NOT_IN: &str = "Vous n'êtes pas dans ce lobby";
    match kind {
        "send_friend_request" => &[
            "receiverTag requis",
            "Le tag est requis",
            "Utilisateur non trouvé",
            "Vous ne pouvez pas vous ajouter vous-même",
            "Vous êtes déjà amis avec cet utilisateur",
            "Une demande est déjà en attente",
        ],
        "respond_friend_request" => &[
            "requestId et action requis",
            "Action invalide",
            "Demande d'ami non trouvée",
            "Non autorisé",
            "Demande déjà traitée",
        ],
        "create_lobby" => &["Nom de lobby invalide", "Paramètres de lobby invalides"],
        "join_lobby" => &[
            "lobbyId requis",
            LOBBY,
            "Vous n'êtes pas autorisé à rejoindre ce lobby",
            "La partie a déjà commencé",
            "Le lobby est complet",
        ],
        "leave_lobby" | "get_lobby_state" | "get_game_state" => &["lobbyId requis"],
        "invite_to_lobby" => &[
            "lobbyId requis",
            "friendId requis",
            LOBBY,
            "Non autorisé à inviter des joueurs dans ce lobby",
            "Vous ne pouvez inviter que vos amis",
            "La partie a déjà commencé",
        ],
        "update_lobby_settings" => &[
            "lobbyId requis",
            LOBBY,
            "Seul l'hôte peut modifier les paramètres du lobby",
            "La partie a déjà commencé",
            "Paramètres de lobby invalides",
        ],
        "update_player_status" | "set_player_ready" => &["lobbyId requis", LOBBY, NOT_IN, "Statut invalide"],
        "start_game" => &[
            "lobbyId requis",
            LOBBY,
            "Seul l'hôte peut démarrer la partie",
            "La partie est déjà terminée",
            "Aucune région sélectionnée",
        ],
        "update_player_progress" => &["lobbyId requis", LOBBY, NOT_IN, "Données de progression invalides"],
        "get_game_results" => &[
            "lobbyId requis",
            "Impossible de récupérer les résultats: Lobby non trouvé",
            "Impossible de récupérer les résultats: Vous n'êtes pas dans ce lobby",
            "Impossible de récupérer les résultats: La partie n'est pas encore terminée",
        ],
        "restart_game" => &["lobbyId requis", LOBBY, "Seul l'hôte peut redémarrer la partie"],
        "remove_player" => &[
            "lobbyId requis",
            "playerId requis",
            "Impossible de supprimer le joueur: Lobby non trouvé",
            "Impossible de supprimer le joueur: Seul l'hôte peut supprimer des joueurs",
            "Impossible de supprimer le joueur: L'hôte ne peut pas se supprimer lui-même",
        ],
        _ => &[],
    }
}

/// A frame that passed the checker.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Connected,
    Authenticated {
        user_id: String,
    },
    AuthenticationFailed,
    AuthenticationError,
    Pong,
    /// `<kind>_success`, with `kind` the message type.
    Success {
        kind: String,
        data: Value,
    },
    Error {
        message: String,
    },
    /// A push of §2.8 and its body (`Null` for `friend_request_received`).
    Push {
        kind: String,
        body: Value,
    },
}

impl Frame {
    /// Whether the frame answers a client message (pushes do not).
    pub fn is_reply(&self) -> bool {
        !matches!(self, Frame::Push { .. } | Frame::Connected)
    }
}

type Check = Result<(), String>;

/// Checks one frame; what it is, or why it is outside the protocol.
pub fn classify(frame: &Value) -> Result<Frame, String> {
    classify_inner(frame).map_err(|e| format!("{e}: {frame}"))
}

fn classify_inner(frame: &Value) -> Result<Frame, String> {
    let o = frame.as_object().ok_or("a frame is a JSON object")?;
    let kind = o.get("type").and_then(Value::as_str).ok_or("type is a string")?;
    let only = |keys: &[&str]| exact_keys(frame, &["type"].iter().chain(keys).copied().collect::<Vec<_>>(), &[]);
    let message = || o.get("message").and_then(Value::as_str).ok_or_else(|| "message is a string".to_owned());
    match kind {
        "connected" => {
            only(&["data"])?;
            equal(&o["data"], &serde_json::json!({"message": "Connexion WebSocket établie"}))?;
            Ok(Frame::Connected)
        }
        "authenticated" => {
            only(&["data"])?;
            let d = exact_keys(&o["data"], &["userId"], &[])?;
            Ok(Frame::Authenticated { user_id: id(&d["userId"])?.to_owned() })
        }
        "authentication_failed" => {
            only(&["message"])?;
            if message()? != "Session invalide" {
                return Err("authentication_failed says Session invalide".into());
            }
            Ok(Frame::AuthenticationFailed)
        }
        "authentication_error" => {
            only(&["message"])?;
            if message()? != "Erreur d'authentification" {
                return Err("authentication_error says Erreur d'authentification".into());
            }
            Ok(Frame::AuthenticationError)
        }
        "pong" => {
            only(&[])?;
            Ok(Frame::Pong)
        }
        "error" => {
            only(&["message"])?;
            let m = message()?;
            // The unknown type is echoed as sent, the empty string included.
            let unsupported = m.starts_with(UNSUPPORTED);
            if !ERRORS.contains(&m) && !unsupported {
                return Err(format!("{m:?} is not a documented error"));
            }
            if m.contains("déconnecté") {
                return Err("no message contains déconnecté".into());
            }
            Ok(Frame::Error { message: m.to_owned() })
        }
        "friend_request_received" => {
            only(&[])?;
            Ok(Frame::Push { kind: kind.to_owned(), body: Value::Null })
        }
        "game_start" => {
            only(&["data"])?;
            game_start(&o["data"])?;
            Ok(Frame::Push { kind: kind.to_owned(), body: o["data"].clone() })
        }
        _ if kind.ends_with("_success") => {
            let message_kind = &kind[..kind.len() - "_success".len()];
            if !MESSAGE_TYPES.contains(&message_kind) {
                return Err(format!("{kind} answers no client message"));
            }
            only(&["data"])?;
            success(message_kind, &o["data"])?;
            Ok(Frame::Success { kind: message_kind.to_owned(), data: o["data"].clone() })
        }
        _ => {
            only(&["payload"])?;
            push(kind, &o["payload"])?;
            Ok(Frame::Push { kind: kind.to_owned(), body: o["payload"].clone() })
        }
    }
}

fn success(kind: &str, d: &Value) -> Check {
    let ok_only = || equal(d, &serde_json::json!({"success": true}));
    match kind {
        "send_friend_request" => {
            let o = exact_keys(d, &["success", "message", "receiverId", "autoAccepted"], &[])?;
            equal(&o["success"], &Value::Bool(true))?;
            id(&o["receiverId"])?;
            match (o["message"].as_str(), o["autoAccepted"].as_bool()) {
                (Some("Demande d'ami envoyée"), Some(false)) | (Some("Vous êtes maintenant amis"), Some(true)) => {
                    Ok(())
                }
                _ => Err("message and autoAccepted agree".into()),
            }
        }
        "respond_friend_request" => one_of(d, &["Demande acceptée", "Demande rejetée"]),
        "create_lobby" => {
            let o = exact_keys(d, &["success", "lobbyId", "hostId", "settings", "lobby", "players"], &[])?;
            equal(&o["success"], &Value::Bool(true))?;
            settings(&o["settings"])?;
            let lobby = exact_keys(&o["lobby"], &["id", "name", "hostId", "status", "settings", "createdAt"], &[])?;
            equal(&lobby["id"], &o["lobbyId"])?;
            equal(&lobby["hostId"], &o["hostId"])?;
            equal(&lobby["status"], &Value::from("waiting"))?;
            equal(&lobby["settings"], &o["settings"])?;
            non_empty(&lobby["name"])?;
            timestamp(&lobby["createdAt"])?;
            let players = array(&o["players"])?;
            if players.len() != 1 {
                return Err("the host is the only player".into());
            }
            let p = exact_keys(&players[0], &["id", "name", "image", "tag", "status"], &[])?;
            equal(&p["id"], &o["hostId"])?;
            equal(&p["status"], &Value::from("joined"))?;
            public_user(p)
        }
        "join_lobby"
        | "update_lobby_settings"
        | "update_player_status"
        | "set_player_ready"
        | "start_game"
        | "update_player_progress"
        | "restart_game" => ok_only(),
        "leave_lobby" => equal(d, &serde_json::json!({"success": true, "message": "Lobby quitté"})),
        "invite_to_lobby" => one_of(d, &["Invitation envoyée", "Joueur déjà dans le lobby"]),
        "get_lobby_state" => {
            let o = exact_keys(d, &["lobbyId", "lobbyState"], &[])?;
            non_empty(&o["lobbyId"])?;
            if !o["lobbyState"].is_null() {
                lobby_state(&o["lobbyState"], &[])?;
                equal(&o["lobbyState"]["lobbyId"], &o["lobbyId"])?;
            }
            Ok(())
        }
        "get_game_state" => {
            let o = d.as_object().ok_or("data is an object")?;
            non_empty(o.get("lobbyId").unwrap_or(&Value::Null))?;
            match o.get("gameState") {
                Some(Value::Null) => {
                    exact_keys(d, &["lobbyId", "gameState", "message"], &[])?;
                    equal(&o["message"], &Value::from("Aucun état de jeu disponible"))
                }
                Some(state) => {
                    exact_keys(d, &["lobbyId", "gameState"], &[])?;
                    lobby_state(state, &["startTime", "totalQuestions"])?;
                    equal(&state["lobbyId"], &o["lobbyId"])?;
                    let waiting = state["status"] == "waiting";
                    for key in ["startTime", "totalQuestions"] {
                        if waiting != state[key].is_null() {
                            return Err(format!("{key} is null exactly while waiting"));
                        }
                    }
                    if !waiting {
                        timestamp(&state["startTime"])?;
                        count(&state["totalQuestions"])?;
                    }
                    Ok(())
                }
                None => Err("gameState is present".into()),
            }
        }
        "get_game_results" => {
            let o = exact_keys(d, &["lobbyId", "hostId", "rankings"], &[])?;
            non_empty(&o["lobbyId"])?;
            id(&o["hostId"])?;
            rankings(array(&o["rankings"])?)
        }
        "remove_player" => {
            let o = exact_keys(d, &["lobbyId", "playerId", "message"], &[])?;
            non_empty(&o["lobbyId"])?;
            non_empty(&o["playerId"])?;
            equal(&o["message"], &Value::from("Joueur supprimé avec succès"))
        }
        _ => Err(format!("no reply shape for {kind}")),
    }
}

fn push(kind: &str, p: &Value) -> Check {
    match kind {
        "lobby_update" => lobby_state(p, &[]),
        "update_player_progress" => {
            let o = exact_keys(p, &["lobbyId", "players"], &[])?;
            non_empty(&o["lobbyId"])?;
            for entry in array(&o["players"])? {
                let e = exact_keys(
                    entry,
                    &["id", "name", "score", "progress", "validatedCountries", "incorrectCountries"],
                    &[],
                )?;
                id(&e["id"])?;
                non_empty(&e["name"])?;
                scores(e)?;
            }
            Ok(())
        }
        "game_end" => {
            let o = exact_keys(p, &["lobbyId"], &[])?;
            non_empty(&o["lobbyId"]).map(|_| ())
        }
        "game_restarted" => {
            let o = exact_keys(p, &["lobbyId", "message"], &[])?;
            equal(&o["message"], &Value::from("Partie remise à zéro, retour au lobby d'attente."))
        }
        "player_left_game" => {
            let o = exact_keys(p, &["lobbyId", "playerId", "playerName", "timestamp"], &[])?;
            id(&o["playerId"])?;
            non_empty(&o["playerName"])?;
            o["timestamp"].as_i64().filter(|t| *t > 0).map(|_| ()).ok_or_else(|| "timestamp is epoch ms".into())
        }
        "player_removed" => {
            let o = exact_keys(p, &["lobbyId", "message"], &[])?;
            equal(&o["message"], &Value::from("Vous avez été expulsé du lobby par l'hôte"))
        }
        "lobby_invitation" => {
            let o = exact_keys(p, &["lobbyId", "hostId", "hostName", "lobbyName", "inviterId", "inviterName"], &[])?;
            for key in ["hostId", "inviterId"] {
                id(&o[key])?;
            }
            for key in ["lobbyId", "hostName", "lobbyName", "inviterName"] {
                non_empty(&o[key])?;
            }
            Ok(())
        }
        "friend_request_accepted" => {
            let o = exact_keys(p, &["success", "acceptedBy", "friendId"], &[])?;
            equal(&o["success"], &Value::Bool(true))?;
            id(&o["acceptedBy"])?;
            id(&o["friendId"]).map(|_| ())
        }
        "friend_removed" => id(&exact_keys(p, &["friendId"], &[])?["friendId"]).map(|_| ()),
        "friend_status_change" => {
            let o = exact_keys(p, &["friendId", "isOnline", "lastSeen"], &[])?;
            id(&o["friendId"])?;
            o["isOnline"].as_bool().ok_or("isOnline is a boolean")?;
            timestamp(&o["lastSeen"])
        }
        _ => Err(format!("{kind} is not a documented message")),
    }
}

fn game_start(d: &Value) -> Check {
    let o = exact_keys(d, &["lobbyId", "startTime", "totalQuestions", "settings", "gameState"], &[])?;
    non_empty(&o["lobbyId"])?;
    timestamp(&o["startTime"])?;
    let regions = settings(&o["settings"])?;
    let total = count(&o["totalQuestions"])?;
    let required = mapquiz_domain::region::required_codes(&regions).len() as u64;
    if total != required {
        return Err(format!("totalQuestions {total} is the {required} distinct codes of the regions"));
    }
    let g = exact_keys(
        &o["gameState"],
        &["startTime", "currentQuestion", "totalQuestions", "currentCountry", "settings"],
        &[],
    )?;
    equal(&g["startTime"], &o["startTime"])?;
    equal(&g["currentQuestion"], &Value::from(0))?;
    equal(&g["totalQuestions"], &o["totalQuestions"])?;
    equal(&g["currentCountry"], &Value::Null)?;
    equal(&g["settings"], &o["settings"])
}

/// `LobbyState` (§0.6), with `extra` keys beside its own (`get_game_state`'s).
fn lobby_state(v: &Value, extra: &[&str]) -> Check {
    let keys: Vec<&str> =
        ["lobbyId", "name", "status", "hostId", "settings", "players"].iter().chain(extra).copied().collect();
    let o = exact_keys(v, &keys, &[])?;
    non_empty(&o["lobbyId"])?;
    non_empty(&o["name"])?;
    one_str(&o["status"], &["waiting", "playing", "finished"])?;
    id(&o["hostId"])?;
    settings(&o["settings"])?;
    for p in array(&o["players"])? {
        let p = exact_keys(
            p,
            &[
                "id",
                "name",
                "image",
                "tag",
                "status",
                "score",
                "progress",
                "validatedCountries",
                "incorrectCountries",
                "connected",
            ],
            &[],
        )?;
        public_user(p)?;
        one_str(&p["status"], &["joined", "ready", "playing", "finished"])?;
        scores(p)?;
        p["connected"].as_bool().ok_or("connected is a boolean")?;
    }
    Ok(())
}

/// `score`, `progress` (0..=100) and the two lists of strings.
fn scores(p: &Map<String, Value>) -> Check {
    count(&p["score"])?;
    if count(&p["progress"])? > 100 {
        return Err("progress is 0..=100".into());
    }
    for key in ["validatedCountries", "incorrectCountries"] {
        for code in array(&p[key])? {
            non_empty(code)?;
        }
    }
    Ok(())
}

fn rankings(list: &[Value]) -> Check {
    for r in list {
        let r = exact_keys(r, &["id", "name", "score", "rank", "completionTime"], &[])?;
        id(&r["id"])?;
        non_empty(&r["name"])?;
        count(&r["score"])?;
        count(&r["rank"])?;
        if !r["completionTime"].is_null() {
            count(&r["completionTime"])?;
        }
    }
    Ok(())
}

/// The regions of a `LobbySettings`.
fn settings(v: &Value) -> Result<Vec<Region>, String> {
    let o = exact_keys(v, &["selectedRegions", "gameMode"], &[])?;
    one_str(&o["gameMode"], &["quiz", "training"])?;
    let mut regions = Vec::new();
    for r in array(&o["selectedRegions"])? {
        let region = r.as_str().and_then(Region::parse).ok_or_else(|| format!("{r} is a known region"))?;
        if regions.contains(&region) {
            return Err("selectedRegions are distinct".into());
        }
        regions.push(region);
    }
    Ok(regions)
}

fn public_user(p: &Map<String, Value>) -> Check {
    id(&p["id"])?;
    non_empty(&p["name"])?;
    if !(p["image"].is_null() || p["image"].is_string()) {
        return Err("image is a string or null".into());
    }
    p["tag"].as_str().ok_or("tag is a string")?;
    Ok(())
}

fn one_of(d: &Value, messages: &[&str]) -> Check {
    let o = exact_keys(d, &["success", "message"], &[])?;
    equal(&o["success"], &Value::Bool(true))?;
    one_str(&o["message"], messages)
}

/// The object `v` with exactly the `required` keys, and perhaps some `optional` ones.
pub fn exact_keys<'a>(v: &'a Value, required: &[&str], optional: &[&str]) -> Result<&'a Map<String, Value>, String> {
    let o = v.as_object().ok_or_else(|| format!("an object: {v}"))?;
    if let Some(missing) = required.iter().find(|k| !o.contains_key(**k)) {
        return Err(format!("{missing} is missing"));
    }
    if let Some(extra) = o.keys().find(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str())) {
        return Err(format!("{extra} is not a documented key"));
    }
    Ok(o)
}

fn equal(v: &Value, want: &Value) -> Check {
    if v == want { Ok(()) } else { Err(format!("{v} should be {want}")) }
}

fn one_str(v: &Value, allowed: &[&str]) -> Check {
    match v.as_str() {
        Some(s) if allowed.contains(&s) => Ok(()),
        _ => Err(format!("{v} is one of {allowed:?}")),
    }
}

fn non_empty(v: &Value) -> Result<&str, String> {
    v.as_str().filter(|s| !s.is_empty()).ok_or_else(|| format!("{v} is a non-empty string"))
}

/// A user id: a non-empty string.
fn id(v: &Value) -> Result<&str, String> {
    non_empty(v)
}

fn array(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array().ok_or_else(|| format!("{v} is an array"))
}

fn count(v: &Value) -> Result<u64, String> {
    v.as_u64().ok_or_else(|| format!("{v} is a non-negative integer"))
}

fn timestamp(v: &Value) -> Check {
    match v.as_str() {
        Some(s) if is_timestamp(s) => Ok(()),
        _ => Err(format!("{v} is an ISO timestamp")),
    }
}

#[test]
fn the_checker_rejects_what_the_protocol_does_not_list() {
    use serde_json::json;
    assert!(classify(&json!({"type": "pong"})).is_ok());
    assert!(classify(&json!({"type": "pong", "data": {}})).is_err(), "an extra key");
    assert!(classify(&json!({"type": "lobby_updated", "payload": {}})).is_err(), "an unknown type");
    assert!(classify(&json!({"type": "error", "message": "Boom"})).is_err(), "an undocumented error");
    assert!(classify(&json!({"type": "error", "message": "Type de message non supporté: x"})).is_ok());
    assert!(classify(&json!({"type": "join_lobby_success", "data": {"success": true}})).is_ok());
    assert!(classify(&json!({"type": "join_lobby_success", "payload": {"success": true}})).is_err(), "wrong key");
    assert!(classify(&json!({"type": "ping_success", "data": {}})).is_err(), "answers no message");
    assert!(classify(&json!({"type": "game_end", "payload": {}})).is_err(), "lobbyId missing");
    assert!(classify(&json!({"type": "player_removed", "payload": {"lobbyId": "l"}})).is_err(), "message missing");
}
