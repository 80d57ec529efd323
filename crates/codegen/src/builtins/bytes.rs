//! Comparing raw bytes: `memcmp()`.
//!
//! Each operand is a string, a `buf()` buffer or an integer taken as a
//! user address (its bytes read from the traced process); the count is a
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
    usage: "memcmp() takes two strings, buffers or user addresses and a constant count: memcmp(arg0, arg1, 8)",
    doc: "Compares the first `count` bytes (a constant, at most 128) of two strings, buffers or user addresses: 0 when equal, else the difference of the first differing bytes (negative when the left one is smaller).",
    example: "if (memcmp(arg0, \"GET \", 4) == 0) { @get++; }",
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
    let (what, held) = match c.expr(e)?.ty {
        Type::Int { .. } => return Ok(()),
        Type::Str(cap) => ("string", cap),
        Type::Buffer(cap) => ("buffer", cap),
        other => {
            return Err(CompileError::new(
                e.span,
                format!(
                    "memcmp() compares strings, buffers or user addresses, not a {}",
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
    let v = pc.expr(e)?;
    match (&v, v.ty()) {
        (Val::Bytes(src, _), _) => Ok(*src + 8),
        (_, Type::Str(_)) => pc.materialize_str(&v, e.span),
        (_, Type::Int { .. }) => super::memory::read_user_bytes(pc, &v, n, e.span),
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
