//! Function signatures and program types from DWARF debug information, so
//! that uprobe scripts can name arguments (`args.r->hdr.len`) instead of
//! computing offsets, and `-lv` can show a function's parameters.
//!
//! A compiler given `-g` describes the program in `.debug_info`: a tree of
//! entries per compile unit. A `DW_TAG_subprogram` entry is a function
//! (address, name, return type); its `DW_TAG_formal_parameter` children are
//! its parameters, each pointing at a type entry: base types (`int`),
//! pointers, structs/classes/unions with their members' offsets, enums with
//! their enumerators, typedefs, arrays, qualifiers. Distributions strip
//! this from installed files and ship it apart (Debian: `-dbg`/`-dbgsym`
//! packages under `/usr/lib/debug`), found through the build id or the
//! `.gnu_debuglink` section exactly as the symbol lookup finds symbols
//! ([`ustrace_probes::separate_debug_file`]). Compressed sections (zlib)
//! are decompressed.
//!
//! - [`DebugInfo`]: opens a file (or its debug file) and indexes it once.
//! - [`Function`]/[`Parameter`]: a function's parameters, their types and
//!   where each is at the first instruction ([`ParamLocation`], System V
//!   x86-64; [`abi`] says what is and is not supported).
//! - [`Type`] in a [`TypeTable`]: an owned type graph, named as bpftrace
//!   names types (`struct req*`, `const char**`), with the layout queries
//!   code generation needs ([`TypeTable::size_of`], [`TypeTable::member`])
//!   and values printed as bpftrace prints records
//!   ([`TypeTable::format_value`]).
//!
//! Everything is pure (no kernel) and never panics on malformed input: a
//! corrupt file is a [`DwarfError`], an unknown kind of type entry a
//! [`Type::Unsupported`] naming it.

#![warn(missing_docs)]

pub mod abi;
mod convert;
mod entry_location;
pub mod error;
mod format;
mod function;
mod index;
mod info;
mod names;
#[cfg(test)]
mod robustness_tests;
mod sections;
pub mod types;

pub use abi::{ParamLocation, ARGUMENT_REGISTERS};
pub use error::{closest_names, did_you_mean, DwarfError};
pub use function::{Function, Parameter};
pub use info::DebugInfo;
pub use types::{
    Bitfield, Encoding, Enum, Enumerator, Language, Member, Qualifier, Record, RecordKind, Type,
    TypeId, TypeTable, Variant, VariantPart,
};
