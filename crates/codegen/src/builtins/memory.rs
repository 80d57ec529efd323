//! Reading the traced process's memory: `str()`, `buf()`.

use ustrace_lang::ast::{BinaryOp, ExprKind};

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, helper, AluOp, JmpOp, R1, R10, R2, R3};
use crate::program::FieldKind;
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;

pub(super) const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "str",
        form: Form::Function,
        arity: (1, 2),
        usage: "str() needs a pointer argument: str(ptr[, len])",
        doc: "The NUL-terminated string at a user address, at most `len` bytes (default: the string length, 64).",
        example: "printf(\"%s\\n\", str(arg0));",
        check: check_str,
        emit: emit_str,
    },
    Builtin {
        name: "buf",
        form: Form::Function,
        arity: (2, 2),
        usage: "buf() takes a pointer and a length: buf(arg0, 16)",
        doc: "Up to `n` bytes at a user address (at most 256), printed with `%r` as hex escapes.",
        example: "printf(\"%r\\n\", buf(arg0, 16));",
        check: |c, call| {
            c.int_operand(&call.args[0])?;
            c.int_operand(&call.args[1])?;
            Ok(Typed::of(Type::Buffer(buf_capacity(call, c.opts.str_len))))
        },
        emit: emit_buf,
    },
];

/// The buffer size of `str(p[, len])`: a constant length (clamped to the
/// default string length), else the default.
fn str_capacity(call: &Call, default_len: usize) -> usize {
    match call.args.get(1).map(|e| &e.kind) {
        Some(ExprKind::Integer(n)) => (*n as usize).clamp(1, default_len.max(1)),
        _ => default_len,
    }
}

/// True when `str()`'s length is computed at run time.
fn runtime_len(call: &Call) -> bool {
    call.args
        .get(1)
        .is_some_and(|e| !matches!(e.kind, ExprKind::Integer(_)))
}

/// `str($N + K)` of a string positional parameter: its text from byte `K`
/// on, at compile time (bpftrace's pointer arithmetic on a parameter); `K`
/// a constant no larger than the text's length. None for any other
/// argument.
fn positional_suffix(call: &Call, positional: &[String]) -> Option<Result<String, CompileError>> {
    let ExprKind::Binary {
        op: BinaryOp::Add,
        lhs,
        rhs,
    } = &call.args[0].kind
    else {
        return None;
    };
    let ExprKind::Positional(n) = lhs.kind else {
        return None;
    };
    let text = positional.get(n.wrapping_sub(1))?;
    if crate::fold::parse_int(text).is_some() {
        return None;
    }
    Some(match rhs.kind {
        ExprKind::Integer(k) if k <= text.len() as u64 => {
            Ok(String::from_utf8_lossy(&text.as_bytes()[k as usize..]).into_owned())
        }
        _ => Err(CompileError::new(
            call.args[0].span,
            format!(
                "only addition of a single constant less or equal to the length of ${n} (which is {}) is allowed inside str()",
                text.len()
            ),
        )),
    })
}

fn check_str(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    if let Some(suffix) = positional_suffix(call, &c.opts.positional) {
        return Ok(Typed::of(Type::Str(suffix?.len() + 1)));
    }
    let len = str_capacity(call, c.opts.str_len);
    // `str()` of a string (a `char[N]` field of a program type) is itself.
    if let Type::Str(n) = c.expr(&call.args[0])?.ty {
        return Ok(Typed::of(Type::Str(n)));
    }
    c.int_operand(&call.args[0])?;
    if runtime_len(call) {
        c.int_operand(&call.args[1])?;
    }
    Ok(Typed::of(Type::Str(len)))
}

fn emit_str(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    if let Some(suffix) = positional_suffix(call, &pc.g.opts.positional) {
        return Ok(Val::StrConst(suffix?));
    }
    let len = str_capacity(call, pc.g.opts.str_len);
    let p = pc.expr(&call.args[0])?;
    match p.ty() {
        Type::Str(_) => return Ok(p),
        Type::Int { .. } => {}
        _ => return Err(crate::emit::internal(call.args[0].span)),
    }
    let buf = pc.alloc_tmp(len.max(8), call.span)?;
    pc.b.zero_stack(buf, (len.max(8) + 7) & !7);
    pc.load(&p, R3);
    if runtime_len(call) {
        // Runtime length: clamp into [1, len].
        let lv = pc.expr(&call.args[1])?;
        pc.load(&lv, R2);
        pc.b.emit(insn::alu64_imm(AluOp::Add, R2, 1));
        let ok = pc.b.label();
        pc.b.jmp_imm(JmpOp::Jle, R2, len as i32, ok);
        pc.b.emit(insn::mov64_imm(R2, len as i32));
        pc.b.bind(ok);
        let ok2 = pc.b.label();
        pc.b.jmp_imm(JmpOp::Jge, R2, 1, ok2);
        pc.b.emit(insn::mov64_imm(R2, 1));
        pc.b.bind(ok2);
        pc.load(&p, R3);
    } else {
        pc.b.emit(insn::mov64_imm(R2, len as i32));
    }
    pc.b.emit(insn::mov64_reg(R1, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R1, buf as i32));
    pc.b.emit(insn::call(helper::PROBE_READ_USER_STR));
    pc.check_user_read("probe_read_user_str", call.span)?;
    Ok(Val::Buf(buf, len))
}

/// The most bytes `buf(p, n)` keeps: a constant `n` (1..=256), else the
/// default string length.
fn buf_capacity(call: &Call, default_len: usize) -> usize {
    match &call.args[1].kind {
        ExprKind::Integer(n) => usize::try_from(*n).unwrap_or(usize::MAX).clamp(1, 256),
        _ => default_len,
    }
}

/// `buf(ptr, n)`: up to `n` bytes of user memory after an 8-byte length.
fn emit_buf(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let cap = buf_capacity(call, pc.g.opts.str_len);
    let p = pc.expr(&call.args[0])?;
    let n = pc.expr(&call.args[1])?;
    let size = FieldKind::Buffer(cap).size();
    let slot = pc.alloc_tmp(size, call.span)?;
    pc.b.zero_stack(slot, size);
    // r2 = min(n, cap), unsigned, so the verifier sees the bound.
    pc.load(&n, R2);
    let within = pc.b.label();
    pc.b.jmp_imm(JmpOp::Jle, R2, cap as i32, within);
    pc.b.emit(insn::mov64_imm(R2, cap as i32));
    pc.b.bind(within);
    pc.b.emit(insn::stx(8, R10, slot, R2));
    pc.load(&p, R3);
    pc.b.emit(insn::mov64_reg(R1, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R1, (slot + 8) as i32));
    pc.b.emit(insn::call(helper::PROBE_READ_USER));
    pc.check_user_read("probe_read_user", call.span)?;
    // A failed read leaves zeroes; keep the length so it prints as such.
    Ok(Val::Bytes(slot, cap))
}

/// Reads `n` bytes of user memory at the address `ptr` into a new zeroed
/// stack slot (rounded up to 8 bytes) and returns its offset; a failed
/// read leaves zeros and is counted as every read is.
pub(super) fn read_user_bytes(
    pc: &mut ProgramCompiler,
    ptr: &Val,
    n: usize,
    span: ustrace_lang::ast::Span,
) -> Result<i16, CompileError> {
    let size = (n.max(1) + 7) & !7;
    let slot = pc.alloc_tmp(size, span)?;
    pc.b.zero_stack(slot, size);
    pc.load(ptr, R3);
    pc.b.emit(insn::mov64_imm(R2, n as i32));
    pc.b.emit(insn::mov64_reg(R1, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R1, i32::from(slot)));
    pc.b.emit(insn::call(helper::PROBE_READ_USER));
    pc.check_user_read("probe_read_user", span)?;
    Ok(slot)
}
