//! The ustrace code generator: from a parsed bpftrace script and the probe
//! locations it resolved to, straight to eBPF instructions, with no LLVM.
//!
//! # How a script becomes programs
//!
//! Each probe block becomes one program per attach kind: all USDT attach
//! points of a block share one program, attached with one uprobe_multi link
//! per file. Every attach site gets a *cookie* (its index in the program's
//! site table); `bpf_get_attach_cookie()` tells the program which site
//! fired, and code generated from that site's argument spec reads `argN`.
//! When all sites agree on a spec there is no dispatch at all.
//!
//! Values live on the 512-byte BPF stack: every integer expression is
//! computed into an 8-byte slot (or kept as a constant), strings into
//! fixed-size buffers. Registers r1-r5 and r0 are scratch (helpers clobber
//! them), r6 holds the context (`struct pt_regs *`).
//!
//! Events reach user space through one ring buffer; each record starts with
//! an 8-byte tag: a printf id (whose layout is in
//! [`program::CompiledScript::printfs`]) or [`program::TAG_EXIT`]. A
//! reservation that fails bumps the lost-event counter.

#![deny(missing_docs)]

pub mod builder;
mod builtins;
pub mod disasm;
mod driver;
mod emit;
mod fold;
pub mod insn;
mod options;
mod printf_types;
mod probes;
pub mod program;
mod sema;
mod typed;
pub mod unwind;
mod usdt_args;

pub use builtins::markdown_table as builtin_reference;
pub use builtins::unsupported::{markdown_table as unsupported_reference, UNSUPPORTED};
pub use driver::compile;
pub use options::{
    CompileOptions, ResolvedAttach, TaskParentOffsets, TracedTypes, UprobeFunction, UsdtSite,
    UsdtTarget, VmaOffsets,
};

use ustrace_lang::ast::Span;

/// An error in the script found while compiling it (type errors, unknown
/// functions, unreadable arguments), pointing at the script text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    /// Where in the script.
    pub span: Span,
    /// What is wrong, one line.
    pub message: String,
}

impl CompileError {
    /// An error at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> CompileError {
        CompileError {
            span,
            message: message.into(),
        }
    }
}
