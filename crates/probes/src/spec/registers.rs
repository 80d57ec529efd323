//! x86-64 general-purpose registers as USDT argument specs name them
//! (`%rax`, `%r13d`, `%ah`, ...), and where each lives in `struct pt_regs`.

use super::ArgSpecError;

/// A 64-bit x86-64 register, the identity behind every sub-register name
/// (`%eax`, `%ax`, `%al` and `%ah` are all [`Register::Rax`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Register {
    /// `%rax`.
    Rax,
    /// `%rbx`.
    Rbx,
    /// `%rcx`.
    Rcx,
    /// `%rdx`.
    Rdx,
    /// `%rsi`.
    Rsi,
    /// `%rdi`.
    Rdi,
    /// `%rbp`.
    Rbp,
    /// `%rsp`.
    Rsp,
    /// `%r8`.
    R8,
    /// `%r9`.
    R9,
    /// `%r10`.
    R10,
    /// `%r11`.
    R11,
    /// `%r12`.
    R12,
    /// `%r13`.
    R13,
    /// `%r14`.
    R14,
    /// `%r15`.
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

/// The general-purpose register names, as `(name, register, width, high_byte)`.
const REGISTER_NAMES: &[(&str, Register, u8, bool)] = {
    use Register::*;
    &[
        ("rax", Rax, 8, false),
        ("eax", Rax, 4, false),
        ("ax", Rax, 2, false),
        ("al", Rax, 1, false),
        ("ah", Rax, 1, true),
        ("rbx", Rbx, 8, false),
        ("ebx", Rbx, 4, false),
        ("bx", Rbx, 2, false),
        ("bl", Rbx, 1, false),
        ("bh", Rbx, 1, true),
        ("rcx", Rcx, 8, false),
        ("ecx", Rcx, 4, false),
        ("cx", Rcx, 2, false),
        ("cl", Rcx, 1, false),
        ("ch", Rcx, 1, true),
        ("rdx", Rdx, 8, false),
        ("edx", Rdx, 4, false),
        ("dx", Rdx, 2, false),
        ("dl", Rdx, 1, false),
        ("dh", Rdx, 1, true),
        ("rsi", Rsi, 8, false),
        ("esi", Rsi, 4, false),
        ("si", Rsi, 2, false),
        ("sil", Rsi, 1, false),
        ("rdi", Rdi, 8, false),
        ("edi", Rdi, 4, false),
        ("di", Rdi, 2, false),
        ("dil", Rdi, 1, false),
        ("rbp", Rbp, 8, false),
        ("ebp", Rbp, 4, false),
        ("bp", Rbp, 2, false),
        ("bpl", Rbp, 1, false),
        ("rsp", Rsp, 8, false),
        ("esp", Rsp, 4, false),
        ("sp", Rsp, 2, false),
        ("spl", Rsp, 1, false),
        ("r8", R8, 8, false),
        ("r8d", R8, 4, false),
        ("r8w", R8, 2, false),
        ("r8b", R8, 1, false),
        ("r9", R9, 8, false),
        ("r9d", R9, 4, false),
        ("r9w", R9, 2, false),
        ("r9b", R9, 1, false),
        ("r10", R10, 8, false),
        ("r10d", R10, 4, false),
        ("r10w", R10, 2, false),
        ("r10b", R10, 1, false),
        ("r11", R11, 8, false),
        ("r11d", R11, 4, false),
        ("r11w", R11, 2, false),
        ("r11b", R11, 1, false),
        ("r12", R12, 8, false),
        ("r12d", R12, 4, false),
        ("r12w", R12, 2, false),
        ("r12b", R12, 1, false),
        ("r13", R13, 8, false),
        ("r13d", R13, 4, false),
        ("r13w", R13, 2, false),
        ("r13b", R13, 1, false),
        ("r14", R14, 8, false),
        ("r14d", R14, 4, false),
        ("r14w", R14, 2, false),
        ("r14b", R14, 1, false),
        ("r15", R15, 8, false),
        ("r15d", R15, 4, false),
        ("r15w", R15, 2, false),
        ("r15b", R15, 1, false),
        ("rip", Rip, 8, false),
        ("eip", Rip, 4, false),
    ]
};

/// Looks up a register name (without `%`): `rax`, `r13d`, `ah`, ...
pub fn lookup_register(name: &str) -> Option<RegisterOperand> {
    REGISTER_NAMES
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|&(_, reg, width, high_byte)| RegisterOperand {
            reg,
            width,
            high_byte,
        })
}

pub(super) fn register_operand(spec: &str, name: &str) -> Result<RegisterOperand, ArgSpecError> {
    if let Some(op) = lookup_register(name) {
        return Ok(op);
    }
    let class = unsupported_register_class(name);
    match class {
        Some(reason) => Err(ArgSpecError::UnsupportedRegister {
            spec: spec.to_string(),
            register: name.to_string(),
            reason: reason.to_string(),
        }),
        None => Err(ArgSpecError::UnknownRegister {
            spec: spec.to_string(),
            register: name.to_string(),
        }),
    }
}

/// Recognises real x86-64 registers that are not general-purpose.
fn unsupported_register_class(name: &str) -> Option<&'static str> {
    let numbered = |prefix: &str, max: u32| {
        name.strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n <= max)
    };
    if numbered("xmm", 31) || numbered("ymm", 31) || numbered("zmm", 31) {
        Some("vector registers are not in pt_regs")
    } else if name == "st" || name.starts_with("st(") || numbered("mm", 7) {
        Some("x87/MMX registers are not in pt_regs")
    } else if numbered("k", 7) {
        Some("AVX-512 mask registers are not in pt_regs")
    } else if matches!(name, "cs" | "ds" | "es" | "fs" | "gs" | "ss") {
        Some("segment registers are not supported")
    } else if numbered("cr", 15) || numbered("dr", 15) {
        Some("control and debug registers are not readable")
    } else {
        None
    }
}

impl RegisterOperand {
    /// The name as written in a spec, without `%` (`"eax"`, `"r13b"`, `"ah"`).
    pub fn name(&self) -> &'static str {
        REGISTER_NAMES
            .iter()
            .find(|(_, reg, width, high)| {
                *reg == self.reg && *width == self.width && *high == self.high_byte
            })
            .map(|(n, ..)| *n)
            .unwrap_or_else(|| self.reg.name64())
    }
}
