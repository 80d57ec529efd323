//! The contract between ustrace's BPF programs and user space: how ring
//! buffer records and map entries are laid out ([`layout`]), the values
//! they decode to ([`value`]), and the one bounds-checked decoder for every
//! byte the kernel sends back ([`decode`]).
//!
//! The code generator decides the layouts; the runtime, the library and the
//! tracer decode with them here and nowhere else. Short or malformed bytes
//! are a [`DecodeError`] naming what was being read, never zeros.
//!
//! ```
//! use ustrace_abi::{Decoder, Event, FieldKind, FieldValue, PrintfDef, PrintfKind};
//!
//! let layouts = vec![PrintfDef::new(
//!     "%d\n".to_string(),
//!     vec![FieldKind::Int { signed: true }],
//!     PrintfKind::Printf,
//! )?];
//! let decoder = Decoder::new(&layouts, 0);
//! // Tag 0 (the first printf), then its one integer.
//! let record = [0u64.to_ne_bytes(), (-5i64).to_ne_bytes()].concat();
//! assert_eq!(
//!     decoder.record(&record)?,
//!     Event::Printf { id: 0, args: vec![FieldValue::Int { value: -5, signed: true }] },
//! );
//! // A record cut short is an error, not a zero.
//! assert!(decoder.record(&record[..12]).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod bytes;
pub mod decode;
mod error;
pub mod layout;
pub mod tseries;
pub mod value;

pub use bytes::Bytes;
pub use decode::{plain_value, stack_frames, words, DecodedEntry, Decoder, Event, FieldValue};
pub use error::DecodeError;
pub use layout::{
    FieldKind, PrintfDef, PrintfKind, StackFormat, StackMode, UserMap, ValueKind, AF_INET,
    AF_INET6, FINE_HIST_MAX_BITS, INET_SIZE, TAG_CLEAR_MAP, TAG_EXIT, TAG_PRINTF_LIMIT,
    TAG_PRINT_MAP, TAG_PRINT_VALUE, TAG_TIME, TAG_ZERO_MAP, USTACK_MAX_DEPTH,
};
pub use tseries::{Tseries, TseriesAgg, TseriesPoint, WallClock};
pub use value::{tuple_text, until_nul, MapEntry, MapStyle, MapValue, Value};
