//! `let` declarations and block scoping.
//!
//! `let $x;`, `let $x = v;` and `let $x: type = v;` declare `$x` in the
//! innermost block. The parser resolves every `$x` to its declaration
//! while it reads, so later passes see plain variables: a declaration
//! keeps its name unless that name is already taken in the probe, then it
//! is renamed `x'N` (a name no source can write). A name declared in the
//! same block twice is an error; a use after its block ended is an error.
//! Variables never declared with `let` keep bpftrace 0.17's meaning (one
//! per probe, typed by the first assignment).

use std::collections::{HashMap, HashSet};

use super::Parser;
use crate::ast::*;
use crate::diag::Diagnostic;
use crate::lexer::TokenKind;

/// The scopes of the probe being read.
#[derive(Default)]
pub(super) struct Scopes {
    /// Innermost last: declared name -> resolved name.
    blocks: Vec<HashMap<String, String>>,
    /// Every resolved name used in this probe (declared or implicit).
    taken: HashSet<String>,
    /// Names used without `let` in this probe.
    implicit: HashSet<String>,
    /// Declared names whose block has ended.
    ended: HashSet<String>,
}

impl Scopes {
    /// A new probe: nothing declared.
    pub(super) fn reset(&mut self) {
        *self = Scopes::default();
    }

    /// `{`
    pub(super) fn open(&mut self) {
        self.blocks.push(HashMap::new());
    }

    /// `}`
    pub(super) fn close(&mut self) {
        if let Some(b) = self.blocks.pop() {
            self.ended.extend(b.into_keys());
        }
    }
}

impl<'a> Parser<'a> {
    /// True at `let $x`.
    pub(super) fn at_let(&self) -> bool {
        matches!(&self.tok.kind, TokenKind::Ident(s) if s == "let")
            && matches!(self.peek(1), TokenKind::Var(_))
    }

    /// True at `_ = expr` (bpftrace's discard expression).
    pub(super) fn at_discard(&self) -> bool {
        matches!(&self.tok.kind, TokenKind::Ident(s) if s == "_")
            && matches!(self.peek(1), TokenKind::Assign)
    }

    /// `_ = expr`: evaluates `expr` and drops its value without the
    /// "Return value discarded" warning. Kept as an assignment to a
    /// variable of its own (`_'OFFSET`, a name no source can write), so
    /// every discard has its own type.
    pub(super) fn discard_stmt(&mut self) -> Result<StmtKind, Diagnostic> {
        let underscore = self.bump()?;
        self.bump()?;
        let value = self.expr()?;
        let name = format!("_'{}", underscore.span.start);
        self.scopes.taken.insert(name.clone());
        Ok(StmtKind::Assign {
            target: Expr::new(ExprKind::Variable(name), underscore.span),
            op: None,
            value,
        })
    }

    /// The variable a `$name` in an expression means here.
    pub(super) fn resolve_var(&mut self, name: &str, span: Span) -> Result<String, Diagnostic> {
        for b in self.scopes.blocks.iter().rev() {
            if let Some(r) = b.get(name) {
                return Ok(r.clone());
            }
        }
        if self.scopes.ended.contains(name) && !self.scopes.implicit.contains(name) {
            return Err(Diagnostic::error(
                span,
                format!("`${name}` is not declared here: its `let` is in a block that has ended"),
            ));
        }
        self.scopes.taken.insert(name.to_string());
        self.scopes.implicit.insert(name.to_string());
        Ok(name.to_string())
    }

    /// Declares `$name` in the innermost block; returns the name later
    /// passes see (renamed when the probe uses the name already).
    pub(super) fn declare(&mut self, name: String, span: Span) -> Result<String, Diagnostic> {
        if self
            .scopes
            .blocks
            .last()
            .is_some_and(|b| b.contains_key(&name))
        {
            return Err(Diagnostic::error(
                span,
                format!("`${name}` is already declared in this block"),
            )
            .with_label("declared again here"));
        }
        let mut resolved = name.clone();
        let mut n = 1;
        while self.scopes.taken.contains(&resolved) {
            n += 1;
            resolved = format!("{name}'{n}");
        }
        self.scopes.taken.insert(resolved.clone());
        if let Some(b) = self.scopes.blocks.last_mut() {
            b.insert(name, resolved.clone());
        }
        Ok(resolved)
    }

    /// `for ($x : @map) { }`, `for ($i : start..end) { }`: the loop
    /// variable is declared for the body only. Kept out of line: inlined,
    /// it would grow every statement's stack frame.
    #[inline(never)]
    pub(super) fn for_stmt(&mut self) -> Result<StmtKind, Diagnostic> {
        self.bump()?;
        self.expect(&TokenKind::LParen, "after `for`")?;
        let var_tok = self.bump()?;
        let TokenKind::Var(name) = var_tok.kind else {
            return Err(Diagnostic::error(
                var_tok.span,
                "expected the loop variable (`$name`) after `for (`",
            )
            .with_note("e.g. `for ($kv : @map) { ... }` or `for ($i : 0..10) { ... }`"));
        };
        self.expect(&TokenKind::Colon, "after the loop variable")?;
        let first = self.unary()?;
        let iter = if self.at(&TokenKind::Dot) {
            self.bump()?;
            self.expect(&TokenKind::Dot, "in a range `start..end`")?;
            let end = self.unary()?;
            ForIter::Range { start: first, end }
        } else {
            match &first.kind {
                ExprKind::Map { keys, .. } if keys.is_empty() => ForIter::Map(first),
                _ => {
                    return Err(Diagnostic::error(
                        first.span,
                        "`for` iterates over a map (`@name`) or a range (`start..end`)",
                    )
                    .with_label("neither a whole map nor a range"))
                }
            }
        };
        self.expect(&TokenKind::RParen, "after the `for` header")?;
        self.scopes.open();
        let var_name = self.declare(name, var_tok.span)?;
        let body = self.block();
        self.scopes.close();
        Ok(StmtKind::For {
            var: Expr::new(ExprKind::Variable(var_name), var_tok.span),
            iter: Box::new(iter),
            body: body?,
        })
    }

    /// `let $x;`, `let $x = v;`, `let $x: type;`, `let $x: type = v;`
    /// (`type` may be `typeof(e)`).
    pub(super) fn let_stmt(&mut self) -> Result<StmtKind, Diagnostic> {
        let let_tok = self.bump()?;
        let var_tok = self.bump()?;
        let TokenKind::Var(name) = var_tok.kind else {
            return Err(Diagnostic::error(
                var_tok.span,
                "expected `$name` after `let`",
            ));
        };
        let of = if self.at(&TokenKind::Colon) && {
            let after = self.peek(1);
            matches!(after, TokenKind::Ident(w) if w == "typeof")
        } {
            self.bump()?;
            Some(self.typeof_operand()?)
        } else {
            None
        };
        let ty = if of.is_none() && self.eat(&TokenKind::Colon)? {
            let t = self.bump()?;
            match &t.kind {
                TokenKind::Ident(w) if w == "string" || w == "str" => Some(None),
                TokenKind::Ident(w) => match super::expr::int_type(w) {
                    Some(it) => Some(Some(it)),
                    None => {
                        return Err(Diagnostic::error(
                            t.span,
                            format!("unknown type `{w}` for a variable"),
                        )
                        .with_note("variables take int8..int64, uint8..uint64 or string"))
                    }
                },
                _ => return Err(Diagnostic::error(t.span, "expected a type after `:`")),
            }
        } else {
            None
        };
        let value = if self.eat(&TokenKind::Assign)? {
            Some(self.expr()?)
        } else {
            None
        };
        let resolved = self.declare(name.clone(), var_tok.span)?;
        let target = Expr::new(ExprKind::Variable(resolved), var_tok.span);
        let at = let_tok.span.to(var_tok.span);
        if let Some(of) = of {
            let span = value.as_ref().map_or(of.span, |v| v.span);
            return Ok(StmtKind::Assign {
                target,
                op: None,
                value: super::type_of::typeof_cast(of, value, span),
            });
        }
        let value = match (ty, value) {
            (Some(Some(it)), Some(v)) => {
                let span = v.span;
                if let Some((n, negative)) = integer_literal(&v) {
                    if !it.holds(n, negative) {
                        let sign = if negative { "-" } else { "" };
                        return Err(Diagnostic::error(
                            span,
                            format!(
                                "type mismatch for ${name}: {sign}{n} does not fit its declared type `{}`",
                                it.name()
                            ),
                        )
                        .with_note(format!(
                            "to keep only its low bits, cast it: `({}){sign}{n}`",
                            it.name()
                        )));
                    }
                }
                Expr::new(
                    ExprKind::Cast {
                        ty: it,
                        operand: Box::new(v),
                    },
                    span,
                )
            }
            (_, Some(v)) => v,
            // A typed declaration starts at zero (or the empty string).
            (Some(Some(it)), None) => Expr::new(
                ExprKind::Cast {
                    ty: it,
                    operand: Box::new(Expr::new(ExprKind::Integer(0), at)),
                },
                at,
            ),
            (Some(None), None) => Expr::new(ExprKind::String(String::new()), at),
            // `let $x;`: typed by its first assignment.
            (None, None) => return Ok(StmtKind::Expr(Expr::new(ExprKind::Integer(0), at))),
        };
        Ok(StmtKind::Assign {
            target,
            op: None,
            value,
        })
    }
}

/// An integer literal, `5` or `-5`, as its magnitude and sign.
fn integer_literal(e: &Expr) -> Option<(u64, bool)> {
    match &e.kind {
        ExprKind::Integer(n) => Some((*n, false)),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => match operand.kind {
            ExprKind::Integer(n) => Some((n, true)),
            _ => None,
        },
        _ => None,
    }
}
