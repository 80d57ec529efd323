//! Types of the traced program written in scripts: casts
//! `(struct req *)arg0`, `sizeof(struct req)`, `offsetof(struct req, hdr.len)`.
//! The names are resolved later, against the probed file's debug
//! information.

use super::{Parser, KEYWORDS};
use crate::ast::*;
use crate::diag::Diagnostic;
use crate::lexer::TokenKind;

impl Parser<'_> {
    /// At `(`: the number of tokens up to and including `)` when this is
    /// a cast to a program type: `(struct X *...)`, `(union X *)`,
    /// `(enum X)`, or a typedef pointer `(name *...)`.
    pub(super) fn program_cast_tokens(&self) -> Option<usize> {
        let after = self.type_name_len(1)?;
        (self.peek(1 + after) == TokenKind::RParen && self.peek(1) != TokenKind::RParen)
            .then_some(1 + after)
            .filter(|_| self.is_cast_type(1))
    }

    /// True when the type name starting `offset` tokens ahead is a cast's:
    /// with a keyword, or with at least one `*` (a bare name in
    /// parentheses is an expression).
    fn is_cast_type(&self, offset: usize) -> bool {
        matches!(self.peek(offset), TokenKind::Ident(w) if matches!(w.as_str(), "struct" | "union" | "enum"))
            || self.peek(offset + 1) == TokenKind::Star
    }

    /// The number of tokens of a type name starting `offset` tokens ahead
    /// (0 = the current token): `struct X **`, `name *`, or a bare `name`.
    fn type_name_len(&self, offset: usize) -> Option<usize> {
        let at = |n: usize| {
            if n == 0 {
                self.tok.kind.clone()
            } else {
                self.peek(n)
            }
        };
        let TokenKind::Ident(first) = at(offset) else {
            return None;
        };
        if KEYWORDS.contains(&first.as_str()) {
            return None;
        }
        let mut len = if matches!(first.as_str(), "struct" | "union" | "enum") {
            matches!(at(offset + 1), TokenKind::Ident(_)).then_some(2)?
        } else {
            1
        };
        while at(offset + len) == TokenKind::Star {
            len += 1;
        }
        Some(len)
    }

    /// Consumes a type name of `tokens` tokens.
    fn type_name(&mut self, tokens: usize) -> Result<TypeName, Diagnostic> {
        let mut words = Vec::new();
        let mut pointers = 0u8;
        let mut span = self.tok.span;
        for _ in 0..tokens {
            let t = self.bump()?;
            match t.kind {
                TokenKind::Ident(w) => {
                    span = if words.is_empty() {
                        t.span
                    } else {
                        span.to(t.span)
                    };
                    words.push(w);
                }
                _ => pointers = pointers.saturating_add(1),
            }
        }
        Ok(TypeName {
            name: words.join(" "),
            pointers,
            span,
        })
    }

    /// `(struct X *)expr`: `tokens` counts the tokens after `(` up to `)`.
    pub(super) fn program_cast(&mut self, tokens: usize) -> Result<Expr, Diagnostic> {
        let start = self.bump()?.span;
        let ty = self.type_name(tokens - 1)?;
        self.bump()?;
        self.enter(start)?;
        let operand = self.unary()?;
        self.leave();
        let span = start.to(operand.span);
        Ok(Expr::new(
            ExprKind::TypeCast {
                ty,
                operand: Box::new(operand),
            },
            span,
        ))
    }

    /// After `sizeof`/`offsetof` (at `(`): `sizeof(TYPE)`, `sizeof(expr)`,
    /// `offsetof(TYPE, field[.field...])`.
    pub(super) fn size_query(&mut self, which: &str, start: Span) -> Result<Expr, Diagnostic> {
        self.bump()?;
        if self.at_typeof() {
            if which != "sizeof" {
                return Err(Diagnostic::error(
                    self.tok.span,
                    "offsetof() takes a struct or union of the traced program by name, not `typeof(...)`",
                ));
            }
            let of = self.typeof_operand()?;
            let close = self.expect(&TokenKind::RParen, "after sizeof's argument")?;
            return Ok(Expr::new(
                ExprKind::SizeofExpr(Box::new(of)),
                start.to(close.span),
            ));
        }
        let type_len = self
            .type_name_len(0)
            .filter(|&n| matches!(self.peek(n), TokenKind::RParen | TokenKind::Comma));
        if which == "sizeof" {
            let kind = match type_len {
                Some(n) => ExprKind::SizeofType(self.type_name(n)?),
                None => {
                    let saved = std::mem::replace(&mut self.no_div, false);
                    let e = self.expr();
                    self.no_div = saved;
                    ExprKind::SizeofExpr(Box::new(e?))
                }
            };
            let close = self.expect(&TokenKind::RParen, "after sizeof's argument")?;
            return Ok(Expr::new(kind, start.to(close.span)));
        }
        let Some(n) = type_len else {
            return Err(self.unexpected("a type name (offsetof(struct X, field))"));
        };
        let ty = self.type_name(n)?;
        self.expect(&TokenKind::Comma, "after offsetof's type")?;
        let mut fields = Vec::new();
        loop {
            let t = self.bump()?;
            let TokenKind::Ident(name) = t.kind else {
                return Err(Diagnostic::error(
                    t.span,
                    "expected a field name in offsetof()",
                ));
            };
            fields.push(name);
            if !self.eat(&TokenKind::Dot)? {
                break;
            }
        }
        let close = self.expect(&TokenKind::RParen, "after offsetof's field")?;
        Ok(Expr::new(
            ExprKind::Offsetof { ty, fields },
            start.to(close.span),
        ))
    }
}
