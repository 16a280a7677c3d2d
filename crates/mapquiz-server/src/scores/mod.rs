//! Solo scores (protocol §5): saving a finished game, the history chart, the totals.

pub mod writer;

use crate::auth::CurrentUser;
use crate::error::{ApiError, json};
use crate::http::json::JsonBody;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use mapquiz_domain::scores::{GameMode, Period, ScoreInput, day_month_label, local_day, regions_key};
use mapquiz_domain::{Timestamp, new_id};
use mapquiz_store::{BoardPeriod, NewScore};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// History length when `limit` is absent, and the largest allowed.
const DEFAULT_HISTORY: u32 = 10;
const MAX_HISTORY: u32 = 100;

/// The score routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(save))
        .routes(routes!(save_trailing_slash))
        .routes(routes!(history))
        .routes(routes!(stats))
}

/// The leaderboard periods a game played on local `day` counts in: all four for a quiz, none for training.
pub fn board_periods(mode: GameMode, day: NaiveDate) -> Vec<BoardPeriod> {
    match mode {
        GameMode::Quiz => Period::ALL
            .iter()
            .map(|p| BoardPeriod { period: p.as_str().to_owned(), period_start: p.start_key(day) })
            .collect(),
        GameMode::Training => Vec::new(),
    }
}

/// A saved game as the client gets it back.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScoreBody {
    id: String,
    user_id: String,
    score: i32,
    total_questions: i32,
    selected_regions: Vec<String>,
    game_mode: String,
    duration: Option<i32>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

impl From<&NewScore> for ScoreBody {
    fn from(s: &NewScore) -> Self {
        ScoreBody {
            id: s.id.clone(),
            user_id: s.user_id.clone(),
            score: s.score,
            total_questions: s.total_questions,
            selected_regions: s.selected_regions.clone(),
            game_mode: s.game_mode.clone(),
            duration: s.duration,
            created_at: s.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct Saved {
    success: bool,
    score: ScoreBody,
}

/// The body of `POST /api/scores` (schema only: `ScoreInput::parse` reads it, in the protocol's order).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"score": 7, "totalQuestions": 10, "selectedRegions": ["Europe"], "gameMode": "quiz", "duration": 95}))]
#[allow(dead_code)] // the fields exist for their schema
pub struct ScoreRequest {
    /// 0 to `totalQuestions`.
    #[schema(minimum = 0, maximum = 500)]
    score: i64,
    #[schema(minimum = 1, maximum = 500)]
    total_questions: i64,
    /// Distinct regions, at least one.
    #[schema(min_items = 1, max_items = 6)]
    selected_regions: std::collections::BTreeSet<RegionName>,
    /// `quiz` (default) or `training`.
    game_mode: Option<GameModeName>,
    /// Seconds.
    #[schema(minimum = 0, maximum = 86_400)]
    duration: Option<i64>,
}

/// A region's wire name.
#[derive(ToSchema, PartialEq, Eq, PartialOrd, Ord)]
#[allow(dead_code)] // schema only
pub enum RegionName {
    Afrique,
    #[schema(rename = "Amérique du Nord")]
    AmeriqueDuNord,
    #[schema(rename = "Amérique du Sud")]
    AmeriqueDuSud,
    Asie,
    Europe,
    #[schema(rename = "Océanie")]
    Oceanie,
}

/// A solo game's mode.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // schema only
pub enum GameModeName {
    Quiz,
    Training,
}

/// Saves a finished solo game (and enters it on its leaderboards when it is a quiz).
#[utoipa::path(post, path = "/api/scores", tag = "scores", request_body = ScoreRequest,
    responses((status = 200, body = Saved), (status = 400, description = "validation_failed (message names the field)"),
              (status = 401, description = "unauthorized")))]
async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let me = state.auth.require_api(&headers).await?;
    let body = body.as_object().ok_or_else(|| ApiError::validation("Données invalides"))?;
    let game = ScoreInput::parse(body).map_err(|e| ApiError::validation(e.to_string()))?;
    let now = state.clock.now();
    let day = local_day(now, state.config.time_zone);
    let boards = board_periods(game.mode, day);
    let new_score = NewScore {
        id: new_id(),
        user_id: me.user.id,
        score: game.score,
        total_questions: game.total_questions,
        selected_regions: game.regions.iter().map(|r| r.as_str().to_owned()).collect(),
        regions_key: regions_key(&game.regions),
        game_mode: game.mode.as_str().to_owned(),
        duration: game.duration,
        created_at: now,
        boards,
    };
    let score = ScoreBody::from(&new_score);
    // Group-committed with the games saved meanwhile, by the writer's own task (see `writer`).
    state.score_writer.save(new_score).await.map_err(ApiError::from)?;
    Ok(json(StatusCode::OK, &Saved { success: true, score }))
}

/// The original's alias with a trailing slash.
#[utoipa::path(post, path = "/api/scores/", tag = "scores", request_body = ScoreRequest,
    responses((status = 200, body = Saved), (status = 400, description = "validation_failed (message names the field)"),
              (status = 401, description = "unauthorized")))]
async fn save_trailing_slash(state: State<AppState>, headers: HeaderMap, body: JsonBody) -> Result<Response, ApiError> {
    save(state, headers, body).await
}

/// One point of the history chart.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItem {
    score: i32,
    /// Seconds; 0 when the game had none.
    duration: i32,
    selected_regions: Vec<String>,
    /// `DD/MM` in the configured time zone.
    date: String,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

/// The caller's latest games, oldest first (a bare array).
#[utoipa::path(get, path = "/api/scores/history", tag = "scores",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 10")),
    responses((status = 200, body = [HistoryItem]), (status = 400, description = "Paramètre limit invalide"),
              (status = 401, description = "unauthorized")))]
async fn history(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let limit = match crate::http::query::first(query.as_deref(), "limit") {
        None => DEFAULT_HISTORY,
        Some(raw) => crate::http::query::bounded(&raw, 1..=MAX_HISTORY)
            .ok_or_else(|| ApiError::validation("Paramètre limit invalide"))?,
    };
    let mut scores = state.store.recent_scores(&me.user.id, limit).await?;
    scores.reverse();
    let tz = state.config.time_zone;
    let items: Vec<HistoryItem> = scores
        .into_iter()
        .map(|s| HistoryItem {
            score: s.score,
            duration: s.duration.unwrap_or(0),
            date: day_month_label(s.created_at, tz),
            selected_regions: s.selected_regions,
            created_at: s.created_at,
        })
        .collect();
    Ok(json(StatusCode::OK, &items))
}

/// Totals over the caller's solo games.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    total_games: i64,
    best_score: i64,
    /// Mean score, rounded half up.
    average_score: i64,
    total_score: i64,
}

/// The caller's totals.
#[utoipa::path(get, path = "/api/scores/stats", tag = "scores",
    responses((status = 200, body = Stats), (status = 401, description = "unauthorized")))]
async fn stats(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Response, ApiError> {
    let s = state.store.score_stats(&me.user.id).await?;
    // Half up on non-negative integers: (2·total + games) / (2·games).
    let average_score = if s.total_games == 0 { 0 } else { (2 * s.total_score + s.total_games) / (2 * s.total_games) };
    Ok(json(
        StatusCode::OK,
        &Stats { total_games: s.total_games, best_score: s.best_score, average_score, total_score: s.total_score },
    ))
}
