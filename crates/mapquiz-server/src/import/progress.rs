//! Progress of an import on standard error: a bar per table on a terminal, plain lines otherwise (a log
//! file or a CI job reads them line by line).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

/// Plain progress lines, at most this often per table.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// The progress of one table.
pub struct Progress {
    table: &'static str,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts the table's bar (or its first line); `total` rows are expected.
    pub fn start(table: &'static str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{prefix:>16} [{bar:32}] {human_pos}/{human_len} {per_sec} eta {eta}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(table);
            bar
        });
        let now = Instant::now();
        let progress = Progress { table, total, done: 0, started: now, last_line: now, bar };
        if progress.bar.is_none() {
            progress.line("started");
        }
        progress
    }

    /// `rows` more rows handled.
    pub fn advance(&mut self, rows: u64) {
        self.done += rows;
        match &self.bar {
            Some(bar) => bar.inc(rows),
            None if self.last_line.elapsed() >= LINE_EVERY => {
                self.last_line = Instant::now();
                self.line("");
            }
            None => {}
        }
    }

    /// The table is done: how long it took, in seconds.
    pub fn finish(self) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64();
        match &self.bar {
            Some(bar) => bar.finish(),
            None => self.line(&format!("done in {seconds:.1} s")),
        }
        seconds
    }

    fn line(&self, note: &str) {
        // Progress is a courtesy: a closed stderr must not stop the import.
        let _ = writeln!(std::io::stderr().lock(), "{}: {} of {} rows {note}", self.table, self.done, self.total);
    }
}
