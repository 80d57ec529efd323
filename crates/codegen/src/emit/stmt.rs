//! Statements: blocks, assignments, variables, conditionals and loops.

use ustrace_lang::ast::{BinaryOp, Block, Expr, ExprKind, Span, Stmt, StmtKind};

use super::*;
use crate::builtins;
use crate::insn::{self, JmpOp, R0, R10};
use crate::program::*;
use crate::sema::Type;
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
            StmtKind::Expr(e) => {
                self.expr(e)?;
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value, stmt.span)?,
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let v = self.expr(cond)?;
                self.truth(&v, cond.span)?;
                let else_l = self.b.label();
                let end_l = self.b.label();
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, else_l);
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
                self.truth(&v, cond.span)?;
                self.b.release(mark);
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, end);
                self.loops.push((top, end));
                self.block(body)?;
                self.loops.pop();
                self.b.goto(top);
                self.b.bind(end);
            }
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
                        let cur = self.var_value(name, target.span)?;
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
                    if let Some(agg) = builtins::aggregation(func) {
                        return self.aggregate(name, keys, agg, args, value.span);
                    }
                }
                let v = match op {
                    None => self.expr(value)?,
                    Some(op) => {
                        let cur = self.map_read(name, keys, target.span)?;
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

    /// `$name`, assigned before (the semantic pass checked it).
    pub(crate) fn var_value(&mut self, name: &str, span: Span) -> Result<Val, CompileError> {
        let Some(var) = self.vars.get(name) else {
            return Err(CompileError::new(
                span,
                format!("undefined variable `${name}`: assign it before use"),
            ));
        };
        Ok(match var.ty {
            Type::Int { signed, .. } => Val::Slot(var.slot, signed),
            Type::Str(n) => Val::Buf(var.slot, n),
            Type::ProbeName => Val::Probe(var.slot),
            Type::Stack(m) => Val::UStack(var.slot, m),
            Type::Symbol => Val::USym(var.slot),
            Type::Buffer(n) => Val::Bytes(var.slot, n),
            Type::Timestamp(i) => Val::Timestamp(var.slot, i),
            _ => return Err(internal(span)),
        })
    }

    /// `$name = v`: the first assignment gives the variable a slot sized
    /// for its type (the semantic pass checked later ones agree).
    pub(crate) fn store_var(
        &mut self,
        name: &str,
        v: Val,
        tspan: Span,
    ) -> Result<(), CompileError> {
        let var = match self.vars.get(name) {
            Some(var) => var.clone(),
            None => {
                let ty = v.ty();
                let size = match ty {
                    Type::Str(n) => n.max(self.g.opts.str_len),
                    Type::Stack(_) | Type::Symbol => 16,
                    Type::Buffer(n) => FieldKind::Buffer(n).size(),
                    _ => 8,
                };
                let slot = self.alloc_var(size, tspan)?;
                let ty = match ty {
                    Type::Str(_) => Type::Str(size),
                    t => t,
                };
                let var = Var { slot, ty };
                self.vars.insert(name.to_string(), var.clone());
                var
            }
        };
        match (&var.ty, &v) {
            (Type::Str(n), _) => self.copy_string(&v, var.slot, *n),
            (Type::Stack(_), Val::UStack(src, _)) | (Type::Symbol, Val::USym(src)) => {
                self.copy_words(*src, R10, var.slot, 16)
            }
            (Type::Buffer(n), Val::Bytes(src, _)) => {
                self.copy_words(*src, R10, var.slot, FieldKind::Buffer(*n).size())
            }
            (Type::Timestamp(_), Val::Timestamp(src, _)) => self.copy_words(*src, R10, var.slot, 8),
            // Integers (and probe names) keep the first assignment's signedness.
            _ => {
                self.load(&v, R0);
                self.b.emit(insn::stx(8, R10, var.slot, R0));
            }
        }
        Ok(())
    }
}
