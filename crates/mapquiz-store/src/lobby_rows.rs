//! Lobby rows shared by both backends: the JSON the columns hold (both engines read and write it as text),
//! the decoding of stored values into the domain's types, and the grouping of joined rows into lobbies and
//! games. The SQL lives with each backend.

use crate::db_time::{DbTime, time, time_opt};
use crate::{GamePlayer, GameRecord, StoreError};
use mapquiz_domain::lobby::{
    FALLBACK_PLAYER_NAME, LobbySettings, PlayerStatus, ProgressRow, SettingsUpdate, StoredInvitation, StoredLobby,
    StoredMember, StoredResult,
};
use mapquiz_domain::lobby::{InvitationRow, PublicProfile};
use mapquiz_domain::scores::GameMode;
use mapquiz_domain::{InvitationId, LobbyId, Region, UserId};
use serde::Serialize;
use sqlx::{ColumnIndex, Decode, Row, Type};
use std::collections::HashMap;

/// `value` as JSON text, for a JSON column.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(sqlx::Error::Encode(e.into())))
}

/// A decoding failure of column `index`.
fn bad(index: usize, what: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: index.to_string(), source: what.to_string().into() }
}

/// The text column `index`.
fn text<R: Row>(row: &R, index: usize) -> Result<String, sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(index)
}

/// The non-negative INTEGER column `index`.
pub(crate) fn uint<R: Row>(row: &R, index: usize) -> Result<u32, sqlx::Error>
where
    usize: ColumnIndex<R>,
    i32: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let n: i32 = row.try_get(index)?;
    u32::try_from(n).map_err(|_| bad(index, format!("negative count {n}")))
}

/// The nullable non-negative INTEGER column `index`.
pub(crate) fn uint_opt<R: Row>(row: &R, index: usize) -> Result<Option<u32>, sqlx::Error>
where
    usize: ColumnIndex<R>,
    i32: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let n: Option<i32> = row.try_get(index)?;
    n.map(|n| u32::try_from(n).map_err(|_| bad(index, format!("negative count {n}")))).transpose()
}

/// A count as the INTEGER columns bind it (they are 32-bit on PostgreSQL).
pub(crate) fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The id in text column `index`.
pub(crate) fn id<R, I>(row: &R, index: usize) -> Result<I, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    I: TryFrom<String>,
{
    I::try_from(text(row, index)?).map_err(|_| bad(index, "not an identifier"))
}

/// The JSON array of strings in text column `index` (NULL reads as empty).
pub(crate) fn strings<R: Row>(row: &R, index: usize) -> Result<Vec<String>, sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let raw: Option<String> = row.try_get(index)?;
    raw.map_or(Ok(Vec::new()), |raw| serde_json::from_str(&raw).map_err(|e| bad(index, e)))
}

/// The JSON array of user ids in text column `index`.
pub(crate) fn user_ids<R: Row>(row: &R, index: usize) -> Result<Vec<UserId>, sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    strings(row, index)?.into_iter().map(|s| UserId::try_from(s).map_err(|_| bad(index, "not a user id"))).collect()
}

/// The JSON array of region names in text column `index`.
pub(crate) fn regions<R: Row>(row: &R, index: usize) -> Result<Vec<Region>, sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    strings(row, index)?.iter().map(|s| Region::parse(s).ok_or_else(|| bad(index, format!("region {s:?}")))).collect()
}

/// The settings JSON in text column `index`, parsed as the client's are (a waiting lobby may have none).
pub(crate) fn settings<R: Row>(row: &R, index: usize) -> Result<LobbySettings, sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let value: serde_json::Value = serde_json::from_str(&text(row, index)?).map_err(|e| bad(index, e))?;
    let parsed = SettingsUpdate::parse(Some(&value)).map_err(|e| bad(index, e))?;
    Ok(LobbySettings { regions: parsed.regions, mode: parsed.mode.unwrap_or(GameMode::Quiz) })
}

/// The game mode in text column `index`.
pub(crate) fn mode<R: Row>(row: &R, index: usize) -> Result<GameMode, sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let s = text(row, index)?;
    GameMode::parse(&s).ok_or_else(|| bad(index, format!("game mode {s:?}")))
}

/// The lobby status in text column `index`.
pub(crate) fn game_status<R: Row>(row: &R, index: usize) -> Result<mapquiz_domain::lobby::GameStatus, sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let s = text(row, index)?;
    mapquiz_domain::lobby::GameStatus::parse(&s).ok_or_else(|| bad(index, format!("lobby status {s:?}")))
}

/// The member status in text column `index`.
pub(crate) fn player_status<R: Row>(row: &R, index: usize) -> Result<PlayerStatus, sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let s = text(row, index)?;
    PlayerStatus::parse(&s).ok_or_else(|| bad(index, format!("player status {s:?}")))
}

/// A stored name as shown: an empty one is `Joueur`, as for members' profiles.
pub(crate) fn shown_name(name: String) -> String {
    if name.trim().is_empty() { FALLBACK_PLAYER_NAME.to_owned() } else { name }
}

/// The rows of one batch the statement writes: the last row of each player, so no row is written twice.
pub(crate) fn last_per_player<'a>(rows: impl IntoIterator<Item = &'a ProgressRow>) -> Vec<&'a ProgressRow> {
    let mut at: HashMap<(&LobbyId, &UserId), usize> = HashMap::new();
    let mut out: Vec<&ProgressRow> = Vec::new();
    for row in rows {
        match at.get(&(&row.lobby, &row.user)) {
            Some(&i) => out[i] = row,
            None => {
                at.insert((&row.lobby, &row.user), out.len());
                out.push(row);
            }
        }
    }
    out
}

/// Defines, in a backend's lobbies file, the two steps of a group commit's part that both engines run letter
/// for letter over their own connection type `$conn` (a macro, not generic code: see `pools.rs`):
/// `take_fence` and `write_lobby`, which calls the backend's own `apply` for each change.
macro_rules! lobby_write_fns {
    ($conn:ty) => {
        /// Checks `fence` against the stored token and stores it, inside the caller's transaction: `Stored`
        /// when the write may go on (or there is no fence), `Fenced` when a newer token is stored,
        /// `LobbyGone` when the lobby is not stored. On PostgreSQL the update also locks the lobby's row
        /// until the commit.
        async fn take_fence(conn: &mut $conn, lobby: &LobbyId, fence: Option<u64>) -> Result<WriteOutcome, StoreError> {
            let Some(fence) = fence else { return Ok(WriteOutcome::Stored) };
            let fence = i64::try_from(fence).unwrap_or(i64::MAX);
            let taken = sqlx::query("UPDATE lobbies SET fence = $2 WHERE id = $1 AND fence <= $2")
                .bind(lobby.as_str())
                .bind(fence)
                .execute(&mut *conn)
                .await?;
            if taken.rows_affected() > 0 {
                return Ok(WriteOutcome::Stored);
            }
            let stored: Option<i64> = sqlx::query_scalar("SELECT fence FROM lobbies WHERE id = $1")
                .bind(lobby.as_str())
                .fetch_optional(&mut *conn)
                .await?;
            Ok(if stored.is_some() { WriteOutcome::Fenced } else { WriteOutcome::LobbyGone })
        }

        /// Writes one lobby's changes inside the caller's transaction; the first statement stamps the lobby
        /// and checks it is still stored (and, on PostgreSQL, locks its row until the commit).
        async fn write_lobby(
            conn: &mut $conn,
            lobby: &LobbyId,
            changes: &[Change],
            now: Timestamp,
        ) -> Result<WriteOutcome, StoreError> {
            if changes.is_empty() {
                return Ok(WriteOutcome::Stored);
            }
            if !matches!(changes.first(), Some(Change::CreateLobby { .. })) {
                let touched = sqlx::query("UPDATE lobbies SET updated_at = $2 WHERE id = $1")
                    .bind(lobby.as_str())
                    .bind(DbTime(now))
                    .execute(&mut *conn)
                    .await?;
                if touched.rows_affected() == 0 {
                    let only_deletes = changes.iter().all(|c| matches!(c, Change::DeleteLobby));
                    return Ok(if only_deletes { WriteOutcome::Stored } else { WriteOutcome::LobbyGone });
                }
            }
            for change in changes {
                apply(&mut *conn, lobby, change, now).await?;
            }
            Ok(WriteOutcome::Stored)
        }
    };
}
pub(crate) use lobby_write_fns;

/// The indices of `writes` in lobby id order: the order a group commit applies them in, so that concurrent
/// groups (several nodes) lock lobby rows in one order.
pub(crate) fn in_lobby_order(writes: &[crate::LobbyWrite<'_>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..writes.len()).collect();
    order.sort_by(|&a, &b| writes[a].lobby.cmp(writes[b].lobby));
    order
}

/// What the four restore queries read, before grouping: lobbies (members, invitations and results still
/// empty) and the rows that belong to them, each with its lobby's id.
#[derive(Default)]
pub(crate) struct LoadedRows {
    pub lobbies: Vec<StoredLobby>,
    pub members: Vec<(LobbyId, StoredMember)>,
    pub invitations: Vec<(LobbyId, StoredInvitation)>,
    pub results: Vec<(LobbyId, StoredResult)>,
}

impl LoadedRows {
    /// Each row under its lobby, in the order read; rows of a lobby not read (deleted meanwhile) are dropped.
    pub(crate) fn assemble(self) -> Vec<StoredLobby> {
        let mut lobbies = self.lobbies;
        let at: HashMap<LobbyId, usize> = lobbies.iter().enumerate().map(|(i, l)| (l.id.clone(), i)).collect();
        for (lobby, member) in self.members {
            if let Some(&i) = at.get(&lobby) {
                lobbies[i].members.push(member);
            }
        }
        for (lobby, invitation) in self.invitations {
            if let Some(&i) = at.get(&lobby) {
                lobbies[i].invitations.push(invitation);
            }
        }
        for (lobby, result) in self.results {
            if let Some(&i) = at.get(&lobby) {
                lobbies[i].results.push(result);
            }
        }
        lobbies
    }
}

/// Groups the history rows, one per (game, player) and ordered by game, into games: the game-level fields
/// come from the game's first row (every row of a game was written with the same).
pub(crate) fn group_games(rows: Vec<(GameRecord, GamePlayer)>) -> Vec<GameRecord> {
    let mut games: Vec<GameRecord> = Vec::new();
    for (game, player) in rows {
        match games.last_mut() {
            Some(last) if last.lobby == game.lobby && last.started_at == game.started_at => last.players.push(player),
            _ => games.push(GameRecord { players: vec![player], ..game }),
        }
    }
    games
}

/// A lobby from the columns of `load_sql!(lobbies, ..)`, without its members, invitations and results.
pub(crate) fn lobby_at<R: Row>(row: &R) -> Result<StoredLobby, sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i32: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    bool: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    DbTime: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(StoredLobby {
        id: id(row, 0)?,
        name: row.try_get(1)?,
        host: id(row, 2)?,
        status: game_status(row, 3)?,
        settings: settings(row, 4)?,
        authorized: user_ids(row, 5)?,
        start_time: time_opt(row, 6)?,
        required_codes: strings(row, 7)?,
        created_at: time(row, 8)?,
        members: Vec::new(),
        invitations: Vec::new(),
        results: Vec::new(),
    })
}

/// A public profile from the four columns (id, name, image, tag) starting at `at`.
pub(crate) fn profile_at<R: Row>(row: &R, at: usize) -> Result<PublicProfile, sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i32: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    bool: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    DbTime: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let name: String = row.try_get(at + 1)?;
    Ok(PublicProfile::new(id(row, at)?, &name, row.try_get(at + 2)?, row.try_get(at + 3)?))
}

/// A member, with its lobby, from the columns of `load_sql!(members, ..)`.
pub(crate) fn member_at<R: Row>(row: &R) -> Result<(LobbyId, StoredMember), sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i32: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    bool: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    DbTime: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    Ok((
        id(row, 0)?,
        StoredMember {
            profile: profile_at(row, 1)?,
            status: player_status(row, 5)?,
            validated: strings(row, 6)?,
            incorrect: strings(row, 7)?,
            completion_secs: uint_opt(row, 8)?,
            flagged: row.try_get(9)?,
            joined_at: time(row, 10)?,
        },
    ))
}

/// An invitation, with its lobby, from the columns of `load_sql!(invitations, ..)`.
pub(crate) fn invitation_at<R: Row>(row: &R) -> Result<(LobbyId, StoredInvitation), sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i32: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    bool: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    DbTime: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    Ok((
        id(row, 0)?,
        StoredInvitation {
            row: InvitationRow {
                id: id::<_, InvitationId>(row, 1)?,
                inviter: id(row, 2)?,
                invitee: id(row, 3)?,
                created_at: time(row, 4)?,
                delivered: row.try_get(5)?,
            },
            inviter_name: shown_name(row.try_get(6)?),
        },
    ))
}

/// A result, with its lobby, from the columns of `load_sql!(results, ..)`.
pub(crate) fn result_at<R: Row>(row: &R) -> Result<(LobbyId, StoredResult), sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i32: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    bool: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    DbTime: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    Ok((
        id(row, 0)?,
        StoredResult {
            user: id(row, 1)?,
            name: shown_name(row.try_get(2)?),
            score: uint(row, 3)?,
            completion_secs: uint_opt(row, 4)?,
        },
    ))
}

/// One player's line of a past game, with the game, from a row of `games_sql!`.
pub(crate) fn game_row_at<R: Row>(row: &R) -> Result<(GameRecord, GamePlayer), sqlx::Error>
where
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i32: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    bool: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    DbTime: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let game = GameRecord {
        lobby: id(row, 0)?,
        lobby_name: row.try_get(1)?,
        regions: regions(row, 2)?,
        mode: mode(row, 3)?,
        started_at: time(row, 4)?,
        ended_at: time(row, 5)?,
        total_questions: uint(row, 6)?,
        players: Vec::new(),
    };
    let player = GamePlayer {
        profile: profile_at(row, 7)?,
        rank: uint(row, 11)?,
        score: uint(row, 12)?,
        completion_secs: uint_opt(row, 13)?,
        flagged: row.try_get(14)?,
    };
    Ok((game, player))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(lobby: &str, user: &str, score: u32) -> ProgressRow {
        ProgressRow {
            lobby: LobbyId::parse(lobby).unwrap(),
            user: UserId::parse(user).unwrap(),
            status: PlayerStatus::Playing,
            score,
            progress: 0,
            validated: Vec::new(),
            incorrect: Vec::new(),
            completion_secs: None,
            flagged: false,
        }
    }

    #[test]
    fn a_batch_keeps_each_players_last_row_in_first_seen_order() {
        let rows = [row("l1", "a", 1), row("l2", "a", 1), row("l1", "b", 1), row("l1", "a", 3)];
        let kept: Vec<(&str, &str, u32)> =
            last_per_player(&rows).iter().map(|r| (r.lobby.as_str(), r.user.as_str(), r.score)).collect();
        assert_eq!(kept, [("l1", "a", 3), ("l2", "a", 1), ("l1", "b", 1)]);
    }

    #[test]
    fn empty_names_show_the_fallback() {
        assert_eq!(shown_name("  ".to_owned()), FALLBACK_PLAYER_NAME);
        assert_eq!(shown_name("Alice".to_owned()), "Alice");
    }
}
