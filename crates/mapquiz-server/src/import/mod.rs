//! `mapquiz import-original`: moves the original server's players, Google links, live sessions, friends,
//! friend requests and solo games into this server's database, so that an operator switches without
//! signing anyone out.
//!
//! Each table of the original is streamed a batch at a time ([`source`]), each row checked and repaired
//! where the fix is unambiguous ([`rules`]), then written through the store's [`mapquiz_store::Import`]
//! part, which keeps ids and skips what is already there: a second run imports nothing twice, and
//! `--since` reads only what changed after a time. Counts are kept per table and reason ([`report`]).

mod progress;
mod report;
mod rules;
mod source;

use crate::audit::{self, Action, Actor};
use crate::cli;
use crate::config::Config;
use anyhow::Context as _;
use futures_util::{Stream, TryStreamExt as _};
use mapquiz_domain::{Tag, Timestamp};
use mapquiz_store::{DynStore, ImportMode, Imported, StoreError};
use progress::Progress;
use report::{Report, Tally};
use rules::Verdict;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::pin::pin;
use std::time::Instant;

/// Rows per batch: per read from the original and per transaction here.
const BATCH: usize = 5_000;

/// Attempts at a batch of users whose freshly drawn spare tags are taken (each draw is 1 in 2^40 to clash).
const TAG_DRAWS: usize = 5;

/// What `mapquiz import-original` was asked to do.
#[derive(Debug)]
pub struct ImportArgs {
    /// The original's PostgreSQL URL.
    pub from: String,
    /// Read and check everything, write nothing.
    pub dry_run: bool,
    /// Only rows created or updated at or after this instant.
    pub since: Option<Timestamp>,
    /// Succeed even when rows were skipped or in conflict.
    pub accept_skips: bool,
    /// Where to write the summary as JSON.
    pub report: Option<PathBuf>,
}

/// The import finished but left rows out for reasons other than "already imported" or "by design", and
/// `--accept-skips` was not given: exit status 3.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0} row(s) were skipped or in conflict (see the summary); fix them in the original and run again, or accept them with --accept-skips"
)]
pub struct RowsLeftOut(pub u64);

/// `mapquiz import-original`.
pub async fn run(config: Config, args: ImportArgs) -> anyhow::Result<()> {
    let original = source::Original::connect(&args.from, args.since).await?;
    let store = if args.dry_run {
        // A dry run changes nothing, not even the schema.
        cli::open_migrated(&config).await
    } else {
        cli::open_and_migrate(&config).await
    };
    let store = match store {
        Ok(store) => store,
        Err(e) => {
            original.close().await;
            return Err(e);
        }
    };
    let started = Instant::now();
    let result = import(&store, &original, &args, config.time_zone).await;
    original.close().await;
    let result = match result {
        Ok(tables) => finish(&store, &args, original.location(), tables, started).await,
        Err(e) => Err(e),
    };
    store.close().await;
    let report = result?;
    if report.lost() > 0 && !args.accept_skips {
        return Err(RowsLeftOut(report.lost()).into());
    }
    Ok(())
}

/// Prints the summary, writes `--report`, records the run in the audit trail (a real run only).
async fn finish(
    store: &DynStore,
    args: &ImportArgs,
    from: &str,
    (tables, not_imported): (Vec<Tally>, BTreeMap<&'static str, u64>),
    started: Instant,
) -> anyhow::Result<Report> {
    let report = Report {
        dry_run: args.dry_run,
        since: args.since.map(Timestamp::to_iso),
        seconds: started.elapsed().as_secs_f64(),
        tables,
        not_imported,
    };
    if args.dry_run {
        cli::say("dry run: nothing was written")?;
    }
    for line in report.render().lines() {
        cli::say(line)?;
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_vec_pretty(&report).context("cannot encode the report")?;
        std::fs::write(path, json).with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    if !args.dry_run {
        let counts: serde_json::Map<String, serde_json::Value> = report
            .tables
            .iter()
            .map(|t| {
                let lost: u64 = t.lost_rows();
                let left: u64 = t.left_behind.values().sum();
                (
                    t.table.to_owned(),
                    serde_json::json!({"read": t.read, "imported": t.imported, "updated": t.updated,
                        "already_imported": t.already_imported, "skipped_or_conflicts": lost, "left_behind": left}),
                )
            })
            .collect();
        let details = serde_json::json!({"from": from, "since": report.since, "tables": counts,
            "seconds": report.seconds.round()});
        audit::record_system(
            store,
            Timestamp::from_datetime(chrono::Utc::now()),
            Action::ImportOriginal,
            Actor::Cli,
            details,
        )
        .await;
    }
    Ok(report)
}

async fn import(
    store: &DynStore,
    original: &source::Original,
    args: &ImportArgs,
    tz: chrono_tz::Tz,
) -> anyhow::Result<(Vec<Tally>, BTreeMap<&'static str, u64>)> {
    let counts = original.counts().await?;
    let not_imported = original.not_imported().await?.into_iter().collect();
    let now = Timestamp::from_datetime(chrono::Utc::now());
    let dry = args.dry_run;
    // The users a dry run would have written: the rows that belong to them are classified as if they had
    // been. Only a dry run keeps them (a real run finds them in the database).
    let mut planned = HashSet::new();
    let mut tables = Vec::new();

    tables.push(import_users(store, original, counts.users, dry, &mut planned).await?);
    let mode = if dry { ImportMode::DryRun { planned_users: &planned } } else { ImportMode::Write };
    tables.push(
        table("accounts", counts.accounts, original.accounts(BATCH), rules::account, async |rows| {
            store.import_accounts(rows, mode).await
        })
        .await?,
    );
    tables.push(
        table(
            "sessions",
            counts.sessions,
            original.sessions(BATCH),
            |s| rules::session(s, now),
            async |rows| store.import_sessions(rows, mode).await,
        )
        .await?,
    );
    tables.push(
        table("friendships", counts.friend_pairs, original.friend_pairs(BATCH), rules::friendship, async |rows| {
            store.import_friendships(rows, mode).await
        })
        .await?,
    );
    tables.push(
        table(
            "friend_requests",
            counts.requests,
            original.requests(BATCH),
            |r| rules::request(r, now),
            async |rows| store.import_friend_requests(rows, mode).await,
        )
        .await?,
    );
    tables.push(
        table(
            "scores",
            counts.scores,
            original.scores(BATCH),
            |s| rules::score(s, tz),
            async |rows| store.import_scores(rows, mode).await,
        )
        .await?,
    );
    if !dry {
        // Fresh planner statistics for tables that just grew by a million rows.
        store.optimize().await.context("cannot refresh the planner's statistics")?;
    }
    Ok((tables, not_imported))
}

/// Users first: every other table refers to them. A batch whose spare tags clash is drawn again.
async fn import_users(
    store: &DynStore,
    original: &source::Original,
    total: u64,
    dry: bool,
    planned: &mut HashSet<String>,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new("users");
    let mut progress = Progress::start("users", total);
    let mut batches = pin!(original.users(BATCH));
    while let Some(batch) = batches.try_next().await? {
        let read = batch.len() as u64;
        tally.read += read;
        let mut rows = Vec::with_capacity(batch.len());
        let mut repairs = Vec::with_capacity(batch.len());
        for u in batch {
            let id = u.id.clone();
            match rules::user(u, Tag::from_random(rand::random())) {
                Ok(c) => {
                    rows.push(c.row);
                    repairs.push(c.repairs);
                }
                Err(why) => tally.dropped(why, &id),
            }
        }
        let mut draws = 1;
        let outcomes = loop {
            let mode = if dry { ImportMode::DryRun { planned_users: planned } } else { ImportMode::Write };
            match store.import_users(&rows, mode).await {
                Ok(outcomes) => break outcomes,
                // A spare tag drawn for this batch is someone's already: draw them all again.
                Err(StoreError::Conflict("users_tag_key")) if draws < TAG_DRAWS => {
                    draws += 1;
                    for row in &mut rows {
                        row.spare_tag = Tag::from_random(rand::random()).as_str().to_owned();
                    }
                }
                Err(e) => return Err(e).context("cannot import users"),
            }
        };
        for ((row, repairs), outcome) in rows.iter().zip(&repairs).zip(outcomes) {
            if dry && matches!(outcome, Imported::New | Imported::NewWithSpareTag) {
                planned.insert(row.id.clone());
            }
            tally.stored(outcome, repairs, &row.id);
        }
        progress.advance(read);
    }
    tally.seconds = progress.finish();
    Ok(tally)
}

/// One table after the users: `check` each row, store the batch, count.
async fn table<R: source::Keyed, T>(
    name: &'static str,
    total: u64,
    batches: impl Stream<Item = anyhow::Result<Vec<R>>>,
    check: impl Fn(R) -> Verdict<T>,
    mut store: impl AsyncFnMut(&[T]) -> Result<Vec<Imported>, StoreError>,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new(name);
    let mut progress = Progress::start(name, total);
    let mut batches = pin!(batches);
    while let Some(batch) = batches.try_next().await? {
        let read = batch.len() as u64;
        tally.read += read;
        let mut rows = Vec::with_capacity(batch.len());
        let mut kept = Vec::with_capacity(batch.len());
        for r in batch {
            let id = r.key();
            match check(r) {
                Ok(c) => {
                    rows.push(c.row);
                    kept.push((id, c.repairs));
                }
                Err(why) => tally.dropped(why, &id),
            }
        }
        let outcomes = store(&rows).await.with_context(|| format!("cannot import {name}"))?;
        for ((id, repairs), outcome) in kept.iter().zip(outcomes) {
            tally.stored(outcome, repairs, id);
        }
        progress.advance(read);
    }
    tally.seconds = progress.finish();
    Ok(tally)
}
