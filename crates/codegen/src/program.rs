//! What the code generator produces: programs, maps and record layouts,
//! ready for the runtime to load. Nothing here touches the kernel.

use std::path::PathBuf;

use crate::builder::MapId;
use crate::insn::Insn;
use ustrace_lang::ast::Span;

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
    /// How many probes are attached, as bpftrace counts them for
    /// `Attaching N probes...`.
    pub attach_count: usize,
    /// The ring buffer carrying events to user space.
    pub ringbuf: MapId,
    /// The per-CPU counter of events dropped because the ring buffer was full.
    pub lost_counter: MapId,
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
    /// (crates/codegen/src/unwind.rs), [`USTACK_MAX_DEPTH`] frames,
    /// zero-terminated.
    WalkedStacks,
    /// Unwind table rows (see crates/codegen/src/unwind.rs), filled by
    /// the runtime.
    UnwindRows,
    /// Executable mappings of traced processes (LPM trie), filled by the
    /// runtime.
    UnwindMappings,
    /// Per-CPU frame buffer of the stack walker.
    UnwindScratch,
    /// Updates that failed because the map was full: one entry of u64
    /// counters indexed by [`MapId`](crate::builder::MapId).
    DroppedUpdates,
    /// A script map `@name`.
    User(UserMap),
}

/// A script-level map: its name and the layout of keys and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMap {
    /// The name including `@`.
    pub name: String,
    /// Key fields (empty for a scalar map, whose key is 8 zero bytes).
    pub key: Vec<FieldKind>,
    /// What the value holds.
    pub value: ValueKind,
}

/// How a map's value is interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A plain integer (assigned).
    Int {
        /// Signedness.
        signed: bool,
    },
    /// A string of this many bytes (assigned).
    Str(usize),
    /// `count()`: per-CPU u64, summed.
    Count,
    /// `sum(x)`: per-CPU i64, summed.
    Sum,
    /// `min(x)`: per-CPU {value, set flag}; the minimum of the set ones.
    Min,
    /// `max(x)`: per-CPU {value, set flag}; the maximum of the set ones.
    Max,
    /// `avg(x)`: per-CPU {count, sum}.
    Avg,
    /// `stats(x)`: per-CPU {count, sum}.
    Stats,
    /// `hist(x)`: the key gets an extra 8-byte bucket index
    /// (`ustrace_output::hist_bucket`); the value is a per-CPU count.
    Hist,
    /// `lhist(x, min, max, step)`: like `Hist` with linear buckets.
    Lhist {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
        /// Bucket width.
        step: i64,
    },
}

impl ValueKind {
    /// Bytes of one value (per CPU for per-CPU kinds).
    pub fn size(self) -> usize {
        match self {
            ValueKind::Str(n) => (n + 7) & !7,
            ValueKind::Min | ValueKind::Max | ValueKind::Avg | ValueKind::Stats => 16,
            _ => 8,
        }
    }

    /// True when the map is per-CPU (aggregations).
    pub fn per_cpu(self) -> bool {
        !matches!(self, ValueKind::Int { .. } | ValueKind::Str(_))
    }

    /// True for histograms, whose keys end with a bucket index.
    pub fn is_histogram(self) -> bool {
        matches!(self, ValueKind::Hist | ValueKind::Lhist { .. })
    }
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

/// The layout of one field of a record or key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An 8-byte integer.
    Int {
        /// Signedness (for printing).
        signed: bool,
    },
    /// A NUL-padded string of this many bytes.
    Str(usize),
    /// An 8-byte probe id, printed as the probe's name.
    ProbeName,
    /// A user stack: the 8-byte id from `bpf_get_stackid` (negative when
    /// it failed) and the 8-byte pid whose addresses it holds.
    UStack(StackMode),
    /// `usym(addr)`: the 8-byte address and the 8-byte pid it belongs to,
    /// printed as the symbol's name.
    USym,
    /// `buf(p, n)`: an 8-byte length, then up to this many bytes.
    Buffer(usize),
    /// `strftime(fmt, ns)`: 8 bytes of `CLOCK_MONOTONIC` nanoseconds, printed
    /// as wall-clock time with format `CompiledScript::strftime_formats[i]`.
    Strftime(usize),
}

/// How a `ustack` prints: bpftrace's default form or `perf`'s, and how many
/// frames at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StackMode {
    /// `ustack(perf)`: `\tADDR SYMBOL+OFF (MODULE)` lines.
    pub perf: bool,
    /// At most this many frames are shown.
    pub depth: u8,
}

/// The frames the kernel keeps per stack (its default
/// `kernel.perf_event_max_stack`).
pub const USTACK_MAX_DEPTH: u8 = 127;

impl FieldKind {
    /// Size in bytes.
    pub fn size(self) -> usize {
        match self {
            FieldKind::Int { .. } | FieldKind::ProbeName => 8,
            FieldKind::UStack(_) | FieldKind::USym => 16,
            FieldKind::Buffer(n) => 8 + ((n + 7) & !7),
            FieldKind::Strftime(_) => 8,
            FieldKind::Str(n) => (n + 7) & !7,
        }
    }
}

/// Record tag (first 8 bytes of every ring buffer record) for `exit()`.
pub const TAG_EXIT: u64 = 0xffff_0001;
/// Record tag for `print(@map[, top[, div]])`: then map id, top, div.
pub const TAG_PRINT_MAP: u64 = 0xffff_0002;
/// Record tag for `clear(@map)`: then map id.
pub const TAG_CLEAR_MAP: u64 = 0xffff_0003;
/// Record tag for `zero(@map)`: then map id.
pub const TAG_ZERO_MAP: u64 = 0xffff_0004;
/// Record tag for `print(value)`: then a printf-like layout id.
pub const TAG_PRINT_VALUE: u64 = 0xffff_0005;
/// Record tag for `time(fmt)`: then a printf-like layout id.
pub const TAG_TIME: u64 = 0xffff_0006;
/// Record tags below this are printf ids.
pub const TAG_PRINTF_LIMIT: u64 = 0xffff_0000;

/// A printf call site: its format and argument layout (after the 8-byte tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintfDef {
    /// The format string (escapes decoded).
    pub format: String,
    /// Argument fields in order.
    pub args: Vec<FieldKind>,
    /// What user space does with the record.
    pub kind: PrintfKind,
}

/// What a printf-like record is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintfKind {
    /// `printf(fmt, ...)`: print the formatted text.
    Printf,
    /// `time(fmt)`: the format is strftime's, applied to the wall-clock
    /// time the record is printed.
    Time,
    /// `system(fmt, ...)`: run the formatted text with `/bin/sh -c` and
    /// print what it writes (only with `--unsafe`).
    System,
}

impl PrintfDef {
    /// Total record size, tag included.
    pub fn record_size(&self) -> usize {
        8 + self.args.iter().map(|a| a.size()).sum::<usize>()
    }
}
