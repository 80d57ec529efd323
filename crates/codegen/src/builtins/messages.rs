//! Messages for standard error with the script location: `errorf()`,
//! `warnf()` and `assert()`.
//!
//! Each is a printf-like record whose [`PrintfKind`] carries the byte span
//! of the call; user space prints `NAME:LINE:COL-ENDCOL: ERROR: text` (or
//! `WARNING:`), as bpftrace does.

use ustrace_lang::ast::Span;

use super::{Builtin, Call, Form, MANY};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{JmpOp, R0};
use crate::program::PrintfKind;
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;

pub(super) const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "errorf",
        form: Form::Function,
        arity: (1, MANY),
        usage: "errorf() needs a format string: errorf(\"bad value %d\", arg0)",
        doc: "Prints a formatted error message with the call's script location on standard error.",
        example: "errorf(\"bad size %d\", arg1);",
        check: |c, call| super::output::check_format(c, call.args, call),
        emit: |pc, call| pc.formatted(call.args, error_kind(call.span), call.span),
    },
    Builtin {
        name: "warnf",
        form: Form::Function,
        arity: (1, MANY),
        usage: "warnf() needs a format string: warnf(\"odd value %d\", arg0)",
        doc: "Prints a formatted warning with the call's script location on standard error (not with `--no-warnings`).",
        example: "warnf(\"odd size %d\", arg1);",
        check: |c, call| super::output::check_format(c, call.args, call),
        emit: |pc, call| {
            let kind = PrintfKind::Warning {
                start: call.span.start,
                end: call.span.end,
            };
            pc.formatted(call.args, kind, call.span)
        },
    },
    Builtin {
        name: "assert",
        form: Form::Function,
        arity: (2, 2),
        usage: "assert() takes a condition and a message: assert(arg0 > 0, \"no size\")",
        doc: "When the condition is false: prints `assert failed: MESSAGE` as an error and exits with code 1.",
        example: "assert(arg1 < 4096, \"size too large\");",
        check: check_assert,
        emit: emit_assert,
    },
];

/// The record kind of an error at `span`.
fn error_kind(span: Span) -> PrintfKind {
    PrintfKind::Error {
        start: span.start,
        end: span.end,
    }
}

fn check_assert(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let cond = c.expr(&call.args[0])?;
    c.truth(&cond, call.args[0].span)?;
    let msg = c.expr(&call.args[1])?;
    if !matches!(msg.ty, Type::Str(_)) {
        return Err(CompileError::new(
            call.args[1].span,
            format!(
                "assert()'s message must be a string, not a {}",
                msg.ty.name()
            ),
        ));
    }
    Ok(Typed::of(Type::Void))
}

/// `assert(cond, msg)`: nothing when `cond` holds; else bpftrace's
/// `errorf("assert failed: %s", msg); exit(1);`.
fn emit_assert(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let cond = pc.expr(&call.args[0])?;
    pc.truth(&cond);
    let holds = pc.b.label();
    pc.b.jmp_imm(JmpOp::Jne, R0, 0, holds);
    let msg = pc.expr(&call.args[1])?;
    let Some(field) = msg.ty().record_field() else {
        return Err(crate::emit::internal(call.args[1].span));
    };
    pc.emit_printf(
        "assert failed: %s".to_string(),
        vec![(msg, vec![field])],
        error_kind(call.span),
        call.span,
    )?;
    super::output::exit_with(pc, &Val::Const(1, false), call.span)?;
    pc.b.bind(holds);
    Ok(Val::Void)
}
