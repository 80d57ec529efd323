//! Scratch variables that hold a value of a program type: `$r = args.r;`
//! then `$r->id`, `print(*$r)`. A variable is typed when every assignment
//! in its block gives it a pointer, integer or enum of the same program
//! type (by name); a variable assigned anything else, or two different
//! types, is a plain integer (and `->` on it is an error, as before).

use std::collections::{HashMap, HashSet};

use ustrace_lang::ast::{Block, ExprKind, Probe, StmtKind};

use super::{chain_type, DType, Kind};
use crate::options::CompileOptions;
use crate::probes::Context;

/// The typed scratch variables of one program, by name (without `$`).
pub(crate) type TypedVars = HashMap<String, DType>;

/// The scratch variables of `probe` that hold a program value.
pub(crate) fn typed_vars(ctx: &Context, opts: &CompileOptions, probe: &Probe) -> TypedVars {
    let mut found = Found::default();
    // Twice: an assignment from a variable typed later in the text.
    for _ in 0..2 {
        found.block(ctx, opts, &probe.body);
    }
    found.vars
}

#[derive(Default)]
struct Found {
    vars: TypedVars,
    /// Assigned something else somewhere: never typed.
    plain: HashSet<String>,
}

impl Found {
    fn block(&mut self, ctx: &Context, opts: &CompileOptions, block: &Block) {
        for stmt in &block.stmts {
            match &stmt.kind {
                StmtKind::Assign { target, op, value } => {
                    let ExprKind::Variable(name) = &target.kind else {
                        continue;
                    };
                    let ty = match op {
                        None => chain_type(ctx, opts, &self.vars, value).filter(|d| {
                            matches!(d.kind(), Kind::Pointer { .. } | Kind::Int { .. })
                        }),
                        Some(_) => None,
                    };
                    self.assign(name, ty);
                }
                StmtKind::If {
                    then_block,
                    else_block,
                    ..
                } => {
                    self.block(ctx, opts, then_block);
                    if let Some(b) = else_block {
                        self.block(ctx, opts, b);
                    }
                }
                StmtKind::While { body, .. }
                | StmtKind::Unroll { body, .. }
                | StmtKind::Block(body) => self.block(ctx, opts, body),
                _ => {}
            }
        }
    }

    fn assign(&mut self, name: &str, ty: Option<DType>) {
        if self.plain.contains(name) {
            return;
        }
        match (ty, self.vars.get(name)) {
            (Some(t), Some(old)) if old.name() != t.name() => self.make_plain(name),
            (Some(t), None) => {
                self.vars.insert(name.to_string(), t);
            }
            (Some(_), Some(_)) => {}
            (None, _) => self.make_plain(name),
        }
    }

    fn make_plain(&mut self, name: &str) {
        self.vars.remove(name);
        self.plain.insert(name.to_string());
    }
}
