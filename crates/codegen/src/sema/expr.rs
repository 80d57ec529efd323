//! The types of expressions, with constants folded as the emitter folds
//! them (signedness depends on which operands are constants).

use ustrace_lang::ast::{BinaryOp, Expr, ExprKind, Span, UnaryOp};

use super::{Checker, Type, Typed};
use crate::builtins::{self, Call};
use crate::fold::{fold, fold_cast, is_comparison, parse_int};
use crate::CompileError;

impl Checker<'_> {
    /// The type (and constant value) of `e`, recorded for the emitter.
    pub(crate) fn expr(&mut self, e: &Expr) -> Result<Typed, CompileError> {
        let t = self.expr_kind(e)?;
        self.record(e, &t);
        Ok(t)
    }

    /// Records the type of `e` for the emitter.
    pub(crate) fn record(&mut self, e: &Expr, t: &Typed) {
        self.types.record(e.id, t);
    }

    fn expr_kind(&mut self, e: &Expr) -> Result<Typed, CompileError> {
        if crate::typed::may_be_typed(e) {
            if let Some(t) = self.typed_expr(e)? {
                return Ok(t);
            }
        }
        match &e.kind {
            ExprKind::Integer(v) => Ok(Typed::int_const(*v as i64, false)),
            ExprKind::String(s) => Ok(Typed::of(Type::Str(s.len() + 1))),
            ExprKind::Builtin(name) => {
                let call = Call::variable(name, e.span);
                match builtins::variable(name) {
                    Some(b) => (b.check)(self, &call),
                    None => Err(builtins::unknown(name, e.span, "builtin")),
                }
            }
            ExprKind::Positional(n) => {
                Ok(match self.opts.positional.get(n.wrapping_sub(1)) {
                    Some(t) => match parse_int(t) {
                        Some(v) => Typed::int_const(v, true),
                        None => Typed::of(Type::Str(t.len() + 1)),
                    },
                    None => Typed::int_const(0, true),
                })
            }
            ExprKind::PositionalCount => Ok(Typed::int_const(
                self.opts.positional.len() as i64,
                false,
            )),
            ExprKind::Variable(name) => self.var_type(name, e.span),
            ExprKind::Map { name, keys } => self.map_read(name, keys, e.span),
            ExprKind::Call {
                name,
                args,
                name_span,
            } => {
                let call = Call::function(name, args, e.span, *name_span);
                builtins::check_call(self, &call)
            }
            ExprKind::Unary { op, operand } => self.unary(*op, operand),
            ExprKind::Binary { op, lhs, rhs } => {
                if matches!(op, BinaryOp::And | BinaryOp::Or) {
                    let l = self.expr(lhs)?;
                    self.truth(&l, lhs.span)?;
                    let r = self.expr(rhs)?;
                    self.truth(&r, rhs.span)?;
                    return Ok(Typed::bool());
                }
                let l = self.expr(lhs)?;
                let r = self.expr(rhs)?;
                self.binary(*op, l, r, e.span, lhs.span, rhs.span)
            }
            ExprKind::Ternary {
                cond,
                then_expr,
                else_expr,
            } => {
                let c = self.expr(cond)?;
                self.truth(&c, cond.span)?;
                let a = self.expr(then_expr)?.ty;
                let b = self.expr(else_expr)?.ty;
                match (&a, &b) {
                    (Type::Int { signed: s1, .. }, Type::Int { signed: s2, .. }) => {
                        Ok(Typed::int(*s1 || *s2))
                    }
                    (Type::Bool, Type::Bool) => Ok(Typed::bool()),
                    (Type::Int { signed, .. }, Type::Bool) | (Type::Bool, Type::Int { signed, .. }) => {
                        Ok(Typed::int(*signed))
                    }
                    (Type::Str(_), Type::Str(_)) => Ok(Typed::of(Type::Str(self.opts.str_len))),
                    // `c ? print("a") : print("b");`: run for their effects.
                    (Type::Void, Type::Void) => Ok(Typed::of(Type::Void)),
                    _ => Err(CompileError::new(
                        e.span,
                        format!(
                            "the two branches of `?:` differ in type ({} and {})",
                            a.name(),
                            b.name()
                        ),
                    )),
                }
            }
            ExprKind::Cast { ty, operand } => {
                let v = self.int_operand(operand)?;
                // A constant keeps the cast's width too (`sizeof((uint8)1)`).
                Ok(Typed {
                    ty: Type::Int {
                        bits: ty.size.saturating_mul(8),
                        signed: ty.signed,
                    },
                    konst: v.konst.map(|c| fold_cast(c, *ty)),
                })
            }
            ExprKind::Block { stmts, value } => {
                for s in stmts {
                    self.stmt(s)?;
                }
                // Never a constant: its statements must run.
                let v = self.expr(value)?;
                Ok(Typed::of(v.ty))
            }
            ExprKind::Tuple(items) => {
                let str_len = self.map_str_len();
                let mut types = Vec::with_capacity(items.len());
                for item in items {
                    let t = self.expr(item)?.ty;
                    if t.record_fields().is_none() {
                        return Err(CompileError::new(
                            item.span,
                            "this expression has no value to put in a tuple",
                        ));
                    }
                    types.push(t.into_tuple_element(str_len));
                }
                Ok(Typed::of(Type::Tuple(types)))
            }
            ExprKind::IncDec { target, .. } => self.inc_dec(target, e.span),
            ExprKind::SizeofType(ty) => self.sizeof_type(ty, e.span),
            ExprKind::SizeofExpr(inner) => self.sizeof_expr(inner),
            ExprKind::Typeof(inner) => Ok(Typed::of(self.type_of(inner)?)),
            ExprKind::TypeofCast { of, operand } => self.typeof_cast(of, operand.as_deref()),
            ExprKind::Offsetof { ty, fields } => self.offsetof(ty, fields, e.span),
            ExprKind::Field { base, .. } if is_args(base) => Err(internal_typed(e.span)),
            ExprKind::TypeCast { .. } => Err(internal_typed(e.span)),
            ExprKind::Field { base, field } if field.parse::<usize>().is_ok() => {
                let index = field.parse::<usize>().unwrap_or(usize::MAX);
                self.tuple_element(base, index, e.span)
            }
            ExprKind::Index { base, index } if self.expr(base)?.ty.is_tuple() => {
                let Some(i) = self.expr(index)?.konst else {
                    return Err(CompileError::new(
                        index.span,
                        "a tuple index must be an integer constant",
                    ));
                };
                self.tuple_element(base, usize::try_from(i).unwrap_or(usize::MAX), e.span)
            }
            ExprKind::Field { .. } | ExprKind::Index { .. } => Err(CompileError::new(
                e.span,
                "`.`, `->` and `[i]` need a value of the traced program's types: args.NAME, retval, a cast such as (struct req *)arg0, or a $variable only ever assigned one",
            )),
        }
    }

    /// `$t.N` / `$t[N]`: element `index` of a tuple.
    fn tuple_element(
        &mut self,
        base: &Expr,
        index: usize,
        span: Span,
    ) -> Result<Typed, CompileError> {
        let t = self.expr(base)?.ty;
        let Type::Tuple(items) = &t else {
            return Err(CompileError::new(
                base.span,
                format!(
                    "`.N` reads an element of a tuple, but this is a {}",
                    t.name()
                ),
            ));
        };
        match items.get(index) {
            Some(item) => Ok(Typed::of(item.clone())),
            None if items.is_empty() => Err(CompileError::new(
                span,
                "the empty tuple `()` has no elements",
            )),
            None => Err(CompileError::new(
                span,
                format!(
                    "tuple index {} is out of range: the tuple has {} elements (0..{})",
                    if index == usize::MAX {
                        "?".to_string()
                    } else {
                        index.to_string()
                    },
                    items.len(),
                    items.len() - 1
                ),
            )),
        }
    }

    /// `x++`, `--@m[k]`: an integer variable or map element.
    fn inc_dec(&mut self, target: &Expr, span: Span) -> Result<Typed, CompileError> {
        if let ExprKind::Map { name, keys } = &target.kind {
            let cur = self.expr(target)?;
            if !cur.ty.is_int() || cur.konst.is_some() {
                if self.lenient {
                    self.map_store(name, keys, &Type::int(false), span)?;
                    return Ok(Typed::int_const(0, false));
                }
                return Err(CompileError::new(
                    target.span,
                    "`++`/`--` need an integer map value",
                ));
            }
            self.map_store(name, keys, &cur.ty, span)?;
            return Ok(Typed::int(cur.ty.is_signed()));
        }
        if !matches!(target.kind, ExprKind::Variable(_)) {
            return Err(CompileError::new(
                target.span,
                "`++`/`--` need a $variable or an @map element",
            ));
        }
        let cur = self.expr(target)?;
        if !cur.ty.is_int() {
            return Err(CompileError::new(
                target.span,
                "`++`/`--` need an integer variable",
            ));
        }
        Ok(Typed::int(cur.ty.is_signed()))
    }

    /// An expression that must be an integer (a bool counts as 0 or 1).
    pub(crate) fn int_operand(&mut self, e: &Expr) -> Result<Typed, CompileError> {
        let v = self.expr(e)?;
        if v.ty.is_numeric() {
            return Ok(v);
        }
        Err(CompileError::new(
            e.span,
            format!("expected an integer here, found a {}", v.ty.name()),
        ))
    }

    fn unary(&mut self, op: UnaryOp, operand: &Expr) -> Result<Typed, CompileError> {
        let v = self.int_operand(operand)?;
        let signed = v.ty.is_signed();
        Ok(match (op, v.konst) {
            (UnaryOp::Neg, Some(c)) => Typed::int_const(c.wrapping_neg(), true),
            (UnaryOp::Not, Some(c)) => Typed::bool_const(c == 0),
            (UnaryOp::BitNot, Some(c)) => Typed::int_const(!c, signed),
            (UnaryOp::Neg, None) => Typed::int(true),
            (UnaryOp::BitNot, None) => Typed::int(signed),
            (UnaryOp::Not, None) => Typed::bool(),
            // `*ptr` reads 8 bytes of user memory.
            (UnaryOp::Deref, _) => Typed::int(true),
        })
    }

    /// The type of `l op r` (not `&&`/`||`).
    pub(crate) fn binary(
        &mut self,
        op: BinaryOp,
        l: Typed,
        r: Typed,
        span: Span,
        lspan: Span,
        rspan: Span,
    ) -> Result<Typed, CompileError> {
        if l.ty.is_tuple() || r.ty.is_tuple() {
            return tuple_comparison(op, &l.ty, &r.ty, span, lspan);
        }
        if let (Type::Str(_), Type::Str(_)) = (&l.ty, &r.ty) {
            return match op {
                BinaryOp::Eq | BinaryOp::Ne => Ok(Typed::bool()),
                _ => Err(CompileError::new(
                    span,
                    format!("operator {op:?} is not defined on strings"),
                )),
            };
        }
        for (t, s) in [(&l.ty, lspan), (&r.ty, rspan)] {
            if !t.is_numeric() {
                return Err(CompileError::new(
                    s,
                    format!(
                        "type mismatch: this operand is a {} but the operator needs integers",
                        t.name()
                    ),
                ));
            }
        }
        let signed = binary_signedness(&l, &r);
        let folded = match (l.konst, r.konst) {
            (Some(a), Some(b)) => fold(op, a, b, signed),
            _ => None,
        };
        Ok(match (is_comparison(op), folded) {
            (true, Some(v)) => Typed::bool_const(v != 0),
            (true, None) => Typed::bool(),
            (false, Some(v)) => Typed::int_const(v, signed),
            (false, None) => Typed::int(signed),
        })
    }
}

/// `==`/`!=` of two tuples (a bool): both tuples of the same element
/// types, integers, bools, strings and tuples of those.
fn tuple_comparison(
    op: BinaryOp,
    l: &Type,
    r: &Type,
    span: Span,
    lspan: Span,
) -> Result<Typed, CompileError> {
    if !matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
        return Err(CompileError::new(
            span,
            "tuples compare with `==` and `!=` only",
        ));
    }
    if !(l.is_tuple() && r.is_tuple()) {
        return Err(CompileError::new(
            span,
            format!("cannot compare a {} with a {}", l.describe(), r.describe()),
        ));
    }
    if !l.same_shape(r) {
        return Err(CompileError::new(
            span,
            format!(
                "tuples compared with `{}` must have the same element types: {} and {}",
                if op == BinaryOp::Eq { "==" } else { "!=" },
                l.describe(),
                r.describe()
            ),
        ));
    }
    if !l.plain() {
        return Err(CompileError::new(
            lspan,
            format!(
                "tuples holding stacks, symbols or other printed-later values do not compare: {}",
                l.describe()
            ),
        ));
    }
    Ok(Typed::bool())
}

/// Signed when both sides are, or when a constant meets a signed side.
pub(crate) fn binary_signedness(l: &Typed, r: &Typed) -> bool {
    let (ls, rs) = (l.ty.is_signed(), r.ty.is_signed());
    let (lc, rc) = (l.konst.is_some(), r.konst.is_some());
    (ls || lc) && (rs || rc) && (ls || rs)
}

/// A typed chain the typed walk should have taken.
fn internal_typed(span: Span) -> CompileError {
    CompileError::new(span, "internal error: a typed expression was not typed")
}

/// True for the `args` builtin (the base of `args.NAME`).
pub(crate) fn is_args(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Builtin(name) if name == "args")
}
