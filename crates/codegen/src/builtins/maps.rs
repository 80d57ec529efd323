//! Map functions: the aggregations (`@m[k] = count()`, ...) and the
//! functions on map elements and whole maps.

use super::{aggregation_emit, aggregation_value, Aggregation, Builtin, Call, Form};
use std::borrow::Cow;

use ustrace_lang::ast::{Expr, ExprKind};

use crate::emit::{ProgramCompiler, Val};
use crate::program::{ValueKind, TAG_CLEAR_MAP, TAG_ZERO_MAP};
use crate::sema::{Type, Typed};
use crate::CompileError;

/// An aggregation entry.
const fn aggregation(
    name: &'static str,
    args: (usize, usize),
    doc: &'static str,
    example: &'static str,
    value: fn(&[i64]) -> Result<ValueKind, String>,
) -> Builtin {
    Builtin {
        name,
        form: Form::Aggregation(Aggregation { name, args, value }),
        arity: args,
        usage: "",
        doc,
        example,
        check: aggregation_value,
        emit: aggregation_emit,
    }
}

/// A function taking a whole map (`clear(@m)`), sent to user space.
const fn map_command(
    name: &'static str,
    usage: &'static str,
    doc: &'static str,
    example: &'static str,
    emit: super::EmitFn,
) -> Builtin {
    Builtin {
        name,
        form: Form::Function,
        arity: (1, 1),
        usage,
        doc,
        example,
        check: |c, call| {
            c.map_command(call.args, call.span)?;
            Ok(Typed::of(Type::Void))
        },
        emit,
    }
}

pub(super) const ENTRIES: &[Builtin] = &[
    aggregation(
        "count",
        (0, 0),
        "Counts the times the probe fired (per key).",
        "@[comm] = count();",
        |_| Ok(ValueKind::Count),
    ),
    aggregation("sum", (1, 1), "Sums an integer.", "@bytes = sum(arg2);", |_| {
        Ok(ValueKind::Sum)
    }),
    aggregation(
        "min",
        (1, 1),
        "Keeps the smallest integer seen.",
        "@least = min(arg0);",
        |_| Ok(ValueKind::Min),
    ),
    aggregation(
        "max",
        (1, 1),
        "Keeps the largest integer seen.",
        "@most = max(arg0);",
        |_| Ok(ValueKind::Max),
    ),
    aggregation(
        "avg",
        (1, 1),
        "Averages an integer.",
        "@mean = avg(arg0);",
        |_| Ok(ValueKind::Avg),
    ),
    aggregation(
        "stats",
        (1, 1),
        "Count, average and total of an integer.",
        "@s = stats(arg0);",
        |_| Ok(ValueKind::Stats),
    ),
    aggregation(
        "hist",
        (1, 2),
        "A power-of-two histogram of an integer; `hist(x, k)` cuts each power of two in 2^k buckets (k a constant, 0-5).",
        "@h = hist(arg1);",
        hist_value,
    ),
    aggregation(
        "lhist",
        (4, 4),
        "A linear histogram: `lhist(value, min, max, step)` with constant bounds.",
        "@l = lhist(arg0, 0, 100, 10);",
        lhist_value,
    ),
    aggregation(
        "tseries",
        (3, 4),
        "A time series: `tseries(value, interval, num_intervals[, agg])` keeps one value per interval (a duration such as `100ms`, or nanoseconds) for the last num_intervals intervals: the last one stored, or their `\"avg\"`, `\"max\"`, `\"min\"` or `\"sum\"`; printed as a graph over time.",
        "@t = tseries(arg0, 100ms, 20, \"max\");",
        // Its string argument needs its own rule: `Checker::tseries`.
        |_| Err("tseries() is checked by its own rule".into()),
    ),
    Builtin {
        name: "delete",
        form: Form::Function,
        arity: (1, 2),
        usage: "delete() takes a map and a key: delete(@m, key), or delete(@m[key])",
        doc: "Removes one element from a map: `delete(@m, k)` (`(k1, k2)` for several keys) or 0.17's `delete(@m[k])`; `true` when the key was there and is gone, else `false` (`if (delete(@m, k)) { ... }`). A bare `delete(...);` gives no \"Return value discarded.\" warning.",
        example: "if (delete(@start, tid)) { @done++; }",
        check: |c, call| {
            let target = element(call)?;
            c.map_delete(&target, call.span)?;
            Ok(Typed::bool())
        },
        emit: |pc, call| {
            let target = element(call)?;
            pc.map_delete(&target, call.span)?;
            pc.helper_succeeded(call.span)
        },
    },
    Builtin {
        name: "has_key",
        form: Form::Function,
        arity: (1, 2),
        usage: "has_key() takes a map and a key: has_key(@m, key), or has_key(@m[key])",
        doc: "`true` when the map holds the key, else `false`: `has_key(@m, k)` or 0.17's `has_key(@m[k])`.",
        example: "if (has_key(@start, tid)) { @seen++; }",
        check: |c, call| {
            let target = element(call)?;
            c.map_has_key(&target)
        },
        emit: |pc, call| {
            let target = element(call)?;
            pc.map_has_key(&target, call.span)
        },
    },
    Builtin {
        name: "find",
        form: Form::Function,
        arity: (3, 3),
        usage: "find() takes a map, a key and a variable: find(@m, key, $value)",
        doc: "`true` when the map holds the key, its value then copied into the variable (one lookup); else `false`, the variable unchanged.",
        example: "@start[tid] = nsecs; if (find(@start, tid, $t)) { @ns = hist(nsecs - $t); }",
        check: check_find,
        emit: |pc, call| {
            let (name, keys, var) = find_arguments(call)?;
            pc.map_find(name, &keys, var, call.span)
        },
    },
    Builtin {
        name: "len",
        form: Form::Function,
        arity: (1, 1),
        usage: "len() takes one map or a stack: len(@m), len(ustack), len($stack)",
        doc: "The number of elements of a map, counted in BPF (`bpf_for_each_map_elem`); `len(ustack)`, `len($s)` of a user stack: its frames.",
        example: "@open[tid] = 1; if (len(@open) > 100) { clear(@open); }",
        check: |c, call| {
            if let [stack] = call.args {
                if super::probe::is_ustack(stack) {
                    c.expr(stack)?;
                    return Ok(Typed::int(false));
                }
                if is_stored_stack(stack) {
                    return match c.expr(stack)?.ty {
                        Type::Stack(_) => Ok(Typed::int(false)),
                        other => Err(CompileError::new(
                            stack.span,
                            format!("len() takes a map or a stack, not {}", other.describe()),
                        )),
                    };
                }
            }
            let (name, first) = crate::sema::whole_map_argument(call.args, call.span)?;
            c.existing_map(name, first)?;
            Ok(Typed::int(false))
        },
        emit: |pc, call| {
            if let [stack] = call.args {
                if super::probe::is_ustack(stack) {
                    return super::probe::emit_stack_len(pc, stack);
                }
                if is_stored_stack(stack) {
                    return super::probe::emit_stored_stack_len(pc, stack);
                }
            }
            let (name, first) = crate::sema::whole_map_argument(call.args, call.span)?;
            let map = pc.map_id(name, first)?;
            pc.map_len(map, call.span)?;
            pc.spill(false, call.span)
        },
    },
    map_command(
        "clear",
        "clear() takes one map: clear(@m)",
        "Removes every element of a map.",
        "clear(@counts);",
        |pc, call| emit_command(pc, call, TAG_CLEAR_MAP),
    ),
    map_command(
        "zero",
        "zero() takes one map: zero(@m)",
        "Sets every value of a map to zero.",
        "zero(@counts);",
        |pc, call| emit_command(pc, call, TAG_ZERO_MAP),
    ),
];

fn hist_value(c: &[i64]) -> Result<ValueKind, String> {
    match c {
        [] | [0] => Ok(ValueKind::Hist),
        [k] if (1..=i64::from(ustrace_abi::FINE_HIST_MAX_BITS)).contains(k) => {
            Ok(ValueKind::FineHist { bits: *k as u8 })
        }
        [k] => Err(format!(
            "hist(value, k): k is {k}, it must be between 0 and {}",
            ustrace_abi::FINE_HIST_MAX_BITS
        )),
        _ => Err("hist() takes a value and an optional k: hist(x, 2)".into()),
    }
}

fn lhist_value(c: &[i64]) -> Result<ValueKind, String> {
    let [min, max, step] = [c[0], c[1], c[2]];
    if step <= 0 || max <= min || (max - min) / step > 1000 {
        return Err(
            "lhist(value, min, max, step) needs min < max, step > 0 and at most 1000 buckets"
                .into(),
        );
    }
    Ok(ValueKind::Lhist { min, max, step })
}

fn emit_command(pc: &mut ProgramCompiler, call: &Call, tag: u64) -> Result<Val, CompileError> {
    pc.map_command(tag, call.args, call.span)?;
    Ok(Val::Void)
}

/// A `delete(...)` statement: the element is deleted, its bool (unused)
/// is not computed.
pub(crate) fn emit_bare_delete(pc: &mut ProgramCompiler, call: &Call) -> Result<(), CompileError> {
    let target = element(call)?;
    pc.map_delete(&target, call.span)
}

/// The map element of `delete`/`has_key`: `@m[k]` as written (0.17), or
/// built from `(@m, k)` and `(@m, (k1, k2))`.
fn element<'a>(call: &Call<'a>) -> Result<Cow<'a, Expr>, CompileError> {
    let [map, key] = call.args else {
        return Ok(Cow::Borrowed(&call.args[0]));
    };
    let ExprKind::Map { name, keys } = &map.kind else {
        return Err(CompileError::new(map.span, "expected a map (@name)"));
    };
    if !keys.is_empty() {
        return Err(CompileError::new(
            map.span,
            format!("give the whole map (@{name}) and the key as the second argument"),
        ));
    }
    let keys = match &key.kind {
        ExprKind::Tuple(items) => items.clone(),
        _ => vec![key.clone()],
    };
    Ok(Cow::Owned(Expr::new(
        ExprKind::Map {
            name: name.clone(),
            keys,
        },
        map.span.to(key.span),
    )))
}

/// `find(@m, key, $var)`'s map name, key expressions (a tuple key gives
/// its elements) and variable name.
fn find_arguments<'a>(call: &Call<'a>) -> Result<(&'a str, Vec<Expr>, &'a str), CompileError> {
    let [map, key, var] = call.args else {
        return Err(crate::emit::internal(call.span));
    };
    let (name, _) = crate::sema::whole_map_argument(std::slice::from_ref(map), map.span)?;
    let ExprKind::Variable(var) = &var.kind else {
        return Err(CompileError::new(
            var.span,
            "find()'s third argument must be a variable ($name) to receive the value",
        ));
    };
    let keys = match &key.kind {
        ExprKind::Tuple(items) => items.clone(),
        _ => vec![key.clone()],
    };
    Ok((name, keys, var))
}

fn check_find(c: &mut crate::sema::Checker, call: &Call) -> Result<Typed, CompileError> {
    let (name, keys, var) = find_arguments(call)?;
    let map = &call.args[0];
    // A map not known yet (the first, lenient pass) reads as an integer.
    if c.existing_map(name, map.span)?
        .is_some_and(|def| def.key.is_empty())
    {
        return Err(CompileError::new(
            map.span,
            format!("find(): @{name} is a scalar map (it has no keys)"),
        ));
    }
    let value = c.map_read(name, &keys, call.args[1].span)?;
    c.store_var(var, value.ty, call.args[2].span)?;
    Ok(Typed::bool())
}

/// `len($s)`: a stack held in a scratch variable (a stack stored as a map
/// value cannot be read back in a probe).
fn is_stored_stack(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Variable(_))
}
