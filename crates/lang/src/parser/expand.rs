//! Macro expansion: every use of a `macro` is replaced by its body before
//! the compiler sees the script, as bpftrace's manual describes macros
//! (semantic-aware text replacement, hygienic).
//!
//! - `$a` parameters take a caller's scratch variable: the body's `$a` is
//!   that variable (the body may change it);
//! - `@m` parameters take a caller's map, likewise;
//! - `x` parameters take any expression, inserted wherever the body names
//!   `x` (evaluated at each use, as in bpftrace);
//! - every other `$v` of the body is the expansion's own: renamed
//!   `v'mN` (no source can write `'`), so it never meets the caller's;
//! - a body whose last expression has no `;` has that value: used as an
//!   expression, the use becomes a block expression (or the value alone
//!   when the body has no statements); used as a statement, the body's
//!   statements are spliced in place;
//! - a 0-parameter macro may be named without parentheses (`one`);
//! - macros may use macros; a macro reaching itself is an error.

use std::collections::HashMap;

use crate::ast::*;
use crate::diag::{suggest, Diagnostic};

/// Replaces every macro use in `script`'s probes by its expansion.
pub(super) fn expand_macros(script: &mut Script) -> Result<(), Diagnostic> {
    if script.macros.is_empty() {
        return Ok(());
    }
    for (i, m) in script.macros.iter().enumerate() {
        if script.macros[..i].iter().any(|o| o.name == m.name) {
            return Err(Diagnostic::error(
                m.name_span,
                format!("macro `{}` is defined twice", m.name),
            ));
        }
    }
    let mut ex = Expander {
        macros: script.macros.clone(),
        expansions: 0,
        stack: Vec::new(),
        copied: 0,
    };
    for probe in &mut script.probes {
        if let Some(p) = &mut probe.predicate {
            ex.expr(p)?;
        }
        ex.stmts(&mut probe.body.stmts)?;
        let mut too_deep = None;
        let mut depth_check = |e: &mut Expr, depth: usize| {
            if depth > MAX_EXPANDED_DEPTH && too_deep.is_none() {
                too_deep = Some(e.span);
            }
            too_deep.is_none()
        };
        if let Some(p) = &mut probe.predicate {
            depth_walk(p, 0, &mut depth_check);
        }
        for s in &mut probe.body.stmts {
            walk_stmt(s, &mut |e| {
                depth_walk(e, 0, &mut depth_check);
                Ok(false)
            })?;
        }
        if let Some(span) = too_deep {
            return Err(
                Diagnostic::error(span, "macro expansion too deep").with_note(format!(
                    "expanded expressions may nest at most {MAX_EXPANDED_DEPTH} levels"
                )),
            );
        }
    }
    Ok(())
}

/// How deeply an expression may nest after expansion: what the parser
/// allows in source (nesting plus chained operators), so the compiler's
/// recursive passes stay within their stack.
const MAX_EXPANDED_DEPTH: usize = super::MAX_DEPTH + super::MAX_CHAINED;

/// How many expression nodes the arguments copied into macro bodies may
/// add in all (`m(m(m(x)))` with `macro m(x) { x + x }` doubles each time).
const MAX_COPIED_NODES: usize = 100_000;

/// Calls `f` with each node's depth below `e` (`e` at `depth`), stopping
/// below a node for which `f` returns false.
fn depth_walk(e: &mut Expr, depth: usize, f: &mut dyn FnMut(&mut Expr, usize) -> bool) {
    if !f(e, depth) {
        return;
    }
    let _ = walk_children(e, &mut |child| {
        depth_walk(child, depth + 1, f);
        Ok(false)
    });
}

/// The number of expression nodes in `e`.
fn size(e: &Expr) -> usize {
    let mut n = 0;
    let mut e = e.clone();
    let _ = walk_expr(&mut e, &mut |_| {
        n += 1;
        Ok(true)
    });
    n
}

struct Expander {
    macros: Vec<Macro>,
    /// Expansions so far (numbers the renamed variables).
    expansions: usize,
    /// The macros being expanded, outermost first (for recursion).
    stack: Vec<String>,
    /// Expression nodes copied from arguments so far.
    copied: usize,
}

/// What replaces a parameter in one expansion.
enum Binding {
    Variable(String),
    Map(String),
    Expr(Expr),
}

impl Expander {
    /// The macro `e` uses, with its arguments and the use's span.
    fn macro_use(&self, e: &Expr) -> Option<(usize, Vec<Expr>, Span)> {
        let (name, args) = match &e.kind {
            ExprKind::Call { name, args, .. } => (name, args.clone()),
            ExprKind::Builtin(name) => (name, Vec::new()),
            _ => return None,
        };
        let index = self.macros.iter().position(|m| &m.name == name)?;
        Some((index, args, e.span))
    }

    fn stmts(&mut self, stmts: &mut Vec<Stmt>) -> Result<(), Diagnostic> {
        for mut stmt in std::mem::take(stmts) {
            if let StmtKind::Expr(e) = &stmt.kind {
                if let Some((index, args, span)) = self.macro_use(e) {
                    let (body, value) = self.instantiate(index, args, span)?;
                    stmts.extend(body);
                    if let Some(v) = value {
                        stmts.push(Stmt {
                            span: v.span,
                            kind: StmtKind::Expr(v),
                        });
                    }
                    continue;
                }
            }
            self.stmt(&mut stmt)?;
            stmts.push(stmt);
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &mut Stmt) -> Result<(), Diagnostic> {
        match &mut stmt.kind {
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::Assign { target, value, .. } => {
                self.expr(target)?;
                self.expr(value)
            }
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                self.expr(cond)?;
                self.stmts(&mut then_block.stmts)?;
                match else_block {
                    Some(b) => self.stmts(&mut b.stmts),
                    None => Ok(()),
                }
            }
            StmtKind::While { cond, body } => {
                self.expr(cond)?;
                self.stmts(&mut body.stmts)
            }
            StmtKind::Unroll { body, .. } | StmtKind::Block(body) => self.stmts(&mut body.stmts),
            StmtKind::For { var, iter, body } => {
                self.expr(var)?;
                match &mut **iter {
                    ForIter::Range { start, end } => {
                        self.expr(start)?;
                        self.expr(end)?;
                    }
                    ForIter::Map(m) => self.expr(m)?,
                }
                self.stmts(&mut body.stmts)
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => Ok(()),
        }
    }

    fn expr(&mut self, e: &mut Expr) -> Result<(), Diagnostic> {
        if let Some((index, args, span)) = self.macro_use(e) {
            let (body, value) = self.instantiate(index, args, span)?;
            let Some(value) = value else {
                let m = &self.macros[index];
                return Err(Diagnostic::error(
                    span,
                    format!("macro `{}` has no value", m.name),
                )
                .with_label("used as a value here")
                .with_note(format!(
                    "`{}`'s body ends with `;`: its last expression, without `;`, would be its value",
                    m.name
                )));
            };
            *e = if body.is_empty() {
                value
            } else {
                Expr::new(
                    ExprKind::Block {
                        stmts: body,
                        value: Box::new(value),
                    },
                    span,
                )
            };
            return Ok(());
        }
        if let ExprKind::Block { stmts, .. } = &mut e.kind {
            self.stmts(stmts)?;
        }
        children_mut(&mut e.kind)
            .into_iter()
            .try_for_each(|c| self.expr(c))
    }

    /// One use of macro `index` with `args`: its statements and value,
    /// parameters bound, own variables renamed, nested uses expanded.
    fn instantiate(
        &mut self,
        index: usize,
        mut args: Vec<Expr>,
        span: Span,
    ) -> Result<(Vec<Stmt>, Option<Expr>), Diagnostic> {
        let def = self.macros[index].clone();
        if self.stack.contains(&def.name) {
            let chain = self
                .stack
                .iter()
                .skip_while(|n| **n != def.name)
                .chain(std::iter::once(&def.name))
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(" -> ");
            return Err(
                Diagnostic::error(span, format!("macro `{}` is recursive", def.name))
                    .with_label(chain)
                    .with_note("a macro may not use itself, directly or through other macros"),
            );
        }
        if args.len() != def.params.len() {
            let n = def.params.len();
            let wanted = def
                .params
                .iter()
                .map(param_text)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Diagnostic::error(
                span,
                format!(
                    "macro `{}` takes {n} argument{}, {} given",
                    def.name,
                    if n == 1 { "" } else { "s" },
                    args.len()
                ),
            )
            .with_note(format!("defined as `macro {}({wanted})`", def.name)));
        }
        for a in &mut args {
            self.expr(a)?;
        }
        let mut bindings = HashMap::new();
        for (p, arg) in def.params.iter().zip(args) {
            let binding = match (p.kind, arg.kind) {
                (MacroParamKind::Variable, ExprKind::Variable(v)) => Binding::Variable(v),
                (MacroParamKind::Map, ExprKind::Map { name, keys }) if keys.is_empty() => {
                    Binding::Map(name)
                }
                (MacroParamKind::Expr, kind) => Binding::Expr(Expr::new(kind, arg.span)),
                (kind, _) => {
                    let what = match kind {
                        MacroParamKind::Variable => "a scratch variable (`$name`)",
                        _ => "a map without keys (`@name`)",
                    };
                    return Err(Diagnostic::error(
                        arg.span,
                        format!(
                            "macro `{}` expects {what} for its parameter `{}`",
                            def.name,
                            param_text(p)
                        ),
                    ));
                }
            };
            let key = (p.kind, p.name.clone());
            bindings.insert(key, binding);
        }
        self.expansions += 1;
        let suffix = format!("'m{}", self.expansions);
        let mut body = def.body.clone();
        let mut value = def.value.clone();
        let mut copied = 0;
        {
            let mut bind = |e: &mut Expr| rebind(e, &def, &bindings, &suffix, &mut copied);
            body.iter_mut().try_for_each(|s| walk_stmt(s, &mut bind))?;
            if let Some(v) = &mut value {
                walk_expr(v, &mut bind)?;
            }
        }
        self.copied = self.copied.saturating_add(copied);
        if self.copied > MAX_COPIED_NODES {
            return Err(Diagnostic::error(span, "macro expansion too large").with_note(
                format!("arguments copied into macro bodies may add at most {MAX_COPIED_NODES} expression nodes"),
            ));
        }
        self.stack.push(def.name.clone());
        let expanded = self.stmts(&mut body).and_then(|_| match &mut value {
            Some(v) => self.expr(v),
            None => Ok(()),
        });
        self.stack.pop();
        expanded?;
        Ok((body, value))
    }
}

/// How a parameter is written (`$a`, `@m`, `x`).
fn param_text(p: &MacroParam) -> String {
    match p.kind {
        MacroParamKind::Variable => format!("${}", p.name),
        MacroParamKind::Map => format!("@{}", p.name),
        MacroParamKind::Expr => p.name.clone(),
    }
}

/// One node of a macro body in an expansion. Returns whether to look
/// inside the (possibly replaced) node.
fn rebind(
    e: &mut Expr,
    def: &Macro,
    bindings: &HashMap<(MacroParamKind, String), Binding>,
    suffix: &str,
    copied: &mut usize,
) -> Result<bool, Diagnostic> {
    match &mut e.kind {
        ExprKind::Variable(v) => {
            *v = match bindings.get(&(MacroParamKind::Variable, v.clone())) {
                Some(Binding::Variable(caller)) => caller.clone(),
                _ => format!("{v}{suffix}"),
            };
        }
        ExprKind::Map { name, .. } => match bindings.get(&(MacroParamKind::Map, name.clone())) {
            Some(Binding::Map(caller)) => *name = caller.clone(),
            _ => {
                let names: Vec<&str> = def.params.iter().map(|p| p.name.as_str()).collect();
                let mut d = Diagnostic::error(
                    e.span,
                    format!("macro `{}` has no map parameter `@{name}`", def.name),
                );
                if let Some(s) = suggest(name, &names) {
                    d = d.with_label(format!("did you mean `@{s}`?"));
                }
                return Err(d);
            }
        },
        ExprKind::Builtin(n) => {
            if let Some(Binding::Expr(arg)) = bindings.get(&(MacroParamKind::Expr, n.clone())) {
                *copied = copied.saturating_add(size(arg));
                *e = arg.clone();
                return Ok(false);
            }
        }
        _ => {}
    }
    Ok(true)
}

type Visit<'f> = dyn FnMut(&mut Expr) -> Result<bool, Diagnostic> + 'f;

fn walk_stmt(s: &mut Stmt, f: &mut Visit<'_>) -> Result<(), Diagnostic> {
    match &mut s.kind {
        StmtKind::Expr(e) => walk_expr(e, f),
        StmtKind::Assign { target, value, .. } => {
            walk_expr(target, f)?;
            walk_expr(value, f)
        }
        StmtKind::If {
            cond,
            then_block,
            else_block,
        } => {
            walk_expr(cond, f)?;
            walk_block(then_block, f)?;
            match else_block {
                Some(b) => walk_block(b, f),
                None => Ok(()),
            }
        }
        StmtKind::While { cond, body } => {
            walk_expr(cond, f)?;
            walk_block(body, f)
        }
        StmtKind::Unroll { body, .. } | StmtKind::Block(body) => walk_block(body, f),
        StmtKind::For { var, iter, body } => {
            walk_expr(var, f)?;
            match &mut **iter {
                ForIter::Range { start, end } => {
                    walk_expr(start, f)?;
                    walk_expr(end, f)?;
                }
                ForIter::Map(m) => walk_expr(m, f)?,
            }
            walk_block(body, f)
        }
        StmtKind::Break | StmtKind::Continue | StmtKind::Return => Ok(()),
    }
}

fn walk_block(b: &mut Block, f: &mut Visit<'_>) -> Result<(), Diagnostic> {
    b.stmts.iter_mut().try_for_each(|s| walk_stmt(s, f))
}

fn walk_expr(e: &mut Expr, f: &mut Visit<'_>) -> Result<(), Diagnostic> {
    if !f(e)? {
        return Ok(());
    }
    walk_children(e, &mut |child| walk_expr(child, f).map(|_| false))
}

/// Calls `f` on each direct sub-expression of `e` (statements of a block
/// expression walked with [`walk_stmt`]).
fn walk_children(e: &mut Expr, f: &mut Visit<'_>) -> Result<(), Diagnostic> {
    if let ExprKind::Block { stmts, .. } = &mut e.kind {
        stmts.iter_mut().try_for_each(|s| walk_stmt(s, f))?;
    }
    children_mut(&mut e.kind)
        .into_iter()
        .try_for_each(|c| f(c).map(|_| ()))
}
