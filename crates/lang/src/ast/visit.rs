//! Walks over the syntax tree: numbering every expression, visiting them,
//! and listing an expression's direct sub-expressions.

use super::*;

/// Gives every expression of `script` its own [`ExprId`], 0, 1, 2, ... in
/// visiting order; returns how many there are.
pub fn number_exprs(script: &mut Script) -> u32 {
    let mut next = 0u32;
    let mut number = |e: &mut Expr| {
        e.id = ExprId(next);
        next += 1;
    };
    for probe in &mut script.probes {
        if let Some(p) = &mut probe.predicate {
            visit_expr_mut(p, &mut number);
        }
        visit_block_mut(&mut probe.body, &mut number);
    }
    next
}

fn visit_block_mut(block: &mut Block, f: &mut dyn FnMut(&mut Expr)) {
    visit_stmts_mut(&mut block.stmts, f)
}

fn visit_stmts_mut(stmts: &mut [Stmt], f: &mut dyn FnMut(&mut Expr)) {
    for stmt in stmts {
        match &mut stmt.kind {
            StmtKind::Expr(e) => visit_expr_mut(e, f),
            StmtKind::Assign { target, value, .. } => {
                visit_expr_mut(target, f);
                visit_expr_mut(value, f);
            }
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                visit_expr_mut(cond, f);
                visit_block_mut(then_block, f);
                if let Some(b) = else_block {
                    visit_block_mut(b, f);
                }
            }
            StmtKind::While { cond, body } => {
                visit_expr_mut(cond, f);
                visit_block_mut(body, f);
            }
            StmtKind::Unroll { body, .. } | StmtKind::Block(body) => visit_block_mut(body, f),
            StmtKind::For { var, iter, body } => {
                visit_expr_mut(var, f);
                match &mut **iter {
                    ForIter::Range { start, end } => {
                        visit_expr_mut(start, f);
                        visit_expr_mut(end, f);
                    }
                    ForIter::Map(m) => visit_expr_mut(m, f),
                }
                visit_block_mut(body, f);
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => {}
        }
    }
}

fn visit_expr_mut(e: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    f(e);
    if let ExprKind::Block { stmts, .. } = &mut e.kind {
        visit_stmts_mut(stmts, f);
    }
    for child in children_mut(&mut e.kind) {
        visit_expr_mut(child, f);
    }
}

/// The direct sub-expressions of an expression, in source order (of a
/// block expression, its value: its statements are not expressions).
pub fn children(kind: &ExprKind) -> Vec<&Expr> {
    match kind {
        ExprKind::Block { value, .. } => vec![value],
        ExprKind::Map { keys, .. } => keys.iter().collect(),
        ExprKind::Call { args, .. } => args.iter().collect(),
        ExprKind::Tuple(items) => items.iter().collect(),
        ExprKind::Unary { operand, .. }
        | ExprKind::Cast { operand, .. }
        | ExprKind::TypeCast { operand, .. } => vec![operand],
        ExprKind::IncDec { target, .. } => vec![target],
        ExprKind::Field { base, .. } => vec![base],
        ExprKind::SizeofExpr(e) | ExprKind::Typeof(e) => vec![e],
        ExprKind::TypeofCast { of, operand } => {
            let mut all = vec![&**of];
            all.extend(operand.as_deref());
            all
        }
        ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
        ExprKind::Index { base, index } => vec![base, index],
        ExprKind::Ternary {
            cond,
            then_expr,
            else_expr,
        } => vec![cond, then_expr, else_expr],
        ExprKind::Integer(_)
        | ExprKind::String(_)
        | ExprKind::Builtin(_)
        | ExprKind::Positional(_)
        | ExprKind::PositionalCount
        | ExprKind::SizeofType(_)
        | ExprKind::Offsetof { .. }
        | ExprKind::Variable(_) => Vec::new(),
    }
}

/// [`children`], to change them.
pub fn children_mut(kind: &mut ExprKind) -> Vec<&mut Expr> {
    match kind {
        ExprKind::Block { value, .. } => vec![value],
        ExprKind::Map { keys, .. } => keys.iter_mut().collect(),
        ExprKind::Call { args, .. } => args.iter_mut().collect(),
        ExprKind::Tuple(items) => items.iter_mut().collect(),
        ExprKind::Unary { operand, .. }
        | ExprKind::Cast { operand, .. }
        | ExprKind::TypeCast { operand, .. } => vec![operand],
        ExprKind::IncDec { target, .. } => vec![target],
        ExprKind::Field { base, .. } => vec![base],
        ExprKind::SizeofExpr(e) | ExprKind::Typeof(e) => vec![e],
        ExprKind::TypeofCast { of, operand } => {
            let mut all = vec![&mut **of];
            all.extend(operand.as_deref_mut());
            all
        }
        ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
        ExprKind::Index { base, index } => vec![base, index],
        ExprKind::Ternary {
            cond,
            then_expr,
            else_expr,
        } => vec![cond, then_expr, else_expr],
        ExprKind::Integer(_)
        | ExprKind::String(_)
        | ExprKind::Builtin(_)
        | ExprKind::Positional(_)
        | ExprKind::PositionalCount
        | ExprKind::SizeofType(_)
        | ExprKind::Offsetof { .. }
        | ExprKind::Variable(_) => Vec::new(),
    }
}

/// The `let @m = ...;` declarations of maps no probe names (bpftrace warns
/// "Unused map: @m" for them), in source order.
pub fn unused_map_decls(script: &Script) -> Vec<&MapDecl> {
    let mut used = std::collections::HashSet::new();
    visit_exprs(script, &mut |e| {
        if let ExprKind::Map { name, .. } = &e.kind {
            used.insert(name.clone());
        }
    });
    script
        .map_decls
        .iter()
        .filter(|d| !used.contains(&d.name))
        .collect()
}

/// Calls `f` on every expression of `script` (predicates, statements,
/// nested sub-expressions), outermost first.
pub fn visit_exprs(script: &Script, f: &mut dyn FnMut(&Expr)) {
    for probe in &script.probes {
        if let Some(p) = &probe.predicate {
            visit_expr(p, f);
        }
        visit_block(&probe.body, f);
    }
}

fn visit_block(block: &Block, f: &mut dyn FnMut(&Expr)) {
    visit_stmts(&block.stmts, f)
}

fn visit_stmts(stmts: &[Stmt], f: &mut dyn FnMut(&Expr)) {
    for stmt in stmts {
        match &stmt.kind {
            StmtKind::Expr(e) => visit_expr(e, f),
            StmtKind::Assign { target, value, .. } => {
                visit_expr(target, f);
                visit_expr(value, f);
            }
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                visit_expr(cond, f);
                visit_block(then_block, f);
                if let Some(b) = else_block {
                    visit_block(b, f);
                }
            }
            StmtKind::While { cond, body } => {
                visit_expr(cond, f);
                visit_block(body, f);
            }
            StmtKind::Unroll { body, .. } | StmtKind::Block(body) => visit_block(body, f),
            StmtKind::For { var, iter, body } => {
                visit_expr(var, f);
                match &**iter {
                    ForIter::Range { start, end } => {
                        visit_expr(start, f);
                        visit_expr(end, f);
                    }
                    ForIter::Map(m) => visit_expr(m, f),
                }
                visit_block(body, f);
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => {}
        }
    }
}

fn visit_expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    if let ExprKind::Block { stmts, .. } = &e.kind {
        visit_stmts(stmts, f);
    }
    for child in children(&e.kind) {
        visit_expr(child, f);
    }
}
