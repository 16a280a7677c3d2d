//! Leaderboards: each player's best solo quiz on a set of regions, per day, week, month or all time, among
//! everyone or among friends, with the caller's own neighbourhood however far from the top.

use crate::auth::CurrentUser;
use crate::auth::wire::display_name;
use crate::error::{ApiError, json};
use crate::http::query::{bounded, first};
use crate::state::AppState;
use crate::users::tags;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use mapquiz_domain::scores::{Period, local_day, regions_key};
use mapquiz_domain::{Region, Timestamp};
use mapquiz_store::{BoardEntry, BoardKey, BoardPeriod, BoardScope};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// Entries shown on each side of the caller with `around=me`.
const NEIGHBOURS: u32 = 2;

/// The leaderboard route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(leaderboard))
}

/// A player as a leaderboard shows them.
#[derive(Serialize, ToSchema)]
pub struct EntryUser {
    id: String,
    name: String,
    image: Option<String>,
    tag: String,
}

/// One line of a board.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    rank: i64,
    user: EntryUser,
    score: i32,
    total_questions: i32,
    duration: Option<i32>,
    #[schema(value_type = String, format = DateTime)]
    achieved_at: Timestamp,
}

/// The caller's place.
#[derive(Serialize, ToSchema)]
pub struct Around {
    rank: i64,
    /// Up to two entries above, the caller, up to two below.
    entries: Vec<Entry>,
}

/// A board.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    regions: Vec<String>,
    period: &'static str,
    /// First local day of the period; null for all time.
    period_start: Option<String>,
    scope: &'static str,
    entries: Vec<Entry>,
    /// Present when `around=me` was asked; null when the caller has no entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    around: Option<Option<Around>>,
}

/// The board's query, checked parameter by parameter.
struct BoardQuery {
    regions: Vec<Region>,
    period: Period,
    friends: bool,
    limit: u32,
    around: bool,
}

/// The `period` parameter (schema only; `Period::parse` reads it).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // schema only
enum PeriodName {
    Day,
    Week,
    Month,
    All,
}

/// The `scope` parameter (schema only).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // schema only
enum ScopeName {
    Global,
    Friends,
}

/// The `around` parameter (schema only).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // schema only
enum AroundName {
    Me,
}

fn parse(query: Option<&str>) -> Result<BoardQuery, ApiError> {
    let invalid = |name: &str| ApiError::validation(format!("Paramètre {name} invalide"));
    let mut regions: Vec<Region> = Vec::new();
    for part in first(query, "regions").unwrap_or_default().split(',') {
        let region = Region::parse(part.trim()).ok_or_else(|| invalid("regions"))?;
        if !regions.contains(&region) {
            regions.push(region);
        }
    }
    regions.sort();
    let period = match first(query, "period") {
        None => Period::All,
        Some(p) => Period::parse(&p).ok_or_else(|| invalid("period"))?,
    };
    let friends = match first(query, "scope").as_deref() {
        None | Some("global") => false,
        Some("friends") => true,
        Some(_) => return Err(invalid("scope")),
    };
    let limit = match first(query, "limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => bounded(&raw, 1..=MAX_LIMIT).ok_or_else(|| invalid("limit"))?,
    };
    let around = match first(query, "around").as_deref() {
        None => false,
        Some("me") => true,
        Some(_) => return Err(invalid("around")),
    };
    Ok(BoardQuery { regions, period, friends, limit, around })
}

async fn entries(state: &AppState, rows: Vec<BoardEntry>) -> Result<Vec<Entry>, ApiError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let tag = tags::ensure(&state.store, &row.user, state.clock.now()).await?;
        out.push(Entry {
            rank: row.rank,
            user: EntryUser {
                name: display_name(&row.user.name).to_owned(),
                id: row.user.id,
                image: row.user.image,
                tag,
            },
            score: row.score,
            total_questions: row.total_questions,
            duration: row.duration,
            achieved_at: row.achieved_at,
        });
    }
    Ok(out)
}

/// A leaderboard.
#[utoipa::path(get, path = "/api/leaderboards", tag = "leaderboards",
    params(("regions" = String, Query, pattern = r"^\s*(Afrique|Amérique du Nord|Amérique du Sud|Asie|Europe|Océanie)\s*(,\s*(Afrique|Amérique du Nord|Amérique du Sud|Asie|Europe|Océanie)\s*)*$",
            description = "comma-separated regions; the board is their sorted distinct set"),
           ("period" = inline(Option<PeriodName>), Query, description = "week starts on Monday; days, weeks and months are the configured time zone's (default all)"),
           ("scope" = inline(Option<ScopeName>), Query, description = "friends: the caller and their friends (default global)"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
           ("around" = inline(Option<AroundName>), Query, description = "`me`: add the caller's rank with two neighbours on each side")),
    responses((status = 200, body = Board,
               description = "Each player once, with their best quiz of the period: higher share of correct answers, \
                              then shorter duration, then earlier. Same share and duration share a rank (1, 1, 3). \
                              Training games never count."),
              (status = 400, description = "validation_failed: Paramètre <name> invalide"),
              (status = 401, description = "unauthorized")))]
async fn leaderboard(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse(query.as_deref())?;
    let day = local_day(state.clock.now(), state.config.time_zone);
    let board = BoardKey {
        regions_key: regions_key(&q.regions),
        period: BoardPeriod { period: q.period.as_str().to_owned(), period_start: q.period.start_key(day) },
    };
    let scope = if q.friends { BoardScope::Friends { user_id: me.user.id.clone() } } else { BoardScope::Global };
    let top = state.store.leaderboard_top(&board, &scope, q.limit).await?;
    let around = match q.around {
        false => None,
        true => {
            let rows = state.store.leaderboard_around(&board, &scope, &me.user.id, NEIGHBOURS).await?;
            let rank = rows.iter().find(|e| e.user.id == me.user.id).map(|e| e.rank);
            match rank {
                Some(rank) => Some(Some(Around { rank, entries: entries(&state, rows).await? })),
                None => Some(None),
            }
        }
    };
    let body = Board {
        regions: q.regions.iter().map(|r| r.as_str().to_owned()).collect(),
        period: q.period.as_str(),
        period_start: Some(board.period.period_start.clone()).filter(|start| !start.is_empty()),
        scope: if q.friends { "friends" } else { "global" },
        entries: entries(&state, top).await?,
        around,
    };
    Ok(json(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(query: &str) -> String {
        match parse(Some(query)) {
            Err(ApiError::Validation { message, .. }) => message,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("{query} accepted"),
        }
    }

    #[test]
    fn parameters_are_checked_one_by_one() {
        let q = parse(Some("regions=Europe,Asie,Europe&period=week&scope=friends&limit=5&around=me")).unwrap();
        assert_eq!(q.regions, vec![Region::Asie, Region::Europe]);
        assert_eq!((q.period, q.friends, q.limit, q.around), (Period::Week, true, 5, true));
        let d = parse(Some("regions=Oc%C3%A9anie")).unwrap();
        assert_eq!((d.period, d.friends, d.limit, d.around), (Period::All, false, 20, false));
        assert_eq!(message(""), "Paramètre regions invalide");
        assert_eq!(message("regions=Australie"), "Paramètre regions invalide");
        assert_eq!(message("regions=Europe&period=year"), "Paramètre period invalide");
        assert_eq!(message("regions=Europe&scope=all"), "Paramètre scope invalide");
        assert_eq!(message("regions=Europe&limit=0"), "Paramètre limit invalide");
        assert_eq!(message("regions=Europe&around=you"), "Paramètre around invalide");
    }
}
