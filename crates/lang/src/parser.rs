//! The parser: tokens to an [`ast::Script`](crate::ast::Script).
//!
//! Hand-written recursive descent; binary operators by precedence climbing
//! with C's precedence levels. The first error stops parsing.
//!
//! In a predicate (`/expr/`) a `/` at the outermost nesting level closes the
//! predicate rather than dividing, as in bpftrace: write `/(a / 2) > 1/`.

use crate::ast::*;
use crate::diag::{suggest, Diagnostic};
use crate::lexer::{AttachField, Lexer, Token, TokenKind};

/// Parses a whole script.
///
/// ```
/// let s = ustrace_lang::parse("BEGIN { printf(\"hi\\n\"); }").unwrap();
/// assert_eq!(s.probes.len(), 1);
/// ```
pub fn parse(source: &str) -> Result<Script, Diagnostic> {
    let mut p = Parser::new(source)?;
    p.script()
}

/// Parses a script in which a block may also be labelled with a bare name
/// (`handler { ... }`) instead of an attach point: the name becomes an
/// [`AttachKind::Label`], which the caller binds to real probes (the
/// Python API's `enable_probe(fn_name=...)`).
///
/// ```
/// use ustrace_lang::ast::AttachKind;
/// let s = ustrace_lang::parse_labelled("on_hit { exit(); }").unwrap();
/// assert_eq!(s.probes[0].attach_points[0].kind, AttachKind::Label { name: "on_hit".into() });
/// ```
pub fn parse_labelled(source: &str) -> Result<Script, Diagnostic> {
    let mut p = Parser::new(source)?;
    p.labels = true;
    p.script()
}

/// Parses a single expression (handy for tests and tools).
pub fn parse_expr(source: &str) -> Result<Expr, Diagnostic> {
    // Lex as if inside a body.
    let mut lexer = Lexer::new_in_body(source);
    let tok = lexer.next_token()?;
    let mut p = Parser {
        lexer,
        tok,
        prev_end: 0,
        no_div: false,
        depth: 0,
        labels: false,
        chained: 0,
        in_expr: false,
    };
    let e = p.expr()?;
    if p.tok.kind != TokenKind::Eof {
        return Err(p.unexpected("end of expression"));
    }
    Ok(e)
}

/// How deeply expressions and blocks may nest before we refuse (keeps the
/// recursive descent far from the stack limit).
const MAX_DEPTH: usize = 100;

/// How many operators, indexes and field accesses one expression may chain
/// (`1 + 1 + ... + 1` builds a tree as deep as its length; the compiler
/// walks it recursively, so a limit keeps it far from the stack's end).
pub const MAX_CHAINED: usize = 1000;

/// Attach point types ustrace supports (for suggestions).
const ATTACH_TYPES: &[&str] = &[
    "BEGIN",
    "END",
    "begin",
    "end",
    "usdt",
    "uprobe",
    "uretprobe",
    "interval",
    "profile",
    "U",
    "u",
    "ur",
    "i",
    "p",
];

/// bpftrace attach point types ustrace does not support.
const UNSUPPORTED_TYPES: &[&str] = &[
    "kprobe",
    "kretprobe",
    "k",
    "kr",
    "kfunc",
    "kretfunc",
    "fentry",
    "fexit",
    "f",
    "fr",
    "tracepoint",
    "t",
    "rawtracepoint",
    "rt",
    "software",
    "s",
    "hardware",
    "h",
    "watchpoint",
    "w",
    "asyncwatchpoint",
    "aw",
    "iter",
    "it",
    "self",
];

const KEYWORDS: &[&str] = &[
    "if", "else", "while", "unroll", "break", "continue", "return",
];

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The current token.
    tok: Token,
    /// The end of the previous token.
    prev_end: usize,
    /// In a predicate, outside any brackets: `/` ends the expression.
    no_div: bool,
    /// Current nesting depth.
    depth: usize,
    /// A bare name may label a block ([`parse_labelled`]).
    labels: bool,
    /// Nodes built by loops (operator chains, `[i]`, `.f`, `++`) in the
    /// current outermost expression: each makes the tree one deeper
    /// without a recursive call, so [`MAX_CHAINED`] bounds it.
    chained: usize,
    /// Inside an expression (so `chained` is not reset).
    in_expr: bool,
}

fn int_type(name: &str) -> Option<IntType> {
    let (signed, bits) = match name.strip_prefix('u') {
        Some(rest) => (false, rest.strip_prefix("int")?),
        None => (true, name.strip_prefix("int")?),
    };
    let size = match bits {
        "8" => 1,
        "16" => 2,
        "32" => 4,
        "64" => 8,
        _ => return None,
    };
    Some(IntType { size, signed })
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

fn assign_op(kind: &TokenKind) -> Option<Option<BinaryOp>> {
    use BinaryOp::*;
    Some(match kind {
        TokenKind::Assign => None,
        TokenKind::PlusEq => Some(Add),
        TokenKind::MinusEq => Some(Sub),
        TokenKind::StarEq => Some(Mul),
        TokenKind::SlashEq => Some(Div),
        TokenKind::PercentEq => Some(Mod),
        TokenKind::AmpEq => Some(BitAnd),
        TokenKind::PipeEq => Some(BitOr),
        TokenKind::CaretEq => Some(BitXor),
        TokenKind::ShlEq => Some(Shl),
        TokenKind::ShrEq => Some(Shr),
        _ => return None,
    })
}

fn is_lvalue(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Variable(_) | ExprKind::Map { .. })
}

impl<'a> Parser<'a> {
    fn new(source: &'a str) -> Result<Parser<'a>, Diagnostic> {
        let mut lexer = Lexer::new(source);
        let tok = lexer.next_token()?;
        Ok(Parser {
            lexer,
            tok,
            prev_end: 0,
            no_div: false,
            depth: 0,
            labels: false,
            chained: 0,
            in_expr: false,
        })
    }

    fn bump(&mut self) -> Result<Token, Diagnostic> {
        let next = self.lexer.next_token()?;
        self.prev_end = self.tok.span.end;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    /// The kind of the token after the current one (`n` = 1) or later.
    fn peek(&self, n: usize) -> TokenKind {
        let mut l = self.lexer.clone();
        let mut kind = TokenKind::Eof;
        for _ in 0..n {
            match l.next_token() {
                Ok(t) => kind = t.kind,
                Err(_) => return TokenKind::Eof,
            }
        }
        kind
    }

    fn at(&self, kind: &TokenKind) -> bool {
        &self.tok.kind == kind
    }

    fn eat(&mut self, kind: &TokenKind) -> Result<bool, Diagnostic> {
        if self.at(kind) {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn unexpected(&self, expected: &str) -> Diagnostic {
        Diagnostic::error(
            self.tok.span,
            format!("expected {expected}, found {}", self.tok.kind.describe()),
        )
    }

    fn expect(&mut self, kind: &TokenKind, context: &str) -> Result<Token, Diagnostic> {
        if self.at(kind) {
            self.bump()
        } else {
            Err(self.unexpected(&format!("`{}` {context}", kind.punct_text())))
        }
    }

    fn enter(&mut self, span: Span) -> Result<(), Diagnostic> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(
                Diagnostic::error(span, "nesting too deep").with_note(format!(
                    "at most {MAX_DEPTH} levels of nested expressions and blocks"
                )),
            );
        }
        Ok(())
    }

    /// Counts one node built by a loop (see [`Parser::chained`]).
    fn chain(&mut self, span: Span) -> Result<(), Diagnostic> {
        self.chained += 1;
        if self.chained > MAX_CHAINED {
            return Err(Diagnostic::error(
                span,
                format!("expression too deep (limit {MAX_CHAINED})"),
            )
            .with_note(format!(
                "at most {MAX_CHAINED} chained operators, indexes and fields in one expression: split it with variables"
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ---- probes ----------------------------------------------------------

    fn script(&mut self) -> Result<Script, Diagnostic> {
        let mut probes = Vec::new();
        while !self.at(&TokenKind::Eof) {
            probes.push(self.probe()?);
        }
        if probes.is_empty() {
            return Err(Diagnostic::error(self.tok.span, "script has no probes")
                .with_note("a probe looks like `usdt:/path/to/bin:provider:name { ... }`"));
        }
        Ok(Script { probes })
    }

    fn probe(&mut self) -> Result<Probe, Diagnostic> {
        let start = self.tok.span;
        let mut attach_points = Vec::new();
        loop {
            match &self.tok.kind {
                TokenKind::AttachPoint { .. } => {
                    let t = self.bump()?;
                    attach_points.push(match block_label(&t) {
                        Some(name) if self.labels => AttachPoint {
                            raw: name.clone(),
                            kind: AttachKind::Label { name },
                            span: t.span,
                        },
                        _ => attach_point(t)?,
                    });
                }
                TokenKind::LBrace if attach_points.is_empty() => {
                    return Err(Diagnostic::error(self.tok.span, "empty probe list")
                        .with_label("expected an attach point before this block"));
                }
                _ if attach_points.is_empty() => return Err(self.unexpected("an attach point")),
                _ => return Err(self.unexpected("an attach point after `,`")),
            }
            if !self.eat(&TokenKind::Comma)? {
                break;
            }
        }
        let predicate = if self.at(&TokenKind::Slash) {
            let open = self.bump()?;
            if self.at(&TokenKind::Slash) || self.at(&TokenKind::LBrace) {
                return Err(
                    Diagnostic::error(open.span.to(self.tok.span), "empty predicate")
                        .with_label("expected an expression between the slashes"),
                );
            }
            self.no_div = true;
            let e = self.expr();
            self.no_div = false;
            let e = e?;
            if !self.at(&TokenKind::Slash) {
                return Err(self.unexpected("`/` after predicate"));
            }
            self.bump()?;
            Some(e)
        } else {
            None
        };
        if !self.at(&TokenKind::LBrace) {
            let what = if predicate.is_some() {
                "`{` after predicate"
            } else {
                "`{` or a predicate after attach points"
            };
            let mut d = self.unexpected(what);
            if matches!(self.tok.kind, TokenKind::AttachPoint { .. }) {
                d = d.with_note("separate several attach points with `,`");
            } else if predicate.is_some() {
                d = d.with_note("a `/` inside a predicate ends it; write a division in parentheses: `/(a / b) > c/`");
            }
            return Err(d);
        }
        let body = self.block()?;
        let span = start.to(body.span);
        Ok(Probe {
            attach_points,
            predicate,
            body,
            span,
        })
    }

    // ---- statements -------------------------------------------------------

    fn block(&mut self) -> Result<Block, Diagnostic> {
        let open = if self.at(&TokenKind::LBrace) {
            self.bump()?
        } else {
            return Err(self.unexpected("`{`"));
        };
        self.enter(open.span)?;
        let mut stmts = Vec::new();
        loop {
            while self.eat(&TokenKind::Semi)? {}
            if self.at(&TokenKind::RBrace) {
                break;
            }
            if self.at(&TokenKind::Eof) {
                let (line, col) = crate::diag::line_col(self.lexer_source(), open.span.start);
                return Err(self.unexpected("`}` after block").with_note(format!(
                    "the block opened at line {line}, column {col} is never closed"
                )));
            }
            let (stmt, compound) = self.stmt()?;
            stmts.push(stmt);
            if compound || self.eat(&TokenKind::Semi)? || self.at(&TokenKind::RBrace) {
                continue;
            }
            return Err(self.unexpected("`;` or `}` after statement"));
        }
        let close = self.bump()?;
        self.leave();
        Ok(Block {
            stmts,
            span: open.span.to(close.span),
        })
    }

    fn lexer_source(&self) -> &'a str {
        self.lexer.source()
    }

    /// One statement, and whether it ended with a block (no `;` needed).
    fn stmt(&mut self) -> Result<(Stmt, bool), Diagnostic> {
        let start = self.tok.span;
        let keyword = match &self.tok.kind {
            TokenKind::Ident(s) if KEYWORDS.contains(&s.as_str()) => Some(s.clone()),
            _ => None,
        };
        let (kind, compound) = match keyword.as_deref() {
            Some("if") => (self.if_stmt()?, true),
            Some("while") => {
                self.bump()?;
                let cond = self.paren_cond("while")?;
                let body = self.block()?;
                (StmtKind::While { cond, body }, true)
            }
            Some("unroll") => {
                self.bump()?;
                self.expect(&TokenKind::LParen, "after `unroll`")?;
                let count = match self.tok.kind {
                    TokenKind::Int(n) => {
                        if !(1..=100).contains(&n) {
                            return Err(Diagnostic::error(
                                self.tok.span,
                                format!("invalid unroll count {n}"),
                            )
                            .with_label("must be between 1 and 100"));
                        }
                        self.bump()?;
                        n
                    }
                    _ => return Err(self.unexpected("an integer literal in `unroll(...)`")),
                };
                self.expect(&TokenKind::RParen, "after unroll count")?;
                let body = self.block()?;
                (StmtKind::Unroll { count, body }, true)
            }
            Some(kw @ ("break" | "continue" | "return")) => {
                let kind = match kw {
                    "break" => StmtKind::Break,
                    "continue" => StmtKind::Continue,
                    _ => StmtKind::Return,
                };
                self.bump()?;
                if !self.at(&TokenKind::Semi) && !self.at(&TokenKind::RBrace) {
                    return Err(self.unexpected(&format!("`;` or `}}` after `{kw}`")));
                }
                (kind, false)
            }
            Some("else") => {
                return Err(Diagnostic::error(
                    self.tok.span,
                    "`else` without a preceding `if`",
                ));
            }
            _ => {
                let target = self.expr()?;
                if let Some(op) = assign_op(&self.tok.kind) {
                    let op_tok = self.bump()?;
                    if !is_lvalue(&target) {
                        return Err(Diagnostic::error(
                            target.span,
                            "cannot assign to this expression",
                        )
                        .with_label(format!("left of `{}`", op_tok.kind.punct_text()))
                        .with_note(
                            "only variables (`$x`) and map elements (`@m[k]`) can be assigned",
                        ));
                    }
                    let value = self.expr()?;
                    (StmtKind::Assign { target, op, value }, false)
                } else {
                    (StmtKind::Expr(target), false)
                }
            }
        };
        let span = start.to(Span::new(self.prev_end, self.prev_end));
        Ok((Stmt { kind, span }, compound))
    }

    fn paren_cond(&mut self, keyword: &str) -> Result<Expr, Diagnostic> {
        self.expect(&TokenKind::LParen, &format!("after `{keyword}`"))?;
        let cond = self.expr()?;
        self.expect(&TokenKind::RParen, &format!("after `{keyword}` condition"))?;
        Ok(cond)
    }

    /// `if (c) { } else if (c2) { } ... else { }`, read iteratively so long
    /// `else if` chains do not recurse.
    fn if_stmt(&mut self) -> Result<StmtKind, Diagnostic> {
        // (start of the `if`, condition, then block)
        let mut arms: Vec<(Span, Expr, Block)> = Vec::new();
        let mut final_else = None;
        loop {
            let if_tok = self.bump()?;
            let cond = self.paren_cond("if")?;
            let then_block = self.block()?;
            arms.push((if_tok.span, cond, then_block));
            if !self.at_ident("else") {
                break;
            }
            self.bump()?;
            if self.at_ident("if") {
                continue;
            }
            if !self.at(&TokenKind::LBrace) {
                return Err(self.unexpected("`{` or `if` after `else`"));
            }
            final_else = Some(self.block()?);
            break;
        }
        // Fold from the last arm: each `else if` is an else block holding one `If`.
        let end = Span::new(self.prev_end, self.prev_end);
        let mut else_block = final_else;
        while let Some((start, cond, then_block)) = arms.pop() {
            let kind = StmtKind::If {
                cond,
                then_block,
                else_block,
            };
            if arms.is_empty() {
                return Ok(kind);
            }
            let span = start.to(end);
            else_block = Some(Block {
                stmts: vec![Stmt { kind, span }],
                span,
            });
        }
        Err(Diagnostic::error(end, "expected `if`"))
    }

    fn at_ident(&self, word: &str) -> bool {
        matches!(&self.tok.kind, TokenKind::Ident(s) if s == word)
    }

    // ---- expressions -----------------------------------------------------

    /// A full expression (ternary level).
    fn expr(&mut self) -> Result<Expr, Diagnostic> {
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

    fn ternary(&mut self) -> Result<Expr, Diagnostic> {
        let cond = self.binary(1)?;
        let result = if self.at(&TokenKind::Question) {
            self.bump()?;
            let then_expr = self.expr()?;
            self.expect(&TokenKind::Colon, "in `?:` expression")?;
            let else_expr = self.expr()?;
            let span = cond.span.to(else_expr.span);
            Expr {
                kind: ExprKind::Ternary {
                    cond: Box::new(cond),
                    then_expr: Box::new(then_expr),
                    else_expr: Box::new(else_expr),
                },
                span,
            }
        } else {
            cond
        };
        Ok(result)
    }

    /// Expressions that bind at least as tightly as `min_prec`.
    fn binary(&mut self, min_prec: u8) -> Result<Expr, Diagnostic> {
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

    fn unary(&mut self) -> Result<Expr, Diagnostic> {
        match self.tok.kind {
            TokenKind::Bang => self.prefix_op(UnaryOp::Not),
            TokenKind::Tilde => self.prefix_op(UnaryOp::BitNot),
            TokenKind::Minus => self.prefix_op(UnaryOp::Neg),
            TokenKind::Star => self.prefix_op(UnaryOp::Deref),
            TokenKind::PlusPlus | TokenKind::MinusMinus => self.prefix_incdec(),
            TokenKind::LParen => match self.cast_type() {
                Some(ty) => self.cast(ty),
                None => self.postfix(),
            },
            _ => self.postfix(),
        }
    }

    fn prefix_op(&mut self, op: UnaryOp) -> Result<Expr, Diagnostic> {
        let start = self.bump()?.span;
        self.enter(start)?;
        let operand = self.unary()?;
        self.leave();
        let span = start.to(operand.span);
        Ok(Expr {
            kind: ExprKind::Unary {
                op,
                operand: Box::new(operand),
            },
            span,
        })
    }

    fn prefix_incdec(&mut self) -> Result<Expr, Diagnostic> {
        let increment = self.tok.kind == TokenKind::PlusPlus;
        let op_tok = self.bump()?;
        self.enter(op_tok.span)?;
        let target = self.unary()?;
        self.leave();
        check_incdec_target(&target, &op_tok)?;
        let span = op_tok.span.to(target.span);
        Ok(Expr {
            kind: ExprKind::IncDec {
                target: Box::new(target),
                increment,
                prefix: true,
            },
            span,
        })
    }

    /// At `(`: the type if this is a cast `(type)`.
    fn cast_type(&self) -> Option<IntType> {
        let TokenKind::Ident(name) = self.peek(1) else {
            return None;
        };
        let ty = int_type(&name)?;
        (self.peek(2) == TokenKind::RParen).then_some(ty)
    }

    fn cast(&mut self, ty: IntType) -> Result<Expr, Diagnostic> {
        let start = self.bump()?.span;
        self.bump()?;
        self.bump()?;
        self.enter(start)?;
        let operand = self.unary()?;
        self.leave();
        let span = start.to(operand.span);
        Ok(Expr {
            kind: ExprKind::Cast {
                ty,
                operand: Box::new(operand),
            },
            span,
        })
    }

    fn postfix(&mut self) -> Result<Expr, Diagnostic> {
        let mut e = self.primary()?;
        loop {
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

    fn postfix_incdec(&mut self, e: Expr) -> Result<Expr, Diagnostic> {
        let increment = self.tok.kind == TokenKind::PlusPlus;
        let op_tok = self.bump()?;
        check_incdec_target(&e, &op_tok)?;
        let span = e.span.to(op_tok.span);
        Ok(Expr {
            kind: ExprKind::IncDec {
                target: Box::new(e),
                increment,
                prefix: false,
            },
            span,
        })
    }

    fn index(&mut self, base: Expr) -> Result<Expr, Diagnostic> {
        self.bump()?;
        let saved = std::mem::replace(&mut self.no_div, false);
        let index = self.expr();
        self.no_div = saved;
        let index = index?;
        let close = self.expect(&TokenKind::RBracket, "after index")?;
        let span = base.span.to(close.span);
        Ok(Expr {
            kind: ExprKind::Index {
                base: Box::new(base),
                index: Box::new(index),
            },
            span,
        })
    }

    fn field(&mut self, base: Expr) -> Result<Expr, Diagnostic> {
        let what = self.bump()?;
        let TokenKind::Ident(name) = &self.tok.kind else {
            return Err(
                self.unexpected(&format!("a field name after `{}`", what.kind.punct_text()))
            );
        };
        let field = name.clone();
        let t = self.bump()?;
        let span = base.span.to(t.span);
        Ok(Expr {
            kind: ExprKind::Field {
                base: Box::new(base),
                field,
            },
            span,
        })
    }

    /// `expr, expr, ...` up to (not including) `close`; may be empty.
    /// Division is allowed again inside (even in a predicate).
    fn expr_list(&mut self, close: &TokenKind, what: &str) -> Result<Vec<Expr>, Diagnostic> {
        let saved = std::mem::replace(&mut self.no_div, false);
        let r = self.expr_list_inner(close, what);
        self.no_div = saved;
        r
    }

    fn expr_list_inner(&mut self, close: &TokenKind, what: &str) -> Result<Vec<Expr>, Diagnostic> {
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

    fn primary(&mut self) -> Result<Expr, Diagnostic> {
        let kind = match &self.tok.kind {
            TokenKind::Int(n) => ExprKind::Integer(*n),
            TokenKind::Str(s) => ExprKind::String(s.clone()),
            TokenKind::Var(name) => ExprKind::Variable(name.clone()),
            TokenKind::Positional(n) => ExprKind::Positional(*n),
            TokenKind::PositionalCount => ExprKind::PositionalCount,
            TokenKind::Map(_) => return self.map(),
            TokenKind::Ident(_) => return self.ident(),
            TokenKind::LParen => return self.paren(),
            _ => return Err(self.unexpected("expression")),
        };
        let t = self.bump()?;
        Ok(Expr { kind, span: t.span })
    }

    fn map(&mut self) -> Result<Expr, Diagnostic> {
        let t = self.bump()?;
        let TokenKind::Map(name) = t.kind else {
            return Err(Diagnostic::error(t.span, "expected a map"));
        };
        if !self.at(&TokenKind::LBracket) {
            return Ok(Expr {
                kind: ExprKind::Map {
                    name,
                    keys: Vec::new(),
                },
                span: t.span,
            });
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
        Ok(Expr {
            kind: ExprKind::Map { name, keys },
            span: t.span.to(close.span),
        })
    }

    fn ident(&mut self) -> Result<Expr, Diagnostic> {
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
        if !self.at(&TokenKind::LParen) {
            return Ok(Expr {
                kind: ExprKind::Builtin(name),
                span: t.span,
            });
        }
        self.bump()?;
        let args = self.expr_list(&TokenKind::RParen, "call arguments")?;
        let close = self.bump()?;
        Ok(Expr {
            kind: ExprKind::Call {
                name,
                args,
                name_span: t.span,
            },
            span: t.span.to(close.span),
        })
    }

    fn paren(&mut self) -> Result<Expr, Diagnostic> {
        let open = self.bump()?;
        let mut items = self.expr_list(&TokenKind::RParen, "parenthesized expression")?;
        let close = self.bump()?;
        let span = open.span.to(close.span);
        match items.len() {
            0 => {
                Err(Diagnostic::error(span, "empty parentheses")
                    .with_label("expected an expression"))
            }
            1 => match items.pop() {
                Some(mut e) => {
                    e.span = span;
                    Ok(e)
                }
                None => Err(Diagnostic::error(span, "empty parentheses")),
            },
            _ => Ok(Expr {
                kind: ExprKind::Tuple(items),
                span,
            }),
        }
    }
}

fn binary_node(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.to(rhs.span);
    Expr {
        kind: ExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        span,
    }
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

// ---- attach points -------------------------------------------------------

fn attach_point(tok: Token) -> Result<AttachPoint, Diagnostic> {
    let TokenKind::AttachPoint { raw, fields } = tok.kind else {
        return Err(Diagnostic::error(tok.span, "expected an attach point"));
    };
    let kind = attach_kind(&raw, tok.span, &fields)?;
    Ok(AttachPoint {
        raw,
        kind,
        span: tok.span,
    })
}

/// The name of a block label: a lone identifier that is not `BEGIN`/`END`.
fn block_label(tok: &Token) -> Option<String> {
    let TokenKind::AttachPoint { fields, .. } = &tok.kind else {
        return None;
    };
    let [only] = fields.as_slice() else {
        return None;
    };
    let name = only.text.as_str();
    let mut chars = name.chars();
    let starts_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let ident = starts_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    (ident && name != "BEGIN" && name != "END").then(|| name.to_string())
}

fn field_err(f: &AttachField, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(f.span, msg)
}

fn attach_kind(raw: &str, span: Span, fields: &[AttachField]) -> Result<AttachKind, Diagnostic> {
    let Some(ty) = fields.first() else {
        return Err(Diagnostic::error(span, "empty attach point"));
    };
    let args = &fields[1..];
    let usage = |form: &str| {
        Diagnostic::error(span, format!("invalid attach point `{raw}`"))
            .with_note(format!("expected `{form}`"))
    };
    match ty.text.as_str() {
        // Today's bpftrace spells them lowercase; 0.17's uppercase.
        "BEGIN" | "END" | "begin" | "end" if args.is_empty() => {
            Ok(if ty.text.eq_ignore_ascii_case("begin") {
                AttachKind::Begin
            } else {
                AttachKind::End
            })
        }
        "BEGIN" | "END" | "begin" | "end" => Err(Diagnostic::error(
            span,
            format!("`{}` takes no arguments", ty.text),
        )),
        "usdt" | "U" => {
            let (path, provider, name) = match args {
                [path, name] => (path, None, name),
                [path, prov, name] => (path, Some(prov), name),
                _ => return Err(usage("usdt:PATH:[PROVIDER:]NAME")),
            };
            if name.text.is_empty() {
                return Err(field_err(name, "missing usdt probe name")
                    .with_note("expected `usdt:PATH:[PROVIDER:]NAME`"));
            }
            // `usdt:PATH::NAME` and `usdt:::NAME`: an empty provider means
            // any provider, as in bpftrace.
            let provider = provider.filter(|p| !p.text.is_empty());
            Ok(AttachKind::Usdt {
                path: path.text.clone(),
                provider: provider.map(|p| p.text.clone()),
                name: name.text.clone(),
            })
        }
        "uprobe" | "u" | "uretprobe" | "ur" => {
            let is_return = matches!(ty.text.as_str(), "uretprobe" | "ur");
            let form = if is_return {
                "uretprobe:PATH:FUNCTION"
            } else {
                "uprobe:PATH:FUNCTION[+OFFSET]"
            };
            let [path, func_fields @ ..] = args else {
                return Err(usage(form));
            };
            if func_fields.is_empty() {
                return Err(usage(form));
            }
            if path.text.is_empty() {
                return Err(field_err(path, "missing path in uprobe attach point")
                    .with_note(format!("expected `{form}`")));
            }
            // `ns::f` unquoted: fields after the path are rejoined.
            let func = func_fields
                .iter()
                .map(|f| f.text.as_str())
                .collect::<Vec<_>>()
                .join(":");
            let func_span = func_fields
                .iter()
                .map(|f| f.span)
                .reduce(Span::to)
                .unwrap_or(span);
            if func.is_empty() {
                return Err(Diagnostic::error(
                    func_span,
                    "missing function name in uprobe attach point",
                )
                .with_note(format!("expected `{form}`")));
            }
            let target = if let Some(hex) = func.strip_prefix("0x") {
                let addr = u64::from_str_radix(hex, 16).map_err(|_| {
                    Diagnostic::error(func_span, format!("invalid address `{func}`"))
                        .with_label("expected a hexadecimal address")
                })?;
                UprobeTarget::Address(addr)
            } else if let Some((name, off)) = func.rsplit_once('+') {
                let offset = parse_u64(off).ok_or_else(|| {
                    Diagnostic::error(func_span, format!("invalid offset `{off}` in `{func}`"))
                        .with_label("expected a decimal or 0x hexadecimal offset")
                })?;
                if name.is_empty() {
                    return Err(Diagnostic::error(
                        func_span,
                        "missing function name before `+`",
                    ));
                }
                UprobeTarget::Symbol {
                    name: name.to_string(),
                    offset,
                }
            } else {
                UprobeTarget::Symbol {
                    name: func,
                    offset: 0,
                }
            };
            if is_return {
                if let UprobeTarget::Symbol { offset: 1.., .. } | UprobeTarget::Address(_) = target
                {
                    return Err(Diagnostic::error(
                        func_span,
                        "uretprobe cannot take an offset or address",
                    )
                    .with_label("a uretprobe fires when a whole function returns")
                    .with_note("offsets and addresses only work with `uprobe`"));
                }
            }
            Ok(AttachKind::Uprobe {
                path: path.text.clone(),
                target,
                is_return,
            })
        }
        "interval" | "i" | "profile" | "p" => {
            let is_profile = matches!(ty.text.as_str(), "profile" | "p");
            let form = if is_profile {
                "profile:hz:N` or `profile:s|ms|us:N"
            } else {
                "interval:s|ms|us|hz:N"
            };
            let [unit, count] = args else {
                return Err(usage(form));
            };
            let n = parse_u64(&count.text).ok_or_else(|| {
                field_err(count, format!("invalid count `{}`", count.text))
                    .with_label("expected a positive integer")
            })?;
            if n == 0 {
                return Err(field_err(count, "the count must be positive"));
            }
            let scale: u64 = match unit.text.as_str() {
                "s" => 1_000_000_000,
                "ms" => 1_000_000,
                "us" => 1_000,
                "hz" => 0,
                other => {
                    return Err(field_err(unit, format!("unknown time unit `{other}`"))
                        .with_note("expected one of `s`, `ms`, `us`, `hz`"));
                }
            };
            if scale == 0 {
                if is_profile {
                    return Ok(AttachKind::Profile {
                        rate: ProfileRate::Hz(n),
                    });
                }
                return Ok(AttachKind::Interval {
                    period_ns: (1_000_000_000 / n).max(1),
                });
            }
            let ns = n.checked_mul(scale).ok_or_else(|| {
                field_err(count, format!("period of {n}{} is too long", unit.text))
            })?;
            Ok(if is_profile {
                AttachKind::Profile {
                    rate: ProfileRate::PeriodNs(ns),
                }
            } else {
                AttachKind::Interval { period_ns: ns }
            })
        }
        other => {
            if UNSUPPORTED_TYPES.contains(&other) {
                return Err(field_err(ty, format!("attach point type `{other}` is not supported"))
                    .with_note("ustrace traces user space: usdt, uprobe, uretprobe, interval, profile, BEGIN, END"));
            }
            let what = if args.is_empty() {
                "attach point"
            } else {
                "attach point type"
            };
            let mut d = field_err(ty, format!("unknown {what} `{other}`"));
            if let Some(s) = suggest(other, ATTACH_TYPES) {
                d = d.with_label(format!("did you mean `{s}`?"));
            } else {
                d = d.with_note(
                    "known types: usdt, uprobe, uretprobe, interval, profile, BEGIN, END",
                );
            }
            Err(d)
        }
    }
}

/// A decimal or `0x` hexadecimal number.
fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
