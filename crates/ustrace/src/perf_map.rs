//! Snapshots of JIT perf maps. A JIT (`python3.12 -X perf`, Node's
//! `--perf-basic-prof`, perf-map-agent for Java) names the code it
//! generates in `/tmp/perf-PID.map`, one `START SIZE NAME` line per
//! function (hexadecimal start and size, the name to the end of the
//! line), and usually deletes the file when it exits. Stacks are named
//! after their events arrive, which can be after that: the map is read
//! when the process's mappings are recorded and when its frames are
//! named, and kept, so its JIT frames keep their names once the file or
//! the process is gone. A changed file (a JIT appends as it compiles) is
//! read again.
//!
//! Bounded: at most [`MAX_FILE_BYTES`] of one file are read (the lines
//! after that are not named) and the snapshots together hold at most
//! [`MAX_TOTAL_BYTES`] of text; beyond that, new snapshots are not kept
//! (a live process is still named from its file).

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::SystemTime;

/// The most of one perf map read.
pub(crate) const MAX_FILE_BYTES: u64 = 16 << 20;

/// The most text all snapshots together are made of.
pub(crate) const MAX_TOTAL_BYTES: u64 = 64 << 20;

/// One function of a perf map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PerfSymbol {
    /// The first address.
    pub(crate) start: u64,
    /// The size in bytes.
    pub(crate) size: u64,
    /// The name, as the JIT wrote it.
    pub(crate) name: String,
}

/// Parses perf-map text: every well-formed line, sorted by start; of
/// lines with the same start, the last one (code rewritten in place).
/// Malformed lines are skipped (a JIT may be writing the last one).
pub(crate) fn parse(text: &str) -> Vec<PerfSymbol> {
    let hex = |t: &str| {
        let t = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        u64::from_str_radix(t, 16).ok()
    };
    let mut symbols: Vec<PerfSymbol> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.trim_start().splitn(3, [' ', '\t']);
            let start = hex(fields.next()?)?;
            let size = hex(fields.next()?)?;
            let name = fields.next()?.trim();
            (size > 0 && !name.is_empty()).then(|| PerfSymbol {
                start,
                size,
                name: name.to_string(),
            })
        })
        .collect();
    // Stable: among equal starts the file's order stays, the last wins.
    symbols.sort_by_key(|s| s.start);
    let mut kept: Vec<PerfSymbol> = Vec::with_capacity(symbols.len());
    for s in symbols {
        match kept.last_mut() {
            Some(last) if last.start == s.start => *last = s,
            _ => kept.push(s),
        }
    }
    kept
}

/// The function of `symbols` (sorted by start, as [`parse`] gives them)
/// holding `addr`, and `addr`'s offset in it.
pub(crate) fn lookup(symbols: &[PerfSymbol], addr: u64) -> Option<(&str, u64)> {
    let after = symbols.partition_point(|s| s.start <= addr);
    let s = symbols.get(after.checked_sub(1)?)?;
    let offset = addr - s.start;
    (offset < s.size).then_some((s.name.as_str(), offset))
}

/// One process's perf map as last read.
#[derive(Debug)]
struct Snapshot {
    symbols: Vec<PerfSymbol>,
    /// The file's length and modification time when it was read.
    stamp: (u64, Option<SystemTime>),
    /// The bytes read.
    bytes: u64,
}

/// The perf maps of the traced processes, by pid.
#[derive(Debug, Default)]
pub(crate) struct PerfMaps {
    snapshots: HashMap<u32, Snapshot>,
    /// Bytes the snapshots were read from, together.
    total: u64,
    /// One line per snapshot taken since the last
    /// [`PerfMaps::take_reports`] (`-d`).
    reports: Vec<String>,
}

impl PerfMaps {
    /// Where process `pid` writes its perf map.
    pub(crate) fn path(pid: u32) -> PathBuf {
        PathBuf::from(format!("/tmp/perf-{pid}.map"))
    }

    /// Reads `pid`'s perf map if it exists and changed since it was last
    /// read (a `stat` otherwise). A file that is gone keeps its snapshot.
    pub(crate) fn refresh(&mut self, pid: u32) {
        let path = Self::path(pid);
        let Ok(meta) = std::fs::metadata(&path) else {
            return;
        };
        // Never a FIFO or a device: reading it could block or never end.
        if !meta.is_file() {
            return;
        }
        let stamp = (meta.len(), meta.modified().ok());
        let old = self.snapshots.get(&pid);
        if old.is_some_and(|s| s.stamp == stamp) {
            return;
        }
        let old_bytes = old.map_or(0, |s| s.bytes);
        let Some((symbols, bytes)) = read_bounded(&path) else {
            return;
        };
        if self.total - old_bytes + bytes > MAX_TOTAL_BYTES {
            return;
        }
        self.total = self.total - old_bytes + bytes;
        self.reports.push(format!(
            "perf map: pid {pid}: {} symbols, {bytes} bytes",
            symbols.len()
        ));
        self.snapshots.insert(
            pid,
            Snapshot {
                symbols,
                stamp,
                bytes,
            },
        );
    }

    /// The JIT function of `pid` holding `addr` (name, offset), from the
    /// last snapshot.
    pub(crate) fn lookup(&self, pid: u32, addr: u64) -> Option<(&str, u64)> {
        lookup(&self.snapshots.get(&pid)?.symbols, addr)
    }

    /// The snapshot lines since the last call.
    pub(crate) fn take_reports(&mut self) -> Vec<String> {
        std::mem::take(&mut self.reports)
    }
}

/// The symbols of the perf map at `path` from its first
/// [`MAX_FILE_BYTES`] (a line cut there is dropped), and the bytes read.
fn read_bounded(path: &std::path::Path) -> Option<(Vec<PerfSymbol>, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let mut raw = Vec::new();
    file.take(MAX_FILE_BYTES).read_to_end(&mut raw).ok()?;
    let bytes = raw.len() as u64;
    if bytes == MAX_FILE_BYTES {
        let whole = raw.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        raw.truncate(whole);
    }
    Some((parse(&String::from_utf8_lossy(&raw)), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_lines_jits_write() {
        let text = "7f0000001000 12 jitted_trampoline\n\
                    0x7f0000002000 0x20 py::f:/srv/app.py\n\
                    7f0000003000 8 LazyCompile:~run node:internal/main 12\n\
                    garbage\n\
                    7f0000004000 zz bad_size\n\
                    7f0000005000 0 empty\n\
                    7f0000001000 10 recompiled\n";
        let got = parse(text);
        let names: Vec<(u64, u64, &str)> = got
            .iter()
            .map(|s| (s.start, s.size, s.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (0x7f0000001000, 0x10, "recompiled"),
                (0x7f0000002000, 0x20, "py::f:/srv/app.py"),
                (
                    0x7f0000003000,
                    0x8,
                    "LazyCompile:~run node:internal/main 12"
                ),
            ]
        );
        assert_eq!(lookup(&got, 0x7f000000100f), Some(("recompiled", 0xf)));
        assert_eq!(lookup(&got, 0x7f0000001010), None);
        assert_eq!(lookup(&got, 0x7f0000002000), Some(("py::f:/srv/app.py", 0)));
        assert_eq!(lookup(&got, 0x10), None);
        assert_eq!(lookup(&got, u64::MAX), None);
    }

    #[test]
    fn a_snapshot_outlives_its_file() {
        // A pid no process has (above pid_max): only this test writes its
        // perf map.
        let pid = 4_000_000_000 + std::process::id() % 1000;
        let path = PerfMaps::path(pid);
        std::fs::write(&path, "1000 10 first\n").expect("writes /tmp");
        let mut maps = PerfMaps::default();
        maps.refresh(pid);
        assert_eq!(maps.lookup(pid, 0x1004), Some(("first", 4)));
        // Appended: read again.
        std::fs::write(&path, "1000 10 first\n2000 10 second\n").expect("writes /tmp");
        maps.refresh(pid);
        assert_eq!(maps.lookup(pid, 0x2001), Some(("second", 1)));
        std::fs::remove_file(&path).expect("removes it");
        maps.refresh(pid);
        assert_eq!(maps.lookup(pid, 0x1004), Some(("first", 4)));
        assert_eq!(
            maps.take_reports(),
            [
                format!("perf map: pid {pid}: 1 symbols, 14 bytes"),
                format!("perf map: pid {pid}: 2 symbols, 29 bytes"),
            ]
        );
        assert_eq!(maps.lookup(pid + 1, 0x1004), None);
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panicking(text in "[0-9a-fx \\t\\n]{0,200}|\\PC{0,200}") {
            let symbols = parse(&text);
            prop_assert!(symbols.windows(2).all(|w| w[0].start < w[1].start));
            for s in &symbols {
                prop_assert_eq!(lookup(&symbols, s.start).map(|(n, o)| (n.to_string(), o)), Some((s.name.clone(), 0)));
                let _ = lookup(&symbols, s.start.wrapping_add(s.size));
            }
        }
    }
}
