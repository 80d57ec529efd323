//! A running script: events in, formatted records out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ustrace_codegen::program::{FieldKind, MapRole, PrintfKind, StackMode, ValueKind};

use crate::stacks::{StackFormatter, StackPlace};
use ustrace_output::{MapEntry, MapStyle, MapValue, Value};
use ustrace_runtime::{Arg, Event, Session};

use crate::{Error, Script};

/// One thing a running script produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A `printf`: the formatted text and the raw arguments.
    Printf {
        /// The text, formatted as bpftrace would.
        text: String,
        /// The format string.
        format: String,
        /// The arguments.
        args: Vec<Value>,
        /// Who printed it, where and when (with
        /// [`crate::ScriptOptions::event_context`]).
        context: Option<crate::EventContext>,
    },
    /// A map to show: from `print(@m)`, or each non-empty map at the end.
    Map {
        /// The map's name, with `@`.
        name: String,
        /// Its entries (unsorted; `text` has bpftrace's order).
        entries: Vec<MapEntry>,
        /// How it prints (plain, avg/stats, histogram), from its layout.
        style: MapStyle,
        /// The map as bpftrace prints it.
        text: String,
    },
    /// The script called `exit(code)`.
    Exit {
        /// The code.
        code: i64,
    },
}

/// A `@map` that reached its key limit (see [`Tracer::full_maps`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullMap {
    /// The map's name, with `@`.
    pub name: String,
    /// Its key limit ([`crate::ScriptOptions::max_map_keys`]).
    pub max_keys: u32,
    /// Updates that failed because it was full (counted in BPF).
    pub dropped_updates: u64,
}

/// Attached programs of a [`Script`]. Dropping it detaches everything.
pub struct Tracer {
    pub(crate) script: Arc<Script>,
    pub(crate) session: Session,
    next_interval: Vec<(u64, Duration, Instant)>,
    exited: Option<i64>,
    pub(crate) stacks: StackFormatter,
    next_stack_scan: Instant,
    /// Processes seen in `ustack` values since the last poll.
    stack_pids: std::cell::RefCell<std::collections::BTreeSet<u32>>,
    /// Every process seen in `ustack` values (its tables were asked for).
    stack_pids_seen: std::collections::HashSet<u32>,
}

/// Processes discovered from their stacks that get unwind tables (the
/// traced process of -p/-c always does).
const MAX_TABLE_PROCESSES: usize = 1024;

/// How often the stacks in map keys are named while their processes live.
const STACK_SCAN_PERIOD: Duration = Duration::from_millis(250);

impl Tracer {
    pub(crate) fn new(script: Arc<Script>, session: Session) -> Tracer {
        let now = Instant::now();
        let next_interval = session
            .intervals()
            .iter()
            .map(|&(id, ns)| {
                let d = Duration::from_nanos(ns.max(1));
                (id, d, now + d)
            })
            .collect();
        Tracer {
            script,
            session,
            next_interval,
            exited: None,
            stacks: StackFormatter::new(),
            next_stack_scan: now,
            stack_pids: Default::default(),
            stack_pids_seen: Default::default(),
        }
    }

    /// Runs the BEGIN blocks.
    pub fn begin(&mut self) {
        self.session.run_begin();
    }

    /// Waits up to `timeout_ms` for events (also running due `interval`
    /// probes) and returns what arrived. After an `exit()` record, later
    /// records are dropped, as bpftrace does.
    pub fn poll(&mut self, timeout_ms: i32) -> Result<Vec<Record>, Error> {
        let mut timeout = timeout_ms;
        if let Some(period) = self.session.table_refresh_period() {
            // Wake up to load unwind tables of processes that exec or dlopen.
            timeout = timeout.min(period.as_millis() as i32);
        }
        if let Some(next) = self.next_interval.iter().map(|i| i.2).min() {
            let left = next.saturating_duration_since(Instant::now()).as_millis() as i32;
            timeout = timeout.min(left.max(0));
        }
        let raw = self.session.poll(timeout).map_err(|e| Error::Kernel {
            message: e.to_string(),
            details: String::new(),
        })?;
        self.session.refresh_process_tables();
        let mut out = self.decode(raw);
        self.load_discovered_tables();
        let now = Instant::now();
        if now >= self.next_stack_scan {
            self.remember_stacks();
            self.next_stack_scan = now + STACK_SCAN_PERIOD;
        }
        let mut fired = false;
        for i in 0..self.next_interval.len() {
            let (id, period, due) = self.next_interval[i];
            if now >= due {
                self.session.run_interval(id);
                self.next_interval[i].2 = due + period;
                fired = true;
            }
        }
        if fired {
            let raw = self.session.drain().map_err(|e| Error::Kernel {
                message: e.to_string(),
                details: String::new(),
            })?;
            out.extend(self.decode(raw));
        }
        Ok(out)
    }

    /// Detaches the probes: no new events arrive; those in the buffer are
    /// still returned by [`Tracer::poll`] (call it until it returns
    /// nothing to take them in bounded batches) and by [`Tracer::end`].
    pub fn detach(&mut self) {
        self.session.detach();
    }

    /// Detaches the probes, runs END, and returns what is left in the
    /// buffer (END's output included).
    pub fn end(&mut self) -> Result<Vec<Record>, Error> {
        self.session.detach();
        let mut out = Vec::new();
        loop {
            let raw = self.drain()?;
            if raw.is_empty() {
                break;
            }
            out.extend(self.decode(raw));
        }
        self.exited = None;
        self.session.run_end();
        loop {
            let raw = self.drain()?;
            if raw.is_empty() {
                break;
            }
            out.extend(self.decode(raw));
        }
        Ok(out)
    }

    fn drain(&mut self) -> Result<Vec<Vec<u8>>, Error> {
        self.session.drain().map_err(|e| Error::Kernel {
            message: e.to_string(),
            details: String::new(),
        })
    }

    /// Functions (or `file+offset` sites) of wildcards that the kernel
    /// refused a uprobe on; the rest of their probes are attached.
    pub fn refused_probes(&self) -> Vec<String> {
        crate::refused::names(self.session.refused_sites())
    }

    /// Events dropped so far because the ring buffer was full.
    pub fn lost_events(&self) -> u64 {
        self.session.lost_events()
    }

    /// The exit code passed to `exit()`, once it has been called.
    pub fn exit_code(&self) -> Option<i64> {
        self.exited
    }

    /// One line per unwind-table load since the last call (`-d`): the
    /// process, its executable mappings, files built now, rows, time, and
    /// files that could not be read.
    pub fn table_loads(&mut self) -> Vec<String> {
        self.session
            .take_table_loads()
            .into_iter()
            .map(|(pid, l)| {
                let mut line = format!(
                    "unwind tables: pid {pid}: {} mappings, {} files built, {} rows, {:.1} ms",
                    l.mappings,
                    l.files_built,
                    l.rows_added,
                    l.elapsed.as_secs_f64() * 1e3
                );
                for f in &l.failures {
                    line.push_str(&format!("; {f}"));
                }
                line
            })
            .collect()
    }

    /// Verifier logs of the loaded programs (with `verifier_log`).
    pub fn verifier_logs(&self) -> Vec<String> {
        self.session.verifier_logs().map(str::to_string).collect()
    }

    fn decode(&mut self, raw: Vec<Vec<u8>>) -> Vec<Record> {
        let mut out = Vec::new();
        for rec in raw {
            if self.exited.is_some() {
                break;
            }
            match ustrace_runtime::decode(&self.script.compiled, &rec) {
                Some(Event::Printf { id, args }) => {
                    let values: Vec<Value> = args.into_iter().map(|a| self.to_value(a)).collect();
                    let (Some(format), Some(def)) = (
                        self.script.formats.get(id),
                        self.script.compiled.printfs.get(id),
                    ) else {
                        continue;
                    };
                    let (context, values, user_format) =
                        match crate::context::user_format(&def.format) {
                            Some(user) => {
                                let (ctx, rest) = crate::context::split(values);
                                (ctx, rest, user)
                            }
                            None => (None, values, def.format.as_str()),
                        };
                    let text = match def.kind {
                        PrintfKind::Time => local_time(&def.format),
                        PrintfKind::System => {
                            run_system(&ustrace_output::render_printf(format, &values))
                        }
                        PrintfKind::Printf => ustrace_output::render_printf(format, &values),
                    };
                    out.push(Record::Printf {
                        text,
                        format: user_format.to_string(),
                        args: values,
                        context,
                    });
                }
                Some(Event::Exit { code }) => {
                    self.exited = Some(code);
                    out.push(Record::Exit { code });
                }
                Some(Event::PrintMap { map, top, div }) => {
                    out.extend(self.map_record(map, top, div))
                }
                Some(Event::ClearMap { map }) => self.session.clear_map(map),
                Some(Event::ZeroMap { map }) => self.session.zero_map(map),
                None => {}
            }
        }
        out
    }
}

impl Tracer {
    /// Loads unwind tables for processes whose stacks showed up (their
    /// next stacks are walked by tables), and hands the mappings of every
    /// process with tables to the stack namer.
    fn load_discovered_tables(&mut self) {
        let new: Vec<u32> = std::mem::take(&mut *self.stack_pids.borrow_mut())
            .into_iter()
            .filter(|pid| self.stack_pids_seen.insert(*pid))
            .collect();
        for pid in new {
            self.session
                .load_new_process_tables(pid, MAX_TABLE_PROCESSES);
        }
        for pid in self.session.take_changed_processes() {
            if let Some(m) = self.session.process_mappings(pid) {
                self.stacks.set_mappings(pid, m);
            }
        }
    }

    /// Names the user stacks and symbols found in map keys now, while their processes
    /// are alive (a map is printed at exit, maybe after they are gone).
    fn remember_stacks(&self) {
        for (index, m) in self.script.compiled.maps.iter().enumerate() {
            let MapRole::User(map) = &m.role else {
                continue;
            };
            if !map
                .key
                .iter()
                .any(|f| matches!(f, FieldKind::UStack(_) | FieldKind::USym))
            {
                continue;
            }
            for (key, _) in self.session.read_map(index) {
                let mut off = 0;
                for f in &map.key {
                    if let Some(part) = key.get(off..off + 16) {
                        let first = u64::from_ne_bytes(part[..8].try_into().unwrap_or([0; 8]));
                        let pid = u64::from_ne_bytes(part[8..].try_into().unwrap_or([0; 8])) as u32;
                        match f {
                            FieldKind::UStack(_) => {
                                let id = first as i64;
                                self.stack_pids.borrow_mut().insert(pid);
                                self.stacks
                                    .remember(pid, id, || self.session.read_stack(id));
                            }
                            FieldKind::USym => {
                                self.stacks.symbol(pid, first);
                            }
                            _ => {}
                        }
                    }
                    off += f.size();
                }
            }
        }
    }

    /// Every script map, in name order, as bpftrace prints them at exit
    /// (call after [`Tracer::end`]); none with `config = {
    /// print_maps_on_exit = false }`.
    pub fn final_maps(&self) -> Vec<Record> {
        if self.script.ast().config.print_maps_on_exit == Some(false) {
            return Vec::new();
        }
        let mut indices: Vec<(usize, &str)> = self
            .script
            .compiled
            .maps
            .iter()
            .enumerate()
            .filter_map(|(i, m)| match &m.role {
                MapRole::User(u) => Some((i, u.name.as_str())),
                _ => None,
            })
            .collect();
        indices.sort_by(|a, b| a.1.cmp(b.1));
        indices
            .into_iter()
            .filter_map(|(i, _)| self.map_record(i, 0, 0))
            .collect()
    }

    /// The script's maps, in name order (as [`Script::maps`] lists them).
    pub fn maps(&self) -> Vec<crate::MapInfo> {
        self.script.maps()
    }

    /// Reads map `name` (with `@`) now, while tracing or after
    /// [`Tracer::end`]: a [`Record::Map`], or `None` for an unknown name.
    pub fn read_map(&self, name: &str) -> Option<Record> {
        self.map_record(self.map_index(name)?, 0, 0)
    }

    /// Deletes every entry of map `name` (with `@`), as `clear(@name)`
    /// does; false for an unknown name.
    pub fn clear_map(&self, name: &str) -> bool {
        match self.map_index(name) {
            Some(i) => {
                self.session.clear_map(i);
                true
            }
            None => false,
        }
    }

    fn map_index(&self, name: &str) -> Option<usize> {
        self.script
            .compiled
            .maps
            .iter()
            .position(|m| matches!(&m.role, MapRole::User(u) if u.name == name))
    }

    /// The `@maps` that were full: updates that needed a new key failed
    /// (counted in BPF), or they hold as many keys as they may now.
    pub fn full_maps(&self) -> Vec<FullMap> {
        self.script
            .compiled
            .maps
            .iter()
            .enumerate()
            .filter_map(|(i, m)| match &m.role {
                MapRole::User(u) => {
                    let dropped_updates = self.session.dropped_updates(i);
                    let full = dropped_updates > 0
                        || self.session.read_map(i).len() >= m.max_entries as usize;
                    full.then(|| FullMap {
                        name: u.name.clone(),
                        max_keys: m.max_entries,
                        dropped_updates,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Reads map `index` and renders it; `top` keeps the N largest entries,
    /// `div` divides integer values.
    fn map_record(&self, index: usize, top: u64, div: u64) -> Option<Record> {
        let MapRole::User(map) = &self.script.compiled.maps.get(index)?.role else {
            return None;
        };
        let raw = self.session.read_map(index);
        let stack_text = |id: i64, pid: u32, mode: StackMode| {
            self.stacks.render_id(
                pid,
                id,
                || self.session.read_stack(id),
                mode,
                StackPlace::MapKey,
            )
        };
        let mut entries = crate::maps::decode_entries(
            map,
            &raw,
            &self.script.compiled.probe_names,
            &stack_text,
            &|addr, pid| self.stacks.symbol(pid, addr),
        );
        if div > 1 {
            for e in &mut entries {
                divide(&mut e.value, div);
            }
        }
        if top > 0 && (top as usize) < entries.len() {
            entries.sort_by_key(|e| ustrace_output::rank(&e.value));
            entries.drain(..entries.len() - top as usize);
        }
        let style = match map.value {
            ValueKind::Avg | ValueKind::Stats => MapStyle::Stats,
            ValueKind::Hist | ValueKind::Lhist { .. } => MapStyle::Hist,
            _ => MapStyle::Plain,
        };
        let text = ustrace_output::render_map_with_kind(&map.name, style, &entries);
        Some(Record::Map {
            name: map.name.clone(),
            entries,
            style,
            text,
        })
    }
}

/// `print(@m, top, div)`: divides the value shown.
fn divide(v: &mut MapValue, div: u64) {
    let d = div as i64;
    match v {
        MapValue::Int(x) | MapValue::Sum(x) | MapValue::Min(x) | MapValue::Max(x) => *x /= d,
        MapValue::UInt(x) | MapValue::Count(x) => *x /= div,
        MapValue::Avg { sum, .. } | MapValue::Stats { sum, .. } => *sum /= d,
        MapValue::Hist(_) | MapValue::Lhist { .. } | MapValue::Str(_) => {}
    }
}

impl Tracer {
    fn to_value(&self, a: Arg) -> Value {
        match a {
            Arg::Int(v, true) => Value::Int(v),
            Arg::Int(v, false) => Value::UInt(v as u64),
            Arg::Str(s) => Value::Str(s),
            Arg::Probe(p) => Value::Str(p.into_bytes()),
            Arg::Bytes(b) => Value::Str(escape_bytes(&b).into_bytes()),
            Arg::USym { addr, pid } => Value::Str(self.stacks.symbol(pid, addr).into_bytes()),
            Arg::Strftime { format, ns } => {
                let fmt = self
                    .script
                    .compiled
                    .strftime_formats
                    .get(format)
                    .cloned()
                    .unwrap_or_default();
                Value::Str(wall_time(&fmt, ns).into_bytes())
            }
            Arg::UStack { id, pid, mode } => Value::Str({
                self.stack_pids.borrow_mut().insert(pid);
                self.stacks
                    .render_id(
                        pid,
                        id,
                        || self.session.read_stack(id),
                        mode,
                        StackPlace::Printf,
                    )
                    .into_bytes()
            }),
        }
    }
}

/// `buf()` as bpftrace prints it: printable ASCII as is, other bytes as
/// `\xNN`.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// `strftime(fmt, ns)`: `ns` on the clock of `nsecs` (CLOCK_MONOTONIC),
/// turned into wall-clock time and formatted in the local time zone.
fn wall_time(format: &str, ns: u64) -> String {
    let now = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec we own.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
    };
    let wall_ns = now(libc::CLOCK_REALTIME) - now(libc::CLOCK_MONOTONIC) + ns as i128;
    strftime_at(format, (wall_ns.div_euclid(1_000_000_000)) as libc::time_t)
}

/// The local time now, formatted by the C library's strftime (`time()`).
fn local_time(format: &str) -> String {
    // SAFETY: time() with a null pointer only returns the time.
    strftime_at(format, unsafe { libc::time(std::ptr::null_mut()) })
}

/// Formats `when` (seconds since the epoch) with the C library's strftime.
fn strftime_at(format: &str, when: libc::time_t) -> String {
    let Ok(cfmt) = std::ffi::CString::new(format) else {
        return String::new();
    };
    // SAFETY: localtime_r/strftime write only into the buffers given; the
    // buffer length is passed.
    unsafe {
        let now = when;
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return String::new();
        }
        let mut buf = vec![0u8; 256 + format.len() * 4];
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            cfmt.as_ptr(),
            &tm,
        );
        buf.truncate(n);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// `system()`: runs `command` with `/bin/sh -c` (stdin closed) and returns
/// what it wrote to stdout; its stderr goes to ours.
fn run_system(command: &str) -> String {
    match std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
    {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => format!("system(): cannot run /bin/sh: {e}\n"),
    }
}
