//! Event context for printf records: who printed, where and when.
//!
//! BCC's `trace_print()` and the Python API's events show the task name,
//! pid, thread, CPU, timestamp and probe of every printf. The code
//! generator's printf records carry only the script's own arguments, so
//! when [`crate::ScriptOptions::event_context`] is set the library rewrites
//! each `printf(fmt, args...)` statement of the parsed script into
//! `printf(PREFIX fmt, comm, pid, tid, cpu, nsecs, probe, args...)` before
//! compiling, and splits those hidden leading values off again when it
//! decodes the record. The code generator needs no change.

use ustrace_lang::ast::{Block, Expr, ExprKind, Script, StmtKind};
use ustrace_lang::printf::{FormatString, Segment};
use ustrace_output::Value;

/// The conversions of the hidden arguments, and a separator no user
/// format starts with by accident (U+001F, "unit separator").
pub(crate) const PREFIX: &str = "%s%u%u%u%lu%s\u{1f}";

/// The builtins passed as hidden arguments, in order.
const HIDDEN: [&str; 6] = ["comm", "pid", "tid", "cpu", "nsecs", "probe"];

/// Who printed a record, where and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContext {
    /// The task name (`comm`) of the thread that hit the probe.
    pub comm: String,
    /// Process id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// The CPU the probe ran on.
    pub cpu: u32,
    /// When, in nanoseconds of CLOCK_MONOTONIC (bpftrace's `nsecs`).
    pub nsecs: u64,
    /// The probe, as bpftrace's `probe` builtin names it.
    pub probe: String,
}

/// Adds the hidden context arguments to every `printf` statement whose
/// format is a literal that agrees with its argument count (others are
/// left for the code generator to report with the user's own numbers).
pub(crate) fn add_context(script: &mut Script) {
    for probe in &mut script.probes {
        rewrite_block(&mut probe.body);
    }
}

fn rewrite_block(block: &mut Block) {
    for stmt in &mut block.stmts {
        match &mut stmt.kind {
            StmtKind::Expr(e) => rewrite_printf(e),
            StmtKind::If {
                then_block,
                else_block,
                ..
            } => {
                rewrite_block(then_block);
                if let Some(b) = else_block {
                    rewrite_block(b);
                }
            }
            StmtKind::While { body, .. }
            | StmtKind::Unroll { body, .. }
            | StmtKind::Block(body)
            | StmtKind::For { body, .. } => rewrite_block(body),
            StmtKind::Assign { .. } | StmtKind::Break | StmtKind::Continue | StmtKind::Return => {}
        }
    }
}

fn rewrite_printf(e: &mut Expr) {
    let span = e.span;
    let ExprKind::Call { name, args, .. } = &mut e.kind else {
        return;
    };
    if name != "printf" {
        return;
    }
    let Some(ExprKind::String(format)) = args.first().map(|a| &a.kind) else {
        return;
    };
    let agrees =
        ustrace_lang::printf::parse_format(format).is_ok_and(|f| f.arg_count() == args.len() - 1);
    if !agrees {
        return;
    }
    let format = format!("{PREFIX}{format}");
    let mut new_args = Vec::with_capacity(args.len() + HIDDEN.len());
    new_args.push(Expr::new(ExprKind::String(format), args[0].span));
    new_args.extend(
        HIDDEN
            .iter()
            .map(|b| Expr::new(ExprKind::Builtin((*b).to_string()), span)),
    );
    new_args.extend(args.drain(1..));
    *args = new_args;
}

/// The user's part of a printf format, when the record carries context.
pub(crate) fn user_format(format: &str) -> Option<&str> {
    format.strip_prefix(PREFIX)
}

/// The user's part of a parsed format that starts with [`PREFIX`]: the
/// compiler parsed the whole format once; this drops the prefix's
/// conversions and its separator instead of parsing the rest again.
pub(crate) fn user_segments(parsed: &FormatString) -> FormatString {
    let mut segments: Vec<Segment> = parsed.segments.iter().skip(HIDDEN.len()).cloned().collect();
    if let Some(Segment::Literal(text)) = segments.first_mut() {
        if let Some(rest) = text.strip_prefix('\u{1f}') {
            *text = rest.to_string();
        }
        if text.is_empty() {
            segments.remove(0);
        }
    }
    FormatString { segments }
}

/// Splits the hidden leading values off a record's arguments.
pub(crate) fn split(mut values: Vec<Value>) -> (Option<EventContext>, Vec<Value>) {
    if values.len() < HIDDEN.len() {
        return (None, values);
    }
    let rest = values.split_off(HIDDEN.len());
    let int = |v: &Value| v.bits().unwrap_or(0);
    let text = |v: &Value| match v {
        Value::Str(s) => {
            let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
            String::from_utf8_lossy(&s[..end]).into_owned()
        }
        other => int(other).to_string(),
    };
    let ctx = EventContext {
        comm: text(&values[0]),
        pid: int(&values[1]) as u32,
        tid: int(&values[2]) as u32,
        cpu: int(&values[3]) as u32,
        nsecs: int(&values[4]),
        probe: text(&values[5]),
    };
    (Some(ctx), rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ustrace_lang::printf::parse_format;

    #[test]
    fn printf_statements_get_hidden_arguments() {
        let mut s = ustrace_lang::parse(
            "BEGIN { if (1) { printf(\"%d\\n\", 1); } printf(\"%d %d\\n\", 1); @x = 1; }",
        )
        .unwrap();
        add_context(&mut s);
        let StmtKind::If { then_block, .. } = &s.probes[0].body.stmts[0].kind else {
            panic!()
        };
        let StmtKind::Expr(e) = &then_block.stmts[0].kind else {
            panic!()
        };
        let ExprKind::Call { args, .. } = &e.kind else {
            panic!()
        };
        assert_eq!(args.len(), 8);
        assert_eq!(args[0].kind, ExprKind::String(format!("{PREFIX}%d\n")));
        assert_eq!(args[1].kind, ExprKind::Builtin("comm".into()));
        // A printf whose count disagrees is left alone (its error stays the user's).
        let StmtKind::Expr(e) = &s.probes[0].body.stmts[1].kind else {
            panic!()
        };
        let ExprKind::Call { args, .. } = &e.kind else {
            panic!()
        };
        assert_eq!(args.len(), 2);
    }

    #[test]
    fn split_takes_the_leading_values() {
        let values = vec![
            Value::Str(b"srv\0\0".to_vec()),
            Value::UInt(10),
            Value::UInt(11),
            Value::UInt(1),
            Value::UInt(99),
            Value::Str(b"usdt:/x:p:n".to_vec()),
            Value::Int(-3),
        ];
        let (ctx, rest) = split(values);
        let ctx = ctx.unwrap();
        assert_eq!(
            (ctx.comm.as_str(), ctx.pid, ctx.tid, ctx.cpu, ctx.nsecs),
            ("srv", 10, 11, 1, 99)
        );
        assert_eq!(ctx.probe, "usdt:/x:p:n");
        assert_eq!(rest, vec![Value::Int(-3)]);
        assert_eq!(user_format(&format!("{PREFIX}a")), Some("a"));
        for user in ["a%d\n", "%s x", ""] {
            let whole = parse_format(&format!("{PREFIX}{user}")).expect("parses");
            assert_eq!(user_segments(&whole), parse_format(user).expect("parses"));
        }
    }
}
