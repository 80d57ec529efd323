//! What the code generator produces: programs, maps and record layouts,
//! ready for the runtime to load. Nothing here touches the kernel.

use std::path::PathBuf;

use crate::builder::MapId;
use crate::insn::Insn;
use ustrace_lang::ast::Span;

// Record and map layouts are the ABI crate's (user space decodes with
// them); re-exported so code generator code names them from here.
pub use ustrace_abi::{
    FieldKind, PrintfDef, PrintfKind, StackFormat, StackMode, TseriesAgg, UserMap, ValueKind,
    TAG_CLEAR_MAP, TAG_EXIT, TAG_PRINTF_LIMIT, TAG_PRINT_MAP, TAG_PRINT_VALUE, TAG_TIME,
    TAG_ZERO_MAP, USTACK_MAX_DEPTH,
};

/// In the [`MapRole::DroppedUpdates`] counters, after one counter per map
/// id: the reads of user memory by typed expressions (`args.r->id`) that
/// failed and left zeros, reported at exit.
pub const FAILED_READS_SLOT: u32 = 1024;

/// The type of a program value printed whole: `FieldKind::Record`'s
/// `index` is its position in [`CompiledScript::record_types`].
#[derive(Debug, Clone)]
pub struct RecordType {
    /// The file's types.
    pub types: std::sync::Arc<crate::TracedTypes>,
    /// The value's type.
    pub ty: ustrace_dwarf::TypeId,
}

impl RecordType {
    /// The value `bytes` as bpftrace prints records.
    pub fn format(&self, bytes: &[u8]) -> String {
        self.types.types.format_value(self.ty, bytes)
    }
}

/// A whole compiled script.
#[derive(Debug, Clone, Default)]
pub struct CompiledScript {
    /// One program per probe block and attach kind.
    pub programs: Vec<CompiledProgram>,
    /// Every map the programs use, indexed by [`MapId`].
    pub maps: Vec<MapDef>,
    /// printf record layouts, indexed by their record id.
    pub printfs: Vec<PrintfDef>,
    /// Names of probes, for the `probe` builtin (indexed by probe id).
    pub probe_names: Vec<String>,
    /// strftime formats of `strftime(fmt, ns)` values (by index).
    pub strftime_formats: Vec<String>,
    /// The types of program values printed whole, by `FieldKind::Record`
    /// index.
    pub record_types: Vec<RecordType>,
    /// How many probes are attached, as bpftrace counts them for
    /// `Attaching N probes...`.
    pub attach_count: usize,
    /// The ring buffer carrying events to user space.
    pub ringbuf: MapId,
    /// The per-CPU counter of events dropped because the ring buffer was full.
    pub lost_counter: MapId,
    /// Places of the script the compiler warns about, with the message.
    pub warnings: Vec<(Span, String)>,
}

/// One eBPF program and where it attaches.
#[derive(Debug, Clone)]
pub struct CompiledProgram {
    /// A short name (shown by bpftool).
    pub name: String,
    /// The instructions, with `ld_map_fd` placeholders.
    pub insns: Vec<Insn>,
    /// (instruction index, map) placeholders to patch with map fds.
    pub map_relocs: Vec<(usize, MapId)>,
    /// (first instruction index, span) pairs: which script text produced
    /// which code (for verifier errors).
    pub spans: Vec<(usize, Span)>,
    /// Where it attaches.
    pub target: ProgramTarget,
    /// The span of the probe block.
    pub span: Span,
}

/// Where a program attaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramTarget {
    /// uprobes (USDT locations or functions) in one or more files.
    Uprobe {
        /// Per file: the sites.
        files: Vec<UprobeFile>,
        /// True for uretprobes.
        is_return: bool,
    },
    /// `profile:hz:N` / `profile:us:N`: a CPU-clock perf event on every
    /// CPU samples the running task.
    Profile {
        /// Samples per second per CPU (when set), else `period_ns`.
        hz: Option<u64>,
        /// Sampling period in nanoseconds (when `hz` is `None`).
        period_ns: u64,
    },
    /// Runs once at start (run by the runtime with BPF_PROG_TEST_RUN).
    Begin,
    /// Runs once at exit (run by the runtime with BPF_PROG_TEST_RUN).
    End,
    /// Runs every `period_ns` (a user-space timer runs it with BPF_PROG_TEST_RUN).
    Interval {
        /// The period.
        period_ns: u64,
    },
}

/// The sites of one program in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UprobeFile {
    /// The path to open (host view, e.g. through /proc/PID/root).
    pub path: PathBuf,
    /// The sites.
    pub sites: Vec<UprobeSite>,
}

/// One attach site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UprobeSite {
    /// File offset of the probed instruction.
    pub offset: u64,
    /// File offset of the USDT semaphore, 0 if none.
    pub ref_ctr_offset: u64,
    /// The attach cookie the program uses to tell sites apart.
    pub cookie: u64,
}

/// The kind of a map, independent of the kernel's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// Hash map.
    Hash,
    /// Per-CPU hash map.
    PerCpuHash,
    /// Hash map evicting about the least recently used entry when full
    /// (`let @m = lruhash(N);`).
    LruHash,
    /// Per-CPU LRU hash map (`let @m = percpulruhash(N);`).
    LruPerCpuHash,
    /// Array.
    Array,
    /// Per-CPU array.
    PerCpuArray,
    /// Ring buffer (`max_entries` is its size in bytes).
    RingBuf,
    /// Stack traces, keyed by the id `bpf_get_stackid` returns.
    StackTrace,
    /// Longest-prefix-match trie (created with `BPF_F_NO_PREALLOC`).
    LpmTrie,
}

/// What a map is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapRole {
    /// The event ring buffer.
    Events,
    /// Lost-event counter.
    LostCounter,
    /// User stacks captured by `ustack` through the kernel's frame-pointer
    /// walk (`BPF_MAP_TYPE_STACK_TRACE`, [`USTACK_MAX_DEPTH`] frames per
    /// entry).
    StackTraces,
    /// One 8-byte `CLOCK_MONOTONIC` timestamp of the session's start,
    /// written by the runtime before any program runs (`elapsed`).
    StartTime,
    /// User stacks walked by unwind tables: a hash keyed by the u64 id
    /// (crates/codegen/src/unwind/), [`USTACK_MAX_DEPTH`] frames,
    /// zero-terminated.
    WalkedStacks,
    /// Unwind table rows (see crates/codegen/src/unwind/), filled by
    /// the runtime.
    UnwindRows,
    /// Executable mappings of traced processes (LPM trie), filled by the
    /// runtime.
    UnwindMappings,
    /// Per-CPU frame buffer of the stack walker.
    UnwindScratch,
    /// Segments of files with unwind rows, keyed by file identity (device,
    /// inode, page offset), filled by the runtime: the walker's way to a
    /// table when a process has no entries of its own.
    UnwindFiles,
    /// Code mappings `bpf_find_vma` found (stack walks, `usym`), by (pid,
    /// start), read by user space to name addresses of exited processes.
    MappingLog,
    /// The name parts of the files of logged mappings, by (device, inode).
    FileNames,
    /// Per-CPU buffer the file name parts are gathered in.
    FileNameScratch,
    /// Updates that failed because the map was full: one entry of u64
    /// counters indexed by [`MapId`](crate::builder::MapId).
    DroppedUpdates,
    /// Per-CPU state and strings of `globmatch` with a run-time pattern
    /// (crates/codegen/src/builtins/glob_loop.rs).
    GlobState,
    /// A script map `@name`.
    User(UserMap),
}

/// A kernel map to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDef {
    /// Its kind.
    pub kind: MapKind,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// What it is for.
    pub role: MapRole,
}
