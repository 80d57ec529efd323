//! `sizeof` and `offsetof`: compile-time constants from the script's own
//! integer types, builtins' types, and the traced program's types.

use ustrace_lang::ast::{Expr, ExprKind, IntType, Span, TypeName};

use super::field_step;
use crate::builtins::{self, Call};
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;

impl Checker<'_> {
    /// `sizeof(TYPE)`: an integer type, a builtin (`sizeof(pid)`), any
    /// pointer, or a type of the traced program.
    pub(crate) fn sizeof_type(&mut self, ty: &TypeName, span: Span) -> Result<Typed, CompileError> {
        if ty.pointers > 0 {
            return Ok(Typed::int_const(8, false));
        }
        if let Some(int) = IntType::from_name(&ty.name) {
            return Ok(Typed::int_const(i64::from(int.size), false));
        }
        if let Some(b) = builtins::variable(&ty.name) {
            let t = (b.check)(self, &Call::variable(&ty.name, span))?;
            return self.size_of(&t.ty, span);
        }
        let d = self
            .ctx
            .named_type(&ty.display(), &self.opts.program_types)
            .map_err(|m| CompileError::new(ty.span, m))?;
        match d.table().size_of(d.id) {
            Some(size) => Ok(Typed::int_const(size as i64, false)),
            None => Err(CompileError::new(
                ty.span,
                format!(
                    "`{}` has no size (declared but not defined, or a flexible array)",
                    d.name()
                ),
            )),
        }
    }

    /// `sizeof(expr)`: the size of the expression's type.
    pub(crate) fn sizeof_expr(&mut self, e: &Expr) -> Result<Typed, CompileError> {
        // A program value: its type's size (a `char[16]` is 16 bytes,
        // not the 17 of the string it reads as).
        if super::may_be_typed(e) {
            if let Some(shape) = self.shape(e)? {
                return Ok(Typed::int_const(shape.ty().size() as i64, false));
            }
        }
        let t = self.literal_type(e)?;
        self.size_of(&t, e.span)
    }

    /// The type of `e`, a tuple literal's elements with their own types
    /// (its value holds strings in buffers of the map string size; bpftrace
    /// sizes a `(1, "ab")` with its 3-byte string).
    fn literal_type(&mut self, e: &Expr) -> Result<Type, CompileError> {
        let ty = self.expr(e)?.ty;
        let ExprKind::Tuple(items) = &e.kind else {
            return Ok(ty);
        };
        let mut types = Vec::with_capacity(items.len());
        for item in items {
            types.push(self.literal_type(item)?);
        }
        Ok(Type::Tuple(types))
    }

    fn size_of(&self, ty: &Type, span: Span) -> Result<Typed, CompileError> {
        let size = match ty {
            Type::Int { bits, .. } => u64::from(*bits / 8),
            Type::Bool => 1,
            Type::Str(n) | Type::Buffer(n) => *n as u64,
            Type::Record(d) => d.size(),
            Type::Tuple(_) => match ty.bpftrace_layout() {
                Some((size, _)) => size,
                None => {
                    return Err(CompileError::new(
                        span,
                        format!("sizeof() of a tuple holding {} is not supported (only integers, bools, strings and tuples of those)", ty.describe()),
                    ))
                }
            },
            other => {
                return Err(CompileError::new(
                    span,
                    format!("sizeof() of a {} is not supported", other.name()),
                ))
            }
        };
        Ok(Typed::int_const(size as i64, false))
    }

    /// `offsetof(TYPE, a.b)`: the byte offset of a member of a struct or
    /// union of the traced program (members of members after `.`).
    pub(crate) fn offsetof(
        &mut self,
        ty: &TypeName,
        fields: &[String],
        span: Span,
    ) -> Result<Typed, CompileError> {
        let mut d = self
            .ctx
            .named_type(&ty.display(), &self.opts.program_types)
            .map_err(|m| CompileError::new(ty.span, m))?;
        let mut offset = 0u64;
        for f in fields {
            let step = field_step(&d, f).map_err(|m| CompileError::new(span, m))?;
            if step.deref {
                return Err(CompileError::new(
                    span,
                    format!("offsetof() cannot go through the pointer `{}`", d.name()),
                ));
            }
            offset = offset.saturating_add(step.offset);
            d = step.ty;
        }
        Ok(Typed::int_const(offset as i64, false))
    }
}
