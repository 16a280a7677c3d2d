//! Which database to open, and how.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database engines the store supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A parsed database location.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite database file (created with its folder when missing).
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

/// Why a database URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("expected a postgres:// or postgresql:// URL, a sqlite:// URL or a file path")]
    UnknownScheme,
    #[error("an in-memory SQLite database would lose every write at exit; give a file path")]
    InMemory,
    #[error("SQLite URL options (after '?') are not supported; the server sets WAL and its own options")]
    SqliteOptions,
    #[error("the SQLite path is empty")]
    EmptyPath,
}

impl DatabaseUrl {
    /// Parses `postgres://…`, `postgresql://…`, `sqlite://path`, `sqlite:path` or a bare file path.
    pub fn parse(s: &str) -> Result<Self, DatabaseUrlError> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(s.to_owned()));
        }
        let path = if let Some(rest) = s.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = s.strip_prefix("sqlite:") {
            rest
        } else if s.contains("://") {
            return Err(DatabaseUrlError::UnknownScheme);
        } else {
            s
        };
        if path.contains(":memory:") || path.contains("mode=memory") {
            return Err(DatabaseUrlError::InMemory);
        }
        if path.contains('?') {
            return Err(DatabaseUrlError::SqliteOptions);
        }
        if path.is_empty() {
            return Err(DatabaseUrlError::EmptyPath);
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// The engine this URL selects.
    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite file, when this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            DatabaseUrl::Sqlite(p) => Some(p),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    /// The URL with no password at all (for commands an operator runs, with the password given through
    /// `PGPASSWORD` or `~/.pgpass`: a placeholder in the URL would take precedence and fail).
    pub fn without_password(&self) -> String {
        self.display_with(|url| {
            let _ = url.set_password(None);
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("password"))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            if kept.is_empty() {
                url.set_query(None);
            } else {
                url.query_pairs_mut().clear().extend_pairs(kept);
            }
        })
    }

    /// The URL with any password replaced, fit for logs and `mapquiz config`.
    pub fn redacted(&self) -> String {
        self.display_with(|url| {
            if url.password().is_some() {
                // Only fails for URLs that cannot have a password, which this one has.
                let _ = url.set_password(Some("[redacted]"));
            }
        })
    }

    /// The URL for display, a PostgreSQL one first passed through `hide` (which removes its secrets).
    fn display_with(&self, hide: impl FnOnce(&mut url::Url)) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(u) => match url::Url::parse(u) {
                Ok(mut parsed) => {
                    hide(&mut parsed);
                    parsed.to_string()
                }
                Err(_) => "postgres://[unparsable, redacted]".to_owned(),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// How to open the store.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub url: DatabaseUrl,
    /// Largest pool (PostgreSQL) or reader pool (SQLite; SQLite writes go through one connection).
    pub max_connections: u32,
    /// Connections kept open while idle.
    pub min_connections: u32,
    /// How long a caller waits for a connection before the store reports itself unavailable.
    pub acquire_timeout: Duration,
    /// How long SQLite waits on a locked database before giving up.
    pub sqlite_busy_timeout: Duration,
}

impl ConnectOptions {
    /// Options with the server's defaults for `url`.
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_accepted_form() {
        assert_eq!(DatabaseUrl::parse("mapquiz.db"), Ok(DatabaseUrl::Sqlite("mapquiz.db".into())));
        assert_eq!(DatabaseUrl::parse("sqlite://data/m.db"), Ok(DatabaseUrl::Sqlite("data/m.db".into())));
        assert_eq!(DatabaseUrl::parse("sqlite:///abs/m.db"), Ok(DatabaseUrl::Sqlite("/abs/m.db".into())));
        assert_eq!(DatabaseUrl::parse("sqlite:m.db"), Ok(DatabaseUrl::Sqlite("m.db".into())));
        assert_eq!(DatabaseUrl::parse("postgresql://u@h/db").map(|u| u.backend()), Ok(Backend::Postgres));
        assert_eq!(DatabaseUrl::parse("mysql://h/db"), Err(DatabaseUrlError::UnknownScheme));
        assert_eq!(DatabaseUrl::parse("sqlite::memory:"), Err(DatabaseUrlError::InMemory));
        assert_eq!(DatabaseUrl::parse("sqlite://m.db?mode=rwc"), Err(DatabaseUrlError::SqliteOptions));
        assert_eq!(DatabaseUrl::parse("sqlite://"), Err(DatabaseUrlError::EmptyPath));
    }

    #[test]
    fn redaction_hides_the_password_only() {
        let u = DatabaseUrl::parse("postgres://app:s3cret@db:5432/mapquiz").unwrap();
        let r = u.redacted();
        assert!(!r.contains("s3cret"));
        assert!(r.contains("app:") && r.contains("db:5432/mapquiz"));
        assert!(!format!("{u:?}").contains("s3cret"));
    }
}
