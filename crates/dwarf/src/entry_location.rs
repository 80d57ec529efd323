//! Where the compiler itself says a parameter is at a function's first
//! instruction: a `DW_AT_location` (list) entry covering the entry address
//! whose expression is a bare register (`DW_OP_reg5` = `%rdi`). Optimized
//! code has these; `-O0` code describes stack slots valid only after the
//! prologue, so there the calling convention ([`crate::abi`]) decides.

use ustrace_probes::Register;

use crate::info::{DebugInfo, DieRef};

type Entry = gimli::DebuggingInformationEntry<crate::sections::Reader>;

/// The x86-64 register of DWARF register number `n` (System V psABI
/// numbering: 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp,
/// 8-15 r8-r15).
fn register(n: u16) -> Option<Register> {
    Some(match n {
        0 => Register::Rax,
        1 => Register::Rdx,
        2 => Register::Rcx,
        3 => Register::Rbx,
        4 => Register::Rsi,
        5 => Register::Rdi,
        6 => Register::Rbp,
        7 => Register::Rsp,
        8 => Register::R8,
        9 => Register::R9,
        10 => Register::R10,
        11 => Register::R11,
        12 => Register::R12,
        13 => Register::R13,
        14 => Register::R14,
        15 => Register::R15,
        _ => return None,
    })
}

impl DebugInfo {
    /// The register holding parameter `entry` (of unit `die.unit`) at
    /// address `entry_pc`, when its location says so plainly.
    pub(crate) fn entry_register(
        &self,
        die: DieRef,
        entry: &Entry,
        entry_pc: u64,
    ) -> Option<Register> {
        let value = entry.attr_value(gimli::DW_AT_location)?;
        let unit = &self.units.get(die.unit)?.unit;
        let encoding = unit.encoding();
        let expression = match value {
            gimli::AttributeValue::Exprloc(expr) => expr,
            other => {
                let mut list = self.dwarf_of(die.unit).attr_locations(unit, other).ok()??;
                loop {
                    let item = list.next().ok()??;
                    if item.range.begin <= entry_pc && entry_pc < item.range.end {
                        break item.data;
                    }
                }
            }
        };
        let mut ops = expression.operations(encoding);
        let first = ops.next().ok()??;
        if !matches!(ops.next(), Ok(None)) {
            return None;
        }
        match first {
            gimli::Operation::Register { register: r } => register(r.0),
            _ => None,
        }
    }
}
