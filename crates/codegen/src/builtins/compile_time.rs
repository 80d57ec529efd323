//! Errors raised while compiling: `fail(fmt, ...)` and
//! `static_assert(cond, msg)`.
//!
//! As in bpftrace, they stop the compilation only where they are
//! reached: a call in a branch a constant condition never takes (`if ($1
//! < 2) { fail(...) }` with `$1` = 5) is dropped with that branch. The
//! message is formatted at compile time (the arguments are literals) and
//! reported as the call's error, with the caret under the call.

use ustrace_lang::ast::{Expr, ExprKind};

use super::{Builtin, Call, Form, MANY};
use crate::emit::{ProgramCompiler, Val};
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;
use ustrace_abi::Value;

pub(super) const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "fail",
        form: Form::Function,
        arity: (1, MANY),
        usage: "fail() needs a format string and literal arguments: fail(\"need %d arguments\", 2)",
        doc: "Stops the compilation with the formatted message (literal arguments) when the call is reached: a branch a constant condition never takes is not.",
        example: "if ($# > 2) { fail(\"at most 2 arguments, not %d\", $#); }",
        check: check_fail,
        emit: |pc, call| {
            let text = fail_text(pc, call)?;
            stop_if_reached(pc, call, text)
        },
    },
    Builtin {
        name: "static_assert",
        form: Form::Function,
        arity: (2, 2),
        usage: "static_assert() takes a constant condition and a message: static_assert(sizeof(int32) == 4, \"int32 is 4 bytes\")",
        doc: "Stops the compilation with the message when the constant condition is false (where the call is reached, as `fail()`).",
        example: "static_assert($# <= 2, \"at most two arguments\");",
        check: check_static_assert,
        emit: emit_static_assert,
    },
];

/// The value of a literal argument: an integer constant or a string
/// literal (a positional parameter that is not a number is one).
fn literal(konst: Option<i64>, ty: &Type, e: &Expr) -> Option<Value> {
    match (konst, ty, &e.kind) {
        (Some(c), Type::Int { signed: true, .. }, _) => Some(Value::Int(c)),
        (Some(c), Type::Int { .. }, _) => Some(Value::UInt(c as u64)),
        (Some(c), Type::Bool, _) => Some(Value::Bool(c != 0)),
        (_, _, ExprKind::String(s)) => Some(Value::Str(s.clone().into_bytes())),
        _ => None,
    }
}

fn not_literal(e: &Expr, what: &str) -> CompileError {
    CompileError::new(
        e.span,
        format!("{what} must be a literal (it is evaluated at compile time)"),
    )
}

fn check_fail(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    super::output::check_format(c, call.args, call)?;
    for a in &call.args[1..] {
        let t = c.expr(a)?;
        if literal(t.konst, &t.ty, a).is_none() && !is_text_positional(c, a) {
            return Err(not_literal(a, "fail()'s argument"));
        }
    }
    Ok(Typed::of(Type::Void))
}

/// A positional parameter given as text (`$1` = `abc`): a literal too.
fn is_text_positional(c: &Checker, e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Positional(n) if c.opts.positional.get(n.wrapping_sub(1)).is_some())
}

/// The message of `fail(fmt, args...)`, formatted as printf would.
fn fail_text(pc: &mut ProgramCompiler, call: &Call) -> Result<String, CompileError> {
    let fmt = super::output::printf_format(call.args, call)?;
    let format = ustrace_lang::printf::parse_format(fmt)
        .map_err(|e| CompileError::new(call.args[0].span, e.to_string()))?;
    let mut values = Vec::new();
    for a in &call.args[1..] {
        let t = pc.typed(a)?;
        let v = match (literal(t.konst, &t.ty, a), &a.kind) {
            (Some(v), _) => v,
            (None, ExprKind::Positional(n)) => match pc.g.opts.positional.get(n.wrapping_sub(1)) {
                Some(text) => Value::Str(text.clone().into_bytes()),
                None => return Err(not_literal(a, "fail()'s argument")),
            },
            _ => return Err(not_literal(a, "fail()'s argument")),
        };
        values.push(v);
    }
    Ok(ustrace_output::render_printf(&format, &values))
}

/// The compile error `text` at the call, when the call can run.
fn stop_if_reached(pc: &ProgramCompiler, call: &Call, text: String) -> Result<Val, CompileError> {
    if pc.b.is_live() {
        return Err(CompileError::new(call.span, text));
    }
    Ok(Val::Void)
}

fn check_static_assert(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let cond = c.expr(&call.args[0])?;
    if cond.konst.is_none() {
        return Err(CompileError::new(
            call.args[0].span,
            "static_assert()'s condition must be known at compile time",
        ));
    }
    if !matches!(call.args[1].kind, ExprKind::String(_)) {
        return Err(not_literal(&call.args[1], "static_assert()'s message"));
    }
    Ok(Typed::of(Type::Void))
}

/// `static_assert(cond, msg)`: bpftrace's `if comptime !cond { fail(msg) }`.
fn emit_static_assert(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let holds = pc.typed(&call.args[0])?.konst.unwrap_or(0) != 0;
    let ExprKind::String(msg) = &call.args[1].kind else {
        return Err(crate::emit::internal(call.args[1].span));
    };
    if holds {
        return Ok(Val::Void);
    }
    let format = ustrace_lang::printf::parse_format(msg)
        .map_err(|e| CompileError::new(call.args[1].span, e.to_string()))?;
    stop_if_reached(pc, call, ustrace_output::render_printf(&format, &[]))
}
