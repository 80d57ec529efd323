//! `==` and `!=` on tuples: element by element, as bpftrace compares them.

use ustrace_lang::ast::{BinaryOp, Span};

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
