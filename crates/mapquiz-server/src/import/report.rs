//! What an import did, table by table: the counts it prints, writes with `--report` and records in the
//! audit trail, and whether the run succeeded.

use super::rules::Dropped;
use mapquiz_store::{ImportConflict, Imported};
use serde::Serialize;
use std::collections::BTreeMap;

/// The counts of one table.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Tally {
    pub table: &'static str,
    /// Rows read from the original (for `friendships`: pairs of users).
    pub read: u64,
    /// Rows written now (repaired ones included).
    pub imported: u64,
    /// Rows already here that the original changed since: updated.
    pub updated: u64,
    /// Rows already here, unchanged.
    pub already_imported: u64,
    /// Rows written with at least one repair.
    pub repaired_rows: u64,
    /// Repairs made, by kind (a row may need several).
    pub repaired: BTreeMap<String, u64>,
    /// Rows not imported that ours would refuse, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Rows not imported because another row holds a unique key, by which.
    pub conflicts: BTreeMap<String, u64>,
    /// Rows not carried over by design (expired, past retention), by reason.
    pub left_behind: BTreeMap<String, u64>,
    /// The first ids of the rows skipped or in conflict, by reason: where an operator starts looking.
    pub examples: BTreeMap<String, Vec<String>>,
    /// How long the table took.
    pub seconds: f64,
}

/// Ids kept per reason in [`Tally::examples`].
const EXAMPLES: usize = 5;

/// The reason of a missing user (skipped, or in conflict, on this run or an earlier one).
pub const USER_NOT_IMPORTED: &str = "user not imported";

impl Tally {
    pub fn new(table: &'static str) -> Tally {
        Tally { table, ..Tally::default() }
    }

    /// Counts the row `id` the rules dropped.
    pub fn dropped(&mut self, why: Dropped, id: &str) {
        match why {
            Dropped::Skipped(reason) => self.lost(Lost::Skipped, &reason, id),
            Dropped::Conflict(reason) => self.lost(Lost::Conflict, reason, id),
            Dropped::LeftBehind(reason) => bump(&mut self.left_behind, reason),
        }
    }

    fn lost(&mut self, kind: Lost, reason: &str, id: &str) {
        bump(if kind == Lost::Skipped { &mut self.skipped } else { &mut self.conflicts }, reason);
        let examples = self.examples.entry(reason.to_owned()).or_default();
        if examples.len() < EXAMPLES {
            examples.push(id.to_owned());
        }
    }

    /// Counts what the store did with the row `id`, which the rules passed with `repairs`.
    pub fn stored(&mut self, outcome: Imported, repairs: &[&'static str], id: &str) {
        let written = match outcome {
            Imported::New => {
                self.imported += 1;
                true
            }
            Imported::NewWithSpareTag => {
                self.imported += 1;
                bump(&mut self.repaired, "tag assigned");
                true
            }
            Imported::Updated => {
                self.updated += 1;
                true
            }
            Imported::Unchanged => {
                self.already_imported += 1;
                false
            }
            Imported::MissingUser => {
                self.lost(Lost::Skipped, USER_NOT_IMPORTED, id);
                false
            }
            Imported::Conflict(c) => {
                self.lost(Lost::Conflict, conflict_reason(c), id);
                false
            }
        };
        if written {
            for repair in repairs {
                bump(&mut self.repaired, repair);
            }
            if !repairs.is_empty() || outcome == Imported::NewWithSpareTag {
                self.repaired_rows += 1;
            }
        }
    }

    /// Rows skipped or in conflict: what fails a run without `--accept-skips`.
    pub fn lost_rows(&self) -> u64 {
        self.skipped.values().chain(self.conflicts.values()).sum()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lost {
    Skipped,
    Conflict,
}

fn conflict_reason(c: ImportConflict) -> &'static str {
    match c {
        ImportConflict::EmailTaken => "email taken",
        ImportConflict::SubjectTaken => "google subject linked to another user",
        ImportConflict::TokenTaken => "token already in use",
        ImportConflict::PendingBothWays => "pending both ways",
        ImportConflict::PairTaken => "pair already requested",
    }
}

fn bump(map: &mut BTreeMap<String, u64>, reason: &str) {
    *map.entry(reason.to_owned()).or_default() += 1;
}

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// The `--since` cut-off, RFC 3339.
    pub since: Option<String>,
    pub seconds: f64,
    pub tables: Vec<Tally>,
    /// Rows of the tables this server does not import, by table.
    pub not_imported: BTreeMap<&'static str, u64>,
}

impl Report {
    /// Rows skipped or in conflict, over all tables.
    pub fn lost(&self) -> u64 {
        self.tables.iter().map(Tally::lost_rows).sum()
    }

    /// The summary an operator reads: one line per table, then every reason.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let header =
            ["table", "read", "imported", "updated", "already", "repaired", "skipped", "conflicts", "left", "seconds"];
        let rows: Vec<[String; 10]> = self
            .tables
            .iter()
            .map(|t| {
                [
                    t.table.to_owned(),
                    t.read.to_string(),
                    t.imported.to_string(),
                    t.updated.to_string(),
                    t.already_imported.to_string(),
                    t.repaired_rows.to_string(),
                    t.skipped.values().sum::<u64>().to_string(),
                    t.conflicts.values().sum::<u64>().to_string(),
                    t.left_behind.values().sum::<u64>().to_string(),
                    format!("{:.1}", t.seconds),
                ]
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0))
            .collect();
        let line = |cells: &[&str]| {
            let mut l = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i == 0 {
                    l.push_str(&format!("{cell:<w$}", w = widths[0]));
                } else {
                    l.push_str(&format!("  {cell:>w$}", w = widths[i]));
                }
            }
            l.push('\n');
            l
        };
        out.push_str(&line(&header));
        for r in &rows {
            out.push_str(&line(&r.iter().map(String::as_str).collect::<Vec<_>>()));
        }
        for (title, pick) in [
            ("repaired", (|t: &Tally| &t.repaired) as fn(&Tally) -> &BTreeMap<String, u64>),
            ("skipped", |t: &Tally| &t.skipped),
            ("conflicts", |t: &Tally| &t.conflicts),
            ("left behind (by design)", |t: &Tally| &t.left_behind),
        ] {
            for t in &self.tables {
                for (reason, n) in pick(t) {
                    out.push_str(&format!("{title}: {}: {reason}: {n}", t.table));
                    // Only skips and conflicts keep examples.
                    if let Some(ids) = t.examples.get(reason) {
                        out.push_str(&format!(
                            " (ids: {}{})",
                            ids.join(", "),
                            if *n > ids.len() as u64 { ", …" } else { "" }
                        ));
                    }
                    out.push('\n');
                }
            }
        }
        let not: Vec<String> = self.not_imported.iter().map(|(t, n)| format!("{t} {n}")).collect();
        out.push_str(&format!(
            "not imported (live lobbies and single-use values of the old process): {}\n",
            not.join(", ")
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_skips_and_conflicts_are_lost() {
        let mut t = Tally::new("sessions");
        t.stored(Imported::New, &[], "s1");
        t.stored(Imported::Unchanged, &[], "s2");
        t.dropped(Dropped::LeftBehind("expired"), "s3");
        assert_eq!(t.lost_rows(), 0);
        t.stored(Imported::MissingUser, &[], "s4");
        t.stored(Imported::Conflict(ImportConflict::TokenTaken), &[], "s5");
        assert_eq!(t.lost_rows(), 2);
        assert_eq!(t.examples["user not imported"], vec!["s4"]);
        assert!(!t.examples.contains_key("expired"), "rows left by design are not examples");
        assert_eq!(t.skipped["user not imported"], 1);
        assert_eq!(t.conflicts["token already in use"], 1);
    }

    #[test]
    fn repairs_count_only_when_written() {
        let mut t = Tally::new("scores");
        t.stored(Imported::New, &["negative duration → none"], "g1");
        t.stored(Imported::Unchanged, &["negative duration → none"], "g2");
        t.stored(Imported::NewWithSpareTag, &[], "g3");
        assert_eq!(t.repaired["negative duration → none"], 1);
        assert_eq!(t.repaired["tag assigned"], 1);
        assert_eq!((t.imported, t.already_imported, t.repaired_rows), (2, 1, 2));
    }

    #[test]
    fn the_summary_lines_up_and_names_every_reason() {
        let mut t = Tally::new("users");
        t.read = 12_345;
        t.stored(Imported::NewWithSpareTag, &["name repaired"], "u1");
        for i in 0..7 {
            t.dropped(Dropped::Conflict("email differs only by case"), &format!("twin{i}"));
        }
        let report = Report {
            dry_run: false,
            since: None,
            seconds: 1.0,
            tables: vec![t],
            not_imported: BTreeMap::from([("game_lobby", 3)]),
        };
        let text = report.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].len(), lines[1].len(), "{text}");
        assert!(lines[1].starts_with("users  12345"), "{text}");
        assert!(text.contains("repaired: users: tag assigned: 1"), "{text}");
        assert!(
            text.contains(
                "conflicts: users: email differs only by case: 7 (ids: twin0, twin1, twin2, twin3, twin4, …)"
            ),
            "{text}"
        );
        assert!(text.contains("game_lobby 3"), "{text}");
        assert_eq!(report.lost(), 7);
    }
}
