//! Expressions: operators, casts, ternaries, string comparison.

use ustrace_lang::ast::{BinaryOp, Expr, ExprKind, IntType, Span, UnaryOp};

use super::*;
use crate::builtins::{self, Call};
use crate::fold::*;
use crate::insn::{self, helper, AluOp, JmpOp, R0, R1, R10, R2, R3};
use crate::sema::expr::binary_signedness;
use crate::sema::Type;
use crate::usdt_args;
use crate::CompileError;

impl ProgramCompiler<'_, '_> {
    /// The code of `e`; a constant the semantic pass folded is emitted
    /// where it is used.
    pub(crate) fn expr(&mut self, e: &Expr) -> Result<Val, CompileError> {
        if crate::typed::may_be_typed(e) {
            if let Some(v) = self.typed_expr(e)? {
                return Ok(v);
            }
        }
        let t = self.typed(e)?;
        match (t.konst, &t.ty) {
            (Some(c), Type::Int { signed, .. }) => return Ok(Val::Const(c, *signed)),
            (Some(c), Type::Bool) => return Ok(Val::Const(c, false)),
            _ => {}
        }
        match &e.kind {
            ExprKind::String(s) => Ok(Val::StrConst(s.clone())),
            ExprKind::Builtin(name) => {
                let call = Call::variable(name, e.span);
                match builtins::variable(name) {
                    Some(b) => (b.emit)(self, &call),
                    None => Err(internal(e.span)),
                }
            }
            // A positional parameter that is not an integer is a string.
            ExprKind::Positional(n) => match self.g.opts.positional.get(n.wrapping_sub(1)) {
                Some(t) => Ok(Val::StrConst(t.clone())),
                None => Err(internal(e.span)),
            },
            ExprKind::Variable(_) => self.var_value(e),
            ExprKind::Map { .. } => self.map_read(e),
            ExprKind::Call {
                name,
                args,
                name_span,
            } => builtins::emit_call(self, &Call::function(name, args, e.span, *name_span)),
            ExprKind::Unary { op, operand } => self.unary(*op, operand, e.span),
            ExprKind::Binary { op, lhs, rhs } => {
                if matches!(op, BinaryOp::And | BinaryOp::Or) {
                    return self.logical(*op, lhs, rhs, e.span);
                }
                let l = self.expr(lhs)?;
                let r = self.expr(rhs)?;
                if let Type::Tuple(items) = self.typed(lhs)?.ty {
                    return self.tuple_compare(*op, l, r, &items, e.span);
                }
                self.binary(*op, l, r, e.span)
            }
            ExprKind::Ternary {
                cond,
                then_expr,
                else_expr,
            } => {
                let c = self.expr(cond)?;
                self.truth(&c);
                let else_l = self.b.label();
                let end_l = self.b.label();
                if t.ty == Type::Void {
                    // Both arms have no value: run the one taken.
                    self.b.jmp_imm(JmpOp::Jeq, R0, 0, else_l);
                    self.expr(then_expr)?;
                    self.b.goto(end_l);
                    self.b.bind(else_l);
                    self.expr(else_expr)?;
                    self.b.bind(end_l);
                    return Ok(Val::Void);
                }
                // Both arms are integers or strings (the semantic pass
                // checked it); the result slot fits either.
                let result = self.alloc_tmp(8.max(self.g.opts.str_len), e.span)?;
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, else_l);
                let a = self.expr(then_expr)?;
                self.store_result(&a, result)?;
                self.b.goto(end_l);
                self.b.bind(else_l);
                let bv = self.expr(else_expr)?;
                self.store_result(&bv, result)?;
                self.b.bind(end_l);
                val_in_slot(result, &t.ty, e.span)
            }
            ExprKind::Cast { ty, operand } => {
                let v = self.expr(operand)?;
                self.cast(v, *ty, e.span)
            }
            ExprKind::IncDec {
                target,
                increment,
                prefix,
            } => {
                if let ExprKind::Map { name, keys } = &target.kind {
                    let cur = self.map_read(target)?;
                    let Val::Slot(old_slot, signed) = cur else {
                        return Err(internal(target.span));
                    };
                    self.b.emit(insn::ldx(8, R0, R10, old_slot));
                    self.b.emit(insn::alu64_imm(
                        AluOp::Add,
                        R0,
                        if *increment { 1 } else { -1 },
                    ));
                    let new = self.spill(signed, e.span)?;
                    self.map_store(name, keys, new.clone(), e.span)?;
                    return Ok(if *prefix {
                        new
                    } else {
                        Val::Slot(old_slot, signed)
                    });
                }
                let cur = self.var_value(target)?;
                let Val::Slot(slot, signed) = cur else {
                    return Err(internal(target.span));
                };
                self.b.emit(insn::ldx(8, R0, R10, slot));
                let old = self.spill(signed, e.span)?;
                self.b.emit(insn::alu64_imm(
                    AluOp::Add,
                    R0,
                    if *increment { 1 } else { -1 },
                ));
                self.b.emit(insn::stx(8, R10, slot, R0));
                Ok(if *prefix {
                    Val::Slot(slot, signed)
                } else {
                    old
                })
            }
            ExprKind::Tuple(items) => self.tuple(items, &t.ty, e.span),
            ExprKind::TypeofCast { operand, .. } => {
                self.typeof_cast(operand.as_deref(), &t.ty, e.span)
            }
            ExprKind::Block { stmts, value } => {
                for s in stmts {
                    let mark = self.b.stack_mark();
                    self.stmt(s)?;
                    self.b.release(mark);
                }
                self.expr(value)
            }
            ExprKind::Field { base, field } if field.parse::<usize>().is_ok() => {
                let index = field.parse::<usize>().unwrap_or(usize::MAX);
                self.tuple_element(base, index, e.span)
            }
            ExprKind::Index { base, index } if self.typed(base)?.ty.is_tuple() => {
                let i = self
                    .typed(index)?
                    .konst
                    .ok_or_else(|| internal(index.span))?;
                self.tuple_element(base, usize::try_from(i).unwrap_or(usize::MAX), e.span)
            }
            // Constants were returned above; the semantic pass refused the
            // rest, and typed chains were emitted by `typed_expr`.
            ExprKind::Integer(_)
            | ExprKind::PositionalCount
            | ExprKind::TypeCast { .. }
            | ExprKind::SizeofType(_)
            | ExprKind::SizeofExpr(_)
            | ExprKind::Typeof(_)
            | ExprKind::Offsetof { .. }
            | ExprKind::Field { .. }
            | ExprKind::Index { .. } => Err(internal(e.span)),
        }
    }

    /// `(a, b, ...)`: the elements side by side in a stack buffer.
    fn tuple(&mut self, items: &[Expr], ty: &Type, span: Span) -> Result<Val, CompileError> {
        let Type::Tuple(types) = ty else {
            return Err(internal(span));
        };
        let size = ty.slot_size();
        let slot = self.alloc_tmp(size, span)?;
        let mut off = slot;
        for (item, t) in items.iter().zip(types) {
            let v = self.expr(item)?;
            self.store_at(&v, t, off);
            off += t.slot_size() as i16;
        }
        Ok(Val::Tuple(slot, size))
    }

    /// `$t.N` / `$t[N]`: the element where it lies in the tuple's buffer.
    fn tuple_element(
        &mut self,
        base: &Expr,
        index: usize,
        span: Span,
    ) -> Result<Val, CompileError> {
        let Type::Tuple(types) = self.typed(base)?.ty else {
            return Err(internal(span));
        };
        let Val::Tuple(slot, _) = self.expr(base)? else {
            return Err(internal(span));
        };
        let Some(t) = types.get(index) else {
            return Err(internal(span));
        };
        let at = slot + Type::tuple_offset(&types, index) as i16;
        val_in_slot(at, t, span)
    }

    pub(crate) fn cast(&mut self, v: Val, ty: IntType, span: Span) -> Result<Val, CompileError> {
        self.load(&v, R0);
        usdt_args::extend(&mut self.b, R0, ty.size, ty.signed);
        self.spill(ty.signed, span)
    }

    pub(crate) fn logical(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
    ) -> Result<Val, CompileError> {
        let slot = self.alloc_tmp(8, span)?;
        let done = self.b.label();
        let l = self.expr(lhs)?;
        self.truth(&l);
        self.b
            .emit(insn::mov64_imm(R1, if op == BinaryOp::And { 0 } else { 1 }));
        self.b.emit(insn::stx(8, R10, slot, R1));
        let jop = if op == BinaryOp::And {
            JmpOp::Jeq
        } else {
            JmpOp::Jne
        };
        self.b.jmp_imm(jop, R0, 0, done);
        let r = self.expr(rhs)?;
        self.truth(&r);
        self.b.emit(insn::mov64_imm(R1, 0));
        let skip = self.b.label();
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, skip);
        self.b.emit(insn::mov64_imm(R1, 1));
        self.b.bind(skip);
        self.b.emit(insn::stx(8, R10, slot, R1));
        self.b.bind(done);
        Ok(Val::Slot(slot, false))
    }

    pub(crate) fn unary(
        &mut self,
        op: UnaryOp,
        operand: &Expr,
        span: Span,
    ) -> Result<Val, CompileError> {
        let v = self.expr(operand)?;
        let signed = v.ty().is_signed();
        match op {
            UnaryOp::Neg => {
                self.load(&v, R0);
                self.b.emit(insn::neg64(R0));
                self.spill(true, span)
            }
            UnaryOp::BitNot => {
                self.load(&v, R0);
                self.b.emit(insn::alu64_imm(AluOp::Xor, R0, -1));
                self.spill(signed, span)
            }
            UnaryOp::Not => {
                self.load(&v, R1);
                self.b.emit(insn::mov64_imm(R0, 1));
                let l = self.b.label();
                self.b.jmp_imm(JmpOp::Jeq, R1, 0, l);
                self.b.emit(insn::mov64_imm(R0, 0));
                self.b.bind(l);
                self.spill(false, span)
            }
            UnaryOp::Deref => self.deref(v, span),
        }
    }

    /// `*ptr`: reads 8 bytes of user memory.
    pub(crate) fn deref(&mut self, v: Val, span: Span) -> Result<Val, CompileError> {
        let slot = self.alloc_tmp(8, span)?;
        self.b.emit(insn::st_imm(8, R10, slot, 0));
        self.load(&v, R3);
        self.b.emit(insn::mov64_reg(R1, R10));
        self.b.emit(insn::alu64_imm(AluOp::Add, R1, slot as i32));
        self.b.emit(insn::mov64_imm(R2, 8));
        self.b.emit(insn::call(helper::PROBE_READ_USER));
        self.check_user_read("probe_read_user", span)?;
        Ok(Val::Slot(slot, true))
    }

    pub(crate) fn binary(
        &mut self,
        op: BinaryOp,
        l: Val,
        r: Val,
        span: Span,
    ) -> Result<Val, CompileError> {
        // The semantic pass checked the operand types: strings compare
        // with == and != only, everything else takes integers.
        if let (Type::Str(_), Type::Str(_)) = (l.ty(), r.ty()) {
            return self.str_compare(op, l, r, span);
        }
        let signed = binary_signedness(&l.typed(), &r.typed());
        if let (Val::Const(a, _), Val::Const(b, _)) = (&l, &r) {
            if let Some(v) = fold(op, *a, *b, signed) {
                let res_signed = if is_comparison(op) { false } else { signed };
                return Ok(Val::Const(v, res_signed));
            }
        }
        // A constant right operand that fits an instruction's immediate.
        let imm = match r {
            Val::Const(c, _) if i32::try_from(c).is_ok() => Some(c as i32),
            _ => None,
        };
        if is_comparison(op) {
            let jop = match (op, signed) {
                (BinaryOp::Eq, _) => JmpOp::Jeq,
                (BinaryOp::Ne, _) => JmpOp::Jne,
                (BinaryOp::Lt, true) => JmpOp::Jslt,
                (BinaryOp::Lt, false) => JmpOp::Jlt,
                (BinaryOp::Le, true) => JmpOp::Jsle,
                (BinaryOp::Le, false) => JmpOp::Jle,
                (BinaryOp::Gt, true) => JmpOp::Jsgt,
                (BinaryOp::Gt, false) => JmpOp::Jgt,
                (BinaryOp::Ge, true) => JmpOp::Jsge,
                _ => JmpOp::Jge,
            };
            self.load(&l, R2);
            let t = self.b.label();
            match imm {
                Some(c) => {
                    self.b.emit(insn::mov64_imm(R0, 1));
                    self.b.jmp_imm(jop, R2, c, t);
                }
                None => {
                    self.load(&r, R1);
                    self.b.emit(insn::mov64_imm(R0, 1));
                    self.b.jmp_reg(jop, R2, R1, t);
                }
            }
            self.b.emit(insn::mov64_imm(R0, 0));
            self.b.bind(t);
            return self.spill(false, span);
        }
        let aop = match op {
            BinaryOp::Add => AluOp::Add,
            BinaryOp::Sub => AluOp::Sub,
            BinaryOp::Mul => AluOp::Mul,
            BinaryOp::BitAnd => AluOp::And,
            BinaryOp::BitOr => AluOp::Or,
            BinaryOp::BitXor => AluOp::Xor,
            BinaryOp::Shl => AluOp::Lsh,
            BinaryOp::Shr if signed => AluOp::Arsh,
            BinaryOp::Shr => AluOp::Rsh,
            BinaryOp::Div => AluOp::Div,
            BinaryOp::Mod => AluOp::Mod,
            // `&&` and `||` short-circuit: see `logical`.
            _ => return Err(internal(span)),
        };
        let division = matches!(op, BinaryOp::Div | BinaryOp::Mod);
        // Signed division and remainder are the `off = 1` forms.
        let sign_off = if division && signed { 1 } else { 0 };
        self.load_consumed(&l, R0);
        match imm {
            // Division by zero yields 0 (documented), whatever `l` is.
            Some(0) if division => self.b.emit(insn::mov64_imm(R0, 0)),
            Some(c) => {
                let c = if matches!(aop, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) {
                    c & 63
                } else {
                    c
                };
                self.b.emit(insn::Insn {
                    off: sign_off,
                    ..insn::alu64_imm(aop, R0, c)
                });
            }
            None if division => {
                // The BPF ISA defines x/0 = 0 and x%0 = x; both are 0 here.
                self.load(&r, R1);
                let zero = self.b.label();
                let done = self.b.label();
                self.b.jmp_imm(JmpOp::Jeq, R1, 0, zero);
                self.b.emit(insn::Insn {
                    off: sign_off,
                    ..insn::alu64_reg(aop, R0, R1)
                });
                self.b.goto(done);
                self.b.bind(zero);
                self.b.emit(insn::mov64_imm(R0, 0));
                self.b.bind(done);
            }
            None => {
                self.load(&r, R1);
                self.b.emit(insn::alu64_reg(aop, R0, R1));
            }
        }
        self.spill(signed, span)
    }

    /// String equality, byte by byte up to the first NUL.
    pub(crate) fn str_compare(
        &mut self,
        op: BinaryOp,
        l: Val,
        r: Val,
        span: Span,
    ) -> Result<Val, CompileError> {
        let n = self.g.opts.str_len;
        let a = self.materialize_str(&l, span)?;
        let b = self.materialize_str(&r, span)?;
        let len = l.ty().str_len().min(r.ty().str_len()).min(n.max(1));
        let not_equal = self.b.label();
        let done = self.b.label();
        for i in 0..len {
            let i = i as i16;
            self.b.emit(insn::ldx(1, R1, R10, a + i));
            self.b.emit(insn::ldx(1, R2, R10, b + i));
            self.b.jmp_reg(JmpOp::Jne, R1, R2, not_equal);
            self.b.jmp_imm(JmpOp::Jeq, R1, 0, done);
        }
        self.b.bind(done);
        self.b
            .emit(insn::mov64_imm(R0, if op == BinaryOp::Eq { 1 } else { 0 }));
        let end = self.b.label();
        self.b.goto(end);
        self.b.bind(not_equal);
        self.b
            .emit(insn::mov64_imm(R0, if op == BinaryOp::Eq { 0 } else { 1 }));
        self.b.bind(end);
        self.spill(false, span)
    }
}
