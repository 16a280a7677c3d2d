//! `mapquiz backup` and `mapquiz restore`: online copies of the SQLite database, and putting one back.
//! PostgreSQL has its own tools; the commands say which, with the configured URL (password redacted).

use crate::audit::{self, Action, Actor};
use crate::cli::{Refused, say};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use anyhow::Context;
use mapquiz_domain::new_id;
use mapquiz_store::DatabaseUrl;
use serde_json::json;
use std::path::{Path, PathBuf};

/// `mapquiz backup FILE [--force]`.
pub async fn backup(config: Config, file: PathBuf, force: bool) -> anyhow::Result<()> {
    let database = match &config.database.url {
        DatabaseUrl::Sqlite(path) => path.clone(),
        DatabaseUrl::Postgres(_) => {
            return Err(Refused(format!(
                "`mapquiz backup` copies SQLite databases; back up PostgreSQL with pg_dump:\n  \
                 pg_dump --format=custom --file {} \"{}\"\n\
                 (give the password through PGPASSWORD or ~/.pgpass)",
                file.display(),
                config.database.url.without_password()
            ))
            .into());
        }
    };
    anyhow::ensure!(database.is_file(), "there is no database at {} to back up", database.display());
    anyhow::ensure!(!names_database(&file, &database), "the backup cannot be the database or one of its files");
    anyhow::ensure!(force || !file.exists(), "{} exists; pass --force to replace it", file.display());
    let store = mapquiz_store::connect(&config.database.connect_options())
        .await
        .with_context(|| format!("cannot open the database {}", config.database.url.redacted()))?;
    let result = async {
        // Copied beside the target first, then renamed over it: a failed copy never leaves a partial file,
        // and a replaced backup is either the old one or the new one.
        let tmp = sibling(&file, "backup")?;
        let copied = async {
            store.backup_to(&tmp).await.context("cannot copy the database")?;
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).context("cannot flush the copy to disk")?;
            std::fs::rename(&tmp, &file).with_context(|| format!("cannot move the copy to {}", file.display()))
        }
        .await;
        if copied.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        copied?;
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let details = json!({ "file": file.display().to_string(), "bytes": bytes });
        audit::record_system(&store, SystemClock.now(), Action::Backup, Actor::Cli, details).await;
        say(&format!("backup of {} written to {} ({bytes} bytes)", config.database.url.redacted(), file.display()))?;
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result
}

/// `mapquiz restore FILE [--yes]`: the server must be stopped (it would keep the old file open).
pub async fn restore(config: Config, file: PathBuf, yes: bool) -> anyhow::Result<()> {
    let Some(database) = config.database.url.sqlite_path().map(Path::to_path_buf) else {
        return Err(Refused(format!(
            "`mapquiz restore` restores SQLite databases; restore PostgreSQL with pg_restore:\n  \
             pg_restore --clean --if-exists --dbname \"{}\" {}\n\
             (give the password through PGPASSWORD or ~/.pgpass)",
            config.database.url.without_password(),
            file.display()
        ))
        .into());
    };
    if config.is_production() && !yes {
        anyhow::bail!(
            "`restore` replaces the database and every change made since the copy; in production confirm with --yes"
        );
    }
    anyhow::ensure!(!names_database(&file, &database), "the copy to restore is the database or one of its files");
    let version = mapquiz_store::check_sqlite_file(&file)
        .await
        .with_context(|| format!("refusing to restore {}", file.display()))?;
    let newest = mapquiz_store::newest_sqlite_migration();
    anyhow::ensure!(
        version <= newest,
        "{} comes from a newer release (migration {version}; this build knows up to {newest}): restore it with that release",
        file.display()
    );
    say("make sure no server is running on this database: it would keep writing to the replaced file")?;

    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // The copy goes to a temporary file beside the database, then is renamed over it: the database is
    // either the old one or the restored one, never half of each.
    let tmp = sibling(&database, "restore")?;
    let kept = with_suffix(&database, &format!(".pre-restore-{}", new_id()));
    let replaced = async {
        mapquiz_store::copy_sqlite_file(&file, &tmp).await.context("cannot copy the backup")?;
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).context("cannot flush the copy to disk")?;
        // The old database and its WAL and shared-memory index are moved aside together, never deleted: the
        // WAL may hold committed writes, SQLite would apply it to the restored file, and a server still
        // running keeps writing to the moved file, where nothing is lost.
        for suffix in ["", "-wal", "-shm"] {
            let old = with_suffix(&database, suffix);
            let aside = with_suffix(&kept, suffix);
            match std::fs::rename(&old, &aside) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot move {} aside", old.display())),
            }
        }
        let moved = std::fs::rename(&tmp, &database);
        if moved.is_err() {
            // Put the old database back as it was.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::rename(with_suffix(&kept, suffix), with_suffix(&database, suffix));
            }
        }
        moved.with_context(|| format!("cannot move the copy to {}", database.display()))
    }
    .await;
    if replaced.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    replaced?;

    let store = mapquiz_store::connect(&config.database.connect_options())
        .await
        .with_context(|| format!("cannot open the restored database {}", database.display()))?;
    let details = json!({ "file": file.display().to_string(), "migration": version });
    audit::record_system(&store, SystemClock.now(), Action::Restore, Actor::Cli, details).await;
    store.close().await;
    say(&format!(
        "restored {} over {} (schema at migration {version:04}); the replaced database is kept as {}; \
         `mapquiz migrate up` or the server's start-up applies newer migrations",
        file.display(),
        config.database.url.redacted(),
        kept.display()
    ))?;
    Ok(())
}

/// Whether `candidate` is the database or one of its side files (`-wal`, `-shm`, `-journal`), existing or not.
fn names_database(candidate: &Path, database: &Path) -> bool {
    let norm = |p: &Path| p.canonicalize().or_else(|_| std::path::absolute(p)).ok();
    let Some(candidate) = norm(candidate) else { return false };
    ["", "-wal", "-shm", "-journal"].iter().any(|s| norm(&with_suffix(database, s)).as_ref() == Some(&candidate))
}

/// `path` with `suffix` appended to its file name (`mapquiz.db` → `mapquiz.db-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A new, unused path in `path`'s folder (so a rename onto `path` stays on one file system).
fn sibling(path: &Path, purpose: &str) -> anyhow::Result<PathBuf> {
    let name = path.file_name().with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = format!(".{}.{purpose}-{}.tmp", name.to_string_lossy(), new_id());
    Ok(path.with_file_name(tmp))
}
