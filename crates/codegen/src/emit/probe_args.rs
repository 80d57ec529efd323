//! What a probe knows about where it fired: `argN`, `probe`, `func`.

use ustrace_lang::ast::Span;
use ustrace_probes::ArgSpec;

use super::*;
use crate::builder::Label;
use crate::insn::{self, JmpOp, R0, R1, R10};
use crate::usdt_args;
use crate::CompileError;

impl ProgramCompiler<'_, '_> {
    /// `func`: the traced function's name (uprobes only).
    pub(crate) fn func_name(&mut self, span: Span) -> Result<Val, CompileError> {
        let ids: Vec<usize> = match &self.ctx {
            Context::Usdt { sites, .. } => sites.iter().filter_map(|s| s.func_id).collect(),
            Context::Trigger { .. } => Vec::new(),
        };
        let all_sites = match &self.ctx {
            Context::Usdt { sites, .. } => sites.len(),
            Context::Trigger { .. } => 0,
        };
        if ids.is_empty() || ids.len() != all_sites {
            return Err(CompileError::new(
                span,
                "`func` is only available in uprobe and uretprobe probes",
            ));
        }
        if ids.iter().all(|&i| i == ids[0]) {
            return Ok(Val::ProbeConst(ids[0]));
        }
        let slot = self.alloc_tmp(8, span)?;
        self.dispatch_on_cookie(&ids, |c, id| {
            c.b.mov_imm(R0, *id as i64);
            c.b.emit(insn::stx(8, R10, slot, R0));
            Ok(())
        })?;
        Ok(Val::Probe(slot))
    }

    pub(crate) fn probe_name(&mut self, span: Span) -> Result<Val, CompileError> {
        match &self.ctx {
            Context::Trigger { probe_id } => Ok(Val::ProbeConst(*probe_id)),
            Context::Usdt { sites, .. } => {
                let ids: Vec<usize> = sites.iter().map(|s| s.probe_id).collect();
                if ids.iter().all(|&i| i == ids[0]) {
                    return Ok(Val::ProbeConst(ids[0]));
                }
                let slot = self.alloc_tmp(8, span)?;
                self.dispatch_on_cookie(&ids, |c, id| {
                    c.b.mov_imm(R0, *id as i64);
                    c.b.emit(insn::stx(8, R10, slot, R0));
                    Ok(())
                })?;
                Ok(Val::Probe(slot))
            }
        }
    }

    /// Emits per-site code: sites whose `keys` are equal share one copy.
    pub(crate) fn dispatch_on_cookie<K: Clone + PartialEq>(
        &mut self,
        keys: &[K],
        mut emit: impl FnMut(&mut Self, &K) -> Result<(), CompileError>,
    ) -> Result<(), CompileError> {
        let mut groups: Vec<(K, Vec<usize>)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            match groups.iter_mut().find(|(g, _)| g == k) {
                Some((_, v)) => v.push(i),
                None => groups.push((k.clone(), vec![i])),
            }
        }
        if groups.len() == 1 {
            return emit(self, &groups[0].0);
        }
        let Some(cookie) = self.cookie_slot else {
            return emit(self, &groups[0].0);
        };
        let end = self.b.label();
        self.b.emit(insn::ldx(8, R1, R10, cookie));
        let labels: Vec<Label> = groups.iter().map(|_| self.b.label()).collect();
        for (gi, (_, members)) in groups.iter().enumerate() {
            for &m in members {
                self.b.jmp_imm(JmpOp::Jeq, R1, m as i32, labels[gi]);
            }
        }
        // An unknown cookie: fall into the first group.
        self.b.goto(labels[0]);
        for (gi, (k, _)) in groups.iter().enumerate() {
            self.b.bind(labels[gi]);
            emit(self, k)?;
            self.b.goto(end);
        }
        self.b.bind(end);
        Ok(())
    }

    pub(crate) fn arg(&mut self, n: usize, span: Span) -> Result<Val, CompileError> {
        let specs: Vec<(Result<ArgSpec, String>, u64)> = match &self.ctx {
            Context::Trigger { .. } => {
                return Err(CompileError::new(
                    span,
                    format!("`arg{n}` is not available in this probe"),
                ))
            }
            Context::Usdt { sites, .. } => sites
                .iter()
                .map(|s| {
                    let spec = match s.args.get(n) {
                        Some(r) => r.clone(),
                        None => {
                            let name = self
                                .g
                                .out
                                .probe_names
                                .get(s.probe_id)
                                .cloned()
                                .unwrap_or_default();
                            let count = s.args.len();
                            Err(match count {
                                0 => format!("{name} has no arguments"),
                                1 => format!("{name} has only 1 argument (arg0)"),
                                _ => format!(
                                    "{name} has only {count} arguments (arg0..arg{})",
                                    count - 1
                                ),
                            })
                        }
                    };
                    (spec, s.pc)
                })
                .collect(),
        };
        for (spec, _) in &specs {
            if let Err(why) = spec {
                return Err(CompileError::new(
                    span,
                    format!("cannot read `arg{n}`: {why}"),
                ));
            }
        }
        let signed = specs.iter().any(|(s, _)| matches!(s, Ok(a) if a.signed));
        let slot = self.alloc_tmp(8, span)?;
        // Static operands depend on the site's pc, so they key on it too.
        let keys: Vec<(ArgSpec, u64)> = specs
            .into_iter()
            .filter_map(|(s, pc)| {
                s.ok().map(|s| {
                    let pc_key = if matches!(s.location, ustrace_probes::ArgLocation::Static { .. })
                    {
                        pc
                    } else {
                        0
                    };
                    (s, pc_key)
                })
            })
            .collect();
        self.dispatch_on_cookie(&keys, |c, (spec, pc)| {
            usdt_args::read_arg(&mut c.b, spec, *pc, slot);
            Ok(())
        })?;
        Ok(Val::Slot(slot, signed))
    }
}
