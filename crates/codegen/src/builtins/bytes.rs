//! Comparing raw bytes: `memcmp()`.
//!
//! Each operand is a string, a `buf()` buffer, an integer (its own bytes,
//! little-endian, as wide as its type: bpftrace compares the bytes of the
//! values) or a pointer of the traced program's debug information (the
//! bytes it points at, read from the traced process); the count is a
//! constant, so the comparison is unrolled.

use ustrace_lang::ast::Expr;

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, AluOp, JmpOp, R0, R1, R10};
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;

/// The most bytes `memcmp()` compares (both operands may be read into
/// the 512-byte BPF stack).
const MAX_COUNT: usize = 128;

pub(super) const ENTRIES: &[Builtin] = &[Builtin {
    name: "memcmp",
    form: Form::Function,
    arity: (3, 3),
    usage: "memcmp() takes two strings, buffers, integers or typed pointers and a constant count: memcmp(str(arg0), \"GET \", 4)",
    doc: "Compares the first `count` bytes (a constant, at most 128) of two strings, buffers, integers (their own bytes, little-endian) or typed pointers (the bytes they point at): 0 when equal, else the difference of the first differing bytes (negative when the left one is smaller).",
    example: "if (memcmp(buf(arg0, 4), \"GET \", 4) == 0) { @get++; }",
    check: check_memcmp,
    emit: emit_memcmp,
}];

/// The count of `memcmp()`: a constant 1..=MAX_COUNT.
fn count(c: &mut Checker, e: &Expr) -> Result<usize, CompileError> {
    match c.expr(e)?.konst {
        Some(n) if (1..=MAX_COUNT as i64).contains(&n) => Ok(n as usize),
        _ => Err(CompileError::new(
            e.span,
            format!("memcmp()'s count must be a constant from 1 to {MAX_COUNT}"),
        )),
    }
}

/// An operand holding at least `n` bytes.
fn operand(c: &mut Checker, e: &Expr, n: usize) -> Result<(), CompileError> {
    let ty = c.expr(e)?.ty;
    if super::type_tests::is_pointer(c.ctx, c.opts, &c.typed_vars, e) {
        return Ok(());
    }
    let (what, held) = match ty {
        Type::Int { bits, .. } => ("integer", usize::from(bits / 8)),
        Type::Bool => ("bool", 1),
        Type::Str(cap) => ("string", cap),
        Type::Buffer(cap) => ("buffer", cap),
        other => {
            return Err(CompileError::new(
                e.span,
                format!(
                    "memcmp() compares strings, buffers, integers or pointers, not a {}",
                    other.name()
                ),
            ))
        }
    };
    if held < n {
        return Err(CompileError::new(
            e.span,
            format!("memcmp() compares {n} bytes, but this {what} holds {held}"),
        ));
    }
    Ok(())
}

fn check_memcmp(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let n = count(c, &call.args[2])?;
    operand(c, &call.args[0], n)?;
    operand(c, &call.args[1], n)?;
    Ok(Typed::int(true))
}

/// Where an operand's bytes are on the stack.
fn bytes_of(pc: &mut ProgramCompiler, e: &Expr, n: usize) -> Result<i16, CompileError> {
    let pointer = super::type_tests::is_pointer(&pc.ctx, pc.g.opts, &pc.typed_vars, e);
    let v = pc.expr(e)?;
    match (&v, v.ty()) {
        (Val::Bytes(src, _), _) => Ok(*src + 8),
        (_, Type::Str(_)) => pc.materialize_str(&v, e.span),
        (_, Type::Int { .. }) if pointer => super::memory::read_user_bytes(pc, &v, n, e.span),
        (_, Type::Int { .. } | Type::Bool) => {
            // The value's 8 bytes, little-endian: its width's worth first.
            let slot = pc.alloc_tmp(8, e.span)?;
            pc.load(&v, R0);
            pc.b.emit(insn::stx(8, R10, slot, R0));
            Ok(slot)
        }
        _ => Err(crate::emit::internal(e.span)),
    }
}

/// `memcmp(a, b, n)`: byte after byte until two differ.
fn emit_memcmp(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let n = match pc.typed(&call.args[2])?.konst {
        Some(n) if n > 0 => n as usize,
        _ => return Err(crate::emit::internal(call.args[2].span)),
    };
    let a = bytes_of(pc, &call.args[0], n)?;
    let b = bytes_of(pc, &call.args[1], n)?;
    let (differ, end) = (pc.b.label(), pc.b.label());
    for i in 0..n as i16 {
        pc.b.emit(insn::ldx(1, R0, R10, a + i));
        pc.b.emit(insn::ldx(1, R1, R10, b + i));
        pc.b.jmp_reg(JmpOp::Jne, R0, R1, differ);
    }
    pc.b.emit(insn::mov64_imm(R0, 0));
    pc.b.goto(end);
    pc.b.bind(differ);
    pc.b.emit(insn::alu64_reg(AluOp::Sub, R0, R1));
    pc.b.bind(end);
    pc.spill(true, call.span)
}
