//! The layouts of what BPF programs write for user space: ring buffer
//! records (a tag, then fields) and map keys and values. The code generator
//! decides them; [`crate::decode`] reads bytes with them.

use ustrace_lang::printf::{parse_format, FormatError, FormatString, Segment};

use crate::tseries::TseriesAgg;
use crate::MapStyle;

/// The layout of one field of a record or key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An 8-byte integer.
    Int {
        /// Signedness (for printing).
        signed: bool,
    },
    /// An 8-byte truth value (0 or 1), printed `true`/`false` (and 1/0 by
    /// printf's integer conversions).
    Bool,
    /// A tuple of this many elements: a header taking no bytes, followed
    /// in the field list by the elements' fields (a nested tuple is its
    /// own header and elements). Printed `(1, abc, (2, 3))`.
    Tuple(usize),
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
    /// `username`: an 8-byte user id, printed as the user's name.
    Username,
    /// `strerror(errno)`: an 8-byte error number, printed as its text
    /// (`Operation not permitted`).
    Strerror,
    /// `syscall_name(nr)`: an 8-byte system call number, printed as its
    /// x86-64 name (`openat`).
    SyscallName,
    /// `ntop(addr)`: an 8-byte address family (`AF_INET` 2 or `AF_INET6`
    /// 10), then 16 address bytes (4 used for IPv4), printed as text.
    Inet,
    /// A struct, union or array of the traced program: its bytes, printed
    /// as bpftrace prints records (`{ .id = 7, ... }`) with the type
    /// `CompiledScript::record_types[index]`.
    Record {
        /// Index of its type.
        index: usize,
        /// Its size in bytes.
        size: usize,
    },
}

/// How a `ustack` prints (bpftrace's stack modes), and how many frames at
/// most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StackMode {
    /// The layout of each frame.
    pub format: StackFormat,
    /// At most this many frames are shown.
    pub depth: u8,
}

/// One frame per line, as bpftrace's stack modes print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StackFormat {
    /// `SYMBOL+OFF`, indented.
    #[default]
    Bpftrace,
    /// `ustack(perf)`: `\tADDR SYMBOL+OFF (MODULE)`.
    Perf,
    /// `ustack(raw)`: the address in hex, no symbol.
    Raw,
    /// `ustack(build_id)`: the file's build id (20 bytes in hex) and
    /// `0xOFFSET` in it; the address in hex when unknown.
    BuildId,
}

/// The frames the kernel keeps per stack (its default
/// `kernel.perf_event_max_stack`).
pub const USTACK_MAX_DEPTH: u8 = 127;

impl FieldKind {
    /// Size in bytes.
    pub fn size(self) -> usize {
        match self {
            FieldKind::Int { .. } | FieldKind::Bool | FieldKind::ProbeName => 8,
            FieldKind::UStack(_) | FieldKind::USym => 16,
            FieldKind::Buffer(n) => 8 + ((n + 7) & !7),
            FieldKind::Strftime(_)
            | FieldKind::Username
            | FieldKind::Strerror
            | FieldKind::SyscallName => 8,
            FieldKind::Inet => INET_SIZE,
            FieldKind::Str(n) | FieldKind::Record { size: n, .. } => (n + 7) & !7,
            FieldKind::Tuple(_) => 0,
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
    /// The format, parsed once by the compiler (for `time()`, whose format
    /// is strftime's, one literal segment).
    pub parsed: FormatString,
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
    /// `cat(fmt, ...)`: print the contents of the file the formatted text
    /// names.
    Cat,
    /// `errorf(fmt, ...)` (and a failed `assert`): the formatted text as an
    /// error message on standard error, after the source location of the
    /// call (byte offsets `start..end` of the script).
    Error {
        /// First byte of the call in the script.
        start: usize,
        /// One past its last byte.
        end: usize,
    },
    /// `warnf(fmt, ...)`: like [`PrintfKind::Error`], as a warning.
    Warning {
        /// First byte of the call in the script.
        start: usize,
        /// One past its last byte.
        end: usize,
    },
    /// `join(argv[, sep])`: the format is the separator (kept as one
    /// literal); the arguments are the element count, then that many
    /// strings (of a fixed number of slots), printed joined by the
    /// separator and a newline.
    Join,
}

impl PrintfDef {
    /// The layout of a printf-like call: parses `format` (a printf format,
    /// or strftime's for [`PrintfKind::Time`], kept as one literal).
    pub fn new(
        format: String,
        args: Vec<FieldKind>,
        kind: PrintfKind,
    ) -> Result<PrintfDef, FormatError> {
        let parsed = match kind {
            PrintfKind::Time | PrintfKind::Join => FormatString {
                segments: vec![Segment::Literal(format.clone())],
            },
            PrintfKind::Printf
            | PrintfKind::System
            | PrintfKind::Cat
            | PrintfKind::Error { .. }
            | PrintfKind::Warning { .. } => parse_format(&format)?,
        };
        Ok(PrintfDef {
            format,
            parsed,
            args,
            kind,
        })
    }

    /// Total record size, tag included.
    pub fn record_size(&self) -> usize {
        8 + self.args.iter().map(|a| a.size()).sum::<usize>()
    }
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
    /// The fields of a [`ValueKind::Tuple`] value (its header first);
    /// empty for every other kind.
    pub value_fields: Vec<FieldKind>,
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
    /// A truth value (assigned): 8 bytes, 0 or 1.
    Bool,
    /// A tuple (assigned) of this many bytes, laid out as
    /// [`UserMap::value_fields`].
    Tuple {
        /// Bytes of the value.
        size: usize,
    },
    /// A user stack or symbol (assigned: `@s[tid] = ustack`,
    /// `@f[tid] = usym(addr)`): a [`FieldKind::UStack`] or
    /// [`FieldKind::USym`] field, named by user space when printed.
    Named(FieldKind),
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
    /// `hist(x, k)` with `1 <= k <= 5`: like `Hist` with `2^k` buckets per
    /// power of two (`ustrace_output::fine_hist_bucket`).
    FineHist {
        /// `k`.
        bits: u8,
    },
    /// `lhist(x, min, max, step)`: like `Hist` with linear buckets.
    Lhist {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
        /// Bucket width.
        step: i64,
    },
    /// `tseries(x, interval, n[, agg])`: the key gets an extra 8-byte slot
    /// index (`epoch % n`); the value is a per-CPU slot of three words
    /// (see [`crate::tseries`]).
    Tseries {
        /// Interval length in nanoseconds (> 0).
        interval_ns: u64,
        /// Number of intervals kept (> 0).
        num_intervals: u64,
        /// How values of one interval are combined.
        agg: TseriesAgg,
        /// True when the values are signed.
        signed: bool,
    },
}

/// Bytes of an [`FieldKind::Inet`] field.
pub const INET_SIZE: usize = 24;
/// `AF_INET`.
pub const AF_INET: u64 = 2;
/// `AF_INET6`.
pub const AF_INET6: u64 = 10;

/// The largest `k` of `hist(x, k)` (bpftrace's limit).
pub const FINE_HIST_MAX_BITS: u8 = 5;

impl ValueKind {
    /// Bytes of one value (per CPU for per-CPU kinds).
    pub fn size(self) -> usize {
        match self {
            ValueKind::Str(n) => (n + 7) & !7,
            ValueKind::Tuple { size } => (size + 7) & !7,
            ValueKind::Named(field) => (field.size() + 7) & !7,
            ValueKind::Min | ValueKind::Max | ValueKind::Avg | ValueKind::Stats => 16,
            ValueKind::Tseries { .. } => crate::tseries::TSERIES_SLOT_SIZE,
            _ => 8,
        }
    }

    /// True when the map is per-CPU (aggregations).
    pub fn per_cpu(self) -> bool {
        !matches!(
            self,
            ValueKind::Int { .. }
                | ValueKind::Str(_)
                | ValueKind::Bool
                | ValueKind::Tuple { .. }
                | ValueKind::Named(_)
        )
    }

    /// True for histograms, whose keys end with a bucket index.
    pub fn is_histogram(self) -> bool {
        matches!(
            self,
            ValueKind::Hist | ValueKind::FineHist { .. } | ValueKind::Lhist { .. }
        )
    }

    /// True when the key ends with an 8-byte index the BPF code computes:
    /// a histogram's bucket or a time series' slot.
    pub fn has_index_key(self) -> bool {
        self.is_histogram() || matches!(self, ValueKind::Tseries { .. })
    }
}

impl UserMap {
    /// Bytes of the key before a histogram's bucket index: the key fields,
    /// or 8 zero bytes for a scalar map.
    pub fn key_body_size(&self) -> usize {
        if self.key.is_empty() {
            8
        } else {
            self.key.iter().map(|f| f.size()).sum()
        }
    }
}

impl ValueKind {
    /// How a map with values of this kind prints.
    pub fn style(self) -> MapStyle {
        match self {
            ValueKind::Avg | ValueKind::Stats => MapStyle::Stats,
            ValueKind::Hist | ValueKind::FineHist { .. } | ValueKind::Lhist { .. } => {
                MapStyle::Hist
            }
            ValueKind::Tseries { .. } => MapStyle::Tseries,
            _ => MapStyle::Plain,
        }
    }
}
