//! Bulk imports from the original server (`mapquiz import-original`): rows that keep their ids, written a
//! batch per transaction, each row classified against what the database already holds, so that a second run
//! writes nothing twice and a dry run (every batch rolled back) reports what a real run would do.
//!
//! The rows arrive checked and repaired by the caller; the store only decides what the database decides:
//! whether the row is there already, whether its user is, and whether a unique key belongs to someone else.

use crate::{Account, NewScore, RequestStatus, StoreError};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use std::collections::HashSet;

/// A user of the original server, normalised.
#[derive(Clone, Debug)]
pub struct ImportUser {
    pub id: String,
    pub name: String,
    /// Normalised (trimmed, lower-cased).
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    /// The original's tag when it is a valid one; kept unless another user holds it.
    pub tag: Option<String>,
    /// The tag given when `tag` is `None` or held by another user (freshly drawn by the caller).
    pub spare_tag: String,
    pub last_seen: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A live session of the original server, its token already hashed as ours are.
#[derive(Clone, Debug)]
pub struct ImportSession {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub expires_at: Timestamp,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Two users who are friends (one row of ours per direction is written).
#[derive(Clone, Debug)]
pub struct ImportFriendship {
    pub user_id: String,
    pub friend_id: String,
    pub created_at: Timestamp,
}

/// A friend request of the original server.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    pub id: String,
    pub sender_id: String,
    pub receiver_id: String,
    pub status: RequestStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What importing one row did (or, in a dry run, would do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Imported {
    /// Written now.
    New,
    /// Written now with the spare tag (users only): the original had none, or another user holds it.
    NewWithSpareTag,
    /// Already there, and changed since (its `updated_at` is newer): updated.
    Updated,
    /// Already there: left as it is.
    Unchanged,
    /// A user it belongs to is not in the database: not written.
    MissingUser,
    /// A unique key it needs belongs to another row: not written.
    Conflict(ImportConflict),
}

/// Which unique key another row holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportConflict {
    /// Another user has this (normalised) email.
    EmailTaken,
    /// Another user is linked to this provider subject.
    SubjectTaken,
    /// Another session has this token.
    TokenTaken,
    /// A pending request the other way exists.
    PendingBothWays,
    /// Another request of the same sender to the same receiver exists.
    PairTaken,
}

/// Whether an import writes, or only reports what it would write.
#[derive(Clone, Copy, Debug)]
pub enum ImportMode<'a> {
    /// Rows are written and committed.
    Write,
    /// Nothing is written; the users a real run would have written before (`planned_users`) count as
    /// present, so the rows that belong to them are classified as a real run would classify them.
    DryRun { planned_users: &'a HashSet<String> },
}

impl ImportMode<'_> {
    /// Whether rows are written.
    pub fn writes(self) -> bool {
        matches!(self, ImportMode::Write)
    }
}

/// Imports, one batch per call and per transaction. In a dry run the batch is only classified (against
/// what the database holds and the rows before it in the batch), in a transaction that is rolled back.
#[async_trait]
pub trait Import: Send + Sync {
    /// Users by id: a new id is inserted offline (its `tag` kept when free, else `spare_tag`), a known one
    /// updated when `updated_at` is newer (profile, email, last seen; never the tag), an email held by another
    /// user is a conflict. `Conflict("users_tag_key")` as an error when a spare tag is taken too: draw again.
    async fn import_users(&self, users: &[ImportUser], mode: ImportMode<'_>) -> Result<Vec<Imported>, StoreError>;

    /// Provider accounts by id (no password): a subject linked to another user is a conflict.
    async fn import_accounts(&self, accounts: &[Account], mode: ImportMode<'_>) -> Result<Vec<Imported>, StoreError>;

    /// Sessions by id: a known one gets the newer expiry when `updated_at` is newer.
    async fn import_sessions(
        &self,
        sessions: &[ImportSession],
        mode: ImportMode<'_>,
    ) -> Result<Vec<Imported>, StoreError>;

    /// Friendships, both directions: `Unchanged` when both are there, `New` when one or both were written.
    async fn import_friendships(
        &self,
        friendships: &[ImportFriendship],
        mode: ImportMode<'_>,
    ) -> Result<Vec<Imported>, StoreError>;

    /// Friend requests by id: a known one gets the newer status when `updated_at` is newer.
    async fn import_friend_requests(
        &self,
        requests: &[ImportRequest],
        mode: ImportMode<'_>,
    ) -> Result<Vec<Imported>, StoreError>;

    /// Solo games by id, with their leaderboard bests (as [`crate::Scores::insert_scores`]); known ids are
    /// `Unchanged` and change no best.
    async fn import_scores(&self, scores: &[NewScore], mode: ImportMode<'_>) -> Result<Vec<Imported>, StoreError>;
}

/// Implements [`Import`] for `$store`, whose rows are `$row` and whose engine is `$db`. `$any` is the
/// engine's "is one of the list in `$1`" (the list bound as `$list(&ids)`); `$pool` names the writer pool
/// field; the games go through the backend's `scores::write_games_in` and `scores::fold_counts`.
macro_rules! impl_import {
    ($store:ty, $db:ty, $row:ty, pool: $pool:ident, any: $any:literal, list: $list:path) => {
        const _: () = {
            use ::async_trait::async_trait;
            use ::mapquiz_domain::Timestamp;
            use ::sqlx::Row as _;
            use ::std::collections::{HashMap, HashSet};
            use $crate::db_time::{DbTime, time};
            use $crate::import::{
                Import, ImportConflict, ImportFriendship, ImportMode, ImportRequest, ImportSession, ImportUser,
                Imported,
            };
            use $crate::{Account, NewScore, StoreError, name_key};

            type Tx = ::sqlx::Transaction<'static, $db>;

            /// Rows per multi-row INSERT: at most 11 columns, within SQLite's 32,766 parameters.
            const ROWS_PER_STATEMENT: usize = 2000;

            /// The rows of `sql`, whose `$1` is the list of `keys` (none for no keys).
            async fn rows_for(tx: &mut Tx, sql: &'static str, keys: &[&str]) -> Result<Vec<$row>, StoreError> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(sqlx::query(sql).bind($list(keys)).fetch_all(&mut **tx).await?)
            }

            /// The first column of `sql`'s rows.
            async fn column(tx: &mut Tx, sql: &'static str, keys: &[&str]) -> Result<HashSet<String>, StoreError> {
                let rows = rows_for(tx, sql, keys).await?;
                rows.iter().map(|r| r.try_get::<String, _>(0).map_err(StoreError::from)).collect()
            }

            /// The first two text columns of `sql`'s rows, as a map.
            async fn pairs(
                tx: &mut Tx,
                sql: &'static str,
                keys: &[&str],
            ) -> Result<HashMap<String, String>, StoreError> {
                let rows = rows_for(tx, sql, keys).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::from)
            }

            /// Id → `updated_at` of the rows of `sql` (`id, updated_at`).
            async fn versions(
                tx: &mut Tx,
                sql: &'static str,
                ids: &[&str],
            ) -> Result<HashMap<String, Timestamp>, StoreError> {
                let rows = rows_for(tx, sql, ids).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<String, _>(0)?, time(r, 1)?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::from)
            }

            /// The users of `ids` the database has, and in a dry run those the run would have written.
            async fn users_present(
                tx: &mut Tx,
                ids: &[&str],
                mode: ImportMode<'_>,
            ) -> Result<HashSet<String>, StoreError> {
                let mut present = column(tx, concat!("SELECT id FROM users WHERE id ", $any), ids).await?;
                if let ImportMode::DryRun { planned_users } = mode {
                    present.extend(ids.iter().filter(|id| planned_users.contains(**id)).map(|id| (*id).to_owned()));
                }
                Ok(present)
            }

            /// The rows to insert: none in a dry run.
            fn written<'r, T>(rows: &'r [T], mode: ImportMode<'_>) -> &'r [T] {
                if mode.writes() { rows } else { &[] }
            }

            async fn finish(tx: Tx, mode: ImportMode<'_>) -> Result<(), StoreError> {
                if !mode.writes() {
                    tx.rollback().await?
                } else {
                    tx.commit().await?
                }
                Ok(())
            }

            #[async_trait]
            impl Import for $store {
                async fn import_users(
                    &self,
                    users: &[ImportUser],
                    mode: ImportMode<'_>,
                ) -> Result<Vec<Imported>, StoreError> {
                    let mut tx = self.$pool.begin().await?;
                    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
                    let emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
                    let tags: Vec<&str> =
                        users.iter().flat_map(|u| u.tag.as_deref().into_iter().chain([u.spare_tag.as_str()])).collect();
                    let known =
                        versions(&mut tx, concat!("SELECT id, updated_at FROM users WHERE id ", $any), &ids).await?;
                    let mut email_holders =
                        pairs(&mut tx, concat!("SELECT email, id FROM users WHERE email ", $any), &emails).await?;
                    let mut tags_held =
                        column(&mut tx, concat!("SELECT tag FROM users WHERE tag ", $any), &tags).await?;
                    let mut outcomes = Vec::with_capacity(users.len());
                    let mut inserts: Vec<(&ImportUser, &str)> = Vec::new();
                    for u in users {
                        let email_elsewhere = email_holders.get(&u.email).is_some_and(|holder| *holder != u.id);
                        if let Some(updated_at) = known.get(&u.id) {
                            if u.updated_at <= *updated_at {
                                outcomes.push(Imported::Unchanged);
                            } else if email_elsewhere {
                                outcomes.push(Imported::Conflict(ImportConflict::EmailTaken));
                            } else {
                                if mode.writes() {
                                    sqlx::query(
                                        "UPDATE users SET name = $2, name_key = $3, email = $4, email_verified = $5, \
                                         image = $6, last_seen = $7, updated_at = $8 WHERE id = $1",
                                    )
                                    .bind(&u.id)
                                    .bind(&u.name)
                                    .bind(name_key(&u.name))
                                    .bind(&u.email)
                                    .bind(u.email_verified)
                                    .bind(&u.image)
                                    .bind(u.last_seen.map(DbTime))
                                    .bind(DbTime(u.updated_at))
                                    .execute(&mut *tx)
                                    .await?;
                                }
                                email_holders.insert(u.email.clone(), u.id.clone());
                                outcomes.push(Imported::Updated);
                            }
                            continue;
                        }
                        if email_holders.contains_key(&u.email) {
                            outcomes.push(Imported::Conflict(ImportConflict::EmailTaken));
                            continue;
                        }
                        let (tag, outcome) = match u.tag.as_deref() {
                            Some(tag) if !tags_held.contains(tag) => (tag, Imported::New),
                            _ => (u.spare_tag.as_str(), Imported::NewWithSpareTag),
                        };
                        if !tags_held.insert(tag.to_owned()) {
                            return Err(StoreError::Conflict("users_tag_key"));
                        }
                        email_holders.insert(u.email.clone(), u.id.clone());
                        inserts.push((u, tag));
                        outcomes.push(outcome);
                    }
                    for chunk in written(&inserts, mode).chunks(ROWS_PER_STATEMENT) {
                        let mut sql = ::sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO users (id, name, name_key, email, email_verified, image, tag, is_online, \
                             last_seen, created_at, updated_at) ",
                        );
                        sql.push_values(chunk, |mut row, (u, tag)| {
                            row.push_bind(&u.id)
                                .push_bind(&u.name)
                                .push_bind(name_key(&u.name))
                                .push_bind(&u.email)
                                .push_bind(u.email_verified)
                                .push_bind(&u.image)
                                .push_bind(*tag)
                                .push_bind(false)
                                .push_bind(u.last_seen.map(DbTime))
                                .push_bind(DbTime(u.created_at))
                                .push_bind(DbTime(u.updated_at));
                        });
                        sql.build().persistent(false).execute(&mut *tx).await?;
                    }
                    finish(tx, mode).await?;
                    Ok(outcomes)
                }

                async fn import_accounts(
                    &self,
                    accounts: &[Account],
                    mode: ImportMode<'_>,
                ) -> Result<Vec<Imported>, StoreError> {
                    let mut tx = self.$pool.begin().await?;
                    let ids: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
                    let subjects: Vec<&str> = accounts.iter().map(|a| a.account_id.as_str()).collect();
                    let user_ids: Vec<&str> = accounts.iter().map(|a| a.user_id.as_str()).collect();
                    let known = column(&mut tx, concat!("SELECT id FROM accounts WHERE id ", $any), &ids).await?;
                    let users = users_present(&mut tx, &user_ids, mode).await?;
                    // (provider, subject) → user, for the subjects of this batch.
                    let rows = rows_for(
                        &mut tx,
                        concat!("SELECT provider_id, account_id, user_id FROM accounts WHERE account_id ", $any),
                        &subjects,
                    )
                    .await?;
                    let mut linked = HashMap::new();
                    for r in &rows {
                        linked.insert(
                            (r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?),
                            r.try_get::<String, _>(2)?,
                        );
                    }
                    let mut outcomes = Vec::with_capacity(accounts.len());
                    let mut inserts = Vec::new();
                    for a in accounts {
                        let holder = linked.get(&(a.provider_id.clone(), a.account_id.clone()));
                        let outcome = if known.contains(&a.id) || holder.is_some_and(|h| *h == a.user_id) {
                            Imported::Unchanged
                        } else if holder.is_some() {
                            Imported::Conflict(ImportConflict::SubjectTaken)
                        } else if !users.contains(&a.user_id) {
                            Imported::MissingUser
                        } else {
                            linked.insert((a.provider_id.clone(), a.account_id.clone()), a.user_id.clone());
                            inserts.push(a);
                            Imported::New
                        };
                        outcomes.push(outcome);
                    }
                    for chunk in written(&inserts, mode).chunks(ROWS_PER_STATEMENT) {
                        let mut sql = ::sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO accounts (id, user_id, provider_id, account_id, created_at, updated_at) ",
                        );
                        sql.push_values(chunk, |mut row, a| {
                            row.push_bind(&a.id)
                                .push_bind(&a.user_id)
                                .push_bind(&a.provider_id)
                                .push_bind(&a.account_id)
                                .push_bind(DbTime(a.created_at))
                                .push_bind(DbTime(a.updated_at));
                        });
                        sql.build().persistent(false).execute(&mut *tx).await?;
                    }
                    finish(tx, mode).await?;
                    Ok(outcomes)
                }

                async fn import_sessions(
                    &self,
                    sessions: &[ImportSession],
                    mode: ImportMode<'_>,
                ) -> Result<Vec<Imported>, StoreError> {
                    let mut tx = self.$pool.begin().await?;
                    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
                    let hashes: Vec<&str> = sessions.iter().map(|s| s.token_hash.as_str()).collect();
                    let user_ids: Vec<&str> = sessions.iter().map(|s| s.user_id.as_str()).collect();
                    let known =
                        versions(&mut tx, concat!("SELECT id, updated_at FROM sessions WHERE id ", $any), &ids).await?;
                    let mut holders =
                        pairs(&mut tx, concat!("SELECT token_hash, id FROM sessions WHERE token_hash ", $any), &hashes)
                            .await?;
                    let users = users_present(&mut tx, &user_ids, mode).await?;
                    let mut outcomes = Vec::with_capacity(sessions.len());
                    let mut inserts = Vec::new();
                    for s in sessions {
                        let outcome = if let Some(updated_at) = known.get(&s.id) {
                            if s.updated_at <= *updated_at {
                                Imported::Unchanged
                            } else {
                                if mode.writes() {
                                    sqlx::query("UPDATE sessions SET expires_at = $2, updated_at = $3 WHERE id = $1")
                                        .bind(&s.id)
                                        .bind(DbTime(s.expires_at))
                                        .bind(DbTime(s.updated_at))
                                        .execute(&mut *tx)
                                        .await?;
                                }
                                Imported::Updated
                            }
                        } else if holders.contains_key(&s.token_hash) {
                            Imported::Conflict(ImportConflict::TokenTaken)
                        } else if !users.contains(&s.user_id) {
                            Imported::MissingUser
                        } else {
                            holders.insert(s.token_hash.clone(), s.id.clone());
                            inserts.push(s);
                            Imported::New
                        };
                        outcomes.push(outcome);
                    }
                    for chunk in written(&inserts, mode).chunks(ROWS_PER_STATEMENT) {
                        let mut sql = ::sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO sessions (id, token_hash, user_id, expires_at, remember, ip_address, \
                             user_agent, created_at, updated_at) ",
                        );
                        sql.push_values(chunk, |mut row, s| {
                            row.push_bind(&s.id)
                                .push_bind(&s.token_hash)
                                .push_bind(&s.user_id)
                                .push_bind(DbTime(s.expires_at))
                                .push_bind(true)
                                .push_bind(&s.ip_address)
                                .push_bind(&s.user_agent)
                                .push_bind(DbTime(s.created_at))
                                .push_bind(DbTime(s.updated_at));
                        });
                        sql.build().persistent(false).execute(&mut *tx).await?;
                    }
                    finish(tx, mode).await?;
                    Ok(outcomes)
                }

                async fn import_friendships(
                    &self,
                    friendships: &[ImportFriendship],
                    mode: ImportMode<'_>,
                ) -> Result<Vec<Imported>, StoreError> {
                    let mut tx = self.$pool.begin().await?;
                    let user_ids: Vec<&str> =
                        friendships.iter().flat_map(|f| [f.user_id.as_str(), f.friend_id.as_str()]).collect();
                    let users = users_present(&mut tx, &user_ids, mode).await?;
                    let rows = rows_for(
                        &mut tx,
                        concat!("SELECT user_id, friend_id FROM friendships WHERE user_id ", $any),
                        &user_ids,
                    )
                    .await?;
                    let mut present = HashSet::new();
                    for r in &rows {
                        present.insert((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?));
                    }
                    let mut outcomes = Vec::with_capacity(friendships.len());
                    let mut inserts: Vec<(&str, &str, Timestamp)> = Vec::new();
                    for f in friendships {
                        let (a, b) = (f.user_id.as_str(), f.friend_id.as_str());
                        let missing: Vec<(String, String)> = [(a, b), (b, a)]
                            .into_iter()
                            .map(|(x, y)| (x.to_owned(), y.to_owned()))
                            .filter(|pair| !present.contains(pair))
                            .collect();
                        let outcome = if missing.is_empty() {
                            Imported::Unchanged
                        } else if !users.contains(a) || !users.contains(b) {
                            Imported::MissingUser
                        } else {
                            for pair in missing {
                                present.insert(pair);
                            }
                            inserts.push((a, b, f.created_at));
                            inserts.push((b, a, f.created_at));
                            Imported::New
                        };
                        outcomes.push(outcome);
                    }
                    for chunk in written(&inserts, mode).chunks(ROWS_PER_STATEMENT) {
                        let mut sql = ::sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO friendships (user_id, friend_id, created_at) ",
                        );
                        sql.push_values(chunk, |mut row, (a, b, at)| {
                            row.push_bind(*a).push_bind(*b).push_bind(DbTime(*at));
                        });
                        sql.push(" ON CONFLICT (user_id, friend_id) DO NOTHING");
                        sql.build().persistent(false).execute(&mut *tx).await?;
                    }
                    finish(tx, mode).await?;
                    Ok(outcomes)
                }

                async fn import_friend_requests(
                    &self,
                    requests: &[ImportRequest],
                    mode: ImportMode<'_>,
                ) -> Result<Vec<Imported>, StoreError> {
                    let mut tx = self.$pool.begin().await?;
                    let ids: Vec<&str> = requests.iter().map(|r| r.id.as_str()).collect();
                    let user_ids: Vec<&str> =
                        requests.iter().flat_map(|r| [r.sender_id.as_str(), r.receiver_id.as_str()]).collect();
                    let known =
                        versions(&mut tx, concat!("SELECT id, updated_at FROM friend_requests WHERE id ", $any), &ids)
                            .await?;
                    let users = users_present(&mut tx, &user_ids, mode).await?;
                    let rows = rows_for(
                        &mut tx,
                        concat!("SELECT sender_id, receiver_id, status FROM friend_requests WHERE sender_id ", $any),
                        &user_ids,
                    )
                    .await?;
                    // (sender, receiver) → whether pending.
                    let mut pairs_held: HashMap<(String, String), bool> = HashMap::new();
                    for r in &rows {
                        let status: String = r.try_get(2)?;
                        pairs_held.insert((r.try_get(0)?, r.try_get(1)?), status == "pending");
                    }
                    let mut outcomes = Vec::with_capacity(requests.len());
                    let mut inserts = Vec::new();
                    for r in requests {
                        let pair = (r.sender_id.clone(), r.receiver_id.clone());
                        let opposite = (r.receiver_id.clone(), r.sender_id.clone());
                        let pending = r.status == $crate::RequestStatus::Pending;
                        let outcome = if let Some(updated_at) = known.get(&r.id) {
                            if r.updated_at <= *updated_at {
                                Imported::Unchanged
                            } else if pending && pairs_held.get(&opposite) == Some(&true) {
                                Imported::Conflict(ImportConflict::PendingBothWays)
                            } else {
                                if mode.writes() {
                                    sqlx::query(
                                        "UPDATE friend_requests SET status = $2, updated_at = $3 WHERE id = $1",
                                    )
                                    .bind(&r.id)
                                    .bind(r.status.as_str())
                                    .bind(DbTime(r.updated_at))
                                    .execute(&mut *tx)
                                    .await?;
                                }
                                pairs_held.insert(pair, pending);
                                Imported::Updated
                            }
                        } else if pairs_held.contains_key(&pair) {
                            Imported::Conflict(ImportConflict::PairTaken)
                        } else if pending && pairs_held.get(&opposite) == Some(&true) {
                            Imported::Conflict(ImportConflict::PendingBothWays)
                        } else if !users.contains(&r.sender_id) || !users.contains(&r.receiver_id) {
                            Imported::MissingUser
                        } else {
                            pairs_held.insert(pair, pending);
                            inserts.push(r);
                            Imported::New
                        };
                        outcomes.push(outcome);
                    }
                    for chunk in written(&inserts, mode).chunks(ROWS_PER_STATEMENT) {
                        let mut sql = ::sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO friend_requests (id, sender_id, receiver_id, status, created_at, updated_at) ",
                        );
                        sql.push_values(chunk, |mut row, r| {
                            row.push_bind(&r.id)
                                .push_bind(&r.sender_id)
                                .push_bind(&r.receiver_id)
                                .push_bind(r.status.as_str())
                                .push_bind(DbTime(r.created_at))
                                .push_bind(DbTime(r.updated_at));
                        });
                        sql.build().persistent(false).execute(&mut *tx).await?;
                    }
                    finish(tx, mode).await?;
                    Ok(outcomes)
                }

                async fn import_scores(
                    &self,
                    scores: &[NewScore],
                    mode: ImportMode<'_>,
                ) -> Result<Vec<Imported>, StoreError> {
                    let mut tx = self.$pool.begin().await?;
                    let ids: Vec<&str> = scores.iter().map(|s| s.id.as_str()).collect();
                    let user_ids: Vec<&str> = scores.iter().map(|s| s.user_id.as_str()).collect();
                    let known = column(&mut tx, concat!("SELECT id FROM game_scores WHERE id ", $any), &ids).await?;
                    let users = users_present(&mut tx, &user_ids, mode).await?;
                    let mut seen = HashSet::new();
                    let mut fresh = Vec::new();
                    let outcomes = scores
                        .iter()
                        .map(|s| {
                            if known.contains(&s.id) || !seen.insert(s.id.as_str()) {
                                Imported::Unchanged
                            } else if !users.contains(&s.user_id) {
                                Imported::MissingUser
                            } else {
                                fresh.push(s.clone());
                                Imported::New
                            }
                        })
                        .collect();
                    if mode.writes() {
                        super::scores::write_games_in(&mut tx, &fresh).await?;
                    }
                    finish(tx, mode).await?;
                    if mode.writes() && !fresh.is_empty() {
                        super::scores::fold_counts(&self.$pool).await?;
                    }
                    Ok(outcomes)
                }
            }
        };
    };
}
pub(crate) use impl_import;
