//! `==` and `!=` on tuples: element by element, as bpftrace compares them;
//! values converted to a `typeof(...)` type.

use ustrace_lang::ast::{BinaryOp, Expr, IntType, Span};

use super::*;
use crate::builder::Label;
use crate::insn::{self, JmpOp, R0, R1, R10, R2};
use crate::sema::Type;
use crate::CompileError;

impl ProgramCompiler<'_, '_> {
    /// `l op r` for two tuples of the element types `items` (the semantic
    /// pass checked both sides have them): a bool.
    pub(crate) fn tuple_compare(
        &mut self,
        op: BinaryOp,
        l: Val,
        r: Val,
        items: &[Type],
        span: Span,
    ) -> Result<Val, CompileError> {
        let (Val::Tuple(a, _), Val::Tuple(b, _)) = (l, r) else {
            return Err(internal(span));
        };
        let equal = i32::from(op == BinaryOp::Eq);
        let differ = self.b.label();
        let end = self.b.label();
        self.compare_elements(a, b, items, differ);
        self.b.emit(insn::mov64_imm(R0, equal));
        self.b.goto(end);
        self.b.bind(differ);
        self.b.emit(insn::mov64_imm(R0, 1 - equal));
        self.b.bind(end);
        self.spill(false, span)
    }

    /// `(typeof(e)) v` of type `ty` (the semantic pass's result; constants
    /// never get here): an integer conversion, an integer as a bool, the
    /// value itself, or without `v` the zero of a string or tuple.
    pub(crate) fn typeof_cast(
        &mut self,
        operand: Option<&Expr>,
        ty: &Type,
        span: Span,
    ) -> Result<Val, CompileError> {
        let Some(operand) = operand else {
            let size = ty.slot_size();
            let slot = self.alloc_tmp(size, span)?;
            for off in (0..size).step_by(8) {
                self.b.emit(insn::st_imm(8, R10, slot + off as i16, 0));
            }
            return val_in_slot(slot, ty, span);
        };
        let from = self.typed(operand)?.ty.clone();
        let v = self.expr(operand)?;
        match ty {
            Type::Int { bits, signed } => self.cast(
                v,
                IntType {
                    size: bits / 8,
                    signed: *signed,
                },
                span,
            ),
            Type::Bool if from.is_int() => {
                self.load(&v, R1);
                self.b.emit(insn::mov64_imm(R0, 1));
                let done = self.b.label();
                self.b.jmp_imm(JmpOp::Jne, R1, 0, done);
                self.b.emit(insn::mov64_imm(R0, 0));
                self.b.bind(done);
                self.spill(false, span)
            }
            _ => Ok(v),
        }
    }

    /// Jumps to `differ` at the first element of the tuples at `a` and `b`
    /// that differs: strings up to their NUL, nested tuples element by
    /// element, everything else as its 8 bytes.
    fn compare_elements(&mut self, a: i16, b: i16, items: &[Type], differ: Label) {
        let mut off = 0i16;
        for t in items {
            match t {
                Type::Str(n) => {
                    let done = self.b.label();
                    for i in 0..*n as i16 {
                        self.b.emit(insn::ldx(1, R1, R10, a + off + i));
                        self.b.emit(insn::ldx(1, R2, R10, b + off + i));
                        self.b.jmp_reg(JmpOp::Jne, R1, R2, differ);
                        self.b.jmp_imm(JmpOp::Jeq, R1, 0, done);
                    }
                    self.b.bind(done);
                }
                Type::Tuple(inner) => self.compare_elements(a + off, b + off, inner, differ),
                _ => {
                    self.b.emit(insn::ldx(8, R1, R10, a + off));
                    self.b.emit(insn::ldx(8, R2, R10, b + off));
                    self.b.jmp_reg(JmpOp::Jne, R1, R2, differ);
                }
            }
            off += t.slot_size() as i16;
        }
    }
}
