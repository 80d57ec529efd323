//! The one table of builtin variables and functions.
//!
//! Every name the language knows has exactly one [`Builtin`] entry: its
//! form (variable, function, aggregation), its arity and usage line, a
//! one-line doc with an example, its type rule (run by the semantic pass)
//! and its emitter (run by code generation). Adding a function is adding
//! one entry to the family file it belongs to:
//!
//! - [`process`]: the current task and clock (`pid`, `comm`, `nsecs`, ...)
//! - [`modes`]: builtins with a mode (`pid(curr_ns)`, `nsecs(boot)`,
//!   `usermode`)
//! - [`probe`]: where the probe fired (`argN`, `retval`, `probe`, `func`,
//!   `reg()`, `ustack`, `usym()`, `uaddr()`)
//! - [`memory`]: reading user memory (`str()`, `buf()`)
//! - [`strings`]: string and byte functions (`strlen()`, `strstr()`,
//!   `strcontains()`, `strncmp()`, `bswap()`)
//! - [`net`]: network addresses (`ntop()`, `pton()`, `macaddr()`)
//! - [`bytes`]: raw bytes compared (`memcmp()`)
//! - [`glob`]: glob patterns (`globmatch()`)
//! - [`output`]: records sent to user space (`printf()`, `print()`,
//!   `time()`, `system()`, `cat()`, `exit()`, `strftime()`)
//! - [`join`]: an argv-like array printed (`join()`)
//! - [`messages`]: standard-error messages with the script location
//!   (`errorf()`, `warnf()`, `assert()`)
//! - [`errno`]: error numbers as text (`strerror()`)
//! - [`compile_time`]: errors of the compilation (`fail()`,
//!   `static_assert()`)
//! - [`type_tests`]: compile-time questions about a value's type
//!   (`is_str()`, `is_ptr()`, `strcap()`, `assert_str()`, ...)
//! - [`maps`]: aggregations and whole-map functions (`count()`, `hist()`,
//!   `delete()`, `clear()`, ...)
//!
//! `docs/language.md` holds the table [`markdown_table`] prints; a test
//! checks they agree.

mod bytes;
mod compile_time;
mod errno;
mod glob;
mod glob_loop;
mod join;
mod maps;
mod memory;
mod messages;
mod modes;
mod net;
pub(crate) mod output;
mod probe;
mod process;
mod strings;
mod type_tests;
pub mod unsupported;

use ustrace_lang::ast::{Expr, Span};

use crate::emit::{ProgramCompiler, Val};
use crate::program::ValueKind;
use crate::sema::{Checker, Typed};
use crate::CompileError;
pub(crate) use maps::emit_bare_delete;
pub(crate) use output::printf_format;

/// One use of a builtin: a variable (`pid`, no arguments) or a call.
pub(crate) struct Call<'a> {
    /// The name as written.
    pub(crate) name: &'a str,
    /// The arguments (none for a variable).
    pub(crate) args: &'a [Expr],
    /// The whole expression.
    pub(crate) span: Span,
    /// The name alone.
    pub(crate) name_span: Span,
}

impl<'a> Call<'a> {
    /// A builtin variable.
    pub(crate) fn variable(name: &'a str, span: Span) -> Call<'a> {
        Call {
            name,
            args: &[],
            span,
            name_span: span,
        }
    }

    /// A function call.
    pub(crate) fn function(
        name: &'a str,
        args: &'a [Expr],
        span: Span,
        name_span: Span,
    ) -> Call<'a> {
        Call {
            name,
            args,
            span,
            name_span,
        }
    }
}

/// The type rule of a builtin: the type of its value, or a type error.
pub(crate) type CheckFn = fn(&mut Checker<'_>, &Call<'_>) -> Result<Typed, CompileError>;
/// The emitter of a builtin: the code computing its value.
pub(crate) type EmitFn = fn(&mut ProgramCompiler<'_, '_>, &Call<'_>) -> Result<Val, CompileError>;

/// How a builtin is written.
#[derive(Clone, Copy)]
pub(crate) enum Form {
    /// A bare name: `pid`.
    Variable,
    /// A call: `str(p)`.
    Function,
    /// Either: `ustack`, `ustack(perf)`.
    VariableOrFunction,
    /// A call assigned to a map element: `@m[k] = count()`.
    Aggregation(Aggregation),
}

/// What an aggregation stores.
#[derive(Clone, Copy)]
pub(crate) struct Aggregation {
    /// Its name.
    pub(crate) name: &'static str,
    /// Fewest and most arguments (the first is the value; the others are
    /// constants).
    pub(crate) args: (usize, usize),
    /// The map value kind, from the constant arguments after the first.
    pub(crate) value: fn(&[i64]) -> Result<ValueKind, String>,
}

/// One builtin variable or function.
pub(crate) struct Builtin {
    /// The name (`argN` stands for `arg0`, `arg1`, ...).
    pub(crate) name: &'static str,
    /// How it is written.
    pub(crate) form: Form,
    /// Fewest and most arguments of the function form.
    pub(crate) arity: (usize, usize),
    /// Shown when the arguments do not fit: how to call it.
    pub(crate) usage: &'static str,
    /// What it gives, one line.
    pub(crate) doc: &'static str,
    /// A short script using it.
    pub(crate) example: &'static str,
    /// Its type rule.
    pub(crate) check: CheckFn,
    /// Its code.
    pub(crate) emit: EmitFn,
}

/// Any number of arguments.
pub(crate) const MANY: usize = usize::MAX;

/// Every builtin, family by family.
pub(crate) fn all() -> impl Iterator<Item = &'static Builtin> {
    process::ENTRIES
        .iter()
        .chain(modes::ENTRIES)
        .chain(probe::ENTRIES)
        .chain(memory::ENTRIES)
        .chain(strings::ENTRIES)
        .chain(net::ENTRIES)
        .chain(bytes::ENTRIES)
        .chain(glob::ENTRIES)
        .chain(output::ENTRIES)
        .chain(join::ENTRIES)
        .chain(messages::ENTRIES)
        .chain(errno::ENTRIES)
        .chain(maps::ENTRIES)
        .chain(compile_time::ENTRIES)
        .chain(type_tests::ENTRIES)
}

/// The entry of the builtin variable `name`.
pub(crate) fn variable(name: &str) -> Option<&'static Builtin> {
    let key = if is_arg(name) { "argN" } else { name };
    all().find(|b| b.name == key && matches!(b.form, Form::Variable | Form::VariableOrFunction))
}

/// The entry of the function `name` (aggregations included).
pub(crate) fn function(name: &str) -> Option<&'static Builtin> {
    all().find(|b| b.name == name && !matches!(b.form, Form::Variable))
}

/// The aggregation `name`, if it is one.
pub(crate) fn aggregation(name: &str) -> Option<&'static Aggregation> {
    match &function(name)?.form {
        Form::Aggregation(a) => Some(a),
        _ => None,
    }
}

/// `arg0`, `arg1`, ...
fn is_arg(name: &str) -> bool {
    name.strip_prefix("arg")
        .is_some_and(|d| !d.is_empty() && d.parse::<usize>().is_ok())
}

/// The entry a call names, after the checks every function shares: it
/// exists, is not an aggregation used as a value, and its arguments fit.
fn callable(call: &Call) -> Result<&'static Builtin, CompileError> {
    let Some(b) = function(call.name) else {
        return variable_called(call);
    };
    if let Form::Aggregation(a) = b.form {
        return Err(CompileError::new(
            call.span,
            format!(
                "{n}() must be assigned to a map, e.g. @x = {n}(...)",
                n = a.name
            ),
        ));
    }
    let (min, max) = b.arity;
    if call.args.len() < min || call.args.len() > max {
        return Err(CompileError::new(call.span, b.usage));
    }
    Ok(b)
}

/// A builtin variable written as a call: `cpu()` is `cpu`, as bpftrace's
/// stdlib.md allows for every helper without arguments (not `true()`,
/// `false()` and `argN()`, which are no helpers there). With arguments it
/// is an error: `comm(pid)` says why ustrace has no such form.
fn variable_called(call: &Call) -> Result<&'static Builtin, CompileError> {
    let helper = variable(call.name)
        .filter(|_| !is_arg(call.name) && !matches!(call.name, "true" | "false"));
    match helper {
        Some(b) if call.args.is_empty() => Ok(b),
        Some(_) if call.name == "comm" => Err(CompileError::new(
            call.span,
            "comm(pid), the name of another process, is not supported: bpftrace finds that task with a kernel function and reads its kernel struct; `comm` is the current task's name",
        )),
        Some(_) => Err(CompileError::new(
            call.span,
            format!(
                "`{n}` takes no arguments: write `{n}` or `{n}()`",
                n = call.name
            ),
        )),
        None => Err(unknown(call.name, call.name_span, "function")),
    }
}

/// The error for a name that is no builtin `what` ("function",
/// "builtin"): bpftrace's names ustrace refuses say why
/// ([`unsupported::UNSUPPORTED`]).
pub(crate) fn unknown(name: &str, span: Span, what: &str) -> CompileError {
    match unsupported::lookup(name) {
        Some(u) => CompileError::new(span, unsupported::message(u)),
        None => CompileError::new(span, format!("unknown {what} `{name}`")),
    }
}

/// The type of a function call.
pub(crate) fn check_call(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let b = callable(call)?;
    (b.check)(c, call)
}

/// The code of a function call.
pub(crate) fn emit_call(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let b = callable(call)?;
    (b.emit)(pc, call)
}

/// Rule of an aggregation's entry: it is never a value.
fn aggregation_value(_: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    callable(call).map(|_| Typed::int(false))
}

/// Emitter of an aggregation's entry: it is never a value.
fn aggregation_emit(_: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    callable(call).map(|_| Val::Void)
}

/// The reference table of docs/language.md: one row per builtin.
pub fn markdown_table() -> String {
    let mut s = String::from("| Name | Form | Description | Example |\n|---|---|---|---|\n");
    for b in all() {
        let form = match b.form {
            Form::Variable => "variable".to_string(),
            Form::Function | Form::VariableOrFunction => {
                let v = if matches!(b.form, Form::VariableOrFunction) {
                    "variable or "
                } else {
                    ""
                };
                format!("{v}function, {}", arity_text(b.arity))
            }
            Form::Aggregation(a) => format!("aggregation, {}", arity_text(a.args)),
        };
        s += &format!(
            "| `{}` | {} | {} | `{}` |\n",
            b.name,
            form,
            b.doc,
            b.example.replace('|', "\\|")
        );
    }
    s
}

fn arity_text((min, max): (usize, usize)) -> String {
    match (min, max) {
        (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
        (0, 1) => "1 optional argument".to_string(),
        (a, MANY) => format!("{a} or more arguments"),
        (a, b) => format!("{a} to {b} arguments"),
    }
}
