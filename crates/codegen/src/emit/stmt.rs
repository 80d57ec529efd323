//! Statements: blocks, assignments, variables, conditionals and loops.

use ustrace_lang::ast::{BinaryOp, Block, Expr, ExprKind, Span, Stmt, StmtKind};

use super::fold::*;
use super::*;
use crate::insn::{self, JmpOp, R0, R10};
use crate::program::*;
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
                        self.binary(op, cur, rhs, span, target.span, value.span)?
                    }
                };
                self.store_var(name, v, target.span, value.span)
            }
            ExprKind::Map { name, keys } => {
                if let (
                    None,
                    ExprKind::Call {
                        name: func, args, ..
                    },
                ) = (op, &value.kind)
                {
                    if is_aggregation(func) {
                        return self.aggregate(name, keys, func, args, value.span);
                    }
                }
                let v = match op {
                    None => self.expr(value)?,
                    Some(op) => {
                        let cur = self.map_read(name, keys, target.span)?;
                        let rhs = self.expr(value)?;
                        self.binary(op, cur, rhs, span, target.span, value.span)?
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

    pub(crate) fn var_value(&mut self, name: &str, span: Span) -> Result<Val, CompileError> {
        match self.vars.get(name) {
            Some(var) => Ok(match var.ty {
                Ty::Int { signed } => Val::Slot(var.slot, signed),
                Ty::Str(n) => Val::Buf(var.slot, n),
                Ty::ProbeName => Val::Probe(var.slot),
                Ty::UStack(m) => Val::UStack(var.slot, m),
                Ty::USym => Val::USym(var.slot),
                Ty::Buffer(n) => Val::Bytes(var.slot, n),
                Ty::Timestamp(i) => Val::Timestamp(var.slot, i),
                Ty::Void => Val::Void,
            }),
            None => Err(CompileError::new(
                span,
                format!("undefined variable `${name}`: assign it before use"),
            )),
        }
    }

    pub(crate) fn store_var(
        &mut self,
        name: &str,
        v: Val,
        tspan: Span,
        vspan: Span,
    ) -> Result<(), CompileError> {
        let ty = v.ty();
        if ty == Ty::Void {
            return Err(CompileError::new(
                vspan,
                "this expression has no value to assign",
            ));
        }
        let var = match self.vars.get(name).copied() {
            Some(var) => {
                let compatible = match (var.ty, ty) {
                    (Ty::Int { .. }, Ty::Int { .. }) => true,
                    (Ty::Str(a), Ty::Str(b)) => b <= a,
                    (a, b) => a == b,
                };
                if !compatible {
                    return Err(CompileError::new(
                        vspan,
                        format!(
                            "type mismatch for `${name}`: it holds {} but this is {}",
                            var.ty.name(),
                            ty.name()
                        ),
                    ));
                }
                var
            }
            None => {
                let size = match ty {
                    Ty::Str(n) => n.max(self.g.opts.str_len),
                    Ty::UStack(_) | Ty::USym => 16,
                    Ty::Buffer(n) => FieldKind::Buffer(n).size(),
                    _ => 8,
                };
                let slot = self.alloc_var(size, tspan)?;
                let ty = match ty {
                    Ty::Str(_) => Ty::Str(size),
                    t => t,
                };
                let var = Var { slot, ty };
                self.vars.insert(name.to_string(), var);
                var
            }
        };
        match (var.ty, &v) {
            (Ty::Str(n), _) => self.copy_string(&v, var.slot, n),
            (Ty::UStack(_), Val::UStack(src, _)) | (Ty::USym, Val::USym(src)) => {
                self.copy_words(*src, R10, var.slot, 16)
            }
            (Ty::Buffer(n), Val::Bytes(src, _)) => {
                self.copy_words(*src, R10, var.slot, FieldKind::Buffer(n).size())
            }
            (Ty::Timestamp(_), Val::Timestamp(src, _)) => self.copy_words(*src, R10, var.slot, 8),
            _ => {
                self.load(&v, R0);
                self.b.emit(insn::stx(8, R10, var.slot, R0));
            }
        }
        if let Ty::Int { .. } = var.ty {
            // The variable keeps the signedness of its first assignment.
        }
        Ok(())
    }
}
