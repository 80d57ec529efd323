//! USDT argument specifications (`-4@-20(%rbp)`, `8@%rax`, `-4@$5`, ...) as typed values.

use thiserror::Error;

/// A 64-bit x86-64 register, the identity behind every sub-register name
/// (`%eax`, `%ax`, `%al` and `%ah` are all [`Register::Rax`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Register {
    Rax,
    Rbx,
    Rcx,
    Rdx,
    Rsi,
    Rdi,
    Rbp,
    Rsp,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
    /// The instruction pointer, only valid as the base of a memory operand.
    Rip,
}

impl Register {
    /// Byte offset of this register in the kernel's x86-64 `struct pt_regs`,
    /// which is the context a uprobe BPF program receives.
    pub fn pt_regs_offset(self) -> usize {
        match self {
            Register::R15 => 0,
            Register::R14 => 8,
            Register::R13 => 16,
            Register::R12 => 24,
            Register::Rbp => 32,
            Register::Rbx => 40,
            Register::R11 => 48,
            Register::R10 => 56,
            Register::R9 => 64,
            Register::R8 => 72,
            Register::Rax => 80,
            Register::Rcx => 88,
            Register::Rdx => 96,
            Register::Rsi => 104,
            Register::Rdi => 112,
            Register::Rip => 128,
            Register::Rsp => 152,
        }
    }

    /// The canonical 64-bit name, without `%` (`"rax"`).
    pub fn name64(self) -> &'static str {
        match self {
            Register::Rax => "rax",
            Register::Rbx => "rbx",
            Register::Rcx => "rcx",
            Register::Rdx => "rdx",
            Register::Rsi => "rsi",
            Register::Rdi => "rdi",
            Register::Rbp => "rbp",
            Register::Rsp => "rsp",
            Register::R8 => "r8",
            Register::R9 => "r9",
            Register::R10 => "r10",
            Register::R11 => "r11",
            Register::R12 => "r12",
            Register::R13 => "r13",
            Register::R14 => "r14",
            Register::R15 => "r15",
            Register::Rip => "rip",
        }
    }
}

/// A register operand as written in the spec: which register, and which part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegisterOperand {
    /// The full register.
    pub reg: Register,
    /// Width of the named part in bytes: 8 (`%rax`), 4 (`%eax`), 2 (`%ax`), 1 (`%al`, `%ah`).
    pub width: u8,
    /// True for the legacy high-byte registers `%ah %bh %ch %dh` (bits 8..16).
    pub high_byte: bool,
}

/// Where an argument's value lives at the probe site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ArgLocation {
    /// The value is in a register (or part of one).
    Register(RegisterOperand),
    /// The value is a constant (`$5`, `$-1`).
    Immediate(i64),
    /// The value is in user memory at `base + index * scale + offset`.
    /// `base` is never [`Register::Rip`]; rip-relative operands are [`ArgLocation::Static`].
    Memory {
        base: Register,
        index: Option<(Register, u8)>,
        offset: i64,
    },
    /// The value is in user memory at a fixed link-time virtual address of the
    /// file (a rip-relative operand such as `sym+8(%rip)`, resolved). At run
    /// time the address is `vaddr + load bias`, and the load bias is
    /// `probe runtime ip - location pc`.
    Static { vaddr: u64 },
}

/// One parsed argument: `SIZE@LOCATION`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArgSpec {
    /// Size of the value in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// True when SIZE was negative (the value is sign-extended to 64 bits).
    pub signed: bool,
    /// Where the value is.
    pub location: ArgLocation,
}

/// Why one argument spec could not be read. The probe stays usable; only
/// this argument is unavailable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArgSpecError {
    /// Placeholder; the spec parser defines the real variants.
    #[error("unsupported argument spec `{0}`")]
    Unsupported(String),
}
