//! Records sent to user space: `printf()`, `print()`, `time()`,
//! `system()`, `cat()`, `exit()`, and `strftime()` values.

use ustrace_lang::ast::{Expr, ExprKind};

use super::{Builtin, Call, Form, MANY};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, R0, R1, R10, R7};
use crate::program::{PrintfKind, TAG_EXIT, TAG_PRINT_MAP};
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;

pub(super) const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "printf",
        form: Form::Function,
        arity: (1, MANY),
        usage: "printf() needs a format string",
        doc: "Prints its arguments formatted as C's printf does (`%d %u %x %s %c %r %p` ...).",
        example: "printf(\"%s %d\\n\", comm, pid);",
        check: |c, call| check_format(c, call.args, call),
        emit: |pc, call| pc.formatted(call.args, PrintfKind::Printf, call.span),
    },
    Builtin {
        name: "print",
        form: Form::Function,
        arity: (1, 3),
        usage: "print() of a value takes exactly one argument",
        doc: "Prints a map now (`print(@m[, top[, div]])`) or one value and a newline.",
        example: "print(@counts, 10);",
        check: check_print,
        emit: |pc, call| match whole_map(call) {
            true => {
                pc.map_command(TAG_PRINT_MAP, call.args, call.span)?;
                Ok(Val::Void)
            }
            false => pc.print_value(&call.args[0], call.span),
        },
    },
    Builtin {
        name: "time",
        form: Form::Function,
        arity: (0, 1),
        usage: "time() takes an optional string literal: time(\"%H:%M:%S\\n\")",
        doc: "Prints the local time with a strftime format (default `%H:%M:%S\\n`).",
        example: "time(\"%H:%M:%S \");",
        check: |_, call| {
            time_format(call)?;
            Ok(Typed::of(Type::Void))
        },
        emit: |pc, call| {
            let fmt = time_format(call)?;
            pc.emit_printf(fmt, Vec::new(), PrintfKind::Time, call.span)
        },
    },
    Builtin {
        name: "system",
        form: Form::Function,
        arity: (1, MANY),
        usage: "printf() needs a format string",
        doc: "Runs a formatted command with `/bin/sh -c` and prints its output (needs `--unsafe`).",
        example: "system(\"ps -p %d\", pid);",
        check: |c, call| {
            unsafe_allowed(c.opts.allow_unsafe, call, "runs commands")?;
            check_format(c, call.args, call)
        },
        emit: |pc, call| {
            unsafe_allowed(pc.g.opts.allow_unsafe, call, "runs commands")?;
            pc.formatted(call.args, PrintfKind::System, call.span)
        },
    },
    Builtin {
        name: "cat",
        form: Form::Function,
        arity: (1, MANY),
        usage: "cat() needs a file name format: cat(\"/proc/%d/status\", pid)",
        doc: "Prints the contents of the file a printf-like format names (read by ustrace when the record arrives).",
        example: "cat(\"/proc/%d/comm\", pid);",
        check: |c, call| check_format(c, call.args, call),
        emit: |pc, call| pc.formatted(call.args, PrintfKind::Cat, call.span),
    },
    Builtin {
        name: "exit",
        form: Form::Function,
        arity: (0, 1),
        usage: "exit() takes an optional exit code: exit(1)",
        doc:
            "Stops tracing (END runs, maps print); the optional code becomes ustrace's exit status.",
        example: "exit();",
        check: |c, call| {
            if let Some(a) = call.args.first() {
                c.int_operand(a)?;
            }
            Ok(Typed::of(Type::Void))
        },
        emit: emit_exit,
    },
    Builtin {
        name: "strftime",
        form: Form::Function,
        arity: (2, 2),
        usage: "strftime() takes a format literal and nanoseconds: strftime(\"%H:%M:%S\", nsecs)",
        doc: "Nanoseconds since boot (as `nsecs`) printed as local time with a strftime format.",
        example: "printf(\"%s\\n\", strftime(\"%H:%M:%S\", nsecs));",
        check: |c, call| {
            let fmt = strftime_format(call)?;
            let index = format_index(&mut c.maps.strftime_formats, fmt);
            c.int_operand(&call.args[1])?;
            Ok(Typed::of(Type::Timestamp(index)))
        },
        emit: emit_strftime,
    },
];

/// printf()/system(): a literal format whose conversions match the
/// arguments, each of which has a value.
pub(super) fn check_format(
    c: &mut Checker,
    args: &[Expr],
    call: &Call,
) -> Result<Typed, CompileError> {
    let fmt = printf_format(args, call)?;
    let format = ustrace_lang::printf::parse_format(fmt)
        .map_err(|e| CompileError::new(args[0].span, e.to_string()))?;
    for (a, conv) in args[1..].iter().zip(format.conversions()) {
        let t = c.expr(a)?;
        // An enum of the traced program prints by name with %s.
        if conv.kind == ustrace_lang::printf::ConversionKind::Str
            && crate::typed::enum_type(c.ctx, c.opts, &c.typed_vars, a).is_some()
        {
            continue;
        }
        let Some(field) = t.ty.record_fields().and_then(|f| f.first().copied()) else {
            return Err(CompileError::new(
                a.span,
                "this expression has no value to print",
            ));
        };
        if let Some(msg) = crate::printf_types::mismatch(conv, &field) {
            return Err(CompileError::new(a.span, msg));
        }
    }
    Ok(Typed::of(Type::Void))
}

/// The format of a printf-like call, checked against the argument count.
pub(crate) fn printf_format<'a>(args: &'a [Expr], call: &Call) -> Result<&'a str, CompileError> {
    let Some(fmt_expr) = args.first() else {
        return Err(CompileError::new(
            call.span,
            "printf() needs a format string",
        ));
    };
    let ExprKind::String(fmt) = &fmt_expr.kind else {
        return Err(CompileError::new(
            fmt_expr.span,
            "printf()'s first argument must be a string literal",
        ));
    };
    let wanted = match ustrace_lang::printf::parse_format(fmt) {
        Ok(f) => f.arg_count(),
        Err(e) => return Err(CompileError::new(fmt_expr.span, e.to_string())),
    };
    if wanted != args.len() - 1 {
        return Err(CompileError::new(
            call.span,
            format!(
                "printf: the format wants {wanted} argument(s) but {} given",
                args.len() - 1
            ),
        ));
    }
    Ok(fmt)
}

/// True for `print(@map...)` (a whole map), false for `print(value)`.
fn whole_map(call: &Call) -> bool {
    matches!(call.args.first().map(|a| &a.kind), Some(ExprKind::Map { keys, .. }) if keys.is_empty())
}

fn check_print(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    if whole_map(call) {
        c.map_command(call.args, call.span)?;
        return Ok(Typed::of(Type::Void));
    }
    let [value] = call.args else {
        return Err(CompileError::new(
            call.span,
            "print() of a value takes exactly one argument",
        ));
    };
    if c.expr(value)?.ty.record_fields().is_none() {
        return Err(CompileError::new(
            value.span,
            "this expression has no value to print",
        ));
    }
    Ok(Typed::of(Type::Void))
}

fn time_format(call: &Call) -> Result<String, CompileError> {
    match call.args {
        [] => Ok("%H:%M:%S\n".to_string()),
        [Expr {
            kind: ExprKind::String(f),
            ..
        }] => Ok(f.clone()),
        _ => Err(CompileError::new(
            call.span,
            "time() takes an optional string literal: time(\"%H:%M:%S\\n\")",
        )),
    }
}

/// An unsafe function (`system()`, `signal()`) is refused without
/// `--unsafe`; `what` says what it does.
pub(super) fn unsafe_allowed(
    allow_unsafe: bool,
    call: &Call,
    what: &str,
) -> Result<(), CompileError> {
    if allow_unsafe {
        return Ok(());
    }
    Err(CompileError::new(
        call.name_span,
        format!("{}() {what}; it needs the --unsafe flag", call.name),
    ))
}

/// `exit([code])`: an exit record, then the program ends.
fn emit_exit(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let code = match call.args.first() {
        Some(a) => pc.expr(a)?,
        None => Val::Const(0, false),
    };
    exit_with(pc, &code, call.span)?;
    Ok(Val::Void)
}

/// An exit record with `code`, then the end of the program.
pub(super) fn exit_with(
    pc: &mut ProgramCompiler,
    code: &Val,
    span: ustrace_lang::ast::Span,
) -> Result<(), CompileError> {
    pc.load(code, R7);
    pc.emit_record(span, 16, |c, rec| {
        c.b.mov_imm(R1, TAG_EXIT as i64);
        c.b.emit(insn::stx(8, rec, 0, R1));
        c.b.emit(insn::stx(8, rec, 8, R7));
    })?;
    let l = pc.exit_label;
    pc.b.goto(l);
    Ok(())
}

fn strftime_format<'a>(call: &Call<'a>) -> Result<&'a String, CompileError> {
    match call.args {
        [Expr {
            kind: ExprKind::String(fmt),
            ..
        }, _] => Ok(fmt),
        _ => Err(CompileError::new(
            call.span,
            "strftime() takes a format literal and nanoseconds: strftime(\"%H:%M:%S\", nsecs)",
        )),
    }
}

/// The index of `fmt` in the script's strftime formats, added when new.
fn format_index(formats: &mut Vec<String>, fmt: &str) -> usize {
    match formats.iter().position(|f| f == fmt) {
        Some(i) => i,
        None => {
            formats.push(fmt.to_string());
            formats.len() - 1
        }
    }
}

/// `strftime(fmt, ns)`: the nanoseconds, formatted in user space.
fn emit_strftime(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let fmt = strftime_format(call)?;
    let index = format_index(&mut pc.g.out.strftime_formats, fmt);
    let v = pc.expr(&call.args[1])?;
    let slot = pc.alloc_tmp(8, call.span)?;
    pc.load(&v, R0);
    pc.b.emit(insn::stx(8, R10, slot, R0));
    Ok(Val::Timestamp(slot, index))
}
