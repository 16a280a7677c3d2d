//! CPU time and resident memory of a local process, read from `/proc/<pid>/stat` and `/proc/<pid>/status`.

/// Clock ticks per second of `/proc/<pid>/stat` times. Linux fixes `USER_HZ` at 100 on every architecture
/// the server runs on, and reading `sysconf` would take `libc`.
const TICKS_PER_SEC: f64 = 100.0;

/// One reading of a process.
#[derive(Clone, Copy)]
pub struct ProcSample {
    /// User plus system CPU time, seconds.
    pub cpu_secs: f64,
    /// Resident set size now, bytes.
    pub rss: u64,
    /// Peak resident set size over the process's life, bytes.
    pub rss_peak: u64,
}

/// Reads `pid` (`"self"` for this process); `None` when it is gone or unreadable.
pub fn sample(pid: &str) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count fields from the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|v| v * 1024)
    };
    Some(ProcSample { cpu_secs: ticks as f64 / TICKS_PER_SEC, rss: kib("VmRSS:")?, rss_peak: kib("VmHWM:")? })
}

/// Busy and total CPU time of the whole machine, seconds over all cores, from `/proc/stat`.
pub fn machine() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = fields.iter().sum();
    // idle and iowait are the 4th and 5th values.
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some(((total - idle) as f64 / TICKS_PER_SEC, total as f64 / TICKS_PER_SEC))
}
