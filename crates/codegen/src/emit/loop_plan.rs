//! Which range loops run inline.
//!
//! A `for ($i : A..B)` loop whose bounds are constants and whose body is
//! small runs inline, as a plain bounded loop in the probe's own code: no
//! `bpf_loop` call, no callback frame, no copy of the variable area in
//! and out on every iteration (the callback form costs about three times
//! as much per iteration). The verifier walks an inline loop once per
//! iteration, so it is kept for loops whose iterations times body stay
//! well inside the verifier's budget (one million instructions); every
//! other loop keeps the callback, which the verifier checks once
//! whatever the count.
//!
//! The body's cost is estimated from its syntax tree: one per statement
//! and expression node, more for calls (builtins expand to several
//! instructions), the iterations times the body for a nested inline
//! loop or an `unroll`. A `while` inside makes the body's cost unknown:
//! such a loop keeps its callback.

use std::collections::HashMap;

use ustrace_lang::ast::{children, Block, Expr, ExprId, ExprKind, ForIter, Stmt, StmtKind};

/// At most this many iterations run inline.
pub(crate) const MAX_INLINE_ITERATIONS: i64 = 1024;

/// At most this estimated cost (iterations times the body's weight) runs
/// inline: a few tens of thousands of verified instructions at most.
pub(crate) const INLINE_BUDGET: u64 = 4096;

/// The weight of a construct whose verification cost is unknown.
const UNKNOWN: u64 = INLINE_BUDGET + 1;

/// The constant bounds `(start, end)` of every range loop of `body` that
/// runs inline, by its loop variable's id. `konst` gives an expression's
/// constant value, if it has one.
pub(crate) fn inline_ranges(
    body: &Block,
    konst: &dyn Fn(&Expr) -> Option<i64>,
) -> HashMap<ExprId, (i64, i64)> {
    let mut plan = Planner {
        konst,
        inline: HashMap::new(),
    };
    plan.block(&body.stmts);
    plan.inline
}

struct Planner<'a> {
    konst: &'a dyn Fn(&Expr) -> Option<i64>,
    inline: HashMap<ExprId, (i64, i64)>,
}

impl Planner<'_> {
    /// The weight of `stmts`, deciding their loops on the way.
    fn block(&mut self, stmts: &[Stmt]) -> u64 {
        stmts
            .iter()
            .fold(0u64, |sum, s| sum.saturating_add(self.stmt(s)))
    }

    fn stmt(&mut self, stmt: &Stmt) -> u64 {
        let inner = match &stmt.kind {
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::Assign { target, value, .. } => {
                self.expr(target).saturating_add(self.expr(value))
            }
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let otherwise = else_block.as_ref().map_or(0, |b| self.block(&b.stmts));
                self.expr(cond)
                    .saturating_add(self.block(&then_block.stmts))
                    .saturating_add(otherwise)
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.block(&body.stmts);
                UNKNOWN
            }
            StmtKind::Unroll { count, body } => self.block(&body.stmts).saturating_mul(*count),
            StmtKind::Block(body) => self.block(&body.stmts),
            StmtKind::For { var, iter, body } => self.for_loop(var, iter, body),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => 0,
        };
        inner.saturating_add(1)
    }

    fn for_loop(&mut self, var: &Expr, iter: &ForIter, body: &Block) -> u64 {
        let body_weight = self.block(&body.stmts);
        let bounds = match iter {
            ForIter::Range { start, end } => {
                let weight = self.expr(start).saturating_add(self.expr(end));
                match ((self.konst)(start), (self.konst)(end)) {
                    (Some(s), Some(e)) => Some((s, e, weight)),
                    _ => None,
                }
            }
            ForIter::Map(m) => {
                self.expr(m);
                None
            }
        };
        if let Some((start, end, weight)) = bounds {
            let fits = |v: i64| i32::try_from(v).is_ok();
            let count = end.saturating_sub(start).max(0);
            // Each iteration also steps and tests the counter.
            let cost = (count as u64).saturating_mul(body_weight.saturating_add(2));
            if fits(start) && fits(end) && count <= MAX_INLINE_ITERATIONS && cost <= INLINE_BUDGET {
                self.inline.insert(var.id, (start, end));
                return cost.saturating_add(weight);
            }
        }
        // A callback: checked about twice (until its states converge),
        // whatever the count.
        body_weight.saturating_mul(2).saturating_add(16)
    }

    fn expr(&mut self, e: &Expr) -> u64 {
        let own = match &e.kind {
            ExprKind::Call { .. } => 4,
            ExprKind::Block { stmts, .. } => self.block(stmts).saturating_add(1),
            _ => 1,
        };
        children(&e.kind)
            .into_iter()
            .fold(own, |sum, c| sum.saturating_add(self.expr(c)))
    }
}

/// True when `stmts` may change variable `$name`: an assignment, `++`/`--`,
/// or a `for` loop of that name, nested blocks included. (An inline loop
/// whose body never does steps the variable itself, with no hidden
/// counter.)
pub(crate) fn writes_var(stmts: &[Stmt], name: &str) -> bool {
    let is_var = |e: &Expr| matches!(&e.kind, ExprKind::Variable(n) if n == name);
    stmts.iter().any(|stmt| match &stmt.kind {
        StmtKind::Expr(e) => expr_writes_var(e, name),
        StmtKind::Assign { target, value, .. } => {
            is_var(target) || expr_writes_var(target, name) || expr_writes_var(value, name)
        }
        StmtKind::If {
            cond,
            then_block,
            else_block,
        } => {
            expr_writes_var(cond, name)
                || writes_var(&then_block.stmts, name)
                || else_block
                    .as_ref()
                    .is_some_and(|b| writes_var(&b.stmts, name))
        }
        StmtKind::While { cond, body } => {
            expr_writes_var(cond, name) || writes_var(&body.stmts, name)
        }
        StmtKind::Unroll { body, .. } | StmtKind::Block(body) => writes_var(&body.stmts, name),
        StmtKind::For { var, iter, body } => {
            let bounds = match &**iter {
                ForIter::Range { start, end } => {
                    expr_writes_var(start, name) || expr_writes_var(end, name)
                }
                ForIter::Map(m) => expr_writes_var(m, name),
            };
            is_var(var) || bounds || writes_var(&body.stmts, name)
        }
        StmtKind::Break | StmtKind::Continue | StmtKind::Return => false,
    })
}

fn expr_writes_var(e: &Expr, name: &str) -> bool {
    let here = match &e.kind {
        ExprKind::IncDec { target, .. } => {
            matches!(&target.kind, ExprKind::Variable(n) if n == name)
        }
        ExprKind::Block { stmts, .. } => writes_var(stmts, name),
        _ => false,
    };
    here || children(&e.kind)
        .into_iter()
        .any(|c| expr_writes_var(c, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ustrace_lang::ast::Script;

    /// The inline loops of the first probe of `src`, as `(start, end)`
    /// pairs in source order, with integer literals as the constants.
    fn plan(src: &str) -> Vec<(i64, i64)> {
        let mut script: Script = ustrace_lang::parse(src).expect("parses");
        ustrace_lang::ast::number_exprs(&mut script);
        let konst = |e: &Expr| match e.kind {
            ExprKind::Integer(v) => i64::try_from(v).ok(),
            _ => None,
        };
        let found = inline_ranges(&script.probes[0].body, &konst);
        let mut ids: Vec<_> = found.into_iter().collect();
        ids.sort_by_key(|(id, _)| id.0);
        ids.into_iter().map(|(_, b)| b).collect()
    }

    #[test]
    fn small_constant_ranges_run_inline() {
        assert_eq!(
            plan("BEGIN { $s = 1; for ($i : 0..100) { $s = ($s * 33) ^ $i; } }"),
            vec![(0, 100)]
        );
        assert_eq!(
            plan("BEGIN { for ($i : 5..1) { print($i); } }"),
            vec![(5, 1)]
        );
    }

    #[test]
    fn variable_bounds_and_maps_keep_the_callback() {
        assert_eq!(plan("BEGIN { $n = 3; for ($i : 0..$n) { } }"), vec![]);
        assert_eq!(plan("BEGIN { @m[1] = 1; for ($kv : @m) { } }"), vec![]);
    }

    #[test]
    fn large_counts_and_bodies_keep_the_callback() {
        assert_eq!(plan("BEGIN { for ($i : 0..1025) { } }"), vec![]);
        assert_eq!(plan("BEGIN { for ($i : 0..100000) { } }"), vec![]);
        assert_eq!(
            plan("BEGIN { for ($i : 0..1000) { printf(\"%d %d\\n\", $i, $i * 2); } }"),
            vec![]
        );
        assert_eq!(
            plan("BEGIN { for ($i : 0..3) { while ($i < 2) { break; } } }"),
            vec![]
        );
    }

    #[test]
    fn nested_loops_count_the_inner_iterations() {
        // The inner loop runs inline; the outer one would cost 100 times
        // its 100 iterations: a callback.
        assert_eq!(
            plan("BEGIN { for ($i : 0..100) { for ($j : 0..100) { @a = $j; } } }"),
            vec![(0, 100)]
        );
        assert_eq!(
            plan("BEGIN { for ($i : 0..4) { for ($j : 0..3) { @a = $j; } } }"),
            vec![(0, 4), (0, 3)]
        );
    }

    #[test]
    fn writes_to_the_loop_variable_are_found_anywhere_in_the_body() {
        let writes = |body: &str| {
            let src = format!("BEGIN {{ for ($i : 0..3) {{ {body} }} }}");
            let script: Script = ustrace_lang::parse(&src).expect("parses");
            let StmtKind::For { body, .. } = &script.probes[0].body.stmts[0].kind else {
                panic!("a for loop");
            };
            writes_var(&body.stmts, "i")
        };
        assert!(!writes("$s = $i * 2; print($i); @m[$i] = $i;"));
        assert!(!writes("$j = 1; $j++; for ($k : 0..2) { $j += $k; }"));
        assert!(writes("$i = 5;"));
        assert!(writes("$i += 1;"));
        assert!(writes("if ($s) { { $i++; } }"));
        assert!(writes("$x = $i--;"));
        assert!(writes("for ($j : 0..2) { $i = $j; }"));
        assert!(writes("while (1) { let $a = { $i = 2; 3 }; break; }"));
    }

    #[test]
    fn bounds_beyond_32_bits_keep_the_callback() {
        assert_eq!(
            plan("BEGIN { for ($i : 4294967296..4294967297) { } }"),
            vec![]
        );
    }
}
