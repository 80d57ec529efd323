//! Expressions: precedence climbing over C's levels, unary and postfix
//! operators, casts, calls, maps, tuples.

use super::{is_lvalue, Parser, KEYWORDS};
use crate::ast::*;
use crate::diag::Diagnostic;
use crate::lexer::{Token, TokenKind};

/// `int8` ... `uint64`.
pub(super) fn int_type(name: &str) -> Option<IntType> {
    IntType::from_name(name)
}

fn binary_op(kind: &TokenKind) -> Option<(BinaryOp, u8)> {
    use BinaryOp::*;
    Some(match kind {
        TokenKind::OrOr => (Or, 1),
        TokenKind::AndAnd => (And, 2),
        TokenKind::Pipe => (BitOr, 3),
        TokenKind::Caret => (BitXor, 4),
        TokenKind::Amp => (BitAnd, 5),
        TokenKind::EqEq => (Eq, 6),
        TokenKind::Ne => (Ne, 6),
        TokenKind::Lt => (Lt, 7),
        TokenKind::Le => (Le, 7),
        TokenKind::Gt => (Gt, 7),
        TokenKind::Ge => (Ge, 7),
        TokenKind::Shl => (Shl, 8),
        TokenKind::Shr => (Shr, 8),
        TokenKind::Plus => (Add, 9),
        TokenKind::Minus => (Sub, 9),
        TokenKind::Star => (Mul, 10),
        TokenKind::Slash => (Div, 10),
        TokenKind::Percent => (Mod, 10),
        _ => return None,
    })
}

impl<'a> Parser<'a> {
    // ---- expressions -----------------------------------------------------

    /// A full expression (ternary level).
    pub(super) fn expr(&mut self) -> Result<Expr, Diagnostic> {
        self.enter(self.tok.span)?;
        let outermost = !self.in_expr;
        if outermost {
            self.in_expr = true;
            self.chained = 0;
        }
        let result = self.ternary();
        if outermost {
            self.in_expr = false;
        }
        self.leave();
        result
    }

    pub(super) fn ternary(&mut self) -> Result<Expr, Diagnostic> {
        let cond = self.binary(1)?;
        let result = if self.at(&TokenKind::Question) {
            self.bump()?;
            let then_expr = self.expr()?;
            self.expect(&TokenKind::Colon, "in `?:` expression")?;
            let else_expr = self.expr()?;
            let span = cond.span.to(else_expr.span);
            Expr::new(
                ExprKind::Ternary {
                    cond: Box::new(cond),
                    then_expr: Box::new(then_expr),
                    else_expr: Box::new(else_expr),
                },
                span,
            )
        } else {
            cond
        };
        Ok(result)
    }

    /// Expressions that bind at least as tightly as `min_prec`.
    pub(super) fn binary(&mut self, min_prec: u8) -> Result<Expr, Diagnostic> {
        let mut lhs = self.unary()?;
        while let Some((op, prec)) = binary_op(&self.tok.kind) {
            if prec < min_prec || (self.no_div && op == BinaryOp::Div) {
                break;
            }
            let op_span = self.bump()?.span;
            self.chain(op_span)?;
            let rhs = self.binary(prec + 1)?;
            lhs = binary_node(op, lhs, rhs);
        }
        Ok(lhs)
    }

    pub(super) fn unary(&mut self) -> Result<Expr, Diagnostic> {
        match self.tok.kind {
            TokenKind::Bang => self.prefix_op(UnaryOp::Not),
            TokenKind::Tilde => self.prefix_op(UnaryOp::BitNot),
            TokenKind::Minus => self.prefix_op(UnaryOp::Neg),
            TokenKind::Star => self.prefix_op(UnaryOp::Deref),
            TokenKind::PlusPlus | TokenKind::MinusMinus => self.prefix_incdec(),
            TokenKind::LParen if self.at_typeof_cast() => self.typeof_cast(),
            TokenKind::LParen => match self.cast_type() {
                Some(ty) => self.cast(ty),
                None => match self.program_cast_tokens() {
                    Some(n) => self.program_cast(n),
                    None => self.postfix(),
                },
            },
            _ => self.postfix(),
        }
    }

    pub(super) fn prefix_op(&mut self, op: UnaryOp) -> Result<Expr, Diagnostic> {
        let start = self.bump()?.span;
        self.enter(start)?;
        let operand = self.unary()?;
        self.leave();
        let span = start.to(operand.span);
        Ok(Expr::new(
            ExprKind::Unary {
                op,
                operand: Box::new(operand),
            },
            span,
        ))
    }

    pub(super) fn prefix_incdec(&mut self) -> Result<Expr, Diagnostic> {
        let increment = self.tok.kind == TokenKind::PlusPlus;
        let op_tok = self.bump()?;
        self.enter(op_tok.span)?;
        let target = self.unary()?;
        self.leave();
        check_incdec_target(&target, &op_tok)?;
        let span = op_tok.span.to(target.span);
        Ok(Expr::new(
            ExprKind::IncDec {
                target: Box::new(target),
                increment,
                prefix: true,
            },
            span,
        ))
    }

    /// At `(`: the type if this is a cast `(type)`.
    pub(super) fn cast_type(&self) -> Option<IntType> {
        let TokenKind::Ident(name) = self.peek(1) else {
            return None;
        };
        let ty = int_type(&name)?;
        (self.peek(2) == TokenKind::RParen).then_some(ty)
    }

    pub(super) fn cast(&mut self, ty: IntType) -> Result<Expr, Diagnostic> {
        let start = self.bump()?.span;
        self.bump()?;
        self.bump()?;
        self.enter(start)?;
        let operand = self.unary()?;
        self.leave();
        let span = start.to(operand.span);
        Ok(Expr::new(
            ExprKind::Cast {
                ty,
                operand: Box::new(operand),
            },
            span,
        ))
    }

    pub(super) fn postfix(&mut self) -> Result<Expr, Diagnostic> {
        let mut e = self.primary()?;
        loop {
            // `a..b` (a `for` range) is not a field access.
            if self.at(&TokenKind::Dot) && self.peek(1) == TokenKind::Dot {
                return Ok(e);
            }
            if matches!(
                self.tok.kind,
                TokenKind::PlusPlus
                    | TokenKind::MinusMinus
                    | TokenKind::LBracket
                    | TokenKind::Dot
                    | TokenKind::Arrow
            ) {
                self.chain(self.tok.span)?;
            }
            e = match self.tok.kind {
                TokenKind::PlusPlus | TokenKind::MinusMinus => self.postfix_incdec(e)?,
                TokenKind::LBracket => self.index(e)?,
                TokenKind::Dot | TokenKind::Arrow => self.field(e)?,
                _ => return Ok(e),
            };
        }
    }

    pub(super) fn postfix_incdec(&mut self, e: Expr) -> Result<Expr, Diagnostic> {
        let increment = self.tok.kind == TokenKind::PlusPlus;
        let op_tok = self.bump()?;
        check_incdec_target(&e, &op_tok)?;
        let span = e.span.to(op_tok.span);
        Ok(Expr::new(
            ExprKind::IncDec {
                target: Box::new(e),
                increment,
                prefix: false,
            },
            span,
        ))
    }

    pub(super) fn index(&mut self, base: Expr) -> Result<Expr, Diagnostic> {
        self.bump()?;
        let saved = std::mem::replace(&mut self.no_div, false);
        let index = self.expr();
        self.no_div = saved;
        let index = index?;
        let close = self.expect(&TokenKind::RBracket, "after index")?;
        let span = base.span.to(close.span);
        Ok(Expr::new(
            ExprKind::Index {
                base: Box::new(base),
                index: Box::new(index),
            },
            span,
        ))
    }

    pub(super) fn field(&mut self, base: Expr) -> Result<Expr, Diagnostic> {
        let what = self.bump()?;
        // `$t.0`: a tuple element, kept as the field name "0".
        let field = match &self.tok.kind {
            TokenKind::Ident(name) => name.clone(),
            TokenKind::Int(n) if what.kind == TokenKind::Dot => n.to_string(),
            _ => {
                return Err(
                    self.unexpected(&format!("a field name after `{}`", what.kind.punct_text()))
                )
            }
        };
        let t = self.bump()?;
        let span = base.span.to(t.span);
        Ok(Expr::new(
            ExprKind::Field {
                base: Box::new(base),
                field,
            },
            span,
        ))
    }

    /// `expr, expr, ...` up to (not including) `close`; may be empty.
    /// Division is allowed again inside (even in a predicate).
    pub(super) fn expr_list(
        &mut self,
        close: &TokenKind,
        what: &str,
    ) -> Result<Vec<Expr>, Diagnostic> {
        let saved = std::mem::replace(&mut self.no_div, false);
        let r = self.expr_list_inner(close, what);
        self.no_div = saved;
        r
    }

    pub(super) fn expr_list_inner(
        &mut self,
        close: &TokenKind,
        what: &str,
    ) -> Result<Vec<Expr>, Diagnostic> {
        let mut items = Vec::new();
        while !self.at(close) {
            items.push(self.expr()?);
            if self.eat(&TokenKind::Comma)? {
                continue;
            }
            if !self.at(close) {
                return Err(self.unexpected(&format!("`,` or `{}` in {what}", close.punct_text())));
            }
        }
        Ok(items)
    }

    pub(super) fn primary(&mut self) -> Result<Expr, Diagnostic> {
        let kind = match &self.tok.kind {
            TokenKind::Int(n) => ExprKind::Integer(*n),
            TokenKind::Str(s) => ExprKind::String(s.clone()),
            TokenKind::Var(name) => {
                let (name, span) = (name.clone(), self.tok.span);
                ExprKind::Variable(self.resolve_var(&name, span)?)
            }
            TokenKind::Positional(n) => ExprKind::Positional(*n),
            TokenKind::PositionalCount => ExprKind::PositionalCount,
            TokenKind::Map(_) => return self.map(),
            TokenKind::Ident(_) => return self.ident(),
            TokenKind::LParen => return self.paren(),
            TokenKind::LBrace => return self.block_expr(),
            _ => return Err(self.unexpected("expression")),
        };
        let t = self.bump()?;
        Ok(Expr::new(kind, t.span))
    }

    pub(super) fn map(&mut self) -> Result<Expr, Diagnostic> {
        let t = self.bump()?;
        let TokenKind::Map(name) = t.kind else {
            return Err(Diagnostic::error(t.span, "expected a map"));
        };
        if !self.at(&TokenKind::LBracket) {
            return Ok(Expr::new(
                ExprKind::Map {
                    name,
                    keys: Vec::new(),
                },
                t.span,
            ));
        }
        let open = self.bump()?;
        let keys = self.expr_list(&TokenKind::RBracket, "map key")?;
        if keys.is_empty() {
            return Err(
                Diagnostic::error(open.span.to(self.tok.span), "empty map key")
                    .with_label("expected at least one key expression")
                    .with_note(format!("write `@{name}` for a map without keys")),
            );
        }
        let close = self.bump()?;
        Ok(Expr::new(
            ExprKind::Map { name, keys },
            t.span.to(close.span),
        ))
    }

    pub(super) fn ident(&mut self) -> Result<Expr, Diagnostic> {
        let t = self.bump()?;
        let TokenKind::Ident(name) = t.kind else {
            return Err(Diagnostic::error(t.span, "expected an identifier"));
        };
        if KEYWORDS.contains(&name.as_str()) {
            return Err(Diagnostic::error(
                t.span,
                format!("expected expression, found keyword `{name}`"),
            ));
        }
        if int_type(&name).is_some() {
            return Err(Diagnostic::error(
                t.span,
                format!("expected expression, found type `{name}`"),
            )
            .with_note(format!("to cast, write `({name})expr`")));
        }
        if name == "typeof" {
            return Err(self.misplaced_typeof(t.span));
        }
        if matches!(name.as_str(), "sizeof" | "offsetof") && self.at(&TokenKind::LParen) {
            return self.size_query(&name, t.span);
        }
        if !self.at(&TokenKind::LParen) {
            return Ok(Expr::new(ExprKind::Builtin(name), t.span));
        }
        self.bump()?;
        let args = self.expr_list(&TokenKind::RParen, "call arguments")?;
        let close = self.bump()?;
        Ok(Expr::new(
            ExprKind::Call {
                name,
                args,
                name_span: t.span,
            },
            t.span.to(close.span),
        ))
    }

    /// `{ stmts; value }` as an expression (`{ value }` alone is `value`).
    pub(super) fn block_expr(&mut self) -> Result<Expr, Diagnostic> {
        // Statements inside count towards the enclosing expression's
        // chain limit (`in_expr` stays set): the tree only gets deeper.
        let block = self.block()?;
        self.valued_block(block)
    }

    /// The block just read as an expression: its statements, then its last
    /// expression (read without `;`, see [`Parser::last_block_valued`]).
    pub(super) fn valued_block(&mut self, mut block: Block) -> Result<Expr, Diagnostic> {
        let valued = self.last_block_valued;
        let value = match block.stmts.pop() {
            Some(Stmt {
                kind: StmtKind::Expr(value),
                ..
            }) if valued => value,
            _ => {
                return Err(
                    Diagnostic::error(block.span, "this block has no value").with_label(
                        "a block used as an expression ends with an expression and no `;`",
                    ),
                )
            }
        };
        if block.stmts.is_empty() {
            return Ok(value);
        }
        Ok(Expr::new(
            ExprKind::Block {
                stmts: block.stmts,
                value: Box::new(value),
            },
            block.span,
        ))
    }

    /// `(e)`, or a tuple: `(a, b, ...)`, `(a,)` (one element: the comma
    /// is required), `()` (none), as in bpftrace's manual.
    pub(super) fn paren(&mut self) -> Result<Expr, Diagnostic> {
        let open = self.bump()?;
        let saved = std::mem::replace(&mut self.no_div, false);
        let items = self.paren_items();
        self.no_div = saved;
        let (mut items, trailing_comma) = items?;
        let close = self.bump()?;
        let span = open.span.to(close.span);
        match items.pop() {
            Some(mut e) if items.is_empty() && !trailing_comma => {
                e.span = span;
                Ok(e)
            }
            Some(last) => {
                items.push(last);
                Ok(Expr::new(ExprKind::Tuple(items), span))
            }
            None => Ok(Expr::new(ExprKind::Tuple(Vec::new()), span)),
        }
    }

    /// The expressions between `(` and `)` (not consumed), and whether a
    /// comma follows the last one.
    fn paren_items(&mut self) -> Result<(Vec<Expr>, bool), Diagnostic> {
        let mut items = Vec::new();
        let mut trailing_comma = false;
        while !self.at(&TokenKind::RParen) {
            items.push(self.expr()?);
            trailing_comma = self.eat(&TokenKind::Comma)?;
            if !trailing_comma && !self.at(&TokenKind::RParen) {
                return Err(self.unexpected("`,` or `)` in parenthesized expression"));
            }
        }
        Ok((items, trailing_comma))
    }
}

fn binary_node(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.to(rhs.span);
    Expr::new(
        ExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        span,
    )
}

fn check_incdec_target(target: &Expr, op: &Token) -> Result<(), Diagnostic> {
    if is_lvalue(target) {
        return Ok(());
    }
    Err(Diagnostic::error(
        target.span,
        format!(
            "`{}` needs a variable or a map element",
            op.kind.punct_text()
        ),
    )
    .with_note("e.g. `$i++` or `@count[pid]++`"))
}
