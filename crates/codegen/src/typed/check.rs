//! The semantic pass's walk of a typed chain: its type, and every error.

use ustrace_dwarf::Bitfield;
use ustrace_lang::ast::{Expr, ExprKind, Span, UnaryOp};

use super::{deref_step, field_step, index_step, DType, Kind, Root, RootLoc};
use crate::sema::expr::is_args;
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;

/// What a typed expression is, before it is read.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    /// A value the program holds (a register, a cast operand).
    Value(DType),
    /// An object in the traced process's memory.
    Place {
        /// Its type.
        ty: DType,
        /// For bitfields: the bits, counted from its byte offset.
        bitfield: Option<Bitfield>,
    },
}

impl Shape {
    /// The type.
    pub(crate) fn ty(&self) -> &DType {
        match self {
            Shape::Value(t) | Shape::Place { ty: t, .. } => t,
        }
    }
}

/// The shape of a parameter or return value where it is.
pub(crate) fn root_shape(root: Root) -> Shape {
    match root.loc {
        RootLoc::Specs(_) => Shape::Value(root.ty),
        RootLoc::Memory { .. } | RootLoc::Registers { .. } => Shape::Place {
            ty: root.ty,
            bitfield: None,
        },
    }
}

/// The largest program value printed whole (`print(*args.r)`): it is
/// copied through the 512-byte BPF stack.
pub(crate) const PRINTED_RECORD_MAX: u64 = 256;

/// The bytes of the string buffer that holds a `char[len]`: at most the
/// script's string length, NUL included.
pub(crate) fn char_array_buffer(len: u64, str_len: usize) -> usize {
    (len.min(str_len.saturating_sub(1) as u64) as usize) + 1
}

/// The script type of a typed expression once read.
pub(crate) fn read_type(shape: &Shape, str_len: usize) -> Result<Type, String> {
    let bitfield = matches!(
        shape,
        Shape::Place {
            bitfield: Some(_),
            ..
        }
    );
    Ok(match (shape.ty().kind(), shape) {
        (Kind::Int { signed, .. }, _) if bitfield => Type::Int { bits: 64, signed },
        (Kind::Int { size, signed, .. }, _) => Type::Int {
            bits: size * 8,
            signed,
        },
        (Kind::Pointer { .. }, _) => Type::Int {
            bits: 64,
            signed: false,
        },
        (Kind::CharArray { len }, Shape::Place { .. }) => {
            Type::Str(char_array_buffer(len, str_len))
        }
        (Kind::CharArray { .. } | Kind::Aggregate { .. }, _) => {
            let size = shape.ty().size();
            if size > PRINTED_RECORD_MAX {
                return Err(format!(
                    "a whole `{}` is {size} bytes; printing one is limited to {PRINTED_RECORD_MAX} bytes: print its fields",
                    shape.ty().name()
                ));
            }
            Type::Record(shape.ty().clone())
        }
        (Kind::Unsupported(why), _) => return Err(why),
    })
}

/// A cast's target must be a pointer or an integer type (an enum).
pub(crate) fn check_cast_target(ty: &DType) -> Result<(), String> {
    match ty.kind() {
        Kind::Pointer { .. } | Kind::Int { .. } => Ok(()),
        Kind::Unsupported(why) => Err(why),
        Kind::CharArray { .. } | Kind::Aggregate { .. } => Err(format!(
            "cannot cast a value to `{0}` (an aggregate): cast to a pointer, `({0} *)`",
            ty.name()
        )),
    }
}

/// The span of `.field` in `base.field` (for errors about the field).
pub(crate) fn field_span(base: &Expr, whole: Span) -> Span {
    Span::new(base.span.end.min(whole.end), whole.end)
}

impl Checker<'_> {
    /// The type of `e` when it is a typed chain; `None` when it is not
    /// one (then the caller checks it as usual).
    pub(crate) fn typed_expr(&mut self, e: &Expr) -> Result<Option<Typed>, CompileError> {
        if let ExprKind::Builtin(name) = &e.kind {
            if name == "args" {
                let (record, _) = self
                    .ctx
                    .args_root()
                    .map_err(|m| CompileError::new(e.span, format!("cannot read `args`: {m}")))?;
                let shape = Shape::Place {
                    ty: record,
                    bitfield: None,
                };
                let ty = read_type(&shape, self.opts.str_len)
                    .map_err(|m| CompileError::new(e.span, format!("cannot print `args`: {m}")))?;
                return Ok(Some(Typed::of(ty)));
            }
        }
        let Some(shape) = self.shape(e)? else {
            return Ok(None);
        };
        let ty = read_type(&shape, self.opts.str_len).map_err(|m| CompileError::new(e.span, m))?;
        Ok(Some(Typed::of(ty)))
    }

    /// The shape of a typed chain, `None` when `e` is not one.
    pub(crate) fn shape(&mut self, e: &Expr) -> Result<Option<Shape>, CompileError> {
        match &e.kind {
            ExprKind::Field { base, field } if is_args(base) => {
                let root = self.ctx.param_root(field).map_err(|m| {
                    CompileError::new(e.span, format!("cannot read `args.{field}`: {m}"))
                })?;
                Ok(Some(root_shape(root)))
            }
            ExprKind::Variable(name) if self.typed_vars.contains_key(name) => {
                let ty = self.typed_vars[name].clone();
                self.expr(e)?;
                Ok(Some(Shape::Value(ty)))
            }
            ExprKind::Builtin(name) if name == "retval" => {
                Ok(self.ctx.return_root().map(root_shape))
            }
            ExprKind::TypeCast { ty, operand } => {
                self.int_operand(operand)?;
                let d = self
                    .ctx
                    .named_type(&ty.display(), &self.opts.program_types)
                    .map_err(|m| CompileError::new(ty.span, m))?;
                check_cast_target(&d).map_err(|m| CompileError::new(ty.span, m))?;
                Ok(Some(Shape::Value(d)))
            }
            ExprKind::Field { base, field } => {
                let Some(b) = self.shape(base)? else {
                    return Ok(None);
                };
                let step = field_step(b.ty(), field)
                    .map_err(|m| CompileError::new(field_span(base, e.span), m))?;
                Ok(Some(Shape::Place {
                    ty: step.ty,
                    bitfield: step.bitfield,
                }))
            }
            ExprKind::Index { base, index } => {
                let Some(b) = self.shape(base)? else {
                    return Ok(None);
                };
                self.int_operand(index)?;
                let step = index_step(b.ty()).map_err(|m| CompileError::new(e.span, m))?;
                Ok(Some(Shape::Place {
                    ty: step.element,
                    bitfield: None,
                }))
            }
            ExprKind::Unary {
                op: UnaryOp::Deref,
                operand,
            } => {
                let Some(b) = self.shape(operand)? else {
                    return Ok(None);
                };
                let ty = deref_step(b.ty()).map_err(|m| CompileError::new(e.span, m))?;
                Ok(Some(Shape::Place { ty, bitfield: None }))
            }
            _ => Ok(None),
        }
    }
}
