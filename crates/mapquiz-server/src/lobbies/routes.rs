//! The game history (issue 12): `GET /api/games`, the caller's finished multiplayer games, newest first.
//! Players appear with their public fields only, never an email.

use crate::auth::CurrentUser;
use crate::error::{ApiError, json};
use crate::http::query::{bounded, first};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mapquiz_domain::{LobbyId, Timestamp, UserId};
use mapquiz_store::{GameCursor, GamePlayer, GameRecord};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Page size when `limit` is absent, and the largest allowed.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 50;
/// Longest cursor accepted: start-time millis and a lobby id (at most 64 characters), encoded.
const MAX_CURSOR_LEN: usize = 128;

/// The game-history route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(history))
}

/// One player's result in a past game.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlayedBy {
    id: String,
    name: String,
    image: Option<String>,
    tag: String,
    /// 1 + the number of strictly higher scores (ties share a rank).
    rank: u32,
    score: u32,
    /// Seconds from the start to the player's last answer; null when they did not finish.
    completion_time: Option<u32>,
}

impl From<&GamePlayer> for PlayedBy {
    fn from(p: &GamePlayer) -> Self {
        PlayedBy {
            id: p.profile.id().to_string(),
            name: p.profile.name().to_owned(),
            image: p.profile.image().map(str::to_owned),
            tag: p.profile.tag().to_owned(),
            rank: p.rank,
            score: p.score,
            completion_time: p.completion_secs,
        }
    }
}

/// One finished multiplayer game, as the caller played it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PastGame {
    lobby_id: String,
    /// The lobby's name when the game ended.
    lobby_name: String,
    /// The regions played, in the host's order.
    #[schema(value_type = Vec<String>)]
    regions: Vec<String>,
    /// `quiz` or `training`.
    game_mode: &'static str,
    #[schema(value_type = String, format = DateTime)]
    start_time: Timestamp,
    /// Whole seconds from the start to the stored results.
    duration: u32,
    /// The distinct country codes of the regions played.
    total_questions: u32,
    /// The caller's rank.
    rank: u32,
    /// The caller's score.
    score: u32,
    /// The caller's completion time in seconds; null when they did not finish.
    completion_time: Option<u32>,
    /// Every player, by rank, then completion time (unfinished last).
    players: Vec<PlayedBy>,
}

impl PastGame {
    /// The game as `me` played it; `None` if `me` has no result in it (the store lists only theirs).
    fn of(game: &GameRecord, me: &UserId) -> Option<Self> {
        let mine = game.players.iter().find(|p| p.profile.id() == me)?;
        Some(PastGame {
            lobby_id: game.lobby.to_string(),
            lobby_name: game.lobby_name.clone(),
            regions: game.regions.iter().map(|r| r.as_str().to_owned()).collect(),
            game_mode: game.mode.as_str(),
            start_time: game.started_at,
            duration: game.duration_secs(),
            total_questions: game.total_questions,
            rank: mine.rank,
            score: mine.score,
            completion_time: mine.completion_secs,
            players: game.players.iter().map(PlayedBy::from).collect(),
        })
    }
}

/// A page of the history.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GamePage {
    games: Vec<PastGame>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// The cursor's text: the start time in epoch milliseconds and the lobby id, which together order games.
fn encode_cursor(cursor: &GameCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", cursor.started_at.millis(), cursor.lobby))
}

fn decode_cursor(raw: &str) -> Option<GameCursor> {
    if raw.len() > MAX_CURSOR_LEN {
        return None;
    }
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    let (millis, lobby) = text.split_once(':')?;
    let started_at = Timestamp::from_millis(millis.parse().ok()?)?;
    Some(GameCursor { started_at, lobby: LobbyId::parse(lobby)? })
}

/// Reads `limit` and `cursor` (the first of each); each malformed one is its own 400.
fn page_params(query: Option<&str>) -> Result<(u32, Option<GameCursor>), ApiError> {
    let limit = match first(query, "limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => bounded(&raw, 1..=MAX_LIMIT).ok_or_else(|| ApiError::validation("Paramètre limit invalide"))?,
    };
    let before = first(query, "cursor")
        .map(|raw| decode_cursor(&raw).ok_or_else(|| ApiError::validation("Paramètre cursor invalide")))
        .transpose()?;
    Ok((limit, before))
}

/// The caller's finished multiplayer games, newest first.
#[utoipa::path(get, path = "/api/games", tag = "games",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 50, description = "1–50, default 20"),
           ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page")),
    responses((status = 200, body = GamePage),
              (status = 400, description = "validation_failed (Paramètre limit invalide, Paramètre cursor invalide)"),
              (status = 401, description = "unauthorized")))]
async fn history(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (limit, before) = page_params(query.as_deref())?;
    let Some(user) = UserId::parse(&me.user.id) else {
        return Ok(json(StatusCode::OK, &GamePage { games: Vec::new(), next_cursor: None }));
    };
    // One game more than asked says whether there is a next page.
    let mut games = state.store.games_of_user(&user, limit + 1, before).await?;
    let next_cursor = if games.len() > limit as usize {
        games.truncate(limit as usize);
        games.last().map(|g| encode_cursor(&g.cursor()))
    } else {
        None
    };
    let games = games.iter().filter_map(|g| PastGame::of(g, &user)).collect();
    Ok(json(StatusCode::OK, &GamePage { games, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor =
            GameCursor { started_at: Timestamp::from_millis(1_754_927_210_123).unwrap(), lobby: LobbyId::new() };
        assert_eq!(decode_cursor(&encode_cursor(&cursor)), Some(cursor));
        assert_eq!(decode_cursor("not base64 !"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("no separator")), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("x:lobby")), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("12:")), None);
        assert_eq!(decode_cursor(&"A".repeat(MAX_CURSOR_LEN + 1)), None);
    }

    #[test]
    fn limits_are_bounded_and_each_bad_parameter_names_itself() {
        let msg = |q: &str| match page_params(Some(q)) {
            Err(ApiError::Validation { message, .. }) => message,
            other => panic!("{q}: {:?}", other.map(|(l, _)| l)),
        };
        assert_eq!(page_params(None).unwrap().0, DEFAULT_LIMIT);
        assert_eq!(page_params(Some("limit=50")).unwrap().0, 50);
        assert_eq!(page_params(Some("limit=1")).unwrap().0, 1);
        for q in ["limit=0", "limit=51", "limit=x", "limit=-1", "limit="] {
            assert_eq!(msg(q), "Paramètre limit invalide");
        }
        assert_eq!(msg("cursor=%%%"), "Paramètre cursor invalide");
        assert_eq!(msg("cursor="), "Paramètre cursor invalide");
    }
}
