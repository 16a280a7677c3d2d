//! Lobbies on PostgreSQL: `jsonb` columns bound and read as text, one private function per [`Change`], and
//! the many-row writes (progress batches, results) as one statement over arrays.
//!
//! Several nodes may share the database: every lobby transaction starts by updating the lobby's row, which
//! locks it, so two writers of one lobby take turns.

use super::PgStore;
use crate::db_time::DbTime;
use crate::lobby_rows::{
    LoadedRows, game_row_at, group_games, in_lobby_order, int, invitation_at, json, last_per_player, lobby_at,
    member_at, result_at,
};
use crate::{GameCursor, GameRecord, Lobbies, LobbyWrite, StoreError, WriteOutcome};
use async_trait::async_trait;
use mapquiz_domain::lobby::{Change, InvitationRow, LobbyRow, MemberRow, ProgressRow, ResultRow, StoredLobby};
use mapquiz_domain::{CountryCode, LobbyId, Timestamp, UserId, new_id};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgConnection, Postgres};

/// Builds a restore query: the whole table, or one lobby (`$1`) when `$filter` is its condition.
macro_rules! load_sql {
    (lobbies, $filter:literal) => {
        concat!(
            "SELECT id, name, host_id, status, settings::text, authorized_players::text, start_time, \
                    required_codes::text, created_at \
               FROM lobbies l WHERE TRUE",
            $filter,
            " ORDER BY created_at, id"
        )
    };
    (members, $filter:literal) => {
        concat!(
            "SELECT p.lobby_id, u.id, u.name, u.image, coalesce(u.tag, ''), p.status, p.validated_countries::text, \
                    p.incorrect_countries::text, p.completion_time, p.flagged, p.joined_at \
               FROM lobby_players p JOIN users u ON u.id = p.user_id JOIN lobbies l ON l.id = p.lobby_id \
              WHERE TRUE",
            $filter,
            " ORDER BY p.lobby_id, p.joined_at, p.user_id"
        )
    };
    (invitations, $filter:literal) => {
        concat!(
            "SELECT i.lobby_id, i.id, i.inviter_id, i.invitee_id, i.created_at, i.delivered, u.name \
               FROM lobby_invitations i JOIN users u ON u.id = i.inviter_id JOIN lobbies l ON l.id = i.lobby_id \
              WHERE NOT i.delivered",
            $filter,
            " ORDER BY i.lobby_id, i.created_at, i.id"
        )
    };
    // The latest game's results, in members' join order (former members last).
    (results, $filter:literal) => {
        concat!(
            "SELECT r.lobby_id, r.user_id, u.name, r.score, r.completion_time \
               FROM lobbies l \
               JOIN game_results r ON r.lobby_id = l.id AND r.game_started_at = l.start_time \
               JOIN users u ON u.id = r.user_id \
               LEFT JOIN lobby_players p ON p.lobby_id = r.lobby_id AND p.user_id = r.user_id \
              WHERE l.status = 'finished'",
            $filter,
            " ORDER BY r.lobby_id, p.joined_at IS NULL, p.joined_at, r.position, r.user_id"
        )
    };
}

/// Builds the history query; `$after` is the keyset condition of a following page (`$3`, `$4`).
macro_rules! games_sql {
    ($after:literal) => {
        concat!(
            "SELECT r.lobby_id, r.lobby_name, r.selected_regions::text, r.game_mode, r.game_started_at, r.created_at, \
                    r.total_questions, u.id, u.name, u.image, coalesce(u.tag, ''), r.position, r.score, \
                    r.completion_time, r.flagged \
               FROM (SELECT lobby_id, game_started_at FROM game_results WHERE user_id = $1",
            $after,
            " ORDER BY game_started_at DESC, lobby_id DESC LIMIT $2) g \
               JOIN game_results r ON r.lobby_id = g.lobby_id AND r.game_started_at = g.game_started_at \
               JOIN users u ON u.id = r.user_id \
              ORDER BY g.game_started_at DESC, g.lobby_id DESC, r.position, coalesce(r.completion_time, 2147483647), \
                       r.user_id"
        )
    };
}

type Query = sqlx::query::Query<'static, Postgres, PgArguments>;

/// `sql` with the lobby id bound when the query is about one lobby.
fn load_query(sql: &'static str, lobby: Option<&LobbyId>) -> Query {
    let query = sqlx::query(sql);
    match lobby {
        Some(lobby) => query.bind(lobby.as_str().to_owned()),
        None => query,
    }
}

impl PgStore {
    /// The stored lobbies, or the one `lobby`, read in one snapshot.
    async fn load(&self, lobby: Option<&LobbyId>) -> Result<Vec<StoredLobby>, StoreError> {
        let one = lobby.is_some();
        let pick = |all: &'static str, single: &'static str| if one { single } else { all };
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let rows = LoadedRows {
            lobbies: load_query(pick(load_sql!(lobbies, ""), load_sql!(lobbies, " AND l.id = $1")), lobby)
                .try_map(|row: PgRow| lobby_at(&row))
                .fetch_all(&mut *tx)
                .await?,
            members: load_query(pick(load_sql!(members, ""), load_sql!(members, " AND l.id = $1")), lobby)
                .try_map(|row: PgRow| member_at(&row))
                .fetch_all(&mut *tx)
                .await?,
            invitations: load_query(pick(load_sql!(invitations, ""), load_sql!(invitations, " AND l.id = $1")), lobby)
                .try_map(|row: PgRow| invitation_at(&row))
                .fetch_all(&mut *tx)
                .await?,
            results: load_query(pick(load_sql!(results, ""), load_sql!(results, " AND l.id = $1")), lobby)
                .try_map(|row: PgRow| result_at(&row))
                .fetch_all(&mut *tx)
                .await?,
        };
        tx.commit().await?;
        Ok(rows.assemble())
    }
}

#[async_trait]
impl Lobbies for PgStore {
    async fn persist_lobby_group(
        &self,
        writes: &[LobbyWrite<'_>],
        now: Timestamp,
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        let mut outcomes = vec![WriteOutcome::Stored; writes.len()];
        if writes.iter().all(|w| w.progress.is_empty() && w.changes.is_empty()) {
            return Ok(outcomes);
        }
        let mut tx = self.pool.begin().await?;
        let mut taken = Vec::with_capacity(writes.len());
        for i in in_lobby_order(writes) {
            match take_fence(&mut tx, writes[i].lobby, writes[i].fence).await? {
                // A lobby that is not stored: its write finds that out (a delete is already done).
                WriteOutcome::Stored | WriteOutcome::LobbyGone => taken.push(i),
                WriteOutcome::Fenced => outcomes[i] = WriteOutcome::Fenced,
            }
        }
        save_progress(&mut tx, taken.iter().flat_map(|&i| writes[i].progress), now).await?;
        for i in taken {
            outcomes[i] = write_lobby(&mut tx, writes[i].lobby, writes[i].changes, now).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn claim_lobby(&self, lobby: &LobbyId, fence: u64) -> Result<WriteOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let outcome = take_fence(&mut tx, lobby, Some(fence)).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn load_lobbies(&self) -> Result<Vec<StoredLobby>, StoreError> {
        self.load(None).await
    }

    async fn lobby_ids(&self) -> Result<Vec<LobbyId>, StoreError> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM lobbies ORDER BY created_at, id").fetch_all(&self.pool).await?;
        ids.into_iter().map(|s| LobbyId::try_from(s).map_err(|_| not_an_id())).collect()
    }

    async fn load_lobby(&self, id: &LobbyId) -> Result<Option<StoredLobby>, StoreError> {
        Ok(self.load(Some(id)).await?.into_iter().next())
    }

    async fn lobbies_of_user(&self, user: &UserId, since: Timestamp) -> Result<Vec<LobbyId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT lobby_id FROM lobby_players WHERE user_id = $1 \
             UNION \
             SELECT lobby_id FROM lobby_invitations WHERE invitee_id = $1 AND NOT delivered AND created_at > $2 \
             ORDER BY 1",
        )
        .bind(user.as_str())
        .bind(DbTime(since))
        .fetch_all(&self.pool)
        .await?;
        ids.into_iter().map(|s| LobbyId::try_from(s).map_err(|_| not_an_id())).collect()
    }

    async fn games_of_user(
        &self,
        user: &UserId,
        limit: u32,
        before: Option<GameCursor>,
    ) -> Result<Vec<GameRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = match before {
            None => games_sql!(""),
            Some(_) => games_sql!(" AND (game_started_at, lobby_id) < ($3, $4)"),
        };
        let mut query = sqlx::query(sql).bind(user.as_str()).bind(i64::from(limit));
        if let Some(cursor) = &before {
            query = query.bind(DbTime(cursor.started_at)).bind(cursor.lobby.as_str());
        }
        let rows = query.try_map(|row: PgRow| game_row_at(&row)).fetch_all(&self.pool).await?;
        Ok(group_games(rows))
    }
}

/// Stores merged progress inside the caller's transaction, in one statement.
async fn save_progress<'a>(
    conn: &mut PgConnection,
    rows: impl IntoIterator<Item = &'a ProgressRow>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut rows = last_per_player(rows);
    if rows.is_empty() {
        return Ok(());
    }
    // A fixed row order, so that concurrent batches lock shared rows in the same order.
    rows.sort_unstable_by(|a, b| (&a.lobby, &a.user).cmp(&(&b.lobby, &b.user)));
    let validated = rows.iter().map(|r| json(&r.validated)).collect::<Result<Vec<_>, _>>()?;
    let incorrect = rows.iter().map(|r| json(&r.incorrect)).collect::<Result<Vec<_>, _>>()?;
    sqlx::query(
        "UPDATE lobby_players p SET status = r.status, score = r.score, progress = r.progress, \
                validated_countries = r.validated::jsonb, incorrect_countries = r.incorrect::jsonb, \
                completion_time = r.completion, flagged = r.flagged, updated_at = $10 \
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::int4[], $6::text[], $7::text[], \
                       $8::int4[], $9::bool[]) \
                AS r (lobby_id, user_id, status, score, progress, validated, incorrect, completion, flagged) \
           JOIN lobbies l ON l.id = r.lobby_id AND l.status = 'playing' \
          WHERE p.lobby_id = r.lobby_id AND p.user_id = r.user_id",
    )
    .bind(rows.iter().map(|r| r.lobby.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.user.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| int(r.score)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| i32::from(r.progress)).collect::<Vec<_>>())
    .bind(validated)
    .bind(incorrect)
    .bind(rows.iter().map(|r| r.completion_secs.map(int)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.flagged).collect::<Vec<_>>())
    .bind(DbTime(now))
    .execute(conn)
    .await?;
    Ok(())
}

crate::lobby_rows::lobby_write_fns!(PgConnection);

fn not_an_id() -> StoreError {
    StoreError::Other(sqlx::Error::Decode("a stored lobby id is not an identifier".into()))
}

/// Writes one change of lobby `lobby` inside the caller's transaction.
async fn apply(conn: &mut PgConnection, lobby: &LobbyId, change: &Change, now: Timestamp) -> Result<(), StoreError> {
    match change {
        Change::CreateLobby { lobby: row, host } => create_lobby(conn, lobby, row, host, now).await,
        Change::AddMember(member) => add_member(conn, lobby, member, now).await,
        Change::RemoveMember { user } => remove_member(conn, lobby, user).await,
        Change::TransferHost { host } => {
            exec(conn, "UPDATE lobbies SET host_id = $2 WHERE id = $1", lobby, |q| q.bind(host.as_str().to_owned()))
                .await
        }
        Change::SetSettings(settings) => {
            let settings = json(settings)?;
            exec(conn, "UPDATE lobbies SET settings = $2::jsonb WHERE id = $1", lobby, |q| q.bind(settings)).await
        }
        Change::SetMemberStatus { user, status } => {
            let (user, status) = (user.as_str().to_owned(), status.as_str());
            exec(
                conn,
                "UPDATE lobby_players SET status = $3, updated_at = $4 WHERE lobby_id = $1 AND user_id = $2",
                lobby,
                |q| q.bind(user).bind(status).bind(DbTime(now)),
            )
            .await
        }
        Change::StartGame { start_time, required_codes } => {
            start_game(conn, lobby, *start_time, required_codes, now).await
        }
        Change::FinishGame { game_started_at, total_questions, results } => {
            finish_game(conn, lobby, *game_started_at, *total_questions, results, now).await
        }
        Change::RestartGame { removed } => restart_game(conn, lobby, removed, now).await,
        Change::ResetEmpty => clear_game(conn, lobby).await,
        Change::Invite(invitation) => invite(conn, lobby, invitation).await,
        Change::InvitationEnded { invitation } => {
            let invitation = invitation.as_str().to_owned();
            exec(conn, "DELETE FROM lobby_invitations WHERE lobby_id = $1 AND id = $2", lobby, |q| q.bind(invitation))
                .await
        }
        Change::Kick { user, was_member: _ } => kick(conn, lobby, user).await,
        Change::DeleteLobby => exec(conn, "DELETE FROM lobbies WHERE id = $1", lobby, |q| q).await,
    }
}

/// Runs `sql` with the lobby id as `$1` and the parameters `bind` adds after it.
async fn exec(
    conn: &mut PgConnection,
    sql: &'static str,
    lobby: &LobbyId,
    bind: impl FnOnce(Query) -> Query,
) -> Result<(), StoreError> {
    bind(sqlx::query(sql).bind(lobby.as_str().to_owned())).execute(conn).await?;
    Ok(())
}

async fn create_lobby(
    conn: &mut PgConnection,
    lobby: &LobbyId,
    row: &LobbyRow,
    host: &MemberRow,
    now: Timestamp,
) -> Result<(), StoreError> {
    // A retry after a commit whose answer was lost finds the lobby stored: nothing to do.
    sqlx::query(
        "INSERT INTO lobbies (id, name, host_id, status, settings, authorized_players, created_at, updated_at) \
         VALUES ($1, $2, $3, 'waiting', $4::jsonb, $5::jsonb, $6, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(lobby.as_str())
    .bind(row.name.as_str())
    .bind(row.host.as_str())
    .bind(json(&row.settings)?)
    .bind(json(&row.authorized)?)
    .bind(DbTime(row.created_at))
    .bind(DbTime(now))
    .execute(&mut *conn)
    .await?;
    insert_member(conn, lobby, host, now).await
}

/// Inserts the membership, or resets it to the row as given when it exists (a retried join).
async fn insert_member(
    conn: &mut PgConnection,
    lobby: &LobbyId,
    member: &MemberRow,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO lobby_players (lobby_id, user_id, status, joined_at, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (lobby_id, user_id) DO UPDATE SET status = excluded.status, score = 0, progress = 0, \
            validated_countries = '[]', incorrect_countries = '[]', completion_time = NULL, flagged = FALSE, \
            joined_at = excluded.joined_at, updated_at = excluded.updated_at",
    )
    .bind(lobby.as_str())
    .bind(member.user.as_str())
    .bind(member.status.as_str())
    .bind(DbTime(member.joined_at))
    .bind(DbTime(now))
    .execute(conn)
    .await?;
    Ok(())
}

async fn add_member(
    conn: &mut PgConnection,
    lobby: &LobbyId,
    member: &MemberRow,
    now: Timestamp,
) -> Result<(), StoreError> {
    insert_member(conn, lobby, member, now).await?;
    // Joining ends the member's invitations to this lobby (§2.7.4).
    delete_invitations(conn, lobby, &member.user).await
}

async fn remove_member(conn: &mut PgConnection, lobby: &LobbyId, user: &UserId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM lobby_players WHERE lobby_id = $1 AND user_id = $2")
        .bind(lobby.as_str())
        .bind(user.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

async fn delete_invitations(conn: &mut PgConnection, lobby: &LobbyId, user: &UserId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM lobby_invitations WHERE lobby_id = $1 AND invitee_id = $2")
        .bind(lobby.as_str())
        .bind(user.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Every member back to `status` with nothing answered and no mark.
async fn reset_members(
    conn: &mut PgConnection,
    lobby: &LobbyId,
    status: &'static str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE lobby_players SET status = $2, score = 0, progress = 0, validated_countries = '[]', \
                incorrect_countries = '[]', completion_time = NULL, flagged = FALSE, updated_at = $3 \
          WHERE lobby_id = $1",
    )
    .bind(lobby.as_str())
    .bind(status)
    .bind(DbTime(now))
    .execute(conn)
    .await?;
    Ok(())
}

async fn start_game(
    conn: &mut PgConnection,
    lobby: &LobbyId,
    start_time: Timestamp,
    required_codes: &[CountryCode],
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE lobbies SET status = 'playing', start_time = $2, required_codes = $3::jsonb WHERE id = $1")
        .bind(lobby.as_str())
        .bind(DbTime(start_time))
        .bind(json(required_codes)?)
        .execute(&mut *conn)
        .await?;
    reset_members(conn, lobby, "playing", now).await
}

async fn finish_game(
    conn: &mut PgConnection,
    lobby: &LobbyId,
    started_at: Timestamp,
    total_questions: u32,
    results: &[ResultRow],
    now: Timestamp,
) -> Result<(), StoreError> {
    // The lobby's name and settings are copied into each result: the history outlives the lobby. A retried
    // transaction finds its results stored and keeps them.
    if !results.is_empty() {
        sqlx::query(
            "INSERT INTO game_results (id, lobby_id, game_started_at, user_id, score, total_questions, \
                                       completion_time, position, flagged, lobby_name, selected_regions, game_mode, \
                                       created_at) \
             SELECT r.id, l.id, $2, r.user_id, r.score, $3, r.completion, r.position, r.flagged, l.name, \
                    coalesce(l.settings -> 'selectedRegions', '[]'::jsonb), coalesce(l.settings ->> 'gameMode', 'quiz'), \
                    $4 \
               FROM lobbies l \
              CROSS JOIN UNNEST($5::text[], $6::text[], $7::int4[], $8::int4[], $9::int4[], $10::bool[]) \
                         AS r (id, user_id, score, completion, position, flagged) \
              WHERE l.id = $1 \
             ON CONFLICT (lobby_id, game_started_at, user_id) DO NOTHING",
        )
        .bind(lobby.as_str())
        .bind(DbTime(started_at))
        .bind(int(total_questions))
        .bind(DbTime(now))
        .bind(results.iter().map(|_| new_id()).collect::<Vec<_>>())
        .bind(results.iter().map(|r| r.user.as_str()).collect::<Vec<_>>())
        .bind(results.iter().map(|r| int(r.score)).collect::<Vec<_>>())
        .bind(results.iter().map(|r| r.completion_secs.map(int)).collect::<Vec<_>>())
        .bind(results.iter().map(|r| int(r.position)).collect::<Vec<_>>())
        .bind(results.iter().map(|r| r.flagged).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("UPDATE lobbies SET status = 'finished' WHERE id = $1").bind(lobby.as_str()).execute(conn).await?;
    Ok(())
}

/// The lobby `waiting` with no game: start time and required codes cleared.
async fn clear_game(conn: &mut PgConnection, lobby: &LobbyId) -> Result<(), StoreError> {
    sqlx::query("UPDATE lobbies SET status = 'waiting', start_time = NULL, required_codes = NULL WHERE id = $1")
        .bind(lobby.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

async fn restart_game(
    conn: &mut PgConnection,
    lobby: &LobbyId,
    removed: &[UserId],
    now: Timestamp,
) -> Result<(), StoreError> {
    if !removed.is_empty() {
        sqlx::query("DELETE FROM lobby_players WHERE lobby_id = $1 AND user_id = ANY($2::text[])")
            .bind(lobby.as_str())
            .bind(removed.iter().map(UserId::as_str).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?;
    }
    clear_game(conn, lobby).await?;
    reset_members(conn, lobby, "joined", now).await
}

async fn invite(conn: &mut PgConnection, lobby: &LobbyId, invitation: &InvitationRow) -> Result<(), StoreError> {
    // Appended to the authorised players unless listed.
    sqlx::query(
        "UPDATE lobbies SET authorized_players = authorized_players || jsonb_build_array($2::text) \
          WHERE id = $1 AND NOT authorized_players @> jsonb_build_array($2::text)",
    )
    .bind(lobby.as_str())
    .bind(invitation.invitee.as_str())
    .execute(&mut *conn)
    .await?;
    // One invitation per lobby and invitee: the newer replaces the older (§2.7.6).
    sqlx::query(
        "INSERT INTO lobby_invitations (id, lobby_id, inviter_id, invitee_id, delivered, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (lobby_id, invitee_id) DO UPDATE SET id = excluded.id, inviter_id = excluded.inviter_id, \
            delivered = excluded.delivered, created_at = excluded.created_at",
    )
    .bind(invitation.id.as_str())
    .bind(lobby.as_str())
    .bind(invitation.inviter.as_str())
    .bind(invitation.invitee.as_str())
    .bind(invitation.delivered)
    .bind(DbTime(invitation.created_at))
    .execute(conn)
    .await?;
    Ok(())
}

async fn kick(conn: &mut PgConnection, lobby: &LobbyId, user: &UserId) -> Result<(), StoreError> {
    // `jsonb - text` removes that string from the array and keeps the others' order.
    sqlx::query("UPDATE lobbies SET authorized_players = authorized_players - $2::text WHERE id = $1")
        .bind(lobby.as_str())
        .bind(user.as_str())
        .execute(&mut *conn)
        .await?;
    delete_invitations(conn, lobby, user).await?;
    // Deleting a membership that is not there is a no-op, so `was_member` needs no branch.
    remove_member(conn, lobby, user).await
}
