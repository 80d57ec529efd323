//! Loading unwind tables of traced processes into the walker's maps
//! (layout in crates/codegen/src/unwind/).
//!
//! Each file's table is built once (crates/unwind), keyed by its device and
//! inode, and appended to the rows map; rows are never removed during a
//! session. A process's executable mappings go to the LPM trie as aligned
//! address blocks pointing at their file's rows, plus a pid-only entry that
//! tells the walker "outside this process's code" (it then asks the
//! kernel for the mapping, `bpf_find_vma`). Each file's `PT_LOAD`
//! segments also go to the files map, keyed by the file's identity as the
//! kernel knows it (device, inode, page offset): any process that maps a
//! built file is walked by its rows, before (or without) its own entries.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ustrace_codegen::unwind::{
    MappingValue, FILE_KEY_SIZE, MAPPING_KEY_BITS, MAPPING_OUTSIDE, MAX_MAPPING_PREFIXES, MAX_ROWS,
    ROW_SIZE,
};

use crate::sys;

/// One executable mapping of a process (a `/proc/PID/maps` line with `x`).
/// Anonymous ones (JIT code, `[vdso]`) have an empty path and no tables:
/// the walker takes frame-pointer steps there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// File offset mapped at `start`.
    pub offset: u64,
    /// Device (major << 32 | minor).
    pub dev: u64,
    /// Inode.
    pub inode: u64,
    /// Path as the process sees it.
    pub path: PathBuf,
}

/// What loading a process's tables did.
#[derive(Debug, Clone, Default)]
pub struct UnwindLoad {
    /// Executable mappings found.
    pub mappings: usize,
    /// Files whose tables were built now (not cached).
    pub files_built: usize,
    /// Rows added to the rows map now.
    pub rows_added: usize,
    /// Wall time of the whole load.
    pub elapsed: Duration,
    /// Files that could not be read or parsed (path: reason).
    pub failures: Vec<String>,
}

/// Rows of one file in the rows map.
#[derive(Debug, Clone, Copy)]
struct FileRows {
    start: u32,
    count: u32,
    /// Index of the file's PT_LOAD list in `UnwindMaps::segments`, to
    /// compute a mapping's bias.
    segments: usize,
}

/// What is loaded for one process.
#[derive(Debug, Default)]
struct ProcessTables {
    /// The `/proc/PID/maps` text last loaded (to notice changes).
    maps_text: String,
    /// Its executable mappings.
    mappings: Vec<Mapping>,
    /// Its entries in the mappings LPM trie.
    keys: Vec<[u8; 16]>,
    /// It has exited: no more refreshes.
    gone: bool,
    /// When its mappings first loaded (None: watched, not loaded yet).
    first_loaded: Option<Instant>,
}

/// The runtime side of the table walker.
pub(crate) struct UnwindMaps {
    rows: sys::MappedArray,
    mappings_fd: RawFd,
    files_fd: RawFd,
    rows_used: u32,
    files: HashMap<(u64, u64), FileRows>,
    segments: Vec<Vec<(u64, u64, u64)>>,
    /// What is loaded for each traced process.
    procs: HashMap<u32, ProcessTables>,
    next_refresh: Instant,
    /// The last pid refreshed (round robin).
    refresh_cursor: u32,
    /// Loads that changed something, not yet taken.
    reports: Vec<(u32, UnwindLoad)>,
    /// Processes whose mappings changed, not yet taken.
    changed: Vec<u32>,
}

/// How often a traced process's mappings are checked for changes
/// (`exec`, `dlopen`).
pub(crate) const REFRESH_PERIOD: Duration = Duration::from_millis(25);
/// The period while a process is new (watched before exec, or loaded
/// less than [`SETTLING`] ago, while the dynamic linker maps libraries).
const FAST_REFRESH_PERIOD: Duration = Duration::from_millis(2);
/// How long a newly loaded process is refreshed fast.
const SETTLING: Duration = Duration::from_millis(300);
/// Processes re-read per refresh.
const REFRESH_BATCH: usize = 8;

impl UnwindMaps {
    pub(crate) fn new(rows: sys::MappedArray, mappings_fd: RawFd, files_fd: RawFd) -> UnwindMaps {
        UnwindMaps {
            rows,
            mappings_fd,
            files_fd,
            rows_used: 0,
            files: HashMap::new(),
            segments: Vec::new(),
            procs: HashMap::new(),
            next_refresh: Instant::now(),
            refresh_cursor: 0,
            reports: Vec::new(),
            changed: Vec::new(),
        }
    }

    /// The mappings last loaded for `pid`.
    pub(crate) fn mappings(&self, pid: u32) -> Option<&[Mapping]> {
        self.procs.get(&pid).map(|p| p.mappings.as_slice())
    }

    /// Adds `pid` to the processes refreshed, without loading it now (a
    /// child held before `exec` still has the tracer's own mappings).
    pub(crate) fn watch(&mut self, pid: u32) {
        self.procs.entry(pid).or_default();
        self.next_refresh = Instant::now();
    }

    /// Reloads known processes whose mappings changed, at most every
    /// [`REFRESH_PERIOD`] and at most [`REFRESH_BATCH`] processes a time
    /// (round robin), skipping processes that have exited.
    pub(crate) fn refresh(&mut self) {
        let now = Instant::now();
        if now < self.next_refresh {
            return;
        }
        self.next_refresh = now + self.period();
        let mut live: Vec<u32> = self
            .procs
            .iter()
            .filter(|(_, p)| !p.gone)
            .map(|(&pid, _)| pid)
            .collect();
        live.sort_unstable();
        let start = live.partition_point(|&p| p <= self.refresh_cursor);
        let batch: Vec<u32> = live[start..]
            .iter()
            .chain(&live[..start])
            .take(REFRESH_BATCH)
            .copied()
            .collect();
        for pid in batch {
            self.refresh_cursor = pid;
            if self.load(pid).is_err() {
                if let Some(p) = self.procs.get_mut(&pid) {
                    p.gone = true;
                }
            }
        }
    }

    /// How often to refresh now: fast while some process is new.
    pub(crate) fn period(&self) -> Duration {
        let settling = self
            .procs
            .values()
            .any(|p| !p.gone && p.first_loaded.is_none_or(|t| t.elapsed() < SETTLING));
        if settling {
            FAST_REFRESH_PERIOD
        } else {
            REFRESH_PERIOD
        }
    }

    /// Processes whose mappings changed since the last call.
    pub(crate) fn take_changed(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.changed)
    }

    /// The loads that changed something since the last call: (pid, what).
    pub(crate) fn take_reports(&mut self) -> Vec<(u32, UnwindLoad)> {
        std::mem::take(&mut self.reports)
    }

    /// Records a load for [`UnwindMaps::take_reports`].
    pub(crate) fn report(&mut self, pid: u32, load: UnwindLoad) {
        self.reports.push((pid, load));
    }

    /// True when `pid`'s tables were loaded (or tried) already.
    pub(crate) fn knows(&self, pid: u32) -> bool {
        self.procs.contains_key(&pid)
    }

    /// Processes with tables (live or gone).
    pub(crate) fn process_count(&self) -> usize {
        self.procs.len()
    }

    /// Builds the tables of `files` now (a program about to be started,
    /// its dynamic linker and libraries), so that the mappings of the
    /// process only need their trie entries when it execs: its first
    /// stacks are walked by tables instead of the kernel's frame pointers.
    pub(crate) fn prebuild(&mut self, files: &[PathBuf]) -> UnwindLoad {
        use std::os::unix::fs::MetadataExt;
        let t0 = Instant::now();
        let mut report = UnwindLoad::default();
        for path in files {
            let Ok(meta) = std::fs::metadata(path) else {
                continue;
            };
            // As /proc/PID/maps shows it: major << 32 | minor.
            let dev = u64::from(libc::major(meta.dev())) << 32 | u64::from(libc::minor(meta.dev()));
            if self.files.contains_key(&(dev, meta.ino())) {
                continue;
            }
            if let Some(f) = self.add_file(path, (dev, meta.ino()), &mut report) {
                self.files.insert((dev, meta.ino()), f);
            }
        }
        report.elapsed = t0.elapsed();
        report
    }

    /// Loads (or refreshes) the tables of `pid`'s executable mappings.
    pub(crate) fn load(&mut self, pid: u32) -> Result<UnwindLoad, std::io::Error> {
        let t0 = Instant::now();
        let mut report = UnwindLoad::default();
        // A watched child still before its exec runs our own binary: its
        // tables would be ours, and are not wanted.
        if self
            .procs
            .get(&pid)
            .is_some_and(|p| p.first_loaded.is_none())
            && same_file(&format!("/proc/{pid}/exe"), "/proc/self/exe")
        {
            return Ok(report);
        }
        let text = match std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            Ok(t) => t,
            Err(e) => {
                // Gone: keep its mappings for naming its stacks later.
                self.procs.entry(pid).or_default();
                return Err(e);
            }
        };
        // An exiting process (a zombie) has no mappings left: keep the
        // last ones, to name its stacks.
        if text.trim().is_empty() {
            self.procs.entry(pid).or_default();
            return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
        }
        if self.procs.get(&pid).is_some_and(|p| p.maps_text == text) {
            report.elapsed = t0.elapsed();
            return Ok(report);
        }
        let mappings = parse_exec_mappings(&text);
        report.mappings = mappings.len();
        // Only executable mappings matter (the heap growing does not).
        if let Some(p) = self.procs.get_mut(&pid) {
            if !p.maps_text.is_empty() && p.mappings == mappings {
                p.maps_text = text;
                report.elapsed = t0.elapsed();
                return Ok(report);
            }
        }
        let root = PathBuf::from(format!("/proc/{pid}/root"));
        let mut keys: Vec<[u8; 16]> = Vec::new();
        let mut values: Vec<[u8; 24]> = Vec::new();
        let no_rows = FileRows {
            start: 0,
            count: 0,
            segments: usize::MAX,
        };
        // A file that could not be read now (right after exec, ld.so's
        // path under /proc/PID/root was seen to fail) is tried again.
        let mut unread = false;
        for m in &mappings {
            let file = match self.files.get(&(m.dev, m.inode)) {
                _ if m.path.as_os_str().is_empty() => no_rows,
                Some(f) => *f,
                None => {
                    let host = root.join(m.path.strip_prefix("/").unwrap_or(&m.path));
                    match self.add_file(&host, (m.dev, m.inode), &mut report) {
                        Some(f) => {
                            self.files.insert((m.dev, m.inode), f);
                            f
                        }
                        None => {
                            unread = true;
                            no_rows
                        }
                    }
                }
            };
            let bias = self
                .segments
                .get(file.segments)
                .and_then(|segs| {
                    segs.iter()
                        .find(|&&(off, _, size)| m.offset >= off && m.offset < off + size.max(1))
                        .map(|&(off, vaddr, _)| {
                            m.start.wrapping_sub(vaddr.wrapping_add(m.offset - off))
                        })
                })
                .unwrap_or(0);
            let mut value = [0u8; MappingValue::SIZE as usize];
            value[..8].copy_from_slice(&bias.to_ne_bytes());
            value[8..12].copy_from_slice(&file.start.to_ne_bytes());
            value[12..16].copy_from_slice(&file.count.to_ne_bytes());
            for (addr, bits) in aligned_blocks(m.start, m.end) {
                keys.push(lpm_key(pid, 32 + bits, addr));
                values.push(value);
            }
        }
        let mut outside = [0u8; MappingValue::SIZE as usize];
        outside[16..20].copy_from_slice(&MAPPING_OUTSIDE.to_ne_bytes());
        keys.push(lpm_key(pid, 32, 0));
        values.push(outside);
        // Replace the old entries of this pid.
        if let Some(old) = self.procs.get(&pid) {
            for k in &old.keys {
                if !keys.contains(k) {
                    sys::map_delete(self.mappings_fd, k);
                }
            }
        }
        // A full trie refuses the update: the process keeps what fit.
        let fit = keys.len().min(MAX_MAPPING_PREFIXES as usize);
        for (k, v) in keys[..fit].iter().zip(&values) {
            sys::map_update(self.mappings_fd, k, v)?;
        }
        let first_loaded = self
            .procs
            .get(&pid)
            .and_then(|p| p.first_loaded)
            .unwrap_or(t0);
        self.procs.insert(
            pid,
            ProcessTables {
                // Empty: the next refresh loads the mappings again (while
                // the process settles: a file that stays unreadable is
                // not retried for ever).
                maps_text: if unread && first_loaded.elapsed() < SETTLING {
                    String::new()
                } else {
                    text
                },
                mappings,
                keys,
                gone: false,
                first_loaded: Some(first_loaded),
            },
        );
        report.elapsed = t0.elapsed();
        self.reports.push((pid, report.clone()));
        self.changed.push(pid);
        Ok(report)
    }

    /// Builds the table of one file and appends it to the rows map; its
    /// segments go to the files map under `id` (device as
    /// `/proc/PID/maps` shows it, inode). `None` when the file could not
    /// be read (worth another try); a file that cannot be parsed has no
    /// rows, for good.
    fn add_file(
        &mut self,
        host: &std::path::Path,
        id: (u64, u64),
        report: &mut UnwindLoad,
    ) -> Option<FileRows> {
        let segments = self.segments.len();
        let table = match ustrace_unwind::table_for_file(host) {
            Ok(t) => {
                self.segments.push(t.segments);
                t.table
            }
            Err(e) => {
                report.failures.push(e.to_string());
                if matches!(e, ustrace_unwind::UnwindError::Read { .. }) {
                    return None;
                }
                self.segments.push(Vec::new());
                return Some(FileRows {
                    start: 0,
                    count: 0,
                    segments,
                });
            }
        };
        let count = table.rows.len() as u32;
        if count == 0 || self.rows_used.saturating_add(count) > MAX_ROWS {
            if count > 0 {
                report
                    .failures
                    .push(format!("{}: unwind rows map full", host.display()));
            }
            return Some(FileRows {
                start: 0,
                count: 0,
                segments,
            });
        }
        let start = self.rows_used;
        let mut values = Vec::with_capacity(table.rows.len() * ROW_SIZE as usize);
        for r in &table.rows {
            values.extend_from_slice(&r.to_bytes());
        }
        // Rows past `rows_used` are not referenced by any mapping yet, so
        // the walker never sees them half written.
        if !self.rows.write(start as usize * ROW_SIZE as usize, &values) {
            report
                .failures
                .push(format!("{}: unwind rows map full", host.display()));
            return Some(FileRows {
                start: 0,
                count: 0,
                segments,
            });
        }
        self.rows_used += count;
        report.files_built += 1;
        report.rows_added += count as usize;
        let rows = FileRows {
            start,
            count,
            segments,
        };
        for (key, value) in file_entries(id, &self.segments[segments], rows) {
            // A full map leaves the file to processes with their own entries.
            if sys::map_update(self.files_fd, &key, &value).is_err() {
                report
                    .failures
                    .push(format!("{}: unwind files map full", host.display()));
                break;
            }
        }
        Some(rows)
    }
}

/// The files-map entries of a file with rows: one per `PT_LOAD` segment
/// `(file offset, link-time address, size)`, keyed by the kernel's device
/// number (`id.0` is major << 32 | minor; the kernel's is major << 20 |
/// minor), the inode and the segment's page offset (the `vm_pgoff` of its
/// mapping); the value holds file offset - link-time address, and the rows.
fn file_entries(
    id: (u64, u64),
    segments: &[(u64, u64, u64)],
    rows: FileRows,
) -> Vec<(
    [u8; FILE_KEY_SIZE as usize],
    [u8; MappingValue::SIZE as usize],
)> {
    let kernel_dev = ((id.0 >> 32) << 20 | (id.0 & 0xf_ffff)) as u32;
    segments
        .iter()
        .map(|&(offset, vaddr, _)| {
            let mut key = [0u8; FILE_KEY_SIZE as usize];
            key[..4].copy_from_slice(&kernel_dev.to_ne_bytes());
            key[8..16].copy_from_slice(&id.1.to_ne_bytes());
            key[16..].copy_from_slice(&(offset >> 12).to_ne_bytes());
            let mut value = [0u8; MappingValue::SIZE as usize];
            value[..8].copy_from_slice(&offset.wrapping_sub(vaddr).to_ne_bytes());
            value[8..12].copy_from_slice(&rows.start.to_ne_bytes());
            value[12..16].copy_from_slice(&rows.count.to_ne_bytes());
            (key, value)
        })
        .collect()
}

/// True when both paths name the same file (device and inode).
fn same_file(a: &str, b: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// An LPM key: prefix length, pid, big-endian address.
fn lpm_key(pid: u32, prefix_bits: u32, addr: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..4].copy_from_slice(&prefix_bits.min(MAPPING_KEY_BITS).to_ne_bytes());
    k[4..8].copy_from_slice(&pid.to_ne_bytes());
    k[8..].copy_from_slice(&addr.to_be_bytes());
    k
}

/// `[start, end)` as aligned power-of-two blocks: (block start, prefix
/// bits of the address).
fn aligned_blocks(mut start: u64, end: u64) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    while start < end {
        let align = if start == 0 {
            63
        } else {
            start.trailing_zeros()
        };
        let fit = 63 - (end - start).leading_zeros();
        let log = align.min(fit);
        out.push((start, 64 - log));
        match start.checked_add(1u64 << log) {
            Some(s) => start = s,
            None => break,
        }
    }
    out
}

/// The executable, file-backed mappings of a `/proc/PID/maps` text.
pub fn parse_exec_mappings(text: &str) -> Vec<Mapping> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.splitn(6, ' ');
        let (Some(range), Some(perms), Some(offset), Some(dev), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let path = f.next().unwrap_or("").trim_start();
        // Executable and either a file or anonymous (JIT code, [vdso]);
        // a deleted file cannot be read for its tables or names.
        let anonymous = path.is_empty() || path.starts_with('[');
        if !perms.contains('x')
            || !(anonymous || path.starts_with('/'))
            || path.ends_with(" (deleted)")
            || path == "[vsyscall]"
        {
            continue;
        }
        let path = if anonymous { "" } else { path };
        let Some((s, e)) = range.split_once('-') else {
            continue;
        };
        let (Some((major, minor)), Ok(inode)) = (dev.split_once(':'), inode.parse::<u64>()) else {
            continue;
        };
        let hex = |t: &str| u64::from_str_radix(t, 16).ok();
        let (Some(start), Some(end), Some(offset), Some(major), Some(minor)) =
            (hex(s), hex(e), hex(offset), hex(major), hex(minor))
        else {
            continue;
        };
        out.push(Mapping {
            start,
            end,
            offset,
            dev: major << 32 | minor,
            inode,
            path: PathBuf::from(path),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_range_exactly() {
        let (s, e) = (0x5555_5555_4000u64, 0x5555_5557_9000u64);
        let blocks = aligned_blocks(s, e);
        let mut at = s;
        for &(b, bits) in &blocks {
            assert_eq!(b, at);
            let size = 1u64 << (64 - bits);
            assert_eq!(b % size, 0);
            at += size;
        }
        assert_eq!(at, e);
        assert!(blocks.len() < 40);
    }

    #[test]
    fn file_entries_are_keyed_as_the_kernel_names_the_mapping() {
        // /usr/bin/x on fe:01, inode 1234: its text at file offset 0x1040,
        // linked at 0x2040 (same page offset, as ELF requires).
        let rows = FileRows {
            start: 7,
            count: 3,
            segments: 0,
        };
        let entries = file_entries(
            (0xfe << 32 | 1, 1234),
            &[(0, 0, 0x800), (0x1040, 0x2040, 0x100)],
            rows,
        );
        assert_eq!(entries.len(), 2);
        let (key, value) = &entries[1];
        assert_eq!(key[..8], [1, 0, 0xe0, 0x0f, 0, 0, 0, 0], "0xfe << 20 | 1");
        assert_eq!(key[8..16], 1234u64.to_ne_bytes());
        assert_eq!(key[16..], 1u64.to_ne_bytes(), "page 1 of the file");
        // A pc mapped at vm_start 0x7f00_0000_1000 (page 1): its link-time
        // address is pc - (vm_start - page*4096 + value[0..8]).
        let adjust = u64::from_ne_bytes(value[..8].try_into().unwrap_or_default());
        let bias = (0x7f00_0000_1000u64 - 0x1000).wrapping_add(adjust);
        assert_eq!(0x7f00_0000_1050u64.wrapping_sub(bias), 0x2050);
        assert_eq!(value[8..12], 7u32.to_ne_bytes());
        assert_eq!(value[12..16], 3u32.to_ne_bytes());
    }

    #[test]
    fn parses_executable_mappings_only() {
        let text = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 fe:01 1234 /usr/bin/x
55d0c0a01000-55d0c0a02000 r-xp 00001000 fe:01 1234 /usr/bin/x
7f0000000000-7f0000001000 r-xp 00000000 00:00 0 
7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0 [vdso]
7f0000002000-7f0000003000 r-xp 00000000 fe:01 99 /usr/lib/gone.so (deleted)
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
";
        let m = parse_exec_mappings(text);
        assert_eq!(m.len(), 3);
        assert!(m[1].path.as_os_str().is_empty() && m[2].path.as_os_str().is_empty());
        assert_eq!(m[0].offset, 0x1000);
        assert_eq!(m[0].dev, 0xfe << 32 | 1);
        assert_eq!(m[0].inode, 1234);
    }
}
