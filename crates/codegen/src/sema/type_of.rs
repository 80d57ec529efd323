//! `typeof(e)`: the type of an expression (never evaluated), and values
//! converted to it (`(typeof(e)) v`, `let $x: typeof(e) = v;`).

use ustrace_lang::ast::{Expr, ExprKind, IntType, Span};

use super::{Checker, Type, Typed};
use crate::fold::fold_cast;
use crate::CompileError;

impl Checker<'_> {
    /// The type `typeof(e)` names: `e`'s, except that a map with keys
    /// written without them (`typeof(@m)`) names its key type (a tuple for
    /// several keys), as in bpftrace.
    pub(crate) fn type_of(&mut self, e: &Expr) -> Result<Type, CompileError> {
        if let ExprKind::Map { name, keys } = &e.kind {
            let key = self.map_layout(name).map(|m| m.key.clone());
            if let (true, Some(key)) = (keys.is_empty(), key) {
                if !key.is_empty() {
                    let ty = Type::of_key_fields(&key).ok_or_else(|| {
                        CompileError::new(e.span, "typeof() of this map's keys is not supported")
                    })?;
                    self.record(e, &Typed::of(ty.clone()));
                    return Ok(ty);
                }
            }
        }
        let t = self.expr(e)?.ty;
        if t == Type::Void {
            return Err(CompileError::new(
                e.span,
                "this expression has no type: it has no value",
            ));
        }
        Ok(t)
    }

    /// `(typeof(of)) operand`: integers convert (truncated, then sign- or
    /// zero-extended), an integer becomes a bool as `!= 0`; strings,
    /// tuples of the same element types and equal types stay as they are.
    /// Without an operand, the type's zero (integers, bools, strings and
    /// tuples of those).
    pub(crate) fn typeof_cast(
        &mut self,
        of: &Expr,
        operand: Option<&Expr>,
    ) -> Result<Typed, CompileError> {
        let target = self.type_of(of)?;
        let Some(v) = operand else {
            return match &target {
                Type::Int { .. } => Ok(Typed {
                    ty: target,
                    konst: Some(0),
                }),
                Type::Bool => Ok(Typed::bool_const(false)),
                t if t.plain() => Ok(Typed::of(target)),
                t => Err(CompileError::new(
                    of.span,
                    format!(
                        "a variable of this type ({}) cannot start empty: give it a value, `let $x: typeof(e) = v;`",
                        t.describe()
                    ),
                )),
            };
        };
        let value = self.expr(v)?;
        match (&target, &value.ty) {
            (Type::Int { bits, signed }, from) if from.is_numeric() => {
                let ty = IntType {
                    size: bits / 8,
                    signed: *signed,
                };
                Ok(Typed {
                    ty: target.clone(),
                    konst: value.konst.map(|c| fold_cast(c, ty)),
                })
            }
            (Type::Bool, Type::Int { .. }) => Ok(match value.konst {
                Some(c) => Typed::bool_const(c != 0),
                None => Typed::bool(),
            }),
            (Type::Str(_), Type::Str(_)) => Ok(Typed::of(value.ty)),
            (a, b) if a.same_shape(b) => Ok(Typed::of(value.ty)),
            (a, b) => Err(mismatch(v.span, b, a)),
        }
    }
}

fn mismatch(span: Span, from: &Type, to: &Type) -> CompileError {
    CompileError::new(
        span,
        format!(
            "cannot convert a {} to the type typeof() names, {}",
            from.describe(),
            to.describe()
        ),
    )
}
