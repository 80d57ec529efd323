//! Network addresses: `ntop()` (an address as text, formatted in user
//! space), `pton()` (a literal address as bytes, at compile time) and
//! `macaddr()` (6 bytes as `18:C0:4D:08:2E:BB`, written in BPF).

use std::net::IpAddr;

use ustrace_lang::ast::{Expr, ExprKind};

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, AluOp, JmpOp, R0, R1, R10};
use crate::program::FieldKind;
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;
use ustrace_abi::{AF_INET, AF_INET6};

pub(super) const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "ntop",
        form: Form::Function,
        arity: (1, 2),
        usage: "ntop() takes an address and an optional family: ntop(addr), ntop(AF, addr)",
        doc: "An IPv4 or IPv6 address as text: from an integer (IPv4), a 4- or 16-byte `buf()`/`pton()` buffer, with an optional family (2 = AF_INET, 10 = AF_INET6) first.",
        example: "printf(\"%s\\n\", ntop(0x0100007f));",
        check: check_ntop,
        emit: emit_ntop,
    },
    Builtin {
        name: "pton",
        form: Form::Function,
        arity: (1, 1),
        usage: "pton() takes an address literal: pton(\"127.0.0.1\")",
        doc: "The bytes of a literal IPv4 (4 bytes) or IPv6 (16 bytes) address, at compile time.",
        example: "printf(\"%s\\n\", ntop(pton(\"::1\")));",
        check: |_, call| pton_bytes(call).map(|b| Typed::of(Type::Buffer(b.len()))),
        emit: emit_pton,
    },
    Builtin {
        name: "macaddr",
        form: Form::Function,
        arity: (1, 1),
        usage: "macaddr() takes the address of 6 bytes or a 6-byte buffer: macaddr(arg0)",
        doc: "A MAC address as text (`18:C0:4D:08:2E:BB`, as bpftrace prints it): the 6 bytes at a user address, or a 6-byte `buf()`.",
        example: "printf(\"%s\\n\", macaddr(arg0));",
        check: check_macaddr,
        emit: emit_macaddr,
    },
];

/// The text of a MAC address: six `XX:` groups without the last colon,
/// and a NUL.
const MAC_TEXT: usize = 18;

fn check_macaddr(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let arg = &call.args[0];
    match c.expr(arg)?.ty {
        Type::Int { .. } | Type::Buffer(6) => Ok(Typed::of(Type::Str(MAC_TEXT))),
        other => Err(CompileError::new(
            arg.span,
            format!(
                "macaddr() needs the address of 6 bytes or a 6-byte buffer, not a {}",
                match other {
                    Type::Buffer(_) => "buffer of another size",
                    t => t.name(),
                }
            ),
        )),
    }
}

/// `macaddr(p)`: the 6 bytes (read from user memory, or the buffer's),
/// each written as two upper-case hex digits followed by `:`.
fn emit_macaddr(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let v = pc.expr(&call.args[0])?;
    let bytes = match &v {
        Val::Bytes(src, 6) => *src + 8,
        _ if matches!(v.ty(), Type::Int { .. }) => {
            super::memory::read_user_bytes(pc, &v, 6, call.span)?
        }
        _ => return Err(crate::emit::internal(call.args[0].span)),
    };
    let text = pc.alloc_tmp(MAC_TEXT, call.span)?;
    pc.b.zero_stack(text, (MAC_TEXT + 7) & !7);
    for i in 0..6i16 {
        pc.b.emit(insn::ldx(1, R0, R10, bytes + i));
        pc.b.emit(insn::mov64_reg(R1, R0));
        pc.b.emit(insn::alu64_imm(AluOp::Rsh, R1, 4));
        hex_digit(pc, R1, text + 3 * i);
        pc.b.emit(insn::alu64_imm(AluOp::And, R0, 0xf));
        hex_digit(pc, R0, text + 3 * i + 1);
        if i < 5 {
            pc.b.emit(insn::st_imm(1, R10, text + 3 * i + 2, i32::from(b':')));
        }
    }
    Ok(Val::Buf(text, MAC_TEXT))
}

/// Stores the upper-case hex digit of the nibble in `r` (0-15) at `at`.
fn hex_digit(pc: &mut ProgramCompiler, r: insn::Reg, at: i16) {
    let digit = pc.b.label();
    pc.b.emit(insn::alu64_imm(AluOp::Add, r, i32::from(b'0')));
    pc.b.jmp_imm(JmpOp::Jle, r, i32::from(b'9'), digit);
    pc.b.emit(insn::alu64_imm(AluOp::Add, r, i32::from(b'A' - b'9' - 1)));
    pc.b.bind(digit);
    pc.b.emit(insn::stx(1, R10, at, r));
}

/// The address bytes of `pton("...")`'s literal (a `.` means IPv4, a `:`
/// IPv6, as bpftrace decides).
fn pton_bytes(call: &Call) -> Result<Vec<u8>, CompileError> {
    let arg = &call.args[0];
    let ExprKind::String(text) = &arg.kind else {
        return Err(CompileError::new(
            arg.span,
            "pton() needs a string literal (it is evaluated at compile time)",
        ));
    };
    let bad = || {
        CompileError::new(
            arg.span,
            format!("pton(): `{text}` is not an IPv4 or IPv6 address"),
        )
    };
    match text.parse::<IpAddr>().map_err(|_| bad())? {
        IpAddr::V4(a) if !text.contains(':') => Ok(a.octets().to_vec()),
        IpAddr::V6(a) => Ok(a.octets().to_vec()),
        IpAddr::V4(_) => Err(bad()),
    }
}

/// How `ntop()`'s address argument gives its bytes.
enum Address {
    /// An integer: its low 4 bytes, IPv4.
    Int,
    /// Buffer bytes: 4 (IPv4) or 16 (IPv6).
    Bytes(usize),
}

fn address(e: &Expr, ty: &Type) -> Result<Address, CompileError> {
    match ty {
        Type::Int { .. } => Ok(Address::Int),
        Type::Buffer(n @ (4 | 16)) => Ok(Address::Bytes(*n)),
        other => Err(CompileError::new(
            e.span,
            format!(
                "ntop() needs an integer (IPv4) or a 4- or 16-byte buffer, not a {}",
                match other {
                    Type::Buffer(_) => "buffer of another size",
                    t => t.name(),
                }
            ),
        )),
    }
}

/// The family a constant `af` names, checked against the address.
fn family(
    af: Option<i64>,
    addr: &Address,
    span: ustrace_lang::ast::Span,
) -> Result<(), CompileError> {
    match (af, addr) {
        (None, _) => Ok(()),
        (Some(f), Address::Int) if f as u64 == AF_INET => Ok(()),
        (Some(f), Address::Bytes(4)) if f as u64 == AF_INET => Ok(()),
        (Some(f), Address::Bytes(16)) if f as u64 == AF_INET || f as u64 == AF_INET6 => Ok(()),
        (Some(f), _) => Err(CompileError::new(
            span,
            format!("ntop(): family {f} does not fit this address (2 = AF_INET: an integer, 4 or 16 bytes; 10 = AF_INET6: 16 bytes)"),
        )),
    }
}

fn check_ntop(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let (af, addr_expr) = match call.args {
        [a] => (None, a),
        [f, a] => {
            let t = c.int_operand(f)?;
            (
                Some(t.konst.ok_or_else(|| {
                    CompileError::new(f.span, "ntop()'s family must be a constant (2 or 10)")
                })?),
                a,
            )
        }
        _ => return Err(crate::emit::internal(call.span)),
    };
    let t = c.expr(addr_expr)?;
    let addr = address(addr_expr, &t.ty)?;
    family(af, &addr, call.args[0].span)?;
    Ok(Typed::of(Type::Inet))
}

/// `ntop([af, ] addr)`: family and address bytes in a 24-byte slot.
fn emit_ntop(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let (af, addr_expr) = match call.args {
        [a] => (None, a),
        [f, a] => (
            Some(
                pc.typed(f)?
                    .konst
                    .ok_or_else(|| crate::emit::internal(f.span))?,
            ),
            a,
        ),
        _ => return Err(crate::emit::internal(call.span)),
    };
    let v = pc.expr(addr_expr)?;
    let addr = address(addr_expr, &v.ty())?;
    let slot = pc.alloc_tmp(FieldKind::Inet.size(), call.span)?;
    let family = match (af, &addr) {
        (Some(f), _) => f,
        (None, Address::Bytes(16)) => AF_INET6 as i64,
        (None, _) => AF_INET as i64,
    };
    pc.b.mov_imm(R0, family);
    pc.b.emit(insn::stx(8, R10, slot, R0));
    pc.b.emit(insn::st_imm(8, R10, slot + 8, 0));
    pc.b.emit(insn::st_imm(8, R10, slot + 16, 0));
    match (addr, &v) {
        (Address::Int, _) => {
            pc.load(&v, R0);
            pc.b.emit(insn::stx(4, R10, slot + 8, R0));
        }
        (Address::Bytes(n), Val::Bytes(src, _)) => {
            pc.copy_words(*src + 8, R10, slot + 8, n.clamp(8, 16));
            if n == 4 {
                // Only the 4 address bytes: the buffer's padding is not ours.
                pc.b.emit(insn::st_imm(4, R10, slot + 12, 0));
            }
        }
        _ => return Err(crate::emit::internal(addr_expr.span)),
    }
    Ok(Val::Inet(slot))
}

/// `pton("...")`: the literal's bytes as a buffer value.
fn emit_pton(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let bytes = pton_bytes(call)?;
    let n = bytes.len();
    let slot = pc.alloc_tmp(FieldKind::Buffer(n).size(), call.span)?;
    pc.b.mov_imm(R0, n as i64);
    pc.b.emit(insn::stx(8, R10, slot, R0));
    for w in 0..n.div_ceil(8) {
        pc.b.emit(insn::st_imm(8, R10, slot + 8 + (w * 8) as i16, 0));
    }
    pc.store_bytes(R10, slot + 8, &bytes);
    Ok(Val::Bytes(slot, n))
}
