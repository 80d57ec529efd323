//! Walks over a probe's statements for the loop emitter: every `for`
//! loop (to reserve its slots), every variable a loop body names (the
//! variables its callback copies).

use std::collections::HashSet;

use ustrace_lang::ast::{children, Block, Expr, ExprKind, ForIter, Stmt, StmtKind};

/// Calls `f` on every `for` loop of `block`, nested ones included (in
/// block expressions too).
pub(crate) fn collect_loops(block: &Block, f: &mut dyn FnMut(&Expr, &ForIter)) {
    walk_stmts(&block.stmts, f, &mut |_| {});
}

/// The names of the variables `block` reads or writes, nested blocks,
/// loops (their variables and bounds) and block expressions included.
pub(crate) fn variables_named(block: &Block) -> HashSet<String> {
    let mut names = HashSet::new();
    walk_stmts(&block.stmts, &mut |_, _| {}, &mut |e| {
        if let ExprKind::Variable(n) = &e.kind {
            names.insert(n.clone());
        }
    });
    names
}

/// Calls `on_loop` on every `for` loop and `on_expr` on every expression
/// of `stmts`, outermost first.
fn walk_stmts(
    stmts: &[Stmt],
    on_loop: &mut dyn FnMut(&Expr, &ForIter),
    on_expr: &mut dyn FnMut(&Expr),
) {
    for Stmt { kind, .. } in stmts {
        match kind {
            StmtKind::Expr(e) => walk_expr(e, on_loop, on_expr),
            StmtKind::Assign { target, value, .. } => {
                walk_expr(target, on_loop, on_expr);
                walk_expr(value, on_loop, on_expr);
            }
            StmtKind::For { var, iter, body } => {
                match &**iter {
                    ForIter::Range { start, end } => {
                        walk_expr(start, on_loop, on_expr);
                        walk_expr(end, on_loop, on_expr);
                    }
                    ForIter::Map(m) => walk_expr(m, on_loop, on_expr),
                }
                on_loop(var, iter);
                walk_expr(var, on_loop, on_expr);
                walk_stmts(&body.stmts, on_loop, on_expr);
            }
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                walk_expr(cond, on_loop, on_expr);
                walk_stmts(&then_block.stmts, on_loop, on_expr);
                if let Some(b) = else_block {
                    walk_stmts(&b.stmts, on_loop, on_expr);
                }
            }
            StmtKind::While { cond, body } => {
                walk_expr(cond, on_loop, on_expr);
                walk_stmts(&body.stmts, on_loop, on_expr);
            }
            StmtKind::Unroll { body, .. } | StmtKind::Block(body) => {
                walk_stmts(&body.stmts, on_loop, on_expr)
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => {}
        }
    }
}

fn walk_expr(e: &Expr, on_loop: &mut dyn FnMut(&Expr, &ForIter), on_expr: &mut dyn FnMut(&Expr)) {
    on_expr(e);
    if let ExprKind::Block { stmts, .. } = &e.kind {
        walk_stmts(stmts, on_loop, on_expr);
    }
    for child in children(&e.kind) {
        walk_expr(child, on_loop, on_expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_loops_and_variables_everywhere_in_a_body() {
        let src = "BEGIN { $a = 1; if ($b) { for ($i : 0..$n) { @m[$c] = { for ($kv : @t) { $d += $kv.1; } 1 }; } } while ($e) { break; } }";
        let script = ustrace_lang::parse(src).expect("parses");
        let body = &script.probes[0].body;
        let mut loops = Vec::new();
        collect_loops(body, &mut |var, _| {
            if let ExprKind::Variable(n) = &var.kind {
                loops.push(n.clone());
            }
        });
        assert_eq!(loops.len(), 2, "{loops:?}");
        let mut names: Vec<String> = variables_named(body).into_iter().collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c", "d", "e", "i", "kv", "n"]);
    }
}
