//! `@m[k] = tseries(value, interval, n[, agg])`: one update of the slot of
//! the current interval (layout in `ustrace_abi::tseries`).
//!
//! The TAI clock (`bpf_ktime_get_tai_ns`, the clock bpftrace's tseries
//! uses) gives the epoch `now / interval`; the key is the user's key plus
//! the slot `epoch % n`. A slot still holding an older epoch is cleared
//! before the update (for `Last` the store overwrites it anyway), so the
//! map always holds the newest `n` intervals. All on this CPU's value of a
//! per-CPU map: no contention, user space combines the CPUs.

use ustrace_lang::ast::{Expr, Span};

use super::{internal, ProgramCompiler};
use crate::builder::MapId;
use crate::insn::{self, helper, AluOp, JmpOp, R0, R1, R10, R2, R3};
use crate::program::{TseriesAgg, ValueKind};
use crate::CompileError;

/// Offsets of the slot's words.
const VALUE: i16 = 0;
const META: i16 = 8;
const EPOCH: i16 = 16;

impl ProgramCompiler<'_, '_> {
    /// Emits one `tseries()` update of `map`, whose value kind is `kind`.
    pub(super) fn tseries_update(
        &mut self,
        map: MapId,
        kind: ValueKind,
        keys: &[Expr],
        value: &Expr,
        span: Span,
    ) -> Result<(), CompileError> {
        let ValueKind::Tseries {
            interval_ns,
            num_intervals,
            agg,
            signed,
        } = kind
        else {
            return Err(internal(span));
        };
        let x = self.expr(value)?;
        let key = self.build_key(keys, 8, span)?;
        // The time and the epoch stay on the stack across the map helpers.
        let clock = self.alloc_tmp(16, span)?;
        let (now, epoch) = (clock, clock + 8);
        self.b.emit(insn::call(helper::KTIME_GET_TAI_NS));
        self.b.emit(insn::stx(8, R10, now, R0));
        self.b.mov_imm(R1, interval_ns as i64);
        self.b.emit(insn::alu64_reg(AluOp::Div, R0, R1));
        self.b.emit(insn::stx(8, R10, epoch, R0));
        self.b.mov_imm(R1, num_intervals as i64);
        self.b.emit(insn::alu64_reg(AluOp::Mod, R0, R1));
        self.b
            .emit(insn::stx(8, R10, key.slot + (key.size - 8) as i16, R0));
        let done = self.b.label();
        self.lookup_or_init(map, &key, kind.size(), done, span)?;
        // r0 points at this CPU's slot.
        self.b.emit(insn::ldx(8, R3, R10, epoch));
        if agg != TseriesAgg::Last {
            let current = self.b.label();
            self.b.emit(insn::ldx(8, R2, R0, EPOCH));
            self.b.jmp_reg(JmpOp::Jeq, R2, R3, current);
            self.b.emit(insn::st_imm(8, R0, VALUE, 0));
            self.b.emit(insn::st_imm(8, R0, META, 0));
            self.b.bind(current);
        }
        self.b.emit(insn::stx(8, R0, EPOCH, R3));
        self.load(&x, R1);
        match agg {
            TseriesAgg::Last => {
                self.b.emit(insn::stx(8, R0, VALUE, R1));
                self.b.emit(insn::ldx(8, R2, R10, now));
                self.b.emit(insn::stx(8, R0, META, R2));
            }
            TseriesAgg::Sum | TseriesAgg::Avg => {
                self.b.emit(insn::ldx(8, R2, R0, VALUE));
                self.b.emit(insn::alu64_reg(AluOp::Add, R2, R1));
                self.b.emit(insn::stx(8, R0, VALUE, R2));
                if agg == TseriesAgg::Avg {
                    self.b.emit(insn::ldx(8, R2, R0, META));
                    self.b.emit(insn::alu64_imm(AluOp::Add, R2, 1));
                    self.b.emit(insn::stx(8, R0, META, R2));
                }
            }
            TseriesAgg::Min | TseriesAgg::Max => {
                // META is the "set" flag: store when unset or better.
                let store = self.b.label();
                self.b.emit(insn::ldx(8, R2, R0, META));
                self.b.jmp_imm(JmpOp::Jeq, R2, 0, store);
                self.b.emit(insn::ldx(8, R2, R0, VALUE));
                let better = match (agg == TseriesAgg::Min, signed) {
                    (true, true) => JmpOp::Jslt,
                    (true, false) => JmpOp::Jlt,
                    (false, true) => JmpOp::Jsgt,
                    (false, false) => JmpOp::Jgt,
                };
                self.b.jmp_reg(better, R1, R2, store);
                self.b.goto(done);
                self.b.bind(store);
                self.b.emit(insn::stx(8, R0, VALUE, R1));
                self.b.emit(insn::st_imm(8, R0, META, 1));
            }
        }
        self.b.bind(done);
        Ok(())
    }
}
