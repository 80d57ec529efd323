//! `typeof(...)`: the type of an expression, written where bpftrace's
//! manual allows a type: `let $x: typeof(e)`, a cast `(typeof(e)) v`,
//! `sizeof(typeof(e))`. Anywhere else it is an error that says so.

use super::Parser;
use crate::ast::*;
use crate::diag::Diagnostic;
use crate::lexer::TokenKind;

/// Where `typeof` may be written, for the error elsewhere.
const TYPEOF_PLACES: &str =
    "write it as `let $x: typeof(e)`, a cast `(typeof(e)) v` or `sizeof(typeof(e))`";

impl Parser<'_> {
    /// True at `typeof(`.
    pub(super) fn at_typeof(&self) -> bool {
        matches!(&self.tok.kind, TokenKind::Ident(w) if w == "typeof")
            && self.peek(1) == TokenKind::LParen
    }

    /// True at `(typeof(`: a cast to the type of an expression.
    pub(super) fn at_typeof_cast(&self) -> bool {
        matches!(self.peek(1), TokenKind::Ident(w) if w == "typeof")
            && self.peek(2) == TokenKind::LParen
    }

    /// `typeof(e)` or `typeof(TYPE)` (`int8`..`uint64`, `bool`, `string`):
    /// an [`ExprKind::Typeof`] of the expression whose type is meant.
    pub(super) fn typeof_operand(&mut self) -> Result<Expr, Diagnostic> {
        let keyword = self.bump()?;
        self.expect(&TokenKind::LParen, "after `typeof`")?;
        let saved = std::mem::replace(&mut self.no_div, false);
        let inner = match self.type_as_value()? {
            Some(e) => Ok(e),
            None => self.expr(),
        };
        self.no_div = saved;
        let inner = inner?;
        let close = self.expect(&TokenKind::RParen, "after typeof's operand")?;
        Ok(Expr::new(
            ExprKind::Typeof(Box::new(inner)),
            keyword.span.to(close.span),
        ))
    }

    /// At a script type name followed by `)`: a value of that type (its
    /// zero), standing for the type.
    fn type_as_value(&mut self) -> Result<Option<Expr>, Diagnostic> {
        let TokenKind::Ident(name) = &self.tok.kind else {
            return Ok(None);
        };
        if self.peek(1) != TokenKind::RParen {
            return Ok(None);
        }
        let span = self.tok.span;
        let zero = Expr::new(ExprKind::Integer(0), span);
        let kind = match name.as_str() {
            "bool" => ExprKind::Builtin("false".into()),
            "string" => ExprKind::String(String::new()),
            other => match IntType::from_name(other) {
                Some(ty) => ExprKind::Cast {
                    ty,
                    operand: Box::new(zero),
                },
                None => return Ok(None),
            },
        };
        self.bump()?;
        Ok(Some(Expr::new(kind, span)))
    }

    /// `(typeof(e)) v`.
    pub(super) fn typeof_cast(&mut self) -> Result<Expr, Diagnostic> {
        let open = self.bump()?;
        let of = self.typeof_operand()?;
        self.expect(&TokenKind::RParen, "after the cast's type")?;
        self.enter(open.span)?;
        let operand = self.unary()?;
        self.leave();
        let span = open.span.to(operand.span);
        Ok(typeof_cast(of, Some(operand), span))
    }

    /// `typeof` where no type is written: an error saying where it goes.
    pub(super) fn misplaced_typeof(&self, span: Span) -> Diagnostic {
        Diagnostic::error(span, "`typeof(...)` names a type, it has no value")
            .with_note(TYPEOF_PLACES)
    }
}

/// `(typeof(e)) operand` from `typeof(e)` as [`Parser::typeof_operand`]
/// reads it; without an operand, the type's zero.
pub(super) fn typeof_cast(of: Expr, operand: Option<Expr>, span: Span) -> Expr {
    let of = match of.kind {
        ExprKind::Typeof(inner) => inner,
        _ => Box::new(of),
    };
    Expr::new(
        ExprKind::TypeofCast {
            of,
            operand: operand.map(Box::new),
        },
        span,
    )
}
