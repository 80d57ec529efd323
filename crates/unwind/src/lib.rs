//! Compact unwind tables for walking x86-64 user stacks in BPF.
//!
//! Code built without frame pointers (most `-O2` builds, Debian's own
//! packages) cannot be walked by following `rbp`. The compiler describes
//! instead, in `.eh_frame` (or `.debug_frame`), for every instruction
//! address how to find the *canonical frame address* (CFA: the caller's
//! `rsp` just before the call) and where the return address and the
//! callee-saved registers were stored. That description is a byte-code
//! (DWARF call frame information) too rich to interpret in BPF, so this
//! crate runs it ahead of time, with gimli, into a flat table sorted by
//! address:
//!
//! ```text
//!   pc        CFA          rbp           (return address at CFA-8)
//!   0x1040    rsp+8        unchanged
//!   0x1041    rsp+16       at CFA-16
//!   0x1044    rbp+16       at CFA-16
//!   0x1080    (no info)                  -> frame-pointer fallback
//! ```
//!
//! A BPF walker finds a pc's row by binary search (the last row whose `pc`
//! is not above it), computes the CFA from the current `rsp`/`rbp`, reads the
//! return address at CFA-8 and, when the row says so, the caller's `rbp`.
//! Only the forms compilers and glibc really emit are kept: CFA from `rsp`
//! or `rbp` plus a constant, and the PLT stub expression
//! `rsp + 8 + ((rip & 15) >= K) * 8`. Anything else becomes a "no info" row,
//! where the walker falls back to the frame pointer.

mod build;
mod file;
mod startup;

pub use build::{table_from_elf, table_from_sections};
pub use file::{load_segments, table_for_file, FileTable};
pub use startup::{interp_and_needed, startup_files};

/// Errors reading unwind information.
#[derive(Debug, thiserror::Error)]
pub enum UnwindError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an ELF file object can parse.
    #[error("{path}: not a readable ELF file: {message}")]
    Elf {
        /// The file.
        path: String,
        /// What object said.
        message: String,
    },
    /// The call frame information is malformed.
    #[error("malformed {section} at offset {offset:#x}: {message}")]
    Dwarf {
        /// `.eh_frame` or `.debug_frame`.
        section: &'static str,
        /// Where in the section, when known.
        offset: u64,
        /// What gimli said.
        message: String,
    },
}

/// How the canonical frame address of a row is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CfaRule {
    /// No usable rule here: fall back to the frame pointer.
    Unknown,
    /// `rsp + offset`.
    Rsp(i32),
    /// `rbp + offset`.
    Rbp(i32),
    /// A PLT stub: `rsp + offset + ((pc & 15) >= threshold ? 8 : 0)`.
    Plt {
        /// The constant part (8 in every PLT binutils emits).
        offset: i32,
        /// The byte within a 16-byte stub from which the extra push counts.
        threshold: u8,
    },
    /// The outermost frame (the return address is undefined): stop here.
    Stop,
}

/// Where the caller's `rbp` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RbpRule {
    /// Still in `rbp` (not saved yet, or not touched).
    Unchanged,
    /// Saved in memory at CFA + offset.
    AtCfa(i16),
}

/// One table row: from `pc` (a link-time address in the file) up to the
/// next row's `pc`, these rules hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// First address the row covers.
    pub pc: u64,
    /// The CFA rule.
    pub cfa: CfaRule,
    /// The caller's `rbp`.
    pub rbp: RbpRule,
}

/// Size of one row as the BPF walker reads it ([`Row::to_bytes`]).
pub const ROW_SIZE: usize = 16;

/// Kind codes of the encoded row (byte 12), shared with the BPF walker.
pub mod kind {
    /// [`super::CfaRule::Unknown`].
    pub const UNKNOWN: u8 = 0;
    /// [`super::CfaRule::Rsp`].
    pub const RSP: u8 = 1;
    /// [`super::CfaRule::Rbp`].
    pub const RBP: u8 = 2;
    /// [`super::CfaRule::Plt`].
    pub const PLT: u8 = 3;
    /// [`super::CfaRule::Stop`].
    pub const STOP: u8 = 4;
    /// `rbp` rule code (byte 13): unchanged.
    pub const RBP_UNCHANGED: u8 = 0;
    /// `rbp` rule code (byte 13): saved at CFA + the offset in bytes 10..12.
    pub const RBP_AT_CFA: u8 = 1;
}

impl Row {
    /// The 16-byte form the BPF walker reads:
    ///
    /// ```text
    /// 0..8   pc (u64)
    /// 8..10  CFA offset (i16; the PLT threshold rides in byte 14)
    /// 10..12 rbp offset from the CFA (i16)
    /// 12     CFA kind (see [`kind`])
    /// 13     rbp kind
    /// 14     PLT threshold
    /// 15     zero
    /// ```
    ///
    /// A CFA offset that does not fit in 16 bits (a frame of more than
    /// 32 KiB) is encoded as [`CfaRule::Unknown`].
    pub fn to_bytes(&self) -> [u8; ROW_SIZE] {
        let mut out = [0u8; ROW_SIZE];
        out[..8].copy_from_slice(&self.pc.to_le_bytes());
        let (code, off, threshold) = match self.cfa {
            CfaRule::Unknown => (kind::UNKNOWN, 0, 0),
            CfaRule::Rsp(o) => (kind::RSP, o, 0),
            CfaRule::Rbp(o) => (kind::RBP, o, 0),
            CfaRule::Plt { offset, threshold } => (kind::PLT, offset, threshold),
            CfaRule::Stop => (kind::STOP, 0, 0),
        };
        let (code, off) = match i16::try_from(off) {
            Ok(o) => (code, o),
            Err(_) => (kind::UNKNOWN, 0),
        };
        out[8..10].copy_from_slice(&off.to_le_bytes());
        let (rcode, roff) = match self.rbp {
            RbpRule::Unchanged => (kind::RBP_UNCHANGED, 0i16),
            RbpRule::AtCfa(o) => (kind::RBP_AT_CFA, o),
        };
        out[10..12].copy_from_slice(&roff.to_le_bytes());
        out[12] = code;
        out[13] = rcode;
        out[14] = threshold;
        out
    }
}

/// The unwind table of one file: rows sorted by `pc`, no two neighbours
/// with the same rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnwindTable {
    /// The rows.
    pub rows: Vec<Row>,
}

impl UnwindTable {
    /// The row covering `pc`, if any (the last one not above it).
    pub fn lookup(&self, pc: u64) -> Option<&Row> {
        let i = self.rows.partition_point(|r| r.pc <= pc);
        i.checked_sub(1).and_then(|i| self.rows.get(i))
    }

    /// Bytes the encoded table takes.
    pub fn encoded_size(&self) -> usize {
        self.rows.len() * ROW_SIZE
    }
}
