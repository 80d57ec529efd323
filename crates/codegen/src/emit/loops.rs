//! `for` loops. A range loop with constant bounds and a small body runs
//! inline, as a bounded loop in the probe's own code ([`super::loop_plan`]
//! decides which). Every other loop's body becomes a callback subprogram
//! that `bpf_loop` (ranges) or `bpf_for_each_map_elem` (maps) calls once
//! per element.
//!
//! A callback runs in its own stack frame, so the program's variables
//! reach it through the `ctx` pointer the helper passes along: the
//! caller's variable area. The callback's frame mirrors that area at the
//! same offsets (every variable of a program with callback loops has its
//! slot from the start): the callback copies the area in, runs the body
//! with the emitter's usual R10-relative slots, and copies it back out
//! whichever way it leaves (end of body, `continue`, `break`, `return`).
//! The kernel counts both frames against the 512-byte stack, so a loop
//! doubles the stack its program's variables take.

use std::collections::HashMap;

use ustrace_lang::ast::{Block, Expr, ExprId, ExprKind, ForIter, Probe, Span};

use super::loop_syntax::{collect_loops, variables_named};
use super::{internal, loop_plan, ProgramCompiler};
use crate::builder::{Builder, STACK_SIZE};
use crate::insn::{self, helper, AluOp, JmpOp, Reg, R0, R1, R10, R2, R3, R4, R6};
use crate::CompileError;

/// Slots of a program with `for` loops, in its variable area.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoopSlots {
    /// The callbacks' slots, when some loop is a callback.
    callbacks: Option<CallbackSlots>,
    /// A range loop's start value (a callback) or counter (inline), by
    /// its loop variable's id.
    starts: HashMap<ExprId, i16>,
    /// The constant bounds of the range loops that run inline.
    inline: HashMap<ExprId, (i64, i64)>,
}

/// Slots only callback loops use.
#[derive(Debug, Clone, Copy)]
struct CallbackSlots {
    /// The probe context (r6), for callbacks to reload.
    ctx: i16,
    /// Set when a callback left the probe (`return`, `exit()`).
    returned: i16,
}

/// The callback subprograms' name (the kernel wants one per func_info; it
/// need not be unique).
const CALLBACK: &str = "for_body";
/// `len(@m)`'s callback, which only counts.
const COUNT_CALLBACK: &str = "map_len_count";

impl ProgramCompiler<'_, '_> {
    /// When `probe` has `for` loops: decides which range loops run
    /// inline, reserves the loops' slots and, when some loop is a
    /// callback, gives every variable its slot now (callbacks mirror a
    /// fixed area).
    pub(crate) fn prepare_loops(&mut self, probe: &Probe) -> Result<(), CompileError> {
        let types = &self.types;
        let konst = |e: &Expr| types.of(e).ok().and_then(|t| t.konst);
        let inline = loop_plan::inline_ranges(&probe.body, &konst);
        let mut ranges = Vec::new();
        let mut any = false;
        let mut callbacks = false;
        collect_loops(&probe.body, &mut |var, iter| {
            any = true;
            if matches!(iter, ForIter::Range { .. }) {
                ranges.push(var.id);
            }
            callbacks |= !inline.contains_key(&var.id);
        });
        if !any {
            return Ok(());
        }
        let callbacks = if callbacks {
            let mut names: Vec<(String, usize)> = self
                .types
                .vars
                .iter()
                .map(|(n, t)| (n.clone(), t.slot_size()))
                .collect();
            names.sort();
            for (name, size) in names {
                if !self.vars.contains_key(&name) {
                    let slot = self.alloc_var(size, probe.span)?;
                    self.vars.insert(name, slot);
                }
            }
            Some(CallbackSlots {
                ctx: self.alloc_var(8, probe.span)?,
                returned: self.alloc_var(8, probe.span)?,
            })
        } else {
            None
        };
        let mut starts = HashMap::new();
        for id in ranges {
            starts.insert(id, self.alloc_var(8, probe.span)?);
        }
        self.loop_slots = Some(LoopSlots {
            callbacks,
            starts,
            inline,
        });
        Ok(())
    }

    /// `for ($x : ITER) { body }`.
    pub(crate) fn for_loop(
        &mut self,
        var: &Expr,
        iter: &ForIter,
        body: &Block,
        span: Span,
    ) -> Result<(), CompileError> {
        let ExprKind::Variable(name) = &var.kind else {
            return Err(internal(var.span));
        };
        // Never reached (after `exit()` or `return`): no callback either,
        // the verifier refuses unreachable subprograms.
        if !self.b.is_live() {
            return Ok(());
        }
        let slots = self.loop_slots.clone().ok_or_else(|| internal(span))?;
        if let Some(&(first, end)) = slots.inline.get(&var.id) {
            let hidden = *slots.starts.get(&var.id).ok_or_else(|| internal(span))?;
            return self.inline_range(name, hidden, (first, end), body, var.span);
        }
        let callbacks = slots.callbacks.ok_or_else(|| internal(span))?;
        let var_slot = *self.vars.get(name).ok_or_else(|| internal(var.span))?;
        self.b.emit(insn::st_imm(8, R10, callbacks.returned, 0));
        self.b.emit(insn::stx(8, R10, callbacks.ctx, R6));
        match iter {
            ForIter::Range { start, end } => {
                let start_slot = *slots.starts.get(&var.id).ok_or_else(|| internal(span))?;
                let s = self.expr(start)?;
                let e = self.expr(end)?;
                self.load(&s, R0);
                self.b.emit(insn::stx(8, R10, start_slot, R0));
                // Iterations: end - start, none when that is not positive.
                // Without a branch on the count: a comparison would make
                // the verifier track the bound's variable precisely, and a
                // loop changing it (`for ($j : 0..$y) { $y++; }`) would then
                // never converge. bpf_loop takes 32 bits and refuses more
                // than 2^23 iterations (no call, -E2BIG); a count that is
                // negative or does not fit 32 bits gets bit 31 set instead.
                self.load(&e, R1);
                self.b.emit(insn::alu64_reg(AluOp::Sub, R1, R0));
                self.b.emit(insn::mov64_reg(R2, R1));
                self.b.emit(insn::alu64_imm(AluOp::Rsh, R2, 32));
                self.b.emit(insn::mov64_reg(R3, R2));
                self.b.emit(insn::neg64(R3));
                self.b.emit(insn::alu64_reg(AluOp::Or, R3, R2));
                self.b.emit(insn::alu64_imm(AluOp::Rsh, R3, 63));
                self.b.emit(insn::alu64_imm(AluOp::Lsh, R3, 31));
                self.b.emit(insn::alu64_reg(AluOp::Or, R1, R3));
                // bpf_loop calls back with r1 = the index, r2 = ctx.
                let callback = self.callback(body, span, R2, |c| {
                    // $x = start + index.
                    c.b.emit(insn::ldx(8, R0, R10, start_slot));
                    c.b.emit(insn::alu64_reg(AluOp::Add, R0, R1));
                    c.b.emit(insn::stx(8, R10, var_slot, R0));
                })?;
                self.b.load_func(R2, callback);
                self.area_pointer(R3);
                self.b.emit(insn::mov64_imm(R4, 0));
                self.b.emit(insn::call(helper::LOOP));
            }
            ForIter::Map(m) => {
                let ExprKind::Map { name: map_name, .. } = &m.kind else {
                    return Err(internal(m.span));
                };
                let Some((map, def)) = self.map_kind(map_name) else {
                    return Err(internal(m.span));
                };
                let key_size = def.key_body_size();
                let value_size = def.value.size();
                let per_cpu = def.value.per_cpu();
                let cpus = self.g.opts.possible_cpus.max(1);
                // bpf_for_each_map_elem calls back with r1 = the map,
                // r2 = the key, r3 = the value, r4 = ctx.
                let callback = self.callback(body, span, R4, |c| {
                    // $kv = (key, value).
                    c.copy_from(R2, var_slot, key_size);
                    let value_slot = var_slot + key_size as i16;
                    if per_cpu {
                        // count()/sum(): every CPU's share, added up.
                        c.sum_over_cpus(map, var_slot, value_slot, cpus);
                    } else {
                        c.copy_from(R3, value_slot, value_size);
                    }
                })?;
                self.b.load_map(R1, map);
                self.b.load_func(R2, callback);
                self.area_pointer(R3);
                self.b.emit(insn::mov64_imm(R4, 0));
                self.b.emit(insn::call(helper::FOR_EACH_MAP_ELEM));
            }
        }
        // The body left the probe: so does the caller.
        self.b.emit(insn::ldx(8, R1, R10, callbacks.returned));
        let exit = self.exit_label;
        self.b.jmp_imm(JmpOp::Jne, R1, 0, exit);
        Ok(())
    }

    /// `for ($x : first..end)` with constant bounds, inline: the counter
    /// steps from `first` to `end`, tested after each iteration (a loop
    /// that never runs is jumped over: its body is never reached); the
    /// verifier knows it at every iteration, so the loop is bounded. The
    /// counter is `$x` itself unless the body may assign `$x`: then a
    /// hidden slot, copied into `$x` each time, so that the iterations do
    /// not change. `break`, `continue` and `return` are plain jumps.
    fn inline_range(
        &mut self,
        name: &str,
        hidden: i16,
        (first, end): (i64, i64),
        body: &Block,
        span: Span,
    ) -> Result<(), CompileError> {
        let end = i32::try_from(end).map_err(|_| internal(span))?;
        let var_slot = match self.vars.get(name) {
            Some(&slot) => slot,
            None => {
                let slot = self.alloc_var(8, span)?;
                self.vars.insert(name.to_string(), slot);
                slot
            }
        };
        let counter = if loop_plan::writes_var(&body.stmts, name) {
            hidden
        } else {
            var_slot
        };
        let top = self.b.label();
        let next = self.b.label();
        let done = self.b.label();
        self.b.mov_imm(R0, first);
        self.b.emit(insn::stx(8, R10, counter, R0));
        if first >= i64::from(end) {
            self.b.goto(done);
        }
        self.b.bind(top);
        if counter != var_slot {
            self.b.emit(insn::ldx(8, R0, R10, counter));
            self.b.emit(insn::stx(8, R10, var_slot, R0));
        }
        self.loops.push((next, done));
        let result = self.block(body);
        self.loops.pop();
        result?;
        self.b.bind(next);
        self.b.emit(insn::ldx(8, R0, R10, counter));
        self.b.emit(insn::alu64_imm(AluOp::Add, R0, 1));
        self.b.emit(insn::stx(8, R10, counter, R0));
        self.b.jmp_imm(JmpOp::Jslt, R0, end, top);
        self.b.bind(done);
        Ok(())
    }

    /// `len(@m)`: leaves in r0 the number of elements, counted by
    /// visiting them with a callback that does nothing else.
    pub(crate) fn map_len(
        &mut self,
        map: crate::builder::MapId,
        span: Span,
    ) -> Result<(), CompileError> {
        if !self.b.is_live() {
            return Ok(());
        }
        let callback = match self.b.func(COUNT_CALLBACK) {
            Some(f) => f,
            None => {
                let mut b = Builder::new();
                b.emit(insn::mov64_imm(R0, 0));
                b.emit(insn::exit());
                let body = b.finish(span)?;
                self.b.add_func(COUNT_CALLBACK, body)
            }
        };
        self.b.load_map(R1, map);
        self.b.load_func(R2, callback);
        self.b.emit(insn::mov64_imm(R3, 0));
        self.b.emit(insn::mov64_imm(R4, 0));
        self.b.emit(insn::call(helper::FOR_EACH_MAP_ELEM));
        Ok(())
    }

    /// `*value = sum over cpu of map[key]` for a per-CPU map of 8-byte
    /// counters, the key at stack slot `key`: every possible CPU id, online
    /// or not (an offline CPU keeps what it counted), as user space reads
    /// per-CPU values. Unrolled: 11 instructions per CPU.
    fn sum_over_cpus(&mut self, map: crate::builder::MapId, key: i16, value: i16, cpus: u32) {
        self.b.emit(insn::st_imm(8, R10, value, 0));
        for cpu in 0..cpus {
            let absent = self.b.label();
            self.b.load_map(R1, map);
            self.b.emit(insn::mov64_reg(R2, R10));
            self.b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(key)));
            self.b.emit(insn::mov64_imm(R3, cpu as i32));
            self.b.emit(insn::call(helper::MAP_LOOKUP_PERCPU_ELEM));
            self.b.jmp_imm(JmpOp::Jeq, R0, 0, absent);
            self.b.emit(insn::ldx(8, R1, R0, 0));
            self.b.emit(insn::ldx(8, R2, R10, value));
            self.b.emit(insn::alu64_reg(AluOp::Add, R2, R1));
            self.b.emit(insn::stx(8, R10, value, R2));
            self.b.bind(absent);
        }
    }

    /// `reg` = the variable area's address (the callbacks' `ctx`).
    fn area_pointer(&mut self, reg: Reg) {
        self.b.emit(insn::mov64_reg(reg, R10));
        self.b.emit(insn::alu64_imm(AluOp::Add, reg, -STACK_SIZE));
    }

    /// Copies `size` bytes (a multiple of 8) from `src` into the stack at
    /// `dst`, through r0.
    fn copy_from(&mut self, src: Reg, dst: i16, size: usize) {
        for w in 0..size / 8 {
            let o = (w * 8) as i16;
            self.b.emit(insn::ldx(8, R0, src, o));
            self.b.emit(insn::stx(8, R10, dst + o, R0));
        }
    }

    /// Emits `body` as a callback subprogram; returns its index. The
    /// helper passes the caller's variable area in register `ctx`; `enter`
    /// runs once that area is copied in, with the helper's other arguments
    /// still in r1-r4.
    fn callback(
        &mut self,
        body: &Block,
        span: Span,
        ctx: Reg,
        enter: impl FnOnce(&mut Self),
    ) -> Result<usize, CompileError> {
        let slots = self
            .loop_slots
            .as_ref()
            .and_then(|s| s.callbacks)
            .ok_or_else(|| internal(span))?;
        let outer_b = std::mem::replace(&mut self.b, Builder::new());
        let outer_exit = self.exit_label;
        let outer_loops = std::mem::take(&mut self.loops);
        let result = self.callback_body(body, span, &slots, ctx, enter);
        let inner = std::mem::replace(&mut self.b, outer_b);
        self.exit_label = outer_exit;
        self.loops = outer_loops;
        result?;
        let finished = inner.finish(span)?;
        Ok(self.b.add_func(CALLBACK, finished))
    }

    /// The 8-byte words of the variable area (offsets from its start) a
    /// callback running `body` copies in and out: all of it but the
    /// variables `body` never names (loop slots, the cookie and the stack
    /// walkers' states are always copied). With `out`, the words copied
    /// back: also without the variables `body` only reads (a variable the
    /// body may write is copied both ways, so that a path that does not
    /// write it copies back the caller's own value).
    fn mirrored_words(&self, body: &Block, out: bool) -> Vec<i16> {
        let mut kept = variables_named(body);
        if out {
            kept.retain(|name| loop_plan::writes_var(&body.stmts, name));
        }
        let unnamed: Vec<(i16, i16)> = self
            .vars
            .iter()
            .filter(|(name, _)| !kept.contains(*name))
            .filter_map(|(name, &slot)| {
                let size = self.types.vars.get(name)?.slot_size().max(1).div_ceil(8) * 8;
                Some((slot, slot + i16::try_from(size).ok()?))
            })
            .collect();
        (0..self.var_bytes / 8)
            .map(|w| (w * 8) as i16)
            .filter(|&o| {
                let at = -(STACK_SIZE as i16) + o;
                !unnamed.iter().any(|&(start, end)| at >= start && at < end)
            })
            .collect()
    }

    fn callback_body(
        &mut self,
        body: &Block,
        span: Span,
        slots: &CallbackSlots,
        ctx: Reg,
        enter: impl FnOnce(&mut Self),
    ) -> Result<(), CompileError> {
        // The caller's `ctx` pointer, kept above the mirrored area.
        let saved_ctx = self.alloc_tmp(8, span)?;
        self.b.emit(insn::stx(8, R10, saved_ctx, ctx));
        // Copy the area in (through r0 only: r1-r4 still hold the helper's
        // arguments for `enter`).
        for o in self.mirrored_words(body, false) {
            self.b.emit(insn::ldx(8, R0, ctx, o));
            self.b.emit(insn::stx(8, R10, -(STACK_SIZE as i16) + o, R0));
        }
        enter(self);
        self.b.emit(insn::ldx(8, R6, R10, slots.ctx));
        let next = self.b.label();
        let stop = self.b.label();
        let leave = self.b.label();
        let done = self.b.label();
        self.exit_label = leave;
        self.loops = vec![(next, stop)];
        self.block(body)?;
        self.b.bind(next);
        self.b.emit(insn::mov64_imm(R0, 0));
        self.b.goto(done);
        self.b.bind(leave);
        self.b.emit(insn::st_imm(8, R10, slots.returned, 1));
        self.b.bind(stop);
        self.b.emit(insn::mov64_imm(R0, 1));
        self.b.bind(done);
        // Copy the area back to the caller, keeping r0 (the verdict).
        self.b.emit(insn::ldx(8, R2, R10, saved_ctx));
        for o in self.mirrored_words(body, true) {
            self.b.emit(insn::ldx(8, R1, R10, -(STACK_SIZE as i16) + o));
            self.b.emit(insn::stx(8, R2, o, R1));
        }
        self.b.emit(insn::exit());
        Ok(())
    }
}
