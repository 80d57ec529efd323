//! Top-level items besides probes: `macro name(params) { ... }` and map
//! declarations `let @m = lruhash(100);`.
//!
//! The lexer reads top-level text as attach points; at the words `macro`
//! and `let` the parser asks it for code tokens instead (up to the
//! macro's `{`, or the declaration's `;`).

use super::Parser;
use crate::ast::*;
use crate::diag::{suggest, Diagnostic};
use crate::lexer::TokenKind;

impl<'a> Parser<'a> {
    /// True at the top-level word `word` (`macro`, `let`).
    pub(super) fn at_top_level_word(&self, word: &str) -> bool {
        matches!(&self.tok.kind, TokenKind::AttachPoint { raw, fields } if raw == word && fields.len() == 1)
    }

    /// `macro name(params) { body }`.
    pub(super) fn macro_def(&mut self) -> Result<Macro, Diagnostic> {
        let start = self.tok.span;
        self.lexer.begin_header();
        self.bump()?;
        let name_tok = self.bump()?;
        let TokenKind::Ident(name) = name_tok.kind else {
            return Err(
                Diagnostic::error(name_tok.span, "expected the macro's name")
                    .with_note("a macro looks like `macro add_one(x) { x + 1 }`"),
            );
        };
        self.expect(&TokenKind::LParen, "after the macro's name")?;
        let mut params: Vec<MacroParam> = Vec::new();
        while !self.at(&TokenKind::RParen) {
            let t = self.bump()?;
            let (pname, kind) = match t.kind {
                TokenKind::Var(n) => (n, MacroParamKind::Variable),
                TokenKind::Map(n) if !n.is_empty() => (n, MacroParamKind::Map),
                TokenKind::Ident(n) => (n, MacroParamKind::Expr),
                _ => {
                    return Err(
                        Diagnostic::error(t.span, "expected a macro parameter").with_label(
                            "`$name` (a variable), `@name` (a map) or `name` (an expression)",
                        ),
                    )
                }
            };
            if params.iter().any(|p| p.name == pname && p.kind == kind) {
                return Err(Diagnostic::error(t.span, "parameter named twice"));
            }
            params.push(MacroParam {
                name: pname,
                kind,
                span: t.span,
            });
            if !self.eat(&TokenKind::Comma)? && !self.at(&TokenKind::RParen) {
                return Err(self.unexpected("`,` or `)` after a macro parameter"));
            }
        }
        self.bump()?;
        if !self.at(&TokenKind::LBrace) {
            return Err(self.unexpected("`{` opening the macro's body"));
        }
        self.scopes.reset();
        let block = self.block()?;
        let valued = self.last_block_valued;
        let mut body = block.stmts;
        let value = match body.pop() {
            Some(Stmt {
                kind: StmtKind::Expr(e),
                ..
            }) if valued => Some(e),
            Some(last) => {
                body.push(last);
                None
            }
            None => None,
        };
        let def = Macro {
            name,
            params,
            body,
            value,
            name_span: name_tok.span,
            span: start.to(block.span),
        };
        check_hygiene(&def)?;
        Ok(def)
    }

    /// `let @name = kind(max_entries);` at top level.
    pub(super) fn map_decl(&mut self, earlier: &[MapDecl]) -> Result<MapDecl, Diagnostic> {
        let start = self.tok.span;
        self.lexer.begin_declaration();
        self.bump()?;
        let name_tok = self.bump()?;
        let TokenKind::Map(name) = name_tok.kind else {
            return Err(
                Diagnostic::error(name_tok.span, "expected a map after `let`")
                    .with_note("a map declaration looks like `let @m = lruhash(100);`"),
            );
        };
        if let Some(first) = earlier.iter().find(|d| d.name == name) {
            let (line, col) = crate::diag::line_col(self.lexer_source(), first.span.start);
            return Err(Diagnostic::error(
                name_tok.span,
                format!("map `@{name}` is declared twice"),
            )
            .with_note(format!("first declared at line {line}, column {col}")));
        }
        self.expect(&TokenKind::Assign, "after the declared map")?;
        let kind_tok = self.bump()?;
        let names: Vec<&str> = DeclaredMapKind::ALL.iter().map(|(n, _)| *n).collect();
        let kind = match &kind_tok.kind {
            TokenKind::Ident(k) => DeclaredMapKind::ALL
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, kind)| *kind),
            _ => None,
        };
        let Some(kind) = kind else {
            let mut d = Diagnostic::error(kind_tok.span, "unknown map type")
                .with_note(format!("map types: {}", names.join(", ")));
            if let TokenKind::Ident(k) = &kind_tok.kind {
                d.message = format!("unknown map type `{k}`");
                if let Some(s) = suggest(k, &names) {
                    d = d.with_label(format!("did you mean `{s}`?"));
                }
            }
            return Err(d);
        };
        self.expect(&TokenKind::LParen, "after the map type")?;
        let size_tok = self.bump()?;
        let max_entries = match size_tok.kind {
            TokenKind::Int(n) => u32::try_from(n).ok().filter(|&n| n > 0),
            _ => None,
        };
        let Some(max_entries) = max_entries else {
            return Err(Diagnostic::error(
                size_tok.span,
                "expected the number of entries (an integer from 1 to 4294967295)",
            ));
        };
        self.expect(&TokenKind::RParen, "after the number of entries")?;
        if !self.at(&TokenKind::Semi) {
            return Err(self.unexpected("`;` after the map declaration"));
        }
        let end = self.bump()?;
        Ok(MapDecl {
            name,
            kind,
            max_entries,
            span: start.to(end.span),
        })
    }
}

/// A macro body may use only the maps it is given (bpftrace's hygiene).
fn check_hygiene(def: &Macro) -> Result<(), Diagnostic> {
    let mut bad = None;
    let mut check = |e: &Expr| {
        if let ExprKind::Map { name, .. } = &e.kind {
            let given = def
                .params
                .iter()
                .any(|p| p.kind == MacroParamKind::Map && &p.name == name);
            if !given && bad.is_none() {
                bad = Some((name.clone(), e.span));
            }
        }
    };
    visit_macro(def, &mut check);
    match bad {
        Some((name, span)) => Err(Diagnostic::error(
            span,
            format!(
                "macro `{}` uses the map `@{name}`, which is not one of its parameters",
                def.name
            ),
        )
        .with_note(format!(
            "macros see only the maps they are given: add `@{name}` to its parameters and pass the map"
        ))),
        None => Ok(()),
    }
}

/// Calls `f` on every expression of a macro's body.
fn visit_macro(def: &Macro, f: &mut dyn FnMut(&Expr)) {
    let probe = Probe {
        attach_points: Vec::new(),
        predicate: def.value.clone(),
        body: Block {
            stmts: def.body.clone(),
            span: def.span,
        },
        span: def.span,
    };
    let script = Script {
        probes: vec![probe],
        config: Config::default(),
        map_decls: Vec::new(),
        macros: Vec::new(),
    };
    visit_exprs(&script, f);
}
