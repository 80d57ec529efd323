//! Argument access: what a probe knows about where it fired (`argN`,
//! `probe`, `func`), with per-site code chosen by the attach cookie.

use ustrace_lang::ast::Span;
use ustrace_probes::{ArgLocation, ArgSpec};

use super::*;
use crate::builder::Label;
use crate::insn::{self, JmpOp, R0, R1, R10};
use crate::usdt_args;
use crate::CompileError;

impl ProgramCompiler<'_, '_> {
    /// A name id per site (`probe`, `func`): a constant when all sites
    /// agree, else chosen by cookie.
    pub(crate) fn site_name(&mut self, ids: &[usize], span: Span) -> Result<Val, CompileError> {
        if ids.iter().all(|&i| i == ids[0]) {
            return Ok(Val::ProbeConst(ids[0]));
        }
        let slot = self.alloc_tmp(8, span)?;
        self.dispatch_on_cookie(ids, |c, id| {
            c.b.mov_imm(R0, *id as i64);
            c.b.emit(insn::stx(8, R10, slot, R0));
            Ok(())
        })?;
        Ok(Val::Probe(slot))
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

    /// `argN`: read by the code of each site's argument spec.
    pub(crate) fn arg(&mut self, n: usize, span: Span) -> Result<Val, CompileError> {
        let keys = self
            .ctx
            .arg_specs(n, &self.g.out.probe_names)
            .map_err(|m| CompileError::new(span, m))?;
        self.read_arg_specs(keys, span)
    }

    /// The value of an argument given each site's spec.
    pub(crate) fn read_arg_specs(
        &mut self,
        keys: Vec<(ArgSpec, u64)>,
        span: Span,
    ) -> Result<Val, CompileError> {
        let signed = keys.iter().any(|(s, _)| s.signed);
        if let Some(off) = whole_register(&keys) {
            return Ok(Val::Ctx(off, signed));
        }
        let slot = self.alloc_tmp(8, span)?;
        self.dispatch_on_cookie(&keys, |c, (spec, pc)| {
            usdt_args::read_arg(&mut c.b, spec, *pc, slot);
            Ok(())
        })?;
        Ok(Val::Slot(slot, signed))
    }
}

/// The `pt_regs` offset when every site passes the argument in the same
/// full 64-bit register: then `argN` is read where it is used.
fn whole_register(keys: &[(ArgSpec, u64)]) -> Option<i16> {
    let (first, _) = keys.first()?;
    let ArgLocation::Register(op) = &first.location else {
        return None;
    };
    let whole = first.size == 8 && op.width == 8 && !op.high_byte;
    let same = keys.iter().all(|(k, _)| k == first);
    (whole && same).then(|| op.reg.pt_regs_offset() as i16)
}
