//! What `/proc` says about a process (CPU time, RSS, peak RSS, state) and
//! about the host's CPUs.

/// Busy and total jiffies of all CPUs (`/proc/stat`).
pub struct HostCpu {
    busy: u64,
    total: u64,
}

impl HostCpu {
    /// The fraction of all CPUs busy from this reading until `later`.
    pub fn busy_until(&self, later: &HostCpu) -> f64 {
        let total = (later.total - self.total).max(1) as f64;
        (later.busy - self.busy) as f64 / total
    }
}

/// All CPUs' busy and total jiffies now.
pub fn host_cpu() -> Result<HostCpu, String> {
    let stat =
        std::fs::read_to_string("/proc/stat").map_err(|e| format!("reading /proc/stat: {e}"))?;
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .ok_or("no cpu line in /proc/stat")?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    // idle and iowait are the 4th and 5th.
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Ok(HostCpu {
        busy: total - idle,
        total,
    })
}

/// Resets `pid`'s peak RSS (VmHWM) to its current RSS; false if the kernel
/// refused.
pub fn reset_peak_rss(pid: i32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The state letter of a `/proc/<pid>/stat` line (`Z`: zombie).
pub fn stat_state(stat: &str) -> Option<char> {
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
}

/// What `/proc` says about one process.
pub struct ProcStats {
    pub cpu_s: f64,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// CPU seconds (user + system), resident and peak resident memory of `pid`.
pub fn proc_stats(pid: i32) -> Result<ProcStats, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("reading /proc/{pid}/stat: {e}"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command: state is field 3, utime 14 and stime 15 (1-based).
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    let (Some(utime), Some(stime)) = (ticks(14), ticks(15)) else {
        return Err(format!("unexpected /proc/{pid}/stat: {stat}"));
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(ProcStats {
        cpu_s: (utime + stime) as f64 / hz,
        rss_kib: kib("VmRSS:"),
        hwm_kib: kib("VmHWM:"),
    })
}
