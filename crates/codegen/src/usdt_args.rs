//! Code that reads one USDT argument, generated straight from its spec.
//!
//! A spec says where the value is at the probe site (a register of the
//! traced thread, user memory addressed from registers, a constant, or a
//! static variable) and how wide and signed it is. The generated code leaves
//! the value, extended to 64 bits, in `r0`... precisely: it stores it into
//! the 8-byte stack slot it is given. Registers come from the `pt_regs`
//! context in r6; memory is read with `bpf_probe_read_user`, and a failed
//! read yields 0.

use crate::builder::Builder;
use crate::insn::{self, helper, AluOp, R0, R1, R10, R2, R3, R6};
use ustrace_probes::{ArgLocation, ArgSpec};

/// Sign- or zero-extends the low `size` bytes of `r` to 64 bits.
pub fn extend(b: &mut Builder, r: insn::Reg, size: u8, signed: bool) {
    if size >= 8 {
        return;
    }
    let shift = 64 - 8 * size as i32;
    b.emit(insn::alu64_imm(AluOp::Lsh, r, shift));
    b.emit(insn::alu64_imm(
        if signed { AluOp::Arsh } else { AluOp::Rsh },
        r,
        shift,
    ));
}

/// Emits code that stores the argument described by `spec` into the stack
/// slot at `slot` (8 bytes). `pc` is the link-time address of the probe
/// site, needed for static (rip-relative) operands.
pub fn read_arg(b: &mut Builder, spec: &ArgSpec, pc: u64, slot: i16) {
    match &spec.location {
        ArgLocation::Immediate(v) => {
            b.mov_imm(R0, *v);
            extend(b, R0, spec.size, spec.signed);
            b.emit(insn::stx(8, R10, slot, R0));
        }
        ArgLocation::Register(op) => {
            b.emit(insn::ldx(8, R0, R6, op.reg.pt_regs_offset() as i16));
            if op.high_byte {
                b.emit(insn::alu64_imm(AluOp::Rsh, R0, 8));
            }
            extend(b, R0, spec.size.min(op.width.max(1)), spec.signed);
            b.emit(insn::stx(8, R10, slot, R0));
        }
        ArgLocation::Memory {
            base,
            index,
            offset,
        } => {
            b.emit(insn::ldx(8, R3, R6, base.pt_regs_offset() as i16));
            if let Some((idx, scale)) = index {
                b.emit(insn::ldx(8, R1, R6, idx.pt_regs_offset() as i16));
                if *scale > 1 {
                    b.emit(insn::alu64_imm(AluOp::Mul, R1, *scale as i32));
                }
                b.emit(insn::alu64_reg(AluOp::Add, R3, R1));
            }
            add_const(b, *offset);
            read_user(b, spec, slot);
        }
        ArgLocation::Static { vaddr } => {
            // runtime address = vaddr + (runtime ip of the site - pc)
            b.emit(insn::mov64_reg(R1, R6));
            b.emit(insn::call(helper::GET_FUNC_IP));
            b.emit(insn::mov64_reg(R3, R0));
            add_const(b, vaddr.wrapping_sub(pc) as i64);
            read_user(b, spec, slot);
        }
    }
}

/// `r3 += v`.
fn add_const(b: &mut Builder, v: i64) {
    if v == 0 {
        return;
    }
    if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
        b.emit(insn::alu64_imm(AluOp::Add, R3, v as i32));
    } else {
        b.emit2(insn::ld_imm64(R1, v as u64));
        b.emit(insn::alu64_reg(AluOp::Add, R3, R1));
    }
}

/// Reads `spec.size` bytes of user memory at r3 into `slot`, then extends.
fn read_user(b: &mut Builder, spec: &ArgSpec, slot: i16) {
    b.emit(insn::st_imm(8, R10, slot, 0));
    b.emit(insn::mov64_reg(R1, R10));
    b.emit(insn::alu64_imm(AluOp::Add, R1, slot as i32));
    b.emit(insn::mov64_imm(R2, spec.size.clamp(1, 8) as i32));
    b.emit(insn::call(helper::PROBE_READ_USER));
    b.emit(insn::ldx(spec.size.clamp(1, 8), R0, R10, slot));
    extend(b, R0, spec.size, spec.signed);
    b.emit(insn::stx(8, R10, slot, R0));
}
