//! The process metrics, under the names every Prometheus client library
//! uses (`process_cpu_seconds_total`, `process_resident_memory_bytes`…),
//! read from `/proc/self` at each scrape and written as exposition text
//! beside the recorder's.
//!
//! Read here rather than recorded through the `metrics` facade: its
//! counters are whole numbers, and CPU time in whole seconds says nothing
//! about a mostly idle service. A limit that is `unlimited` is left out
//! rather than shown as a number. Linux only: elsewhere there is no
//! `/proc`, and nothing is written.

use std::fmt::Write as _;

/// The clock ticks per second of `/proc/<pid>/stat`'s times: `USER_HZ`,
/// which is 100 on every architecture Linux runs on here (`getconf
/// CLK_TCK`); the kernel scales its internal rate to it for userspace.
const TICKS_PER_SECOND: f64 = 100.0;

/// The process metrics as exposition text, each family with its `# HELP`
/// and `# TYPE`; those that cannot be read are left out.
pub(crate) fn exposition() -> String {
    let mut text = String::new();
    let stat = read("/proc/self/stat");
    let fields = stat.as_deref().map(stat_fields).unwrap_or_default();
    let field = |n: usize| fields.get(n).and_then(|f| f.parse::<f64>().ok());
    if let (Some(user), Some(system)) = (field(STAT_UTIME), field(STAT_STIME)) {
        family(
            &mut text,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            (user + system) / TICKS_PER_SECOND,
        );
    }
    let boot = read("/proc/stat").and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|b| b.trim().parse::<f64>().ok())
    });
    if let (Some(boot), Some(start)) = (boot, field(STAT_STARTTIME)) {
        family(
            &mut text,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            boot + start / TICKS_PER_SECOND,
        );
    }
    let status = read("/proc/self/status").unwrap_or_default();
    for (key, name, help, scale) in [
        (
            "VmRSS:",
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            1024.0,
        ),
        (
            "VmSize:",
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            1024.0,
        ),
        (
            "Threads:",
            "process_threads",
            "Number of OS threads in the process.",
            1.0,
        ),
    ] {
        if let Some(value) = status_value(&status, key) {
            family(&mut text, name, "gauge", help, value * scale);
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        // The directory's own descriptor, open while it is read, is one.
        let open = entries.count().saturating_sub(1);
        family(
            &mut text,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            open as f64,
        );
    }
    let limits = read("/proc/self/limits").unwrap_or_default();
    for (limit, name, help) in [
        (
            "Max open files",
            "process_max_fds",
            "Maximum number of open file descriptors.",
        ),
        (
            "Max address space",
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
        ),
    ] {
        if let Some(value) = soft_limit(&limits, limit) {
            family(&mut text, name, "gauge", help, value);
        }
    }
    text
}

/// The process's soft limit on open files; `None` when unlimited or
/// unknown (not Linux).
pub(crate) fn open_files_limit() -> Option<usize> {
    let limits = read("/proc/self/limits")?;
    soft_limit(&limits, "Max open files").map(|limit| limit as usize)
}

/// Indexes into the fields of `/proc/self/stat` after the command name
/// (`proc(5)` numbers them from 1 with the pid; the state is field 3).
const STAT_UTIME: usize = 14 - 3;
const STAT_STIME: usize = 15 - 3;
const STAT_STARTTIME: usize = 22 - 3;

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The fields after `pid (comm)`: the command name may hold spaces and
/// parentheses, so it ends at the last `)`.
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rfind(')')
        .map(|end| stat[end + 1..].split_whitespace().collect())
        .unwrap_or_default()
}

/// The number after `key` in `/proc/self/status` (`VmRSS:   2032 kB`).
fn status_value(status: &str, key: &str) -> Option<f64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The soft limit of the row `name` of `/proc/self/limits`; `None` when
/// it is `unlimited`.
fn soft_limit(limits: &str, name: &str) -> Option<f64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|soft| soft.parse().ok())
}

fn family(text: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = write!(
        text,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_name_may_hold_spaces_and_parentheses() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1234 0";
        let fields = stat_fields(stat);
        assert_eq!(fields[0], "S");
        assert_eq!(fields[STAT_UTIME], "250");
        assert_eq!(fields[STAT_STIME], "50");
        assert_eq!(fields[STAT_STARTTIME], "1234");
    }

    #[test]
    fn an_unlimited_limit_is_left_out() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            20000                20000                files\n\
                      Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(soft_limit(limits, "Max open files"), Some(20000.0));
        assert_eq!(soft_limit(limits, "Max address space"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_read() {
        let text = exposition();
        for family in [
            "process_cpu_seconds_total",
            "process_start_time_seconds",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_threads",
            "process_open_fds",
        ] {
            assert!(text.contains(&format!("\n{family} ")), "{family}: {text}");
        }
    }
}
