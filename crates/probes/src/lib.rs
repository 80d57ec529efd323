//! Probe discovery for ustrace: everything about *where* a probe is, read from
//! files and `/proc`, with no kernel involvement.
//!
//! (The long explanation of USDT notes, argument specs, semaphores and file
//! offsets lives at the top of [`notes`].)
//!
//! - [`spec`]: argument specs (`-4@-20(%rbp)`) as typed values.
//! - [`notes`]: reading `.note.stapsdt` notes into probes and file offsets.
//! - [`process`]: the ELF objects a process has mapped.
//! - [`libpath`]: finding a library by name, as the dynamic linker does.
//! - [`objects`]: the file part of an attach point (path, glob, library,
//!   `*`) to files, in the process's mount namespace with a pid.
//! - [`pattern`]: `usdt:PATH:PROVIDER:NAME` patterns and wildcard search.
//! - [`symbols`]: function symbols and their file offsets, for uprobes.
//! - [`listing`]: the lines `-l` and `-lv` print.

#![deny(missing_docs)]

pub mod error;
pub mod libpath;
pub mod listing;
pub mod notes;
pub mod objects;
pub mod pattern;
pub mod process;
pub mod spec;
pub mod symbols;

pub use error::ProbeError;
pub use libpath::resolve_library;
pub use listing::{describe_probe, list_lines, probe_line};
pub use notes::{
    attach_offset, file_kind, from_bytes, read_file, read_usdt_probes, NopKind, UsdtFile,
    UsdtLocation, UsdtProbe,
};
pub use objects::{find_objects, ObjectFile, ObjectFiles};
pub use pattern::{find_usdt_probes, glob_match, FoundProbe, UsdtPattern};
pub use process::{mapped_objects, MappedObject};
pub use spec::{
    parse_arg_spec, split_args, ArgLocation, ArgSpec, ArgSpecError, Register, RegisterOperand,
};
pub use symbols::{address_to_offset, find_functions, separate_debug_file, FunctionSymbol};
