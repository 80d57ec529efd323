//! `join(argv[, sep])`: prints the strings of a NULL-terminated array of
//! `char *` in the traced process (an `argv`), separated by `sep` (a
//! space by default), and a newline.
//!
//! As in bpftrace, BPF reads the elements and user space prints them: the
//! probe writes the element count and up to [`MAX_ELEMENTS`] strings of
//! 1024 bytes each (bpftrace 0.17's element size, whatever `max_strlen` is)
//! straight into a ring buffer record,
//! too large for the 512-byte BPF stack.

use ustrace_lang::ast::ExprKind;

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, helper, AluOp, JmpOp, R1, R10, R2, R3};
use crate::program::{FieldKind, PrintfDef, PrintfKind};
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;

/// The most elements printed (bpftrace's limit).
pub(crate) const MAX_ELEMENTS: usize = 16;

/// The bytes of each element, NUL included (bpftrace 0.17's join keeps
/// 1023 characters of each, whatever `max_strlen` is).
const ELEMENT_BYTES: usize = 1024;

pub(super) const ENTRIES: &[Builtin] = &[Builtin {
    name: "join",
    form: Form::Function,
    arity: (1, 2),
    usage: "join() takes the address of a NULL-terminated array of strings and an optional separator literal: join(arg1, \",\")",
    doc: "Prints the strings of a NULL-terminated `char *` array of the traced process (an argv), separated by a space or the separator literal, and a newline: at most 16 elements of 1023 characters (as bpftrace 0.17).",
    example: "join(arg1);",
    check: check_join,
    emit: emit_join,
}];

/// The separator literal (a space when absent).
fn separator(call: &Call) -> Result<String, CompileError> {
    match call.args.get(1) {
        None => Ok(" ".to_string()),
        Some(e) => match &e.kind {
            ExprKind::String(s) => Ok(s.clone()),
            _ => Err(CompileError::new(
                e.span,
                "join()'s separator must be a string literal",
            )),
        },
    }
}

fn check_join(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let arr = &call.args[0];
    let t = c.expr(arr)?;
    if !matches!(t.ty, Type::Int { .. }) {
        return Err(CompileError::new(
            arr.span,
            format!(
                "join() needs the address of a `char *` array (an integer such as arg1), not a {}",
                t.ty.name()
            ),
        ));
    }
    separator(call)?;
    Ok(Typed::of(Type::Void))
}

/// `join(arr[, sep])`: for each element until a NULL pointer, its pointer
/// read from `arr + 8 * i`, then its string read into the record's slot
/// `i`; the count written after each.
fn emit_join(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let sep = separator(call)?;
    let len = ELEMENT_BYTES;
    let arr = pc.expr(&call.args[0])?;
    let base = pc.alloc_tmp(8, call.span)?;
    pc.load(&arr, R1);
    pc.b.emit(insn::stx(8, R10, base, R1));
    let element = pc.alloc_tmp(8, call.span)?;

    let mut fields = vec![FieldKind::Int { signed: false }];
    fields.extend(std::iter::repeat_n(FieldKind::Str(len), MAX_ELEMENTS));
    let def = PrintfDef::new(sep, fields, PrintfKind::Join)
        .map_err(|e| CompileError::new(call.span, e.to_string()))?;
    let size = def.record_size();
    pc.g.out.printfs.push(def);
    let id = pc.g.out.printfs.len() - 1;
    let slot = FieldKind::Str(len).size();

    pc.emit_record_calling_helpers(call.span, size, |pc, rec| {
        pc.b.emit(insn::ldx(8, R1, R10, rec));
        pc.b.emit(insn::st_imm(8, R1, 0, id as i32));
        pc.b.emit(insn::st_imm(8, R1, 8, 0));
        let end = pc.b.label();
        for i in 0..MAX_ELEMENTS {
            // The element's pointer; a failed read leaves 0: the end.
            pc.b.emit(insn::mov64_reg(R1, R10));
            pc.b.emit(insn::alu64_imm(AluOp::Add, R1, i32::from(element)));
            pc.b.emit(insn::mov64_imm(R2, 8));
            pc.b.emit(insn::ldx(8, R3, R10, base));
            pc.b.emit(insn::alu64_imm(AluOp::Add, R3, (8 * i) as i32));
            pc.b.emit(insn::call(helper::PROBE_READ_USER));
            pc.check_user_read("probe_read_user", call.span)?;
            pc.b.emit(insn::ldx(8, R3, R10, element));
            pc.b.jmp_imm(JmpOp::Jeq, R3, 0, end);
            // Its string, into slot i (zeroed by the helper on failure).
            pc.b.emit(insn::ldx(8, R1, R10, rec));
            pc.b.emit(insn::alu64_imm(AluOp::Add, R1, (16 + i * slot) as i32));
            pc.b.emit(insn::mov64_imm(R2, len as i32));
            pc.b.emit(insn::call(helper::PROBE_READ_USER_STR));
            pc.check_user_read("probe_read_user_str", call.span)?;
            pc.b.emit(insn::ldx(8, R1, R10, rec));
            pc.b.emit(insn::st_imm(8, R1, 8, i as i32 + 1));
        }
        pc.b.bind(end);
        Ok(())
    })?;
    Ok(Val::Void)
}
