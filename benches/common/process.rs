//! What /proc says about a process the bench started: its resident set, split into heap and
//! stacks (anonymous) and the binary and libraries (file-backed), and which files those are.

use std::collections::HashMap;

/// A field of /proc/<pid>/status in MB (`VmRSS`, `RssAnon`, `RssFile`).
pub fn status_mb(pid: u32, field: &str) -> f64 {
    status(pid, field)
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn status(pid: u32, field: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| Some(l.strip_prefix(field)?.strip_prefix(':')?.trim().to_owned()))
}

/// Resident set size with its anonymous and file-backed parts and the thread count.
pub fn rss(pid: u32) -> String {
    format!(
        "RSS {:>6.1} MB (anonymous {:>5.1} MB, file-backed {:>5.1} MB; {} threads)",
        status_mb(pid, "VmRSS"),
        status_mb(pid, "RssAnon"),
        status_mb(pid, "RssFile"),
        status(pid, "Threads").unwrap_or_default()
    )
}

/// The files whose pages make up the file-backed part, largest first (from smaps).
pub fn file_backed(pid: u32) -> String {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut by_file: HashMap<String, f64> = HashMap::new();
    let mut current: Option<String> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        match (fields.next(), fields.next()) {
            (Some("Rss:"), Some(kb)) => {
                if let Some(file) = &current {
                    *by_file.entry(file.clone()).or_default() +=
                        kb.parse::<f64>().unwrap_or(0.0) / 1024.0;
                }
            }
            // A mapping's header: address range, perms, offset, device, inode, path.
            (Some(range), Some(_)) if range.contains('-') && !range.ends_with(':') => {
                current = line
                    .split_whitespace()
                    .nth(5)
                    .filter(|p| p.starts_with('/'))
                    .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned());
            }
            _ => {}
        }
    }
    let mut files: Vec<(String, f64)> = by_file.into_iter().filter(|(_, mb)| *mb >= 0.1).collect();
    files.sort_by(|a, b| b.1.total_cmp(&a.1));
    files
        .iter()
        .map(|(f, mb)| format!("{f} {mb:.1} MB"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A process's name and CPU seconds (user + system) from /proc/<pid>/stat; `pid` may be
/// `self`.
pub fn cpu(pid: &str) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, tail) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let f: Vec<&str> = tail.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some((name, ticks / 100.0))
}

/// Bytes the process has handed to `write`-like calls (`wchar` of /proc/<pid>/io): its WAL,
/// its checkpoints and its sockets, whether or not they reached the disk yet.
pub fn written(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("wchar:")?.trim().parse().ok())
        })
        .unwrap_or(0)
}
