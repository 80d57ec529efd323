//! Statements: blocks, assignments, variables, conditionals and loops.

use ustrace_lang::ast::{BinaryOp, Block, Expr, ExprKind, Span, Stmt, StmtKind};

use super::*;
use crate::builtins;
use crate::insn::{JmpOp, R0};
use crate::CompileError;

impl ProgramCompiler<'_, '_> {
    pub(crate) fn block(&mut self, block: &Block) -> Result<(), CompileError> {
        for stmt in &block.stmts {
            let mark = self.b.stack_mark();
            self.stmt(stmt)?;
            self.b.release(mark);
        }
        Ok(())
    }

    pub(crate) fn stmt(&mut self, stmt: &Stmt) -> Result<(), CompileError> {
        self.b.mark(stmt.span);
        match &stmt.kind {
            StmtKind::Expr(e) => match &e.kind {
                // A bare `delete(...)`: nobody reads its bool.
                ExprKind::Call {
                    name,
                    args,
                    name_span,
                } if name == "delete" => {
                    let call = builtins::Call::function(name, args, e.span, *name_span);
                    builtins::emit_bare_delete(self, &call)?;
                }
                _ => {
                    self.expr(e)?;
                }
            },
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value, stmt.span)?,
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let v = self.expr(cond)?;
                let else_l = self.b.label();
                let end_l = self.b.label();
                // A constant condition takes one branch: the other is
                // never reached (`fail()` there does not stop the build).
                match v {
                    Val::Const(0, _) => self.b.goto(else_l),
                    Val::Const(..) => {}
                    _ => {
                        self.truth(&v);
                        self.b.jmp_imm(JmpOp::Jeq, R0, 0, else_l);
                    }
                }
                self.block(then_block)?;
                self.b.goto(end_l);
                self.b.bind(else_l);
                if let Some(eb) = else_block {
                    self.block(eb)?;
                }
                self.b.bind(end_l);
            }
            StmtKind::While { cond, body } => {
                let top = self.b.label();
                let end = self.b.label();
                self.b.bind(top);
                let mark = self.b.stack_mark();
                let v = self.expr(cond)?;
                self.truth(&v);
                self.b.release(mark);
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, end);
                self.loops.push((top, end));
                self.block(body)?;
                self.loops.pop();
                self.b.goto(top);
                self.b.bind(end);
            }
            StmtKind::For { var, iter, body } => self.for_loop(var, iter, body, stmt.span)?,
            StmtKind::Block(body) => self.block(body)?,
            StmtKind::Unroll { count, body } => {
                if *count == 0 || *count > 100 {
                    return Err(CompileError::new(
                        stmt.span,
                        "unroll count must be between 1 and 100",
                    ));
                }
                let end = self.b.label();
                for _ in 0..*count {
                    let next = self.b.label();
                    self.loops.push((next, end));
                    self.block(body)?;
                    self.loops.pop();
                    self.b.bind(next);
                }
                self.b.bind(end);
            }
            StmtKind::Break | StmtKind::Continue => {
                let Some(&(cont, brk)) = self.loops.last() else {
                    return Err(CompileError::new(
                        stmt.span,
                        "`break` and `continue` are only valid inside a loop",
                    ));
                };
                let l = if matches!(stmt.kind, StmtKind::Break) {
                    brk
                } else {
                    cont
                };
                self.b.goto(l);
            }
            StmtKind::Return => {
                let l = self.exit_label;
                self.b.goto(l);
            }
        }
        Ok(())
    }

    pub(crate) fn assign(
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
                        let cur = self.var_value(target)?;
                        let rhs = self.expr(value)?;
                        self.binary(op, cur, rhs, span)?
                    }
                };
                self.store_var(name, v, target.span)
            }
            ExprKind::Map { name, keys } => {
                if let (
                    None,
                    ExprKind::Call {
                        name: func, args, ..
                    },
                ) = (op, &value.kind)
                {
                    if builtins::aggregation(func).is_some() {
                        return self.aggregate(name, keys, args, value.span);
                    }
                }
                let v = match op {
                    None => self.expr(value)?,
                    Some(op) => {
                        let cur = self.map_read(target)?;
                        let rhs = self.expr(value)?;
                        self.binary(op, cur, rhs, span)?
                    }
                };
                self.map_store(name, keys, v, span)
            }
            _ => Err(CompileError::new(
                target.span,
                "can only assign to a $variable or an @map",
            )),
        }
    }

    /// `$name` (a [`ExprKind::Variable`]), assigned before: the semantic
    /// pass checked it.
    pub(crate) fn var_value(&mut self, e: &Expr) -> Result<Val, CompileError> {
        let ExprKind::Variable(name) = &e.kind else {
            return Err(internal(e.span));
        };
        let slot = *self.vars.get(name).ok_or_else(|| internal(e.span))?;
        let ty = self.typed(e)?.ty;
        val_in_slot(slot, &ty, e.span)
    }

    /// `$name = v`: the first assignment gives the variable a slot sized
    /// for the type the semantic pass decided.
    pub(crate) fn store_var(
        &mut self,
        name: &str,
        v: Val,
        tspan: Span,
    ) -> Result<(), CompileError> {
        let ty = self
            .types
            .vars
            .get(name)
            .cloned()
            .ok_or_else(|| internal(tspan))?;
        let slot = match self.vars.get(name) {
            Some(slot) => *slot,
            None => {
                let slot = self.alloc_var(ty.slot_size(), tspan)?;
                self.vars.insert(name.to_string(), slot);
                slot
            }
        };
        if matches!(v, Val::Slot(..)) && ty.slot_size() == 8 {
            // An integer result assigned: straight from its register.
            self.load_consumed(&v, R0);
            self.b.emit(insn::stx(8, R10, slot, R0));
        } else {
            self.store_at(&v, &ty, slot);
        }
        Ok(())
    }
}
