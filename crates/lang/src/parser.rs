//! The parser: tokens to an [`ast::Script`](crate::ast::Script).
//!
//! Hand-written recursive descent; binary operators by precedence climbing
//! with C's precedence levels. The first error stops parsing.
//!
//! In a predicate (`/expr/`) a `/` at the outermost nesting level closes the
//! predicate rather than dividing, as in bpftrace: write `/(a / 2) > 1/`.

use crate::ast::*;
use crate::diag::Diagnostic;
use crate::lexer::{Lexer, Token, TokenKind};

mod attach;

use attach::{attach_point, block_label};
mod config;
mod expand;
mod expr;
mod items;
mod program_types;
mod scope;
mod type_of;

pub use config::{config_from_env, CONFIG_KEYS};

/// Parses a whole script.
///
/// ```
/// let s = ustrace_lang::parse("BEGIN { printf(\"hi\\n\"); }").unwrap();
/// assert_eq!(s.probes.len(), 1);
/// ```
pub fn parse(source: &str) -> Result<Script, Diagnostic> {
    parse_with(source, &ParseOptions::default())
}

/// What a script is read with, besides its text.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// A block may be labelled with a bare name (see [`parse_labelled`]).
    pub labels: bool,
    /// The positional parameters (`$1` is the first): attach points get
    /// them as text (`uprobe:$1:$2`), as bpftrace expands them.
    pub positional: Vec<String>,
}

/// Parses a whole script with [`ParseOptions`].
///
/// ```
/// use ustrace_lang::parser::{parse_with, ParseOptions};
/// let options = ParseOptions { positional: vec!["/bin/ls".into()], ..Default::default() };
/// let s = parse_with("uprobe:$1:main { }", &options).unwrap();
/// assert_eq!(s.probes[0].attach_points[0].raw, "uprobe:/bin/ls:main");
/// ```
pub fn parse_with(source: &str, options: &ParseOptions) -> Result<Script, Diagnostic> {
    let mut p = Parser::new(source, &options.positional)?;
    p.labels = options.labels;
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
    parse_with(
        source,
        &ParseOptions {
            labels: true,
            ..Default::default()
        },
    )
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
        scopes: scope::Scopes::default(),
        positional: &[],
        last_block_valued: false,
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
    "test",
    "bench",
];

const KEYWORDS: &[&str] = &[
    "if", "else", "while", "unroll", "break", "continue", "return", "for",
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
    /// `let` declarations of the probe being read.
    scopes: scope::Scopes,
    /// Positional parameters, for `$N` in attach points.
    positional: &'a [String],
    /// The block read last ends with an expression without `;`.
    last_block_valued: bool,
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
    fn new(source: &'a str, positional: &'a [String]) -> Result<Parser<'a>, Diagnostic> {
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
            scopes: scope::Scopes::default(),
            positional,
            last_block_valued: false,
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
        let config = if self.at_config() {
            self.config()?
        } else {
            Config::default()
        };
        let mut probes = Vec::new();
        let mut map_decls = Vec::new();
        let mut macros = Vec::new();
        while !self.at(&TokenKind::Eof) {
            if self.at_top_level_word("macro") {
                macros.push(self.macro_def()?);
            } else if self.at_top_level_word("let") {
                map_decls.push(self.map_decl(&map_decls)?);
            } else {
                probes.push(self.probe()?);
            }
        }
        if probes.is_empty() {
            return Err(Diagnostic::error(self.tok.span, "script has no probes")
                .with_note("a probe looks like `usdt:/path/to/bin:provider:name { ... }`"));
        }
        let mut script = Script {
            probes,
            config,
            map_decls,
            macros,
        };
        expand::expand_macros(&mut script)?;
        Ok(script)
    }

    fn probe(&mut self) -> Result<Probe, Diagnostic> {
        let start = self.tok.span;
        self.scopes.reset();
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
                        _ => attach_point(t, self.positional)?,
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

    /// A block; [`Parser::last_block_valued`] tells whether its last
    /// statement is an expression not followed by `;` (its value when the
    /// block is used as an expression). One function, not a wrapper: each
    /// nesting level costs stack.
    fn block(&mut self) -> Result<Block, Diagnostic> {
        let open = if self.at(&TokenKind::LBrace) {
            self.bump()?
        } else {
            return Err(self.unexpected("`{`"));
        };
        self.enter(open.span)?;
        self.scopes.open();
        let mut stmts = Vec::new();
        let mut valued = false;
        loop {
            if self.eat(&TokenKind::Semi)? {
                valued = false;
                while self.eat(&TokenKind::Semi)? {}
            }
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
            valued = !compound && matches!(stmt.kind, StmtKind::Expr(_));
            stmts.push(stmt);
            if compound || self.eat(&TokenKind::Semi)? {
                valued = false;
                continue;
            }
            if self.at(&TokenKind::RBrace) {
                continue;
            }
            return Err(self.unexpected("`;` or `}` after statement"));
        }
        let close = self.bump()?;
        self.scopes.close();
        self.leave();
        self.last_block_valued = valued;
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
            _ if self.at_let() => (self.let_stmt()?, false),
            _ if self.at_discard() => (self.discard_stmt()?, false),
            Some("if") => (self.if_stmt()?, true),
            Some("while") => (self.while_stmt()?, true),
            Some("for") => (self.for_stmt()?, true),
            Some("unroll") => (self.unroll_stmt()?, true),
            Some(kw @ ("break" | "continue" | "return")) => (self.jump_stmt(kw)?, false),
            _ if self.at(&TokenKind::LBrace) => self.block_stmt()?,
            Some("else") => {
                return Err(Diagnostic::error(
                    self.tok.span,
                    "`else` without a preceding `if`",
                ));
            }
            _ => (self.expr_stmt()?, false),
        };
        let span = start.to(Span::new(self.prev_end, self.prev_end));
        Ok((Stmt { kind, span }, compound))
    }

    // The statement forms below are kept out of line: `stmt` is part of
    // the parser's recursion (block -> stmt -> if -> block), and every
    // form inlined into it would grow each level's stack frame.

    /// A bare `{ ... }`: its statements run in order, its `let`s end with
    /// it. A last expression without `;` is evaluated and its value
    /// dropped, as for any statement, unless the block is the last thing
    /// of the enclosing block: then it is that block's value
    /// (`macro f() { let $a = 1; { $a + 1 } }`). Returns whether the
    /// statement needs no `;` after it.
    #[inline(never)]
    fn block_stmt(&mut self) -> Result<(StmtKind, bool), Diagnostic> {
        let block = self.block()?;
        if self.last_block_valued && self.at(&TokenKind::RBrace) {
            return Ok((StmtKind::Expr(self.valued_block(block)?), false));
        }
        Ok((StmtKind::Block(block), true))
    }

    /// `while (c) { }`.
    #[inline(never)]
    fn while_stmt(&mut self) -> Result<StmtKind, Diagnostic> {
        self.bump()?;
        let cond = self.paren_cond("while")?;
        let body = self.block()?;
        Ok(StmtKind::While { cond, body })
    }

    /// `unroll(N) { }`.
    #[inline(never)]
    fn unroll_stmt(&mut self) -> Result<StmtKind, Diagnostic> {
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
        Ok(StmtKind::Unroll { count, body })
    }

    /// `break`, `continue`, `return`.
    #[inline(never)]
    fn jump_stmt(&mut self, kw: &str) -> Result<StmtKind, Diagnostic> {
        let kind = match kw {
            "break" => StmtKind::Break,
            "continue" => StmtKind::Continue,
            _ => StmtKind::Return,
        };
        self.bump()?;
        if !self.at(&TokenKind::Semi) && !self.at(&TokenKind::RBrace) {
            return Err(self.unexpected(&format!("`;` or `}}` after `{kw}`")));
        }
        Ok(kind)
    }

    /// `expr`, `target = value`, `target op= value`.
    #[inline(never)]
    fn expr_stmt(&mut self) -> Result<StmtKind, Diagnostic> {
        let target = self.expr()?;
        let Some(op) = assign_op(&self.tok.kind) else {
            return Ok(StmtKind::Expr(target));
        };
        let op_tok = self.bump()?;
        if !is_lvalue(&target) {
            return Err(
                Diagnostic::error(target.span, "cannot assign to this expression")
                    .with_label(format!("left of `{}`", op_tok.kind.punct_text()))
                    .with_note("only variables (`$x`) and map elements (`@m[k]`) can be assigned"),
            );
        }
        let value = self.expr()?;
        Ok(StmtKind::Assign { target, op, value })
    }

    fn paren_cond(&mut self, keyword: &str) -> Result<Expr, Diagnostic> {
        self.expect(&TokenKind::LParen, &format!("after `{keyword}`"))?;
        let cond = self.expr()?;
        self.expect(&TokenKind::RParen, &format!("after `{keyword}` condition"))?;
        Ok(cond)
    }

    /// `if (c) { } else if (c2) { } ... else { }`, read iteratively so long
    /// `else if` chains do not recurse.
    #[inline(never)]
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
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "parser_error_tests.rs"]
mod error_tests;
