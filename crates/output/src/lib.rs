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

#![deny(missing_docs)]

mod fine_hist;
pub mod folded;
pub mod json;
pub mod map;
pub mod metrics;
pub mod pprof;
mod pprof_proto;
pub mod printf;
pub mod profile;
pub mod svg;
mod tseries;

pub use fine_hist::{fine_hist_bucket, fine_hist_range};
pub use map::{
    hist_bucket, lhist_bucket, lhist_inner_buckets, numeric_key_order, rank, render_map,
    render_map_with_kind, EXIT_PREAMBLE, HIST_BUCKETS, LHIST_MAX_BUCKETS,
};
pub use printf::{render_printf, render_printf_bytes, render_value};

// The values rendered here are the ABI crate's decoded values.
pub(crate) use ustrace_abi::{tuple_text, until_nul};
pub use ustrace_abi::{MapEntry, MapStyle, MapValue, Value};
