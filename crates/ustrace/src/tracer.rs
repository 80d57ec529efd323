//! A running script: events in, formatted records out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ustrace_abi::{Decoder, Event, PrintfKind};
use ustrace_codegen::program::MapRole;
use ustrace_output::Value;
use ustrace_runtime::Session;

use crate::error::from_session;
use crate::host::{local_time, read_cat_file, run_system, source_location};
use crate::stacks::StackFormatter;
use crate::values::{Namer, Place};
use crate::{Error, MessageLevel, Record, Script};

/// A `@map` that reached its key limit (see [`Tracer::full_maps`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullMap {
    /// The map's name, with `@`.
    pub name: String,
    /// Its key limit ([`crate::ScriptOptions::max_map_keys`]).
    pub max_keys: u32,
    /// Updates that failed because it was full (counted in BPF).
    pub dropped_updates: u64,
    /// Its size comes from a declaration (`let @m = hash(N);`), not from
    /// `max_map_keys`.
    pub declared: bool,
}

/// Attached programs of a [`Script`]. Dropping it detaches everything.
///
/// ```no_run
/// use std::time::Duration;
/// use ustrace::{Record, Script, ScriptOptions};
///
/// let script = Script::compile(
///     "interval:ms:100 { @ticks++; if (@ticks == 5) { exit(); } }",
///     "ticks.bt",
///     &ScriptOptions::default(),
/// )?;
/// let mut tracer = script.start()?; // needs root
/// tracer.begin();
/// while tracer.exit_code().is_none() {
///     tracer.poll(Duration::from_millis(50))?;
/// }
/// tracer.end()?;
/// let maps = tracer.final_maps()?;
/// assert!(matches!(&maps[0], Record::Map { text, .. } if text == "@ticks: 5\n"));
/// # Ok::<(), ustrace::Error>(())
/// ```
pub struct Tracer {
    pub(crate) script: Arc<Script>,
    pub(crate) session: Session,
    next_interval: Vec<(u64, Duration, Instant)>,
    exited: Option<i64>,
    pub(crate) stacks: StackFormatter,
    next_stack_scan: Instant,
    /// Processes seen in `ustack` values since the last poll.
    pub(crate) stack_pids: std::cell::RefCell<std::collections::BTreeSet<u32>>,
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
        let stacks = StackFormatter::new();
        stacks.set_demangling(script.ast.config.cpp_demangle.unwrap_or(true));
        if let Some(log) = session.mapping_log() {
            stacks.set_mapping_log(log);
            // Logged mappings name files by device and inode: make the
            // traced program's files known by path now.
            if let Some(program) = &script.options.child_program {
                stacks.add_known_files(&ustrace_runtime::startup_files(program));
            }
            if let Some(pid) = script.options.pid {
                if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/maps")) {
                    stacks.set_mappings(pid, &ustrace_runtime::parse_exec_mappings(&text));
                }
            }
        }
        Tracer {
            script,
            session,
            next_interval,
            exited: None,
            stacks,
            next_stack_scan: now,
            stack_pids: Default::default(),
            stack_pids_seen: Default::default(),
        }
    }

    /// Runs the BEGIN blocks.
    pub fn begin(&mut self) {
        self.session.run_begin();
    }

    /// Waits up to `timeout` for events (also running due `interval`
    /// probes) and returns what arrived. After an `exit()` record, later
    /// records are dropped, as bpftrace does.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<Record>, Error> {
        let mut timeout = timeout;
        if let Some(period) = self.session.table_refresh_period() {
            // Wake up to load unwind tables of processes that exec or dlopen.
            timeout = timeout.min(period);
        }
        if let Some(next) = self.next_interval.iter().map(|i| i.2).min() {
            timeout = timeout.min(next.saturating_duration_since(Instant::now()));
        }
        let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let raw = self.session.poll(millis).map_err(from_session)?;
        self.session.refresh_process_tables();
        let mut out = self.decode(raw)?;
        self.load_discovered_tables();
        let now = Instant::now();
        if now >= self.next_stack_scan {
            self.remember_stacks()?;
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
            let raw = self.session.drain().map_err(from_session)?;
            out.extend(self.decode(raw)?);
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
        let mut out = self.drain_all()?;
        self.exited = None;
        self.session.run_end();
        out.extend(self.drain_all()?);
        Ok(out)
    }

    /// Every record left in the buffer, taken in bounded batches.
    fn drain_all(&mut self) -> Result<Vec<Record>, Error> {
        let mut out = Vec::new();
        loop {
            let raw = self.session.drain().map_err(from_session)?;
            if raw.is_empty() {
                return Ok(out);
            }
            out.extend(self.decode(raw)?);
        }
    }

    /// Functions (or `file+offset` sites) of wildcards that the kernel
    /// refused a uprobe on; the rest of their probes are attached.
    pub fn refused_probes(&self) -> Vec<String> {
        crate::refused::names(self.session.refused_sites())
    }

    /// Events dropped so far because the ring buffer was full.
    pub fn lost_events(&self) -> Result<u64, Error> {
        self.session.lost_events().map_err(from_session)
    }

    /// The exit code passed to `exit()`, once it has been called.
    pub fn exit_code(&self) -> Option<i64> {
        self.exited
    }

    /// One line per unwind-table load since the last call (`-d`): the
    /// process, its executable mappings, files built now, rows, time, and
    /// files that could not be read; then one per JIT perf map read
    /// (`perf map: pid N: S symbols, B bytes`).
    pub fn table_loads(&mut self) -> Vec<String> {
        let perf_maps = self.stacks.take_perf_map_reports();
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
            .chain(perf_maps)
            .collect()
    }

    /// Verifier logs of the loaded programs (with `verifier_log`).
    pub fn verifier_logs(&self) -> Vec<String> {
        self.session.verifier_logs().map(str::to_string).collect()
    }

    /// The `@maps` that were full: updates that needed a new key failed
    /// (counted in BPF), or they hold as many keys as they may now.
    pub fn full_maps(&self) -> Result<Vec<FullMap>, Error> {
        let mut full = Vec::new();
        for (i, m) in self.script.compiled.maps.iter().enumerate() {
            let MapRole::User(u) = &m.role else {
                continue;
            };
            // LRU maps make room instead of refusing: never full.
            if matches!(
                m.kind,
                ustrace_codegen::program::MapKind::LruHash
                    | ustrace_codegen::program::MapKind::LruPerCpuHash
            ) {
                continue;
            }
            let dropped_updates = self.session.dropped_updates(i).map_err(from_session)?;
            if dropped_updates > 0 || self.session.read_map(i).len() >= m.max_entries as usize {
                full.push(FullMap {
                    name: u.name.clone(),
                    max_keys: m.max_entries,
                    dropped_updates,
                    declared: self
                        .script
                        .ast
                        .map_decls
                        .iter()
                        .any(|d| format!("@{}", d.name) == u.name),
                });
            }
        }
        Ok(full)
    }

    /// Reads of user memory by typed expressions (`args.r->name`) that
    /// failed (an address not mapped, or a page not yet loaded): each
    /// left zeros in its value.
    pub fn failed_reads(&self) -> Result<u64, Error> {
        let slot = ustrace_codegen::program::FAILED_READS_SLOT as usize;
        self.session.dropped_updates(slot).map_err(from_session)
    }

    pub(crate) fn namer(&self) -> Namer<'_> {
        Namer {
            script: &self.script,
            stacks: &self.stacks,
            source: &self.session,
            seen_pids: Some(&self.stack_pids),
        }
    }

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

    fn decode(&mut self, raw: Vec<Vec<u8>>) -> Result<Vec<Record>, Error> {
        let compiled = &self.script.compiled;
        let decoder = Decoder::new(&compiled.printfs, compiled.probe_names.len());
        let mut out = Vec::new();
        // A map whose entries a print() took, so the clear() right after
        // it has nothing left to do.
        let mut taken: Option<usize> = None;
        for (i, rec) in raw.iter().enumerate() {
            if self.exited.is_some() {
                break;
            }
            match decoder.record(rec)? {
                Event::Printf { id, args } => {
                    let namer = self.namer();
                    let values = args
                        .into_iter()
                        .map(|a| namer.value(a, Place::Record))
                        .collect::<Result<Vec<Value>, Error>>()?;
                    let def = compiled.printfs.get(id).ok_or_else(|| {
                        Error::Internal(format!("printf id {id} out of range after decoding"))
                    })?;
                    // With event context, the compiler put hidden leading
                    // arguments and a prefix in the format (see context.rs).
                    let (context, values, user_format, format) =
                        match crate::context::user_format(&def.format) {
                            Some(user) => {
                                let (ctx, rest) = crate::context::split(values);
                                (ctx, rest, user, crate::context::user_segments(&def.parsed))
                            }
                            None => (None, values, def.format.as_str(), def.parsed.clone()),
                        };
                    let rendered = || ustrace_output::render_printf(&format, &values);
                    let message = |level, word, start, end| Record::Message {
                        level,
                        text: format!(
                            "{}: {word}: {}\n",
                            source_location(
                                &self.script.source_name,
                                &self.script.source,
                                start,
                                end
                            ),
                            rendered()
                        ),
                    };
                    let text = match def.kind {
                        PrintfKind::Time => local_time(&def.format),
                        PrintfKind::System => run_system(&rendered()),
                        PrintfKind::Printf => rendered(),
                        PrintfKind::Join => joined(&def.format, &values),
                        PrintfKind::Cat => match read_cat_file(&rendered()) {
                            Ok(text) => text,
                            Err(text) => {
                                out.push(Record::Message {
                                    level: MessageLevel::Error,
                                    text,
                                });
                                continue;
                            }
                        },
                        PrintfKind::Error { start, end } => {
                            out.push(message(MessageLevel::Error, "ERROR", start, end));
                            continue;
                        }
                        PrintfKind::Warning { start, end } => {
                            out.push(message(MessageLevel::Warning, "WARNING", start, end));
                            continue;
                        }
                    };
                    out.push(Record::Printf {
                        text,
                        format: user_format.to_string(),
                        args: values,
                        context,
                    });
                }
                Event::Exit { code } => {
                    self.exited = Some(code);
                    out.push(Record::Exit { code });
                }
                Event::PrintMap { map, top, div } => {
                    // print(@m); clear(@m): read and delete each entry at
                    // once, so that no update between the two is lost.
                    let next = raw.get(i + 1).map(|r| decoder.record(r));
                    let take = matches!(next, Some(Ok(Event::ClearMap { map: m })) if m == map);
                    let record = self.map_record(map, top, div, take)?;
                    // Not a script map: nothing was read, the clear stays.
                    taken = (take && record.is_some()).then_some(map);
                    out.extend(record);
                }
                Event::ClearMap { map } => {
                    if taken.take() != Some(map) {
                        self.session.clear_map(map);
                    }
                }
                Event::ZeroMap { map } => self.session.zero_map(map),
            }
        }
        Ok(out)
    }
}

/// The text of a `join()` record: its first value counts the strings
/// after it that were read; they are joined by `separator`, then a newline.
fn joined(separator: &str, values: &[Value]) -> String {
    let count = values.first().and_then(Value::bits).unwrap_or(0) as usize;
    let parts: Vec<String> = values
        .iter()
        .skip(1)
        .take(count)
        .map(Value::to_text)
        .collect();
    parts.join(separator) + "\n"
}
