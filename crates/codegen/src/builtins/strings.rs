//! Values: the string functions `strlen()`, `strncmp()`, `strstr()`,
//! `strcontains()`, the integer function `bswap()`, and the literals
//! `true` and `false`.
//!
//! Every loop is unrolled over the string's capacity (at most the default
//! string length), so the verifier sees straight-line code. A literal
//! needle is searched for unrolled against its bytes; any other needle by
//! a `bpf_loop` over the haystack's start positions whose callback
//! compares the needle (unrolled over its capacity): code of one needle's
//! size, not haystack x needle.

use ustrace_lang::ast::{Expr, ExprKind};

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, AluOp, JmpOp, R0, R1, R10, R2, R3, R4};
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;

pub(super) const ENTRIES: &[Builtin] = &[
    bool_literal("true", 1, "if (true) { @always++; }"),
    bool_literal("false", 0, "$done = false;"),
    Builtin {
        name: "strlen",
        form: Form::Function,
        arity: (1, 1),
        usage: "strlen() takes one string: strlen(str(arg0))",
        doc: "The length of a string, up to its capacity.",
        example: "printf(\"%d\\n\", strlen(comm));",
        check: |c, call| {
            string_operand(c, &call.args[0])?;
            Ok(Typed::int(false))
        },
        emit: emit_strlen,
    },
    Builtin {
        name: "strncmp",
        form: Form::Function,
        arity: (3, 3),
        usage: "strncmp() takes two strings and a constant length: strncmp(comm, \"bash\", 4)",
        doc: "0 when the first `n` bytes of two strings are equal, else 1.",
        example: "if (strncmp(comm, \"bash\", 4) == 0) { @bash++; }",
        check: |c, call| {
            string_operand(c, &call.args[0])?;
            string_operand(c, &call.args[1])?;
            constant_len(c, &call.args[2])?;
            Ok(Typed::int(true))
        },
        emit: emit_strncmp,
    },
    Builtin {
        name: "strstr",
        form: Form::Function,
        arity: (2, 2),
        usage: "strstr() takes two strings: strstr(comm, \"sh\")",
        doc: "The index of the first occurrence of the needle in a string, or -1.",
        example: "printf(\"%d\\n\", strstr(comm, \"sh\"));",
        check: check_search,
        emit: |pc, call| emit_search(pc, call, Found::Index),
    },
    Builtin {
        name: "strcontains",
        form: Form::Function,
        arity: (2, 2),
        usage: "strcontains() takes two strings: strcontains(comm, \"sh\")",
        doc: "`true` when a string contains the needle, else `false`.",
        example: "if (strcontains(comm, \"sh\")) { @shells++; }",
        check: |c, call| {
            check_search(c, call)?;
            Ok(Typed::bool())
        },
        emit: |pc, call| emit_search(pc, call, Found::Bool),
    },
    Builtin {
        name: "bswap",
        form: Form::Function,
        arity: (1, 1),
        usage: "bswap() takes one integer: bswap((uint32)arg0)",
        doc: "Reverses the bytes of an integer of its width (a cast sets the width; 64 bits otherwise).",
        example: "printf(\"%x\\n\", bswap((uint16)0x1234));",
        check: |c, call| {
            c.int_operand(&call.args[0])?;
            Ok(Typed::of(Type::Int {
                bits: bswap_bits(&call.args[0]) as u8,
                signed: false,
            }))
        },
        emit: emit_bswap,
    },
];

/// `true` or `false`: a constant bool (held as 1 or 0).
const fn bool_literal(name: &'static str, value: i32, example: &'static str) -> Builtin {
    Builtin {
        name,
        form: Form::Variable,
        arity: (0, 0),
        usage: "",
        doc: if value == 1 {
            "The bool true (`print(true)` prints `true`; `printf(\"%d\", true)` prints 1)."
        } else {
            "The bool false (`print(false)` prints `false`; `printf(\"%d\", false)` prints 0)."
        },
        example,
        check: if value == 1 {
            |_, _| Ok(Typed::bool_const(true))
        } else {
            |_, _| Ok(Typed::bool_const(false))
        },
        emit: if value == 1 {
            |_, _| Ok(Val::Const(1, false))
        } else {
            |_, _| Ok(Val::Const(0, false))
        },
    }
}

/// The width `bswap()` swaps: the cast's, else 64 bits.
fn bswap_bits(e: &Expr) -> i32 {
    match &e.kind {
        ExprKind::Cast { ty, .. } => (ty.size * 8).clamp(8, 64) as i32,
        _ => 64,
    }
}

pub(super) fn string_operand(c: &mut Checker, e: &Expr) -> Result<usize, CompileError> {
    let t = c.expr(e)?;
    match t.ty {
        Type::Str(n) => Ok(n),
        other => Err(CompileError::new(
            e.span,
            format!("expected a string, got {}", other.name()),
        )),
    }
}

fn constant_len(c: &mut Checker, e: &Expr) -> Result<usize, CompileError> {
    match c.expr(e)?.konst {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(CompileError::new(
            e.span,
            "expected a non-negative integer constant",
        )),
    }
}

/// The needle of `strstr`/`strcontains` when it is a string literal.
fn literal_needle(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::String(s) => Some(s),
        _ => None,
    }
}

fn check_search(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    string_operand(c, &call.args[0])?;
    string_operand(c, &call.args[1])?;
    Ok(Typed::int(true))
}

/// A string argument in a stack buffer, and how many bytes to look at.
pub(super) fn string_in_stack(
    pc: &mut ProgramCompiler,
    e: &Expr,
) -> Result<(i16, usize), CompileError> {
    let v = pc.expr(e)?;
    let cap = v.ty().str_len().min(pc.g.opts.str_len.max(1));
    let off = pc.materialize_str(&v, e.span)?;
    Ok((off, cap))
}

/// `strlen(s)`: counts bytes up to the first NUL.
fn emit_strlen(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let (s, cap) = string_in_stack(pc, &call.args[0])?;
    let done = pc.b.label();
    pc.b.emit(insn::mov64_imm(R0, 0));
    for i in 0..cap {
        pc.b.emit(insn::ldx(1, R1, R10, s + i as i16));
        pc.b.jmp_imm(JmpOp::Jeq, R1, 0, done);
        pc.b.emit(insn::alu64_imm(AluOp::Add, R0, 1));
    }
    pc.b.bind(done);
    pc.spill(false, call.span)
}

/// `strncmp(a, b, n)`: 0 when equal up to `n` bytes or a common NUL.
fn emit_strncmp(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let n = match &call.args[2].kind {
        ExprKind::Integer(n) => *n as usize,
        _ => match pc.expr(&call.args[2])? {
            Val::Const(n, _) => n.max(0) as usize,
            _ => return Err(crate::emit::internal(call.args[2].span)),
        },
    };
    let (a, alen) = string_in_stack(pc, &call.args[0])?;
    let (b, blen) = string_in_stack(pc, &call.args[1])?;
    let differ = pc.b.label();
    let equal = pc.b.label();
    let end = pc.b.label();
    for i in 0..n.min(alen).min(blen) {
        let i = i as i16;
        pc.b.emit(insn::ldx(1, R0, R10, a + i));
        pc.b.emit(insn::ldx(1, R1, R10, b + i));
        pc.b.jmp_reg(JmpOp::Jne, R0, R1, differ);
        pc.b.jmp_imm(JmpOp::Jeq, R0, 0, equal);
    }
    pc.b.bind(equal);
    pc.b.emit(insn::mov64_imm(R0, 0));
    pc.b.goto(end);
    pc.b.bind(differ);
    pc.b.emit(insn::mov64_imm(R0, 1));
    pc.b.bind(end);
    pc.spill(true, call.span)
}

/// What a search gives when it finds the needle.
#[derive(Clone, Copy)]
enum Found {
    /// `strstr`: the index, or -1.
    Index,
    /// `strcontains`: 1, or 0.
    Bool,
}

/// `strstr(s, "lit")` / `strcontains(s, "lit")`: every start position
/// compared against the literal's bytes. A NUL in `s` never equals a
/// needle byte, so the string's end stops every comparison.
fn emit_search(pc: &mut ProgramCompiler, call: &Call, found: Found) -> Result<Val, CompileError> {
    let Some(lit) = literal_needle(&call.args[1]) else {
        return emit_search_loop(pc, call, found);
    };
    let lit = lit.as_bytes().to_vec();
    let (s, cap) = string_in_stack(pc, &call.args[0])?;
    let end = pc.b.label();
    let (yes, no) = match found {
        Found::Index => (None, -1),
        Found::Bool => (Some(1), 0),
    };
    // A needle with a NUL inside ends there, like C's strstr.
    let lit: Vec<u8> = lit.into_iter().take_while(|&c| c != 0).collect();
    if lit.is_empty() {
        // The empty needle is found at 0.
        pc.b.emit(insn::mov64_imm(R0, yes.unwrap_or(0)));
        return pc.spill(true, call.span);
    }
    // The last byte of the buffer is always NUL (strings are terminated).
    let last_start = cap.saturating_sub(1).saturating_sub(lit.len());
    if lit.len() < cap {
        for start in 0..=last_start {
            let next = pc.b.label();
            for (j, &byte) in lit.iter().enumerate() {
                pc.b.emit(insn::ldx(1, R1, R10, s + (start + j) as i16));
                pc.b.jmp_imm(JmpOp::Jne, R1, i32::from(byte), next);
            }
            pc.b.emit(insn::mov64_imm(R0, yes.unwrap_or(start as i32)));
            pc.b.goto(end);
            pc.b.bind(next);
            // The haystack ended before this start: no later match.
            pc.b.emit(insn::ldx(1, R1, R10, s + start as i16));
            let go_on = pc.b.label();
            pc.b.jmp_imm(JmpOp::Jne, R1, 0, go_on);
            pc.b.emit(insn::mov64_imm(R0, no));
            pc.b.goto(end);
            pc.b.bind(go_on);
        }
    }
    pc.b.emit(insn::mov64_imm(R0, no));
    pc.b.bind(end);
    pc.spill(true, call.span)
}

/// `strstr(s, t)` / `strcontains(s, t)` with a needle known at run time:
/// haystack and needle copied into one state area on the stack, then
/// `bpf_loop(haystack capacity, callback, &state)` where call `i`
/// compares the needle at start `i` (see [`search_callback`]).
fn emit_search_loop(
    pc: &mut ProgramCompiler,
    call: &Call,
    found: Found,
) -> Result<Val, CompileError> {
    let hay = pc.expr(&call.args[0])?;
    let needle = pc.expr(&call.args[1])?;
    let cap = |v: &Val, pc: &ProgramCompiler| v.ty().str_len().min(pc.g.opts.str_len.max(1));
    let (hcap, ncap) = (cap(&hay, pc), cap(&needle, pc));
    // [0] result (-1: not found), [8..] haystack with room for a needle
    // read past its end, then the needle.
    let hay_area = (hcap + ncap + 7) & !7;
    let needle_at = 8 + hay_area;
    let size = needle_at + ((ncap + 7) & !7);
    let state = pc.alloc_tmp(size, call.span)?;
    pc.b.zero_stack(state, size);
    pc.b.emit(insn::st_imm(8, R10, state, -1));
    pc.copy_string(&hay, state + 8, hcap);
    pc.copy_string(&needle, state + needle_at as i16, ncap);
    let name = format!("str_search_{hcap}_{ncap}");
    let func = match pc.b.func(&name) {
        Some(f) => f,
        None => {
            let body = search_callback(hcap, ncap, needle_at as i16, call)?;
            pc.b.add_func(name, body)
        }
    };
    pc.b.emit(insn::mov64_imm(R1, hcap as i32));
    pc.b.load_func(R2, func);
    pc.b.emit(insn::mov64_reg(R3, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R3, i32::from(state)));
    pc.b.emit(insn::mov64_imm(R4, 0));
    pc.b.emit(insn::call(insn::helper::LOOP));
    pc.b.emit(insn::ldx(8, R0, R10, state));
    if let Found::Bool = found {
        let done = pc.b.label();
        pc.b.emit(insn::mov64_reg(R1, R0));
        pc.b.emit(insn::mov64_imm(R0, 0));
        pc.b.jmp_imm(JmpOp::Jslt, R1, 0, done);
        pc.b.emit(insn::mov64_imm(R0, 1));
        pc.b.bind(done);
    }
    pc.spill(true, call.span)
}

/// The `bpf_loop` callback of [`emit_search_loop`]: r1 = start index,
/// r2 = the state. Returns 1 to stop (found, or the haystack ended), 0 to
/// try the next start.
fn search_callback(
    hcap: usize,
    ncap: usize,
    needle_at: i16,
    call: &Call,
) -> Result<crate::builder::Finished, CompileError> {
    use crate::insn::{R5, R6, R9};
    let mut b = crate::builder::Builder::new();
    let (stop, hit, next) = (b.label(), b.label(), b.label());
    b.emit(insn::mov64_reg(R9, R2));
    b.emit(insn::mov64_reg(R6, R1));
    b.jmp_imm(JmpOp::Jge, R6, hcap as i32, stop);
    // The empty needle is found at the first start.
    b.emit(insn::ldx(1, R4, R9, needle_at));
    b.jmp_imm(JmpOp::Jeq, R4, 0, hit);
    // r3 = &haystack[i]; the haystack ended: not found.
    b.emit(insn::mov64_reg(R3, R9));
    b.emit(insn::alu64_reg(AluOp::Add, R3, R6));
    b.emit(insn::ldx(1, R5, R3, 8));
    b.jmp_imm(JmpOp::Jeq, R5, 0, stop);
    for j in 0..ncap as i16 {
        b.emit(insn::ldx(1, R4, R9, needle_at + j));
        b.jmp_imm(JmpOp::Jeq, R4, 0, hit);
        b.emit(insn::ldx(1, R5, R3, 8 + j));
        b.jmp_reg(JmpOp::Jne, R5, R4, next);
    }
    b.bind(hit);
    b.emit(insn::stx(8, R9, 0, R6));
    b.bind(stop);
    b.emit(insn::mov64_imm(R0, 1));
    b.emit(insn::exit());
    b.bind(next);
    b.emit(insn::mov64_imm(R0, 0));
    b.emit(insn::exit());
    b.finish(call.span)
}

/// `bswap(x)`: a byte swap of the value's width (BPF's `be` conversion,
/// a swap on little-endian x86-64).
fn emit_bswap(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let bits = bswap_bits(&call.args[0]);
    let v = pc.expr(&call.args[0])?;
    pc.load(&v, R0);
    if bits > 8 {
        pc.b.emit(insn::Insn {
            imm: bits,
            ..insn::to_be64(R0)
        });
    }
    pc.spill(false, call.span)
}
