//! The ustrace runtime: turns a [`CompiledScript`] into live kernel objects
//! (maps, programs, uprobe links), delivers its events, and tears it all
//! down when dropped.
//!
//! BEGIN, END and `interval` probes run as real BPF programs too, loaded as
//! raw-tracepoint programs that are never attached: the runtime runs them
//! on demand with `BPF_PROG_TEST_RUN`. (bpftrace instead attaches uprobes
//! to a function of its own binary and calls it; a uprobe costs a
//! `synchronize_rcu` of tens of milliseconds to detach, which would be most
//! of ustrace's start-up time.)

#![deny(missing_docs)]

mod access;
mod btf;
mod error;
mod events;
pub mod features;
pub mod kernel_types;
mod mapping_log;
pub mod refused;
mod shared_semaphores;
pub mod sys;
mod unwind;

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use ustrace_codegen::program::{CompiledScript, MapKind, MapRole, ProgramTarget};

pub use access::MapAccess;
pub use error::RuntimeError;
pub use events::MAX_RECORDS_PER_POLL;
pub use mapping_log::MappingLog;
pub use refused::RefusedSite;
pub use sys::{LoadedProgram, ProgramAttach};
pub use unwind::{parse_exec_mappings, Mapping, UnwindLoad};
pub use ustrace_codegen::program::UprobeSite;
pub use ustrace_unwind::startup_files;

/// Options of a session.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Restrict uprobes to this process.
    pub pid: Option<u32>,
    /// Capture verifier logs of accepted programs too (`-d`).
    pub verifier_log: bool,
    /// Never use uprobe_multi (test the perf-event fallback).
    pub force_perf_attach: bool,
    /// Load this running process's unwind tables before attaching, so its
    /// first stacks are walked by tables (`-p`; not a child held before
    /// exec, which still has the tracer's mappings).
    pub tables_for: Option<u32>,
}

/// A loaded, attached script.
pub struct Session {
    maps: Vec<OwnedFd>,
    /// (key size, value size, per-CPU) of each map.
    map_shapes: Vec<(usize, usize, bool)>,
    /// Loaded programs in the compiled order; a BEGIN program is dropped
    /// (unloaded) once it ran.
    programs: Vec<Option<LoadedProgram>>,
    /// The verifier log of each program, in the same order.
    logs: Vec<String>,
    links: Vec<OwnedFd>,
    /// Perf events backing fallback links.
    perf_events: Vec<OwnedFd>,
    ring: events::Ring,
    lost_counter_fd: i32,
    /// Failed updates per map (`MapRole::DroppedUpdates`), -1 if none.
    dropped_updates_fd: i32,
    /// Bytes of its one value: a u64 counter per map id.
    dropped_updates_size: usize,
    begin_ids: Vec<u64>,
    end_ids: Vec<u64>,
    intervals: Vec<(u64, u64)>,
    /// Index of the `ustack` stack trace map, if the script has one.
    stack_map: Option<usize>,
    /// Indexes of the mapping log (`bpf_find_vma` lookups) and of the file
    /// names, if the script has them.
    mapping_log: Option<(usize, usize)>,
    /// Index of the map of stacks walked by unwind tables, if any.
    walked_map: Option<usize>,
    /// The unwind-table walker's maps, when `ustack` walks by tables.
    unwind: Option<unwind::UnwindMaps>,
    /// Sites the kernel would not place a uprobe on (the rest attached).
    refused: Vec<RefusedSite>,
}

impl Session {
    /// Creates maps, loads every program and attaches it. Nothing runs
    /// until this returns: BEGIN is run by [`Session::run_begin`].
    pub fn load(script: &CompiledScript, opts: &SessionOptions) -> Result<Session, RuntimeError> {
        let mut maps = Vec::new();
        for (i, m) in script.maps.iter().enumerate() {
            let name = match &m.role {
                MapRole::Events => "events".to_string(),
                MapRole::LostCounter => "lost".to_string(),
                MapRole::StartTime => "start_time".to_string(),
                MapRole::StackTraces => "ustacks".to_string(),
                MapRole::WalkedStacks => "walked_stacks".to_string(),
                MapRole::UnwindRows => "unwind_rows".to_string(),
                MapRole::UnwindMappings => "unwind_maps".to_string(),
                MapRole::UnwindScratch => "unwind_frames".to_string(),
                MapRole::UnwindFiles => "unwind_files".to_string(),
                MapRole::MappingLog => "mapping_log".to_string(),
                MapRole::FileNames => "file_names".to_string(),
                MapRole::FileNameScratch => "name_scratch".to_string(),
                MapRole::DroppedUpdates => "dropped".to_string(),
                MapRole::GlobState => "glob_state".to_string(),
                MapRole::User(u) => u.name.trim_start_matches('@').to_string(),
            };
            let name = if name.is_empty() {
                format!("map{i}")
            } else {
                name
            };
            maps.push(sys::create_map(
                m.kind,
                &name,
                m.key_size,
                m.value_size,
                m.max_entries,
                m.role == MapRole::UnwindRows,
            )?);
        }
        let ring_fd = maps
            .get(script.ringbuf.0)
            .map(|f| f.as_raw_fd())
            .ok_or_else(|| {
                RuntimeError::RingBuffer(std::io::Error::from_raw_os_error(libc::EINVAL))
            })?;
        let lost_counter_fd = maps
            .get(script.lost_counter.0)
            .map(|f| f.as_raw_fd())
            .unwrap_or(-1);
        let dropped = script
            .maps
            .iter()
            .position(|m| m.role == MapRole::DroppedUpdates);
        let dropped_updates_fd = dropped
            .and_then(|i| maps.get(i))
            .map_or(-1, |f| f.as_raw_fd());
        let dropped_updates_size = dropped.map_or(0, |i| script.maps[i].value_size as usize);
        let ring = events::Ring::new(ring_fd)?;
        for (m, fd) in script.maps.iter().zip(&maps) {
            if m.role == MapRole::StartTime {
                let now = monotonic_ns();
                sys::map_update(fd.as_raw_fd(), &0u32.to_ne_bytes(), &now.to_ne_bytes()).map_err(
                    |source| RuntimeError::MapCreate {
                        name: "start_time".to_string(),
                        source,
                    },
                )?;
            }
        }

        let map_shapes = script
            .maps
            .iter()
            .map(|m| {
                let per_cpu = matches!(
                    m.kind,
                    MapKind::PerCpuHash | MapKind::LruPerCpuHash | MapKind::PerCpuArray
                );
                (m.key_size as usize, m.value_size as usize, per_cpu)
            })
            .collect();
        let mut session = Session {
            maps,
            map_shapes,
            programs: Vec::new(),
            logs: Vec::new(),
            links: Vec::new(),
            perf_events: Vec::new(),
            ring,
            lost_counter_fd,
            dropped_updates_fd,
            dropped_updates_size,
            begin_ids: Vec::new(),
            end_ids: Vec::new(),
            intervals: Vec::new(),
            stack_map: script
                .maps
                .iter()
                .position(|m| m.role == MapRole::StackTraces),
            walked_map: script
                .maps
                .iter()
                .position(|m| m.role == MapRole::WalkedStacks),
            mapping_log: script
                .maps
                .iter()
                .position(|m| m.role == MapRole::MappingLog)
                .zip(
                    script
                        .maps
                        .iter()
                        .position(|m| m.role == MapRole::FileNames),
                ),
            unwind: None,
            refused: Vec::new(),
        };
        let fd_of = |role: MapRole, maps: &[OwnedFd]| {
            script
                .maps
                .iter()
                .position(|m| m.role == role)
                .and_then(|i| maps.get(i))
                .map(|f| f.as_raw_fd())
        };
        if let (Some(rows), Some(mappings), Some(files)) = (
            fd_of(MapRole::UnwindRows, &session.maps),
            fd_of(MapRole::UnwindMappings, &session.maps),
            fd_of(MapRole::UnwindFiles, &session.maps),
        ) {
            let rows = sys::MappedArray::new(
                rows,
                ustrace_codegen::unwind::ROW_SIZE as usize,
                ustrace_codegen::unwind::MAX_ROWS as usize,
            )
            .map_err(|source| RuntimeError::MapCreate {
                name: "unwind_rows".to_string(),
                source,
            })?;
            let mut u = unwind::UnwindMaps::new(rows, mappings, files);
            if let Some(pid) = opts.tables_for {
                // A process that is already gone has no stacks to walk.
                let _ = u.load(pid);
            }
            session.unwind = Some(u);
        }
        let semaphores = shared_semaphores::SharedSemaphores::of(script)?;
        for (index, prog) in script.programs.iter().enumerate() {
            let mut insns = prog.insns.clone();
            for &(at, map) in &prog.map_relocs {
                let fd = session.maps.get(map.0).map(|f| f.as_raw_fd()).unwrap_or(-1);
                if let Some(i) = insns.get_mut(at) {
                    i.imm = fd;
                }
            }
            let use_perf = opts.force_perf_attach;
            let attach_kind = match prog.target {
                ProgramTarget::Uprobe { .. } if use_perf => ProgramAttach::PerfEvent,
                ProgramTarget::Uprobe { .. } => ProgramAttach::UprobeMulti,
                ProgramTarget::Profile { .. } => ProgramAttach::Sampling,
                _ => ProgramAttach::TestRun,
            };
            let mut loaded = sys::load_program(&prog.name, &insns, attach_kind, opts.verifier_log)?;
            match &prog.target {
                ProgramTarget::Uprobe { files, is_return } => {
                    let mut perf = use_perf;
                    for file in files {
                        let sites = &semaphores.apply(&file.path, &file.sites);
                        let attached = session
                            .attach(&loaded.fd, &file.path, sites, opts.pid, *is_return, perf);
                        match attached {
                            Ok(()) => {}
                            // uprobe_multi refused (an older kernel, a policy):
                            // reload the program for perf-event uprobes, one
                            // per site, and use them for this and later files.
                            Err(e) if !perf && !matches!(e, RuntimeError::Refused { .. }) => {
                                perf = true;
                                loaded = sys::load_program(
                                    &prog.name,
                                    &insns,
                                    ProgramAttach::PerfEvent,
                                    opts.verifier_log,
                                )?;
                                session.attach(
                                    &loaded.fd, &file.path, sites, opts.pid, *is_return, true,
                                )?;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                ProgramTarget::Profile { hz, period_ns } => {
                    for cpu in sys::online_cpus() {
                        let (p, l) = sys::attach_profile(&loaded.fd, cpu, *hz, *period_ns)?;
                        session.perf_events.push(p);
                        session.links.push(l);
                    }
                }
                ProgramTarget::Begin | ProgramTarget::End | ProgramTarget::Interval { .. } => {
                    let id = index as u64;
                    match prog.target {
                        ProgramTarget::Begin => session.begin_ids.push(id),
                        ProgramTarget::End => session.end_ids.push(id),
                        ProgramTarget::Interval { period_ns } => {
                            session.intervals.push((id, period_ns))
                        }
                        ProgramTarget::Uprobe { .. } | ProgramTarget::Profile { .. } => {}
                    }
                }
            }
            session.logs.push(std::mem::take(&mut loaded.log));
            session.programs.push(Some(loaded));
        }
        Ok(session)
    }

    /// Attaches `prog` to `sites` of `path`; an EINVAL from the kernel
    /// becomes [`RuntimeError::SemaphoreMismatch`], which explains it.
    fn attach(
        &mut self,
        prog: &OwnedFd,
        path: &Path,
        sites: &[UprobeSite],
        pid: Option<u32>,
        is_return: bool,
        use_perf: bool,
    ) -> Result<(), RuntimeError> {
        let attached = self.attach_sites(prog, path, sites, pid, is_return, use_perf);
        attached.map_err(|e| match e {
            RuntimeError::Attach { target, source }
                if source.raw_os_error() == Some(libc::EINVAL) =>
            {
                RuntimeError::SemaphoreMismatch {
                    target,
                    sites: shared_semaphores::describe_sites(sites),
                }
            }
            e => e,
        })
    }

    fn attach_sites(
        &mut self,
        prog: &OwnedFd,
        path: &Path,
        sites: &[UprobeSite],
        pid: Option<u32>,
        is_return: bool,
        use_perf: bool,
    ) -> Result<(), RuntimeError> {
        let mut refused = Vec::new();
        if !use_perf {
            let (links, r) = refused::attach_multi_around_refusals(
                prog,
                path,
                sites,
                pid.unwrap_or(0),
                is_return,
            )?;
            self.links.extend(links);
            refused = r;
        } else {
            for &site in sites {
                match sys::attach_uprobe_perf(
                    prog,
                    path,
                    site,
                    pid.map_or(-1, |p| p as i32),
                    is_return,
                ) {
                    Ok((p, l)) => {
                        self.perf_events.push(p);
                        self.links.push(l);
                    }
                    Err(e) if refused::is_site_refusal(&e) => refused.push(RefusedSite {
                        path: path.to_path_buf(),
                        offset: site.offset,
                        cookie: site.cookie,
                    }),
                    Err(e) => return Err(e),
                }
            }
        }
        if !sites.is_empty() && refused.len() == sites.len() {
            // Nothing of this file could be attached: an error, as before.
            return Err(RuntimeError::Refused {
                target: path.display().to_string(),
                what: if sites.len() == 1 {
                    format!("offset {:#x}", sites[0].offset)
                } else {
                    format!("any of its {} sites", sites.len())
                },
            });
        }
        self.refused.extend(refused);
        Ok(())
    }

    /// The verifier logs of the loaded programs (with `verifier_log`).
    pub fn verifier_logs(&self) -> impl Iterator<Item = &str> {
        self.logs.iter().map(String::as_str)
    }

    /// Runs the BEGIN programs, in order, then unloads them: they never
    /// run again (bpftrace drops its BEGIN probes the same way).
    pub fn run_begin(&mut self) {
        for &id in &self.begin_ids {
            self.run_program(id);
        }
        for &id in &self.begin_ids {
            if let Some(p) = self.programs.get_mut(id as usize) {
                *p = None;
            }
        }
    }

    /// Runs the END programs, in order.
    pub fn run_end(&self) {
        for &id in &self.end_ids {
            self.run_program(id);
        }
    }

    /// Interval programs: (trigger id, period in ns).
    pub fn intervals(&self) -> &[(u64, u64)] {
        &self.intervals
    }

    /// Runs one interval program.
    pub fn run_interval(&self, id: u64) {
        self.run_program(id);
    }

    /// Runs program `id` once on this CPU. A failure can only come from a
    /// kernel that lacks raw-tracepoint test runs, which `load` already
    /// required; it is reported on stderr rather than stopping the trace.
    fn run_program(&self, id: u64) {
        if let Some(Some(p)) = self.programs.get(id as usize) {
            if let Err(e) = sys::run_program(&p.fd) {
                eprintln!("ERROR: BEGIN/END/interval program {id}: {e}");
            }
        }
    }

    /// Waits up to `timeout_ms` for events and returns the raw records (at
    /// most [`MAX_RECORDS_PER_POLL`]).
    pub fn poll(&mut self, timeout_ms: i32) -> Result<Vec<Vec<u8>>, RuntimeError> {
        self.ring.poll(timeout_ms)
    }

    /// Takes records already in the ring buffer (at most
    /// [`MAX_RECORDS_PER_POLL`]), without waiting.
    pub fn drain(&mut self) -> Result<Vec<Vec<u8>>, RuntimeError> {
        self.ring.poll(0)
    }

    /// Sites the kernel refused a uprobe on while the rest of their file
    /// attached (see [`refused`]).
    pub fn refused_sites(&self) -> &[RefusedSite] {
        &self.refused
    }

    /// Events dropped because the ring buffer was full (one counter; read
    /// with a per-CPU-sized buffer, which a plain array fills with one u64).
    pub fn lost_events(&self) -> Result<u64, RuntimeError> {
        sum_per_cpu_counter(self.lost_counter_fd, 0, "lost-event counter")
    }

    /// Updates of map `index` that failed because it was full.
    pub fn dropped_updates(&self, index: usize) -> Result<u64, RuntimeError> {
        if self.dropped_updates_fd < 0 {
            return Ok(0);
        }
        let mut counters = vec![0u8; self.dropped_updates_size];
        if !sys::map_lookup(self.dropped_updates_fd, &0u32.to_ne_bytes(), &mut counters) {
            return Ok(0);
        }
        let name = "dropped-update counters";
        Ok(ustrace_abi::Bytes::new(&counters, name).u64_at(8 * index, "map counter")?)
    }

    /// Detaches every probe (programs and maps stay until drop).
    pub fn detach(&mut self) {
        self.links.clear();
        self.perf_events.clear();
    }

    /// Every entry of map `index`: the key bytes and the value bytes, one
    /// value per possible CPU for per-CPU maps (one otherwise).
    pub fn read_map(&self, index: usize) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
        match (self.map_fd(index), self.map_shapes.get(index)) {
            (Some(fd), Some(&shape)) => access::read_map(fd, shape),
            _ => Vec::new(),
        }
    }

    /// Every entry of map `index`, as [`Session::read_map`], deleted as it
    /// is read: `print()` then `clear()` with no update lost between them.
    pub fn take_map(&self, index: usize) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
        match (self.map_fd(index), self.map_shapes.get(index)) {
            (Some(fd), Some(&shape)) => access::take_map(fd, shape),
            _ => Vec::new(),
        }
    }

    /// The return addresses of user stack `id` (innermost first), from the
    /// script's stack maps; empty when the id is invalid (the kernel could
    /// not take the stack) or the stack was evicted.
    pub fn read_stack(&self, id: i64) -> Result<Vec<u64>, RuntimeError> {
        access::read_stack(
            self.stack_map.and_then(|i| self.map_fd(i)),
            self.walked_map.and_then(|i| self.map_fd(i)),
            id,
        )
    }

    /// A handle that reads these maps from another thread, without
    /// touching the session (see [`MapAccess`]).
    pub fn map_access(&self) -> std::io::Result<MapAccess> {
        MapAccess::new(
            &self.maps,
            &self.map_shapes,
            self.stack_map,
            self.walked_map,
        )
    }

    /// True when `ustack` walks by unwind tables (see
    /// [`Session::load_process_tables`]).
    pub fn walks_by_tables(&self) -> bool {
        self.unwind.is_some()
    }

    /// Builds (or takes from the cache) the unwind tables of every
    /// executable mapping of `pid` and loads them for the stack walker.
    /// Without tables, the walker falls back to frame pointers for `pid`.
    pub fn load_process_tables(&mut self, pid: u32) -> Result<UnwindLoad, RuntimeError> {
        let Some(u) = self.unwind.as_mut() else {
            return Ok(UnwindLoad::default());
        };
        u.load(pid).map_err(|source| RuntimeError::MapCreate {
            name: format!("unwind tables of pid {pid}"),
            source,
        })
    }

    /// Builds the unwind tables of the files `program` maps when it
    /// starts (itself, its dynamic linker, its `DT_NEEDED` libraries)
    /// before it runs, so that its first stacks are walked by tables.
    /// Reported by [`Session::take_table_loads`] under pid 0.
    pub fn prebuild_program_tables(&mut self, program: &std::path::Path) {
        if let Some(u) = self.unwind.as_mut() {
            let load = u.prebuild(&ustrace_unwind::startup_files(program));
            u.report(0, load);
        }
    }

    /// Watches `pid` (a child held before `exec`): its tables are loaded by
    /// [`Session::refresh_process_tables`] once it has exec'd.
    pub fn watch_process(&mut self, pid: u32) {
        if let Some(u) = self.unwind.as_mut() {
            u.watch(pid);
        }
    }

    /// How often [`Session::refresh_process_tables`] looks for changes;
    /// poll at least this often to load tables promptly.
    pub fn table_refresh_period(&self) -> Option<std::time::Duration> {
        self.unwind.as_ref().map(|u| u.period())
    }

    /// Reloads the tables of processes whose mappings changed (exec,
    /// dlopen); rate-limited, cheap to call on every poll.
    pub fn refresh_process_tables(&mut self) {
        if let Some(u) = self.unwind.as_mut() {
            u.refresh();
        }
    }

    /// Processes whose loaded mappings changed since the last call (to
    /// hand [`Session::process_mappings`] on).
    pub fn take_changed_processes(&mut self) -> Vec<u32> {
        self.unwind
            .as_mut()
            .map(|u| u.take_changed())
            .unwrap_or_default()
    }

    /// Table loads that changed something since the last call (pid, what
    /// was done and how long it took), for `-d`.
    pub fn take_table_loads(&mut self) -> Vec<(u32, UnwindLoad)> {
        self.unwind
            .as_mut()
            .map(|u| u.take_reports())
            .unwrap_or_default()
    }

    /// Loads `pid`'s tables unless it has some (or had: it exited) or
    /// `limit` processes have tables already. For processes discovered
    /// from their stacks (all-process tracing, forks).
    pub fn load_new_process_tables(&mut self, pid: u32, limit: usize) {
        let Some(u) = self.unwind.as_mut() else {
            return;
        };
        if pid != 0 && !u.knows(pid) && u.process_count() < limit {
            let _ = u.load(pid);
        }
    }

    /// The executable mappings of `pid` as last loaded, kept after the
    /// process exits so its stacks can still be named.
    pub fn process_mappings(&self, pid: u32) -> Option<&[Mapping]> {
        self.unwind.as_ref().and_then(|u| u.mappings(pid))
    }

    /// Deletes every entry of map `index` (`clear()`).
    pub fn clear_map(&self, index: usize) {
        let (Some(fd), Some(&(ksize, _, _))) = (self.map_fd(index), self.map_shapes.get(index))
        else {
            return;
        };
        for key in sys::map_keys(fd, ksize) {
            sys::map_delete(fd, &key);
        }
    }

    /// Sets every value of map `index` to zero, keeping the keys (`zero()`).
    pub fn zero_map(&self, index: usize) {
        let (Some(fd), Some(&(ksize, vsize, per_cpu))) =
            (self.map_fd(index), self.map_shapes.get(index))
        else {
            return;
        };
        let ncpu = if per_cpu { sys::possible_cpus() } else { 1 };
        let stride = if per_cpu { (vsize + 7) & !7 } else { vsize };
        let zeros = vec![0u8; stride * ncpu];
        for key in sys::map_keys(fd, ksize) {
            let _ = sys::map_update(fd, &key, &zeros);
        }
    }

    /// The mapping log of the script's `bpf_find_vma` lookups (stack walks,
    /// `usym`), when it has one: addresses of processes that exited
    /// before their maps were read are named from it.
    pub fn mapping_log(&self) -> Option<MappingLog> {
        let (log, names) = self.mapping_log?;
        let log = self.maps.get(log)?.try_clone().ok()?;
        let names = self.maps.get(names)?.try_clone().ok()?;
        Some(MappingLog::new(log, names))
    }

    /// The raw fd of map `index` (for reading maps).
    pub fn map_fd(&self, index: usize) -> Option<i32> {
        self.maps.get(index).map(|f| f.as_raw_fd())
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of `bpf_ktime_get_ns`.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The sum over CPUs of slot `key` of a per-CPU array of u64 counters (0
/// when `fd` is -1, or when the slot was never written).
fn sum_per_cpu_counter(fd: i32, key: u32, name: &str) -> Result<u64, RuntimeError> {
    if fd < 0 {
        return Ok(0);
    }
    let ncpu = sys::possible_cpus();
    let mut values = vec![0u8; 8 * ncpu];
    if !sys::map_lookup(fd, &key.to_ne_bytes(), &mut values) {
        return Ok(0);
    }
    let counts = ustrace_abi::words(&values, name)?;
    Ok(counts.into_iter().fold(0u64, u64::wrapping_add))
}
