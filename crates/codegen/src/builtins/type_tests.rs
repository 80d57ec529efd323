//! Questions about a value's type, answered at compile time from the
//! semantic pass's types: `is_integer()`, `is_unsigned_integer()`,
//! `is_str()`, `is_ptr()`, `is_array()`, `is_literal()`,
//! `assert_str()`, `strcap()` and `default_str_length`.
//!
//! None of them emits code: the answer is a constant, as in bpftrace,
//! and the argument is not evaluated.

use std::collections::HashMap;

use ustrace_dwarf::Type as DwarfType;
use ustrace_lang::ast::{Expr, ExprKind};

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::options::CompileOptions;
use crate::probes::Context;
use crate::sema::{Checker, Type, Typed};
use crate::typed::{chain_type, vars::TypedVars, DType, Kind};
use crate::CompileError;

/// A one-argument predicate entry.
const fn predicate(name: &'static str, doc: &'static str, example: &'static str) -> Builtin {
    Builtin {
        name,
        form: Form::Function,
        arity: (1, 1),
        usage: "a type predicate takes one expression: is_str(comm)",
        doc,
        example,
        check: check_predicate,
        emit: emit_predicate,
    }
}

pub(super) const ENTRIES: &[Builtin] = &[
    predicate(
        "is_integer",
        "True when the expression is an integer (not a pointer, string or bool); a compile-time constant.",
        "printf(\"%d\\n\", is_integer(pid));",
    ),
    predicate(
        "is_unsigned_integer",
        "True when the expression is an unsigned integer; a compile-time constant.",
        "printf(\"%d\\n\", is_unsigned_integer((uint8)1));",
    ),
    predicate(
        "is_str",
        "True when the expression is a string; a compile-time constant.",
        "printf(\"%d\\n\", is_str(comm));",
    ),
    predicate(
        "is_ptr",
        "True when the expression is a pointer of the traced program's types (DWARF); a compile-time constant.",
        "printf(\"%d\\n\", is_ptr(arg0));",
    ),
    predicate(
        "is_array",
        "True when the expression is an array of the traced program's types (DWARF); a compile-time constant.",
        "printf(\"%d\\n\", is_array(comm));",
    ),
    predicate(
        "is_literal",
        "True when the expression is a literal (`1`, `\"a\"`, `true`, a positional parameter); a compile-time constant.",
        "printf(\"%d\\n\", is_literal(\"a\"));",
    ),
    Builtin {
        name: "assert_str",
        form: Form::Function,
        arity: (1, 1),
        usage: "assert_str() takes one expression: assert_str(comm)",
        doc: "A compile error (caret under the argument) unless the expression is a string.",
        example: "assert_str(comm);",
        check: check_assert_str,
        emit: |_, _| Ok(Val::Void),
    },
    Builtin {
        name: "strcap",
        form: Form::Function,
        arity: (1, 1),
        usage: "strcap() takes a string: strcap(comm)",
        doc: "The capacity of a string's type in bytes, NUL included (`comm`: 16; a variable: its largest string); a compile-time constant.",
        example: "printf(\"%d\\n\", strcap(comm));",
        check: check_strcap,
        emit: emit_strcap,
    },
    Builtin {
        name: "default_str_length",
        form: Form::Variable,
        arity: (0, 0),
        usage: "default_str_length is a variable",
        doc: "The `max_strlen` setting (64 unless configured); a compile-time constant.",
        example: "printf(\"%d\\n\", default_str_length);",
        check: |c, _| Ok(Typed::int_const(c.opts.str_len as i64, false)),
        emit: |pc, _| Ok(Val::Const(pc.g.opts.str_len as i64, false)),
    },
];

/// What the predicates look at, found the same way by both passes.
struct Facts<'e> {
    ty: Type,
    dwarf: Option<DType>,
    expr: &'e Expr,
}

fn facts<'e>(
    ctx: &Context,
    opts: &CompileOptions,
    vars: &TypedVars,
    ty: Type,
    expr: &'e Expr,
) -> Facts<'e> {
    let dwarf = if crate::typed::may_be_typed(expr) || matches!(expr.kind, ExprKind::Variable(_)) {
        chain_type(ctx, opts, vars, expr)
    } else {
        None
    };
    Facts { ty, dwarf, expr }
}

/// Whether `expr` is a pointer of the traced program's debug information
/// (`is_ptr`): ustrace's `argN` are integers, `args.p` of a `char *` is a
/// pointer.
pub(super) fn is_pointer(
    ctx: &Context,
    opts: &CompileOptions,
    vars: &TypedVars,
    expr: &Expr,
) -> bool {
    facts(ctx, opts, vars, Type::Void, expr)
        .dwarf
        .is_some_and(|d| matches!(d.kind(), Kind::Pointer { .. }))
}

/// The answer of predicate `name`.
fn answer(name: &str, f: &Facts) -> Result<bool, CompileError> {
    let pointer = f
        .dwarf
        .as_ref()
        .is_some_and(|d| matches!(d.kind(), Kind::Pointer { .. }));
    let array = f.dwarf.as_ref().is_some_and(|d| {
        let t = d.table();
        matches!(t.get(t.resolve(d.id)), DwarfType::Array { .. })
    });
    Ok(match name {
        "is_integer" => matches!(f.ty, Type::Int { .. }) && !pointer,
        "is_unsigned_integer" => matches!(f.ty, Type::Int { signed: false, .. }) && !pointer,
        "is_str" => matches!(f.ty, Type::Str(_)),
        "is_ptr" => pointer,
        // A `char[N]` is read as a string, as in bpftrace.
        "is_array" => array && !matches!(f.ty, Type::Str(_)),
        "is_literal" => {
            matches!(
                &f.expr.kind,
                ExprKind::Integer(_)
                    | ExprKind::String(_)
                    | ExprKind::Positional(_)
                    | ExprKind::PositionalCount
            ) || matches!(&f.expr.kind, ExprKind::Builtin(b) if b == "true" || b == "false")
        }
        _ => return Err(crate::emit::internal(f.expr.span)),
    })
}

fn check_predicate(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let arg = &call.args[0];
    let t = c.expr(arg)?;
    let f = facts(c.ctx, c.opts, &c.typed_vars, t.ty, arg);
    Ok(Typed {
        ty: Type::Bool,
        konst: Some(answer(call.name, &f)? as i64),
    })
}

fn emit_predicate(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let arg = &call.args[0];
    let t = pc.typed(arg)?;
    let f = facts(&pc.ctx, pc.g.opts, &pc.typed_vars, t.ty, arg);
    Ok(Val::Const(answer(call.name, &f)? as i64, false))
}

/// The argument's type, which must be a string.
fn string_capacity(t: &Typed, arg: &Expr, what: &str) -> Result<usize, CompileError> {
    match t.ty {
        Type::Str(n) => Ok(n),
        ref other => Err(CompileError::new(
            arg.span,
            format!("{what} needs a string, not {}", other.describe()),
        )),
    }
}

fn check_assert_str(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let t = c.expr(&call.args[0])?;
    string_capacity(&t, &call.args[0], "assert_str()")?;
    Ok(Typed::of(Type::Void))
}

/// `strcap(e)`: the capacity of `e`'s type. A scratch variable's is the
/// largest string assigned to it (bpftrace sizes a variable by its
/// values), not its buffer's.
fn capacity(
    t: &Typed,
    arg: &Expr,
    var_caps: &HashMap<String, usize>,
) -> Result<usize, CompileError> {
    let n = string_capacity(t, arg, "strcap()")?;
    Ok(match &arg.kind {
        ExprKind::Variable(name) => var_caps.get(name).copied().unwrap_or(n),
        _ => n,
    })
}

fn check_strcap(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let t = c.expr(&call.args[0])?;
    let n = capacity(&t, &call.args[0], &c.types.var_caps)?;
    Ok(Typed::int_const(n as i64, false))
}

fn emit_strcap(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let t = pc.typed(&call.args[0])?;
    let n = capacity(&t, &call.args[0], &pc.types.var_caps)?;
    Ok(Val::Const(n as i64, false))
}
