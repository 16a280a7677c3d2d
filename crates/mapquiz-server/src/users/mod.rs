//! Users (protocol §1.5): search and lookups by id and tag. Never an email address.

pub mod tags;

use crate::auth::CurrentUser;
use crate::auth::wire::display_name;
use crate::error::{ApiError, json};
use crate::http::query::{bounded, first};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mapquiz_domain::{Tag, Timestamp};
use mapquiz_store::{User, UserSearch, name_key};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Page size when `limit` is absent, and the largest allowed.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// Longest search prefix, in characters.
const MAX_Q_CHARS: usize = 50;
/// Longest cursor accepted (a name key and an id, encoded).
const MAX_CURSOR_LEN: usize = 512;

/// The user routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(list_trailing_slash))
        .routes(routes!(my_tag))
        .routes(routes!(by_tag))
        .routes(routes!(by_id))
}

/// A user as other players see them, with presence.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListedUser {
    id: String,
    name: String,
    image: Option<String>,
    tag: String,
    is_online: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    last_seen: Option<Timestamp>,
}

/// `PublicUser` of protocol §0.6.
#[derive(Serialize, ToSchema)]
pub struct PublicUser {
    id: String,
    name: String,
    image: Option<String>,
    tag: String,
}

/// `PublicUser` for `user`, its tag ensured.
pub async fn public(state: &AppState, user: &User) -> Result<PublicUser, ApiError> {
    Ok(PublicUser {
        id: user.id.clone(),
        name: display_name(&user.name).to_owned(),
        image: user.image.clone(),
        tag: tags::ensure(&state.store, user, state.clock.now()).await?,
    })
}

/// The user as listed with presence (user search, friends list), its tag ensured.
pub async fn listed(state: &AppState, user: &User) -> Result<ListedUser, ApiError> {
    Ok(ListedUser {
        id: user.id.clone(),
        name: display_name(&user.name).to_owned(),
        image: user.image.clone(),
        tag: tags::ensure(&state.store, user, state.clock.now()).await?,
        is_online: user.is_online,
        last_seen: user.last_seen,
    })
}

/// A page of users.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    users: Vec<ListedUser>,
    next_cursor: Option<String>,
}

fn encode_cursor(user: &User) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}\0{}", name_key(&user.name), user.id))
}

fn decode_cursor(raw: &str) -> Option<(String, String)> {
    if raw.len() > MAX_CURSOR_LEN {
        return None;
    }
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    let (key, id) = text.split_once('\0')?;
    (!id.is_empty()).then(|| (key.to_owned(), id.to_owned()))
}

/// Reads `q`, `limit` and `cursor` (the first of each); each malformed one is its own 400.
fn search_params(query: Option<&str>, caller: &str) -> Result<UserSearch, ApiError> {
    let limit = match first(query, "limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => bounded(&raw, 1..=MAX_LIMIT).ok_or_else(|| ApiError::validation("Paramètre limit invalide"))?,
    };
    let after = first(query, "cursor")
        .map(|raw| decode_cursor(&raw).ok_or_else(|| ApiError::validation("Paramètre cursor invalide")))
        .transpose()?;
    let prefix = first(query, "q")
        .map(|raw| {
            let q = raw.trim();
            let chars = q.chars().count();
            if chars == 0 || chars > MAX_Q_CHARS || q.chars().any(char::is_control) {
                return Err(ApiError::validation("Paramètre q invalide"));
            }
            Ok(name_key(q))
        })
        .transpose()?;
    Ok(UserSearch { exclude_id: caller.to_owned(), prefix, after, limit })
}

/// The query of `GET /api/users`, for the document only: the handler reads it by hand, so that each malformed
/// field gets its own 400.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct SearchQuery {
    /// Prefix of a name or a tag, 1–50 characters once trimmed, no control characters.
    #[param(min_length = 1, max_length = 50)]
    q: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// Users by name, case-insensitively, then id; the caller excluded.
#[utoipa::path(get, path = "/api/users", tag = "users",
    params(SearchQuery),
    responses((status = 200, body = UserPage), (status = 400, description = "validation_failed"),
              (status = 401, description = "unauthorized")))]
async fn list(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut search = search_params(query.as_deref(), &me.user.id)?;
    let limit = search.limit as usize;
    // One row more than asked says whether there is a next page.
    search.limit += 1;
    let mut rows = state.store.search_users(&search).await?;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(encode_cursor)
    } else {
        None
    };
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        users.push(listed(&state, row).await?);
    }
    Ok(json(StatusCode::OK, &UserPage { users, next_cursor }))
}

/// The original's alias with a trailing slash.
#[utoipa::path(get, path = "/api/users/", tag = "users",
    params(SearchQuery),
    responses((status = 200, body = UserPage), (status = 400, description = "validation_failed"),
              (status = 401, description = "unauthorized")))]
async fn list_trailing_slash(state: State<AppState>, me: CurrentUser, query: RawQuery) -> Result<Response, ApiError> {
    list(state, me, query).await
}

/// The caller's tag, generated first if they have none.
#[utoipa::path(get, path = "/api/users/me/tag", tag = "users",
    responses((status = 200, description = "`{tag}`"), (status = 401, description = "unauthorized")))]
async fn my_tag(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Response, ApiError> {
    let tag = tags::ensure(&state.store, &me.user, state.clock.now()).await?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "tag": tag })))
}

/// The user with this tag (trimmed and upper-cased first).
#[utoipa::path(get, path = "/api/users/tag/{tag}", tag = "users",
    params(("tag" = String, Path, description = "a friend tag, any case")),
    responses((status = 200, description = "`{user: PublicUser}`"), (status = 404, description = "user_not_found"),
              (status = 401, description = "unauthorized")))]
async fn by_tag(
    State(state): State<AppState>,
    _caller: CurrentUser,
    Path(tag): Path<String>,
) -> Result<Response, ApiError> {
    let tag = Tag::parse(&tag).map_err(|_| ApiError::UserNotFound)?;
    let user = state.store.user_by_tag(tag.as_str()).await?.ok_or(ApiError::UserNotFound)?;
    let body = PublicUser {
        id: user.id.clone(),
        name: display_name(&user.name).to_owned(),
        image: user.image.clone(),
        tag: tag.as_str().to_owned(),
    };
    Ok(json(StatusCode::OK, &serde_json::json!({ "user": body })))
}

/// The user with this id.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users",
    params(("id" = String, Path, description = "a user id")),
    responses((status = 200, description = "`{user}` with presence"), (status = 404, description = "user_not_found"),
              (status = 401, description = "unauthorized")))]
async fn by_id(
    State(state): State<AppState>,
    _caller: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state.store.user_by_id(&id).await?.ok_or(ApiError::UserNotFound)?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "user": listed(&state, &user).await? })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let user = User {
            id: "u-1".into(),
            name: "Zoé Ä".into(),
            email: "z@example.com".into(),
            email_verified: false,
            image: None,
            tag: None,
            is_online: false,
            last_seen: None,
            created_at: Timestamp::from_millis(0).unwrap(),
            updated_at: Timestamp::from_millis(0).unwrap(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&user)), Some(("zoé ä".into(), "u-1".into())));
        assert_eq!(decode_cursor("not base64 !"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("no separator")), None);
    }

    #[test]
    fn query_parameters_are_checked_one_by_one() {
        let ok = search_params(Some("q=%20Al%20&limit=5"), "me").unwrap();
        assert_eq!((ok.prefix.as_deref(), ok.limit), (Some("al"), 5));
        let msg = |q: &str| match search_params(Some(q), "me") {
            Err(ApiError::Validation { message, .. }) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(msg("limit=0"), "Paramètre limit invalide");
        assert_eq!(msg("limit=101"), "Paramètre limit invalide");
        assert_eq!(msg("limit=x"), "Paramètre limit invalide");
        assert_eq!(msg("cursor=%%%"), "Paramètre cursor invalide");
        assert_eq!(msg("q=%20%20"), "Paramètre q invalide");
        assert_eq!(msg(&format!("q={}", "a".repeat(51))), "Paramètre q invalide");
    }
}
