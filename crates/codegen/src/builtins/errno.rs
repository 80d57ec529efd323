//! Error numbers: `strerror()` (the number recorded in BPF, its text
//! written by user space with the C library, as bpftrace does).

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, R0, R10};
use crate::sema::{Type, Typed};
use crate::CompileError;

pub(super) const ENTRIES: &[Builtin] = &[Builtin {
    name: "strerror",
    form: Form::Function,
    arity: (1, 1),
    usage: "strerror() takes one error number: strerror(-retval)",
    doc: "The text of an error number (`Operation not permitted` for 1), written by user space with the C library's strerror.",
    example: "printf(\"%s\\n\", strerror(1));",
    check: |c, call| {
        c.int_operand(&call.args[0])?;
        Ok(Typed::of(Type::Strerror))
    },
    emit: emit_strerror,
}];

/// `strerror(n)`: the number in an 8-byte slot.
fn emit_strerror(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let v = pc.expr(&call.args[0])?;
    pc.load(&v, R0);
    let slot = pc.alloc_tmp(8, call.span)?;
    pc.b.emit(insn::stx(8, R10, slot, R0));
    Ok(Val::Strerror(slot))
}
