//! Reads of the traced process's memory that fail (an unmapped address,
//! a page not loaded yet): the helper leaves zeros, the failure is counted
//! (user space reports the count at exit) and, with `-k`
//! ([`crate::CompileOptions::warn_failed_reads`]), reported at once with
//! the script location, as bpftrace's `-k` does:
//! `stdin:1:9-12: WARNING: Failed to probe_read_user: Bad address (-14)`.

use ustrace_lang::ast::Span;

use super::{ProgramCompiler, Val};
use crate::insn::{self, JmpOp, R0, R1, R10, R2};
use crate::program::{PrintfKind, FAILED_READS_SLOT};
use crate::CompileError;

/// `-EFAULT`, what the read helpers return for an address they cannot read.
const EFAULT: i32 = -14;

impl ProgramCompiler<'_, '_> {
    /// After a call of the read helper `helper` (its result in r0): counts
    /// a failure and, with `-k`, reports it at `span`. Clobbers r1-r5.
    pub(crate) fn check_user_read(&mut self, helper: &str, span: Span) -> Result<(), CompileError> {
        let ok = self.b.label();
        self.b.jmp_imm(JmpOp::Jsge, R0, 0, ok);
        let counters = self.g.dropped_updates_map();
        self.b
            .load_map_value(R1, counters, 8 * FAILED_READS_SLOT as i32);
        self.b.emit(insn::mov64_imm(R2, 1));
        self.b.emit(insn::atomic_add64(R1, 0, R2));
        if self.g.opts.warn_failed_reads {
            let code = self.alloc_tmp(8, span)?;
            self.b.emit(insn::stx(8, R10, code, R0));
            let kind = PrintfKind::Warning {
                start: span.start,
                end: span.end,
            };
            let other = self.b.label();
            self.b.jmp_imm(JmpOp::Jne, R0, EFAULT, other);
            self.emit_printf(
                format!("Failed to {helper}: Bad address ({EFAULT})"),
                Vec::new(),
                kind,
                span,
            )?;
            self.b.goto(ok);
            self.b.bind(other);
            self.emit_printf(
                format!("Failed to {helper}: error %d"),
                vec![(
                    Val::Slot(code, true),
                    vec![crate::program::FieldKind::Int { signed: true }],
                )],
                kind,
                span,
            )?;
        }
        self.b.bind(ok);
        Ok(())
    }
}
