//! Statements and scratch variables.

use ustrace_lang::ast::{BinaryOp, Block, Expr, ExprKind, ForIter, Span, Stmt, StmtKind};

use super::{Checker, Type, Typed};
use crate::builtins;
use crate::CompileError;

impl Checker<'_> {
    pub(crate) fn block(&mut self, block: &Block) -> Result<(), CompileError> {
        for stmt in &block.stmts {
            self.stmt(stmt)?;
        }
        Ok(())
    }

    pub(crate) fn stmt(&mut self, stmt: &Stmt) -> Result<(), CompileError> {
        match &stmt.kind {
            StmtKind::Expr(e) => {
                // A value nobody uses: bpftrace warns, increments and
                // decrements aside, and `delete()` (its manual: a bare
                // `delete(@m, k);` gives no warning).
                let ty = self.expr(e)?.ty;
                let exempt = match &e.kind {
                    ExprKind::IncDec { .. } => true,
                    ExprKind::Call { name, .. } => name == "delete",
                    _ => false,
                };
                if ty != Type::Void && !exempt {
                    self.types.discarded.push(e.span);
                }
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value, stmt.span)?,
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let t = self.expr(cond)?;
                self.truth(&t, cond.span)?;
                self.block(then_block)?;
                if let Some(eb) = else_block {
                    self.block(eb)?;
                }
            }
            StmtKind::While { cond, body } => {
                let t = self.expr(cond)?;
                self.truth(&t, cond.span)?;
                self.loop_body(body)?;
            }
            StmtKind::For { var, iter, body } => self.for_loop(var, iter, body)?,
            StmtKind::Block(body) => self.block(body)?,
            StmtKind::Unroll { count, body } => {
                if *count == 0 || *count > 100 {
                    return Err(CompileError::new(
                        stmt.span,
                        "unroll count must be between 1 and 100",
                    ));
                }
                // A second copy sees the variables the first defined.
                for _ in 0..(*count).min(2) {
                    self.loop_body(body)?;
                }
            }
            StmtKind::Break | StmtKind::Continue => {
                if self.loop_depth == 0 {
                    return Err(CompileError::new(
                        stmt.span,
                        "`break` and `continue` are only valid inside a loop",
                    ));
                }
            }
            StmtKind::Return => {}
        }
        Ok(())
    }

    /// `for ($x : ...) { }`: the loop variable takes the range's integers
    /// or the map's `(key, value)` tuples.
    fn for_loop(&mut self, var: &Expr, iter: &ForIter, body: &Block) -> Result<(), CompileError> {
        let ExprKind::Variable(name) = &var.kind else {
            return Err(CompileError::new(var.span, "expected a $variable"));
        };
        let ty = match iter {
            ForIter::Range { start, end } => {
                let s = self.int_operand(start)?;
                let e = self.int_operand(end)?;
                Type::int(s.ty.is_signed() || e.ty.is_signed())
            }
            ForIter::Map(m) => match self.map_element_type(m)? {
                Some(t) => t,
                // A map no block assigned yet (first walk): the next walk
                // checks the loop.
                None => return Ok(()),
            },
        };
        self.store_var(name, ty.clone(), var.span)?;
        self.record(var, &Typed::of(ty));
        self.loop_body(body)
    }

    fn loop_body(&mut self, body: &Block) -> Result<(), CompileError> {
        self.loop_depth += 1;
        let r = self.block(body);
        self.loop_depth -= 1;
        r
    }

    fn assign(
        &mut self,
        target: &Expr,
        op: Option<BinaryOp>,
        value: &Expr,
        span: Span,
    ) -> Result<(), CompileError> {
        match &target.kind {
            ExprKind::Variable(name) => {
                let v = match op {
                    None => self.expr(value)?,
                    Some(op) => {
                        let cur = self.expr(target)?;
                        let rhs = self.expr(value)?;
                        self.binary(op, cur, rhs, span, target.span, value.span)?
                    }
                };
                self.store_var(name, v.ty, value.span)
            }
            ExprKind::Map { name, keys } => {
                if let (
                    None,
                    ExprKind::Call {
                        name: func, args, ..
                    },
                ) = (op, &value.kind)
                {
                    if let Some(agg) = builtins::aggregation(func) {
                        return self.aggregate(name, keys, agg, args, value.span);
                    }
                }
                let v = match op {
                    None => self.expr(value)?,
                    Some(op) => {
                        let cur = self.expr(target)?;
                        let rhs = self.expr(value)?;
                        self.binary(op, cur, rhs, span, target.span, value.span)?
                    }
                };
                self.map_store(name, keys, &v.ty, span)
            }
            _ => Err(CompileError::new(
                target.span,
                "can only assign to a $variable or an @map",
            )),
        }
    }

    /// The type of `$name`, which must be assigned before.
    pub(crate) fn var_type(&mut self, name: &str, span: Span) -> Result<Typed, CompileError> {
        match self.types.vars.get(name) {
            Some(t) => Ok(Typed::of(t.clone())),
            None => Err(CompileError::new(
                span,
                format!("undefined variable `${name}`: assign it before use"),
            )),
        }
    }

    /// `$name = value`: the first assignment fixes the type; strings get a
    /// buffer of at least the default string length.
    pub(crate) fn store_var(
        &mut self,
        name: &str,
        ty: Type,
        vspan: Span,
    ) -> Result<(), CompileError> {
        if ty == Type::Void {
            return Err(CompileError::new(
                vspan,
                "this expression has no value to assign",
            ));
        }
        if let Type::Str(n) = ty {
            let cap = self.types.var_caps.entry(name.to_string()).or_insert(n);
            *cap = (*cap).max(n);
        }
        match self.types.vars.get(name) {
            Some(held) => {
                let compatible = match (held, &ty) {
                    // An integer variable also takes a bool (as 0 or 1),
                    // as in bpftrace 0.17 where comparisons were integers.
                    (Type::Int { .. }, Type::Int { .. } | Type::Bool) => true,
                    (Type::Str(a), Type::Str(b)) => b <= a,
                    (Type::Tuple(_), Type::Tuple(_)) => held.same_shape(&ty),
                    (a, b) => a == b,
                };
                if !compatible {
                    return Err(CompileError::new(
                        vspan,
                        format!(
                            "type mismatch for `${name}`: it holds {} but this is {}",
                            held.name(),
                            ty.name()
                        ),
                    ));
                }
            }
            None => {
                let ty = match ty {
                    Type::Str(n) => Type::Str(n.max(self.opts.str_len)),
                    t => t,
                };
                self.types.vars.insert(name.to_string(), ty);
            }
        }
        Ok(())
    }

    /// A condition must be a bool or an integer.
    pub(crate) fn truth(&self, t: &Typed, span: Span) -> Result<(), CompileError> {
        if t.ty.is_numeric() {
            return Ok(());
        }
        Err(CompileError::new(
            span,
            format!(
                "a condition must be a bool or an integer, not a {}",
                t.ty.name()
            ),
        ))
    }
}
