//! Numbers named by user space: `strerror()` (its text written with the
//! C library, as bpftrace does) and `syscall_name()` (x86-64's table).
//! BPF records the number only.

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, R0, R10};
use crate::sema::{Type, Typed};
use crate::CompileError;

pub(super) const ENTRIES: &[Builtin] = &[
    Builtin {
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
    emit: |pc, call| number_slot(pc, call).map(Val::Strerror),
    },
    Builtin {
        name: "syscall_name",
        form: Form::Function,
        arity: (1, 1),
        usage: "syscall_name() takes one system call number: syscall_name(0)",
        doc: "The name of an x86-64 system call number (`read` for 0), written by user space; the number when it has none.",
        example: "printf(\"%s\\n\", syscall_name(257));",
        check: |c, call| {
            c.int_operand(&call.args[0])?;
            Ok(Typed::of(Type::SyscallName))
        },
        emit: |pc, call| number_slot(pc, call).map(Val::SyscallName),
    },
];

/// The argument in an 8-byte slot.
fn number_slot(pc: &mut ProgramCompiler, call: &Call) -> Result<i16, CompileError> {
    let v = pc.expr(&call.args[0])?;
    pc.load(&v, R0);
    let slot = pc.alloc_tmp(8, call.span)?;
    pc.b.emit(insn::stx(8, R10, slot, R0));
    Ok(slot)
}
