//! bpftrace-compatible text output: `printf()` lines and maps (counts, sums,
//! min/max, avg, stats, `hist()` and `lhist()` histograms), byte for byte
//! as bpftrace 0.17 prints them.
//!
//! * [`render_printf`]: one `printf()` call, C printf semantics per
//!   conversion, with bpftrace's argument handling (see [`printf`]).
//! * [`render_map`]: one map, as `print(@m)` and the exit-time dump print
//!   it, sorted the way bpftrace sorts (see [`map`]).
//! * [`render_value`]: `print(expr)` of a non-map value.
//! * [`hist_bucket`], [`lhist_bucket`]: the bucket layouts the BPF code
//!   uses, so that the renderer and the code generator agree.
//!
//! At exit bpftrace prints [`EXIT_PREAMBLE`] (two newlines), then every map
//! in byte order of its name, each rendered by [`render_map`].
//!
//! ```
//! use ustrace_output::{render_map, MapEntry, MapValue, Value};
//!
//! let entries = vec![
//!     MapEntry { key: vec![Value::Str(b"foo".to_vec())], value: MapValue::Count(3) },
//!     MapEntry { key: vec![Value::Str(b"bar".to_vec())], value: MapValue::Count(1) },
//! ];
//! assert_eq!(render_map("@x", &entries), "@x[bar]: 1\n@x[foo]: 3\n");
//! ```

#![warn(missing_docs)]

pub mod folded;
pub mod json;
pub mod map;
pub mod metrics;
pub mod pprof;
mod pprof_proto;
pub mod printf;
pub mod profile;
pub mod svg;

pub use map::{
    hist_bucket, lhist_bucket, lhist_inner_buckets, rank, render_map, render_map_with_kind,
    MapEntry, MapStyle, MapValue, EXIT_PREAMBLE, HIST_BUCKETS, LHIST_MAX_BUCKETS,
};
pub use printf::{render_printf, render_printf_bytes, render_value};

/// One printf argument / map key field as read from the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A string's bytes; anything from the first NUL on is ignored.
    Str(Vec<u8>),
}

impl Value {
    /// The 64-bit pattern of an integer; `None` for a string.
    pub fn bits(&self) -> Option<u64> {
        match self {
            Value::Int(v) => Some(*v as u64),
            Value::UInt(v) => Some(*v),
            Value::Str(_) => None,
        }
    }

    /// The value as bpftrace prints it in a map key or `print()`: signed or
    /// unsigned decimal, or the string up to its first NUL (invalid UTF-8
    /// replaced by U+FFFD).
    pub fn to_text(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::UInt(v) => v.to_string(),
            Value::Str(b) => String::from_utf8_lossy(until_nul(b)).into_owned(),
        }
    }
}

/// The bytes before the first NUL (all of them if there is none).
pub(crate) fn until_nul(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}
