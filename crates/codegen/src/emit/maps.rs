//! Script maps (`@name[keys]`): key building, assignment, reads, and the
//! aggregation functions (count, sum, min, max, avg, stats, hist, lhist).
//!
//! Plain assignments live in a hash map; aggregations in a per-CPU hash map
//! that user space sums over CPUs when printing, so that hot probes on
//! several CPUs never contend. Histograms append the bucket index to the
//! key. The semantic pass decided every map's key layout and value kind
//! before emission, so every program agrees.

use ustrace_lang::ast::{Expr, ExprKind, Span};

use super::{internal, val_in_slot, ProgramCompiler, Val};
use crate::sema::types::key_layout;
use crate::sema::Type;

use crate::builder::MapId;
use crate::insn::{self, helper, AluOp, JmpOp, R0, R1, R10, R2, R3, R4, R7, R8};
use crate::program::*;
use crate::CompileError;

/// `BPF_NOEXIST`: create only.
const BPF_NOEXIST: i32 = 1;

/// A map key computed into a stack buffer.
pub(super) struct Key {
    pub slot: i16,
    pub size: usize,
}

impl ProgramCompiler<'_, '_> {
    /// Size of string fields in maps (keys and values): one size for all,
    /// so every use of a map agrees on its layout.
    pub(super) fn map_str_len(&self) -> usize {
        (self.g.opts.str_len.max(16) + 7) & !7
    }

    /// Evaluates key expressions into a buffer (with `extra` bytes at the
    /// end for a histogram's bucket, which the caller writes).
    pub(super) fn build_key(
        &mut self,
        keys: &[Expr],
        extra: usize,
        span: Span,
    ) -> Result<Key, CompileError> {
        let mut vals = Vec::new();
        let mut types = Vec::new();
        for k in keys {
            vals.push(self.expr(k)?);
            types.push(self.typed(k)?.ty);
        }
        let str_len = self.map_str_len();
        let fields = key_layout(&types, str_len).map_err(|i| internal(keys[i].span))?;
        // A single integer key just spilled to a temporary: store it from
        // the register straight into the key (the temporary is never read).
        let mut in_register = None;
        if let ([Val::Slot(s, _)], [t]) = (vals.as_slice(), types.as_slice()) {
            if t.is_numeric() && i32::from(*s) >= -self.b.stack_mark() {
                in_register = self.b.take_last_store(*s);
            }
        }
        let body: usize = if fields.is_empty() {
            8
        } else {
            fields.iter().map(|f| f.size()).sum()
        };
        let size = body + extra;
        let slot = self.alloc_tmp(size, span)?;
        let mut off = slot;
        if fields.is_empty() {
            self.b.emit(insn::st_imm(8, R10, off, 0));
        }
        for (v, t) in vals.iter().zip(&types) {
            let t = t.clone().into_tuple_element(str_len);
            match in_register {
                Some(r) => self.b.emit(insn::stx(8, R10, off, r)),
                None => self.store_at(v, &t, off),
            }
            off += t.slot_size() as i16;
        }
        Ok(Key { slot, size })
    }

    /// The map `name`, whose layout the semantic pass decided.
    pub(crate) fn map_id(&self, name: &str, span: Span) -> Result<MapId, CompileError> {
        self.g
            .user_maps
            .get(&format!("@{name}"))
            .copied()
            .ok_or_else(|| CompileError::new(span, format!("undefined map @{name}")))
    }

    /// The map's current definition, if any use defined it already.
    pub(super) fn map_kind(&self, name: &str) -> Option<(MapId, UserMap)> {
        let id = *self.g.user_maps.get(&format!("@{name}"))?;
        match &self.g.out.maps[id.0].role {
            MapRole::User(u) => Some((id, u.clone())),
            _ => None,
        }
    }

    /// `r0 = lookup(map, key)`.
    fn lookup(&mut self, map: MapId, key_slot: i16) {
        self.b.load_map(R1, map);
        self.b.emit(insn::mov64_reg(R2, R10));
        self.b
            .emit(insn::alu64_imm(AluOp::Add, R2, key_slot as i32));
        self.b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
    }

    /// Leaves in r0 a pointer to the value for `key`, creating a zeroed
    /// entry first when absent; jumps to `fail` when the map is full. The
    /// map and key pointers live in r7 and r8 across the helper calls.
    pub(super) fn lookup_or_init(
        &mut self,
        map: MapId,
        key: &Key,
        value_size: usize,
        fail: crate::builder::Label,
        span: Span,
    ) -> Result<(), CompileError> {
        let have = self.b.label();
        self.b.load_map(R7, map);
        self.b.emit(insn::mov64_reg(R8, R10));
        self.b
            .emit(insn::alu64_imm(AluOp::Add, R8, key.slot as i32));
        let lookup = |c: &mut Self| {
            c.b.emit(insn::mov64_reg(R1, R7));
            c.b.emit(insn::mov64_reg(R2, R8));
            c.b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
        };
        lookup(self);
        self.b.jmp_imm(JmpOp::Jne, R0, 0, have);
        let zero = self.alloc_tmp(value_size, span)?;
        self.b.zero_stack(zero, (value_size + 7) & !7);
        self.b.emit(insn::mov64_reg(R1, R7));
        self.b.emit(insn::mov64_reg(R2, R8));
        self.b.emit(insn::mov64_reg(R3, R10));
        self.b.emit(insn::alu64_imm(AluOp::Add, R3, zero as i32));
        self.b.emit(insn::mov64_imm(R4, BPF_NOEXIST));
        self.b.emit(insn::call(helper::MAP_UPDATE_ELEM));
        lookup(self);
        self.b.jmp_imm(JmpOp::Jne, R0, 0, have);
        self.count_failed_update(map, span)?;
        self.b.goto(fail);
        self.b.bind(have);
        Ok(())
    }

    /// `@name[keys] = value` (value already computed).
    /// Writes the name a `probe`/`func` value stands for into the `n`-byte
    /// string at `slot` (a map stores it as a string, as bpftrace does):
    /// a constant for one site, else a compare against each name this
    /// program's sites may give.
    fn probe_name_string(&mut self, v: &Val, slot: i16, n: usize) {
        let name = |c: &Self, id: usize| {
            let mut bytes =
                c.g.out
                    .probe_names
                    .get(id)
                    .cloned()
                    .unwrap_or_default()
                    .into_bytes();
            bytes.truncate(n.saturating_sub(1));
            bytes
        };
        for off in (0..n).step_by(4) {
            self.b.emit(insn::st_imm(4, R10, slot + off as i16, 0));
        }
        match v {
            Val::ProbeConst(id) => {
                let bytes = name(self, *id);
                self.store_bytes(R10, slot, &bytes);
            }
            Val::Probe(from) => {
                let mut ids = self.ctx.func_ids().unwrap_or_default();
                ids.extend(self.ctx.probe_ids());
                ids.sort_unstable();
                ids.dedup();
                self.b.emit(insn::ldx(8, R0, R10, *from));
                for id in ids {
                    let skip = self.b.label();
                    self.b.jmp_imm(JmpOp::Jne, R0, id as i32, skip);
                    let bytes = name(self, id);
                    self.store_bytes(R10, slot, &bytes);
                    self.b.bind(skip);
                }
            }
            _ => {}
        }
    }

    pub(super) fn map_store(
        &mut self,
        name: &str,
        keys: &[Expr],
        v: Val,
        span: Span,
    ) -> Result<(), CompileError> {
        let Some((map, def)) = self.map_kind(name) else {
            return Err(internal(span));
        };
        let value_kind = def.value;
        let key = self.build_key(keys, 0, span)?;
        let vsize = value_kind.size();
        let vslot = self.alloc_tmp(vsize, span)?;
        match value_kind {
            ValueKind::Str(n) if matches!(v, Val::ProbeConst(_) | Val::Probe(_)) => {
                self.probe_name_string(&v, vslot, n)
            }
            ValueKind::Str(n) => self.copy_string(&v, vslot, n),
            ValueKind::Tuple { size } => match v {
                Val::Tuple(src, _) => self.copy_words(src, R10, vslot, size),
                _ => return Err(internal(span)),
            },
            ValueKind::Named(_) => {
                let ty = v.ty();
                self.store_at(&v, &ty, vslot);
            }
            _ => {
                self.load(&v, R0);
                self.b.emit(insn::stx(8, R10, vslot, R0));
            }
        }
        self.b.load_map(R1, map);
        self.b.emit(insn::mov64_reg(R2, R10));
        self.b
            .emit(insn::alu64_imm(AluOp::Add, R2, key.slot as i32));
        self.b.emit(insn::mov64_reg(R3, R10));
        self.b.emit(insn::alu64_imm(AluOp::Add, R3, vslot as i32));
        self.b.emit(insn::mov64_imm(R4, 0));
        self.b.emit(insn::call(helper::MAP_UPDATE_ELEM));
        let stored = self.b.label();
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, stored);
        self.count_failed_update(map, span)?;
        self.b.bind(stored);
        Ok(())
    }

    /// Reads `@name[keys]` (a [`ExprKind::Map`]): the value, or 0 / ""
    /// when absent. Assigned integers and count/sum/min/max read as
    /// integers (this CPU's share only; bpftrace has the same limitation).
    pub(super) fn map_read(&mut self, target: &Expr) -> Result<Val, CompileError> {
        let ExprKind::Map { name, keys } = &target.kind else {
            return Err(internal(target.span));
        };
        let span = target.span;
        let ty = self.typed(target)?.ty;
        let map = self.map_id(name, span)?;
        let key = self.build_key(keys, 0, span)?;
        let size = match ty {
            Type::Int { .. } | Type::Bool | Type::Str(_) | Type::Tuple(_) | Type::ProbeName => {
                ty.slot_size()
            }
            _ => return Err(internal(span)),
        };
        let slot = self.alloc_tmp(size, span)?;
        self.b.zero_stack(slot, size);
        self.lookup(map, key.slot);
        let absent = self.b.label();
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, absent);
        for w in 0..size / 8 {
            let o = (w * 8) as i16;
            self.b.emit(insn::ldx(8, R1, R0, o));
            self.b.emit(insn::stx(8, R10, slot + o, R1));
        }
        self.b.bind(absent);
        val_in_slot(slot, &ty, span)
    }

    /// `@m[k] = count()` and the other aggregations.
    pub(crate) fn aggregate(
        &mut self,
        name: &str,
        keys: &[Expr],
        args: &[Expr],
        span: Span,
    ) -> Result<(), CompileError> {
        // The semantic pass checked the arguments (the value, then
        // constants) and decided the map's value kind.
        let Some((map, def)) = self.map_kind(name) else {
            return Err(internal(span));
        };
        let value_kind = def.value;
        if let (ValueKind::Tseries { .. }, Some(value)) = (value_kind, args.first()) {
            return self.tseries_update(map, value_kind, keys, value, span);
        }
        let x = match args.first() {
            Some(a) => Some(self.expr(a)?),
            None => None,
        };
        // The value (an integer: constant, slot or context field) stays
        // where it is; the key is built after it.
        let extra = if value_kind.is_histogram() { 8 } else { 0 };
        let key = self.build_key(keys, extra, span)?;
        if let (Some(v), true) = (&x, value_kind.is_histogram()) {
            self.load(v, R1);
            match value_kind {
                ValueKind::Lhist { min, max, step } => self.lhist_bucket(min, max, step),
                ValueKind::FineHist { bits } => self.fine_hist_bucket(bits),
                _ => self.log2_bucket(),
            }
            self.b
                .emit(insn::stx(8, R10, key.slot + (key.size - 8) as i16, R0));
        }
        let done = self.b.label();
        self.lookup_or_init(map, &key, value_kind.size(), done, span)?;
        // r0 points at this CPU's value; r1 holds the sample when the
        // update needs it.
        let counts_only = matches!(
            value_kind,
            ValueKind::Count
                | ValueKind::Hist
                | ValueKind::FineHist { .. }
                | ValueKind::Lhist { .. }
        );
        if let (Some(v), false) = (&x, counts_only) {
            self.load(v, R1);
        }
        match value_kind {
            ValueKind::Count
            | ValueKind::Hist
            | ValueKind::FineHist { .. }
            | ValueKind::Lhist { .. } => {
                self.b.emit(insn::ldx(8, R2, R0, 0));
                self.b.emit(insn::alu64_imm(AluOp::Add, R2, 1));
                self.b.emit(insn::stx(8, R0, 0, R2));
            }
            ValueKind::Sum => {
                self.b.emit(insn::ldx(8, R2, R0, 0));
                self.b.emit(insn::alu64_reg(AluOp::Add, R2, R1));
                self.b.emit(insn::stx(8, R0, 0, R2));
            }
            ValueKind::Avg | ValueKind::Stats => {
                self.b.emit(insn::ldx(8, R2, R0, 0));
                self.b.emit(insn::alu64_imm(AluOp::Add, R2, 1));
                self.b.emit(insn::stx(8, R0, 0, R2));
                self.b.emit(insn::ldx(8, R2, R0, 8));
                self.b.emit(insn::alu64_reg(AluOp::Add, R2, R1));
                self.b.emit(insn::stx(8, R0, 8, R2));
            }
            ValueKind::Min | ValueKind::Max => {
                // {value, set}: store when unset or better.
                let store = self.b.label();
                self.b.emit(insn::ldx(8, R2, R0, 8));
                self.b.jmp_imm(JmpOp::Jeq, R2, 0, store);
                self.b.emit(insn::ldx(8, R2, R0, 0));
                let op = if value_kind == ValueKind::Min {
                    JmpOp::Jslt
                } else {
                    JmpOp::Jsgt
                };
                self.b.jmp_reg(op, R1, R2, store);
                self.b.goto(done);
                self.b.bind(store);
                self.b.emit(insn::stx(8, R0, 0, R1));
                self.b.emit(insn::st_imm(8, R0, 8, 1));
            }
            ValueKind::Int { .. }
            | ValueKind::Str(_)
            | ValueKind::Bool
            | ValueKind::Tuple { .. }
            | ValueKind::Named(_)
            | ValueKind::Tseries { .. } => {}
        }
        self.b.bind(done);
        Ok(())
    }

    /// r0 = log2 histogram bucket of the signed value in r1:
    /// 0 for negative, 1 for 0, and 2 + floor(log2(v)) for v >= 1.
    fn log2_bucket(&mut self) {
        let done = self.b.label();
        self.b.emit(insn::mov64_imm(R0, 0));
        self.b.jmp_imm(JmpOp::Jslt, R1, 0, done);
        self.b.emit(insn::mov64_imm(R0, 1));
        self.b.jmp_imm(JmpOp::Jeq, R1, 0, done);
        self.b.emit(insn::mov64_imm(R0, 2));
        // Binary search for the top bit: v >= 2^s means v >> s != 0.
        let skip = self.b.label();
        self.b.emit(insn::mov64_reg(R2, R1));
        self.b.emit(insn::alu64_imm(AluOp::Rsh, R2, 32));
        self.b.jmp_imm(JmpOp::Jeq, R2, 0, skip);
        self.b.emit(insn::mov64_reg(R1, R2));
        self.b.emit(insn::alu64_imm(AluOp::Add, R0, 32));
        self.b.bind(skip);
        for shift in [16, 8, 4, 2, 1] {
            let skip = self.b.label();
            self.b.jmp_imm(JmpOp::Jlt, R1, 1 << shift, skip);
            self.b.emit(insn::alu64_imm(AluOp::Rsh, R1, shift));
            self.b.emit(insn::alu64_imm(AluOp::Add, R0, shift));
            self.b.bind(skip);
        }
        self.b.bind(done);
    }

    /// r0 = `hist(v, k)` bucket of the signed value in r1 (k >= 1, as
    /// `ustrace_output::fine_hist_bucket`): 0 for v < 0, v + 1 below
    /// 2^(k+1), else ((p + 1) << k) + (v >> p) - 2^k + 1 with
    /// p = floor(log2(v)) - k.
    fn fine_hist_bucket(&mut self, bits: u8) {
        let k = i32::from(bits);
        let done = self.b.label();
        let small = self.b.label();
        self.b.emit(insn::mov64_imm(R0, 0));
        self.b.jmp_imm(JmpOp::Jslt, R1, 0, done);
        self.b.jmp_imm(JmpOp::Jlt, R1, 2 << k, small);
        // r2 = floor(log2(v)) by binary search on a copy in r3.
        self.b.emit(insn::mov64_imm(R2, 0));
        self.b.emit(insn::mov64_reg(R3, R1));
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.b.label();
            if shift == 32 {
                self.b.emit(insn::mov64_reg(R4, R3));
                self.b.emit(insn::alu64_imm(AluOp::Rsh, R4, 32));
                self.b.jmp_imm(JmpOp::Jeq, R4, 0, skip);
            } else {
                self.b.jmp_imm(JmpOp::Jlt, R3, 1 << shift, skip);
            }
            self.b.emit(insn::alu64_imm(AluOp::Rsh, R3, shift));
            self.b.emit(insn::alu64_imm(AluOp::Add, R2, shift));
            self.b.bind(skip);
        }
        // r2 = p; r1 = (v >> p) - 2^k (the part within the power).
        self.b.emit(insn::alu64_imm(AluOp::Sub, R2, k));
        self.b.emit(insn::alu64_reg(AluOp::Rsh, R1, R2));
        self.b.emit(insn::alu64_imm(AluOp::Sub, R1, 1 << k));
        // r0 = ((p + 1) << k) + part + 1
        self.b.emit(insn::mov64_reg(R0, R2));
        self.b.emit(insn::alu64_imm(AluOp::Add, R0, 1));
        self.b.emit(insn::alu64_imm(AluOp::Lsh, R0, k));
        self.b.emit(insn::alu64_reg(AluOp::Add, R0, R1));
        self.b.emit(insn::alu64_imm(AluOp::Add, R0, 1));
        self.b.goto(done);
        self.b.bind(small);
        self.b.emit(insn::mov64_reg(R0, R1));
        self.b.emit(insn::alu64_imm(AluOp::Add, R0, 1));
        self.b.bind(done);
    }

    /// r0 = linear histogram bucket of the signed value in r1: 0 below
    /// `min`, 1 + (v - min) / step inside, 1 + (max - min) / step at or above `max`.
    fn lhist_bucket(&mut self, min: i64, max: i64, step: i64) {
        let done = self.b.label();
        let inside = self.b.label();
        let nbuckets = (max - min) / step;
        self.b.mov_imm(R2, min);
        self.b.emit(insn::mov64_imm(R0, 0));
        self.b.jmp_reg(JmpOp::Jslt, R1, R2, done);
        self.b.mov_imm(R2, max);
        self.b.mov_imm(R0, nbuckets + 1);
        self.b.jmp_reg(JmpOp::Jsge, R1, R2, done);
        self.b.goto(inside);
        self.b.bind(inside);
        self.b.mov_imm(R2, min);
        self.b.emit(insn::mov64_reg(R0, R1));
        self.b.emit(insn::alu64_reg(AluOp::Sub, R0, R2));
        self.b.mov_imm(R2, step);
        self.b.emit(insn::alu64_reg(AluOp::Div, R0, R2));
        self.b.emit(insn::alu64_imm(AluOp::Add, R0, 1));
        self.b.bind(done);
    }

    /// `delete(@m[k])`: R0 is the helper's result (0 when the key was there).
    pub(crate) fn map_delete(&mut self, target: &Expr, span: Span) -> Result<(), CompileError> {
        let ExprKind::Map { name, keys } = &target.kind else {
            return Err(CompileError::new(
                target.span,
                "delete() takes a map element: delete(@m[key])",
            ));
        };
        let map = self.map_id(name, target.span)?;
        let key = self.build_key(keys, 0, span)?;
        self.b.load_map(R1, map);
        self.b.emit(insn::mov64_reg(R2, R10));
        self.b
            .emit(insn::alu64_imm(AluOp::Add, R2, key.slot as i32));
        self.b.emit(insn::call(helper::MAP_DELETE_ELEM));
        Ok(())
    }

    /// A bool of the helper call just made: 1 when R0 is 0 (success).
    pub(crate) fn helper_succeeded(&mut self, span: Span) -> Result<Val, CompileError> {
        let slot = self.alloc_tmp(8, span)?;
        self.b.emit(insn::mov64_imm(R1, 0));
        let failed = self.b.label();
        self.b.jmp_imm(JmpOp::Jne, R0, 0, failed);
        self.b.emit(insn::mov64_imm(R1, 1));
        self.b.bind(failed);
        self.b.emit(insn::stx(8, R10, slot, R1));
        Ok(Val::Slot(slot, false))
    }

    /// `has_key(@m[k])`: 1 when present.
    pub(crate) fn map_has_key(&mut self, target: &Expr, span: Span) -> Result<Val, CompileError> {
        let ExprKind::Map { name, keys } = &target.kind else {
            return Err(CompileError::new(
                target.span,
                "has_key() takes a map element: has_key(@m[key])",
            ));
        };
        let map = self.map_id(name, target.span)?;
        let key = self.build_key(keys, 0, span)?;
        self.lookup(map, key.slot);
        let slot = self.alloc_tmp(8, span)?;
        self.b.emit(insn::mov64_imm(R1, 0));
        let absent = self.b.label();
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, absent);
        self.b.emit(insn::mov64_imm(R1, 1));
        self.b.bind(absent);
        self.b.emit(insn::stx(8, R10, slot, R1));
        Ok(Val::Slot(slot, false))
    }

    /// `find(@m, key, $var)`: one lookup; when the key is there its value
    /// is copied into `$var` and the result is 1, else `$var` is left as
    /// it was and the result is 0.
    pub(crate) fn map_find(
        &mut self,
        name: &str,
        keys: &[Expr],
        var: &str,
        span: Span,
    ) -> Result<Val, CompileError> {
        let (map, def) = self.map_kind(name).ok_or_else(|| internal(span))?;
        let ty = crate::sema::value_type(name, &def, span)?.ty;
        let key = self.build_key(keys, 0, span)?;
        let size = ty.slot_size();
        let value = self.alloc_tmp(size, span)?;
        let found = self.alloc_tmp(8, span)?;
        self.b.emit(insn::st_imm(8, R10, found, 0));
        self.lookup(map, key.slot);
        let absent = self.b.label();
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, absent);
        for w in 0..size / 8 {
            let o = (w * 8) as i16;
            self.b.emit(insn::ldx(8, R1, R0, o));
            self.b.emit(insn::stx(8, R10, value + o, R1));
        }
        self.store_var(var, val_in_slot(value, &ty, span)?, span)?;
        self.b.emit(insn::st_imm(8, R10, found, 1));
        self.b.bind(absent);
        Ok(Val::Slot(found, false))
    }

    /// `print(@m)`, `clear(@m)`, `zero(@m)`: asks user space to do it.
    pub(crate) fn map_command(
        &mut self,
        tag: u64,
        args: &[Expr],
        span: Span,
    ) -> Result<(), CompileError> {
        let (name, first_span) = crate::sema::whole_map_argument(args, span)?;
        let id = self.map_id(name, first_span)?.0 as i64;
        let mut extra = [0i64; 2];
        for (i, a) in args[1..].iter().enumerate().take(2) {
            extra[i] = self.typed(a)?.konst.ok_or_else(|| internal(a.span))?;
        }
        self.emit_record(span, 32, move |c, rec| {
            c.b.mov_imm(R1, tag as i64);
            c.b.emit(insn::stx(8, rec, 0, R1));
            c.b.mov_imm(R1, id);
            c.b.emit(insn::stx(8, rec, 8, R1));
            c.b.mov_imm(R1, extra[0]);
            c.b.emit(insn::stx(8, rec, 16, R1));
            c.b.mov_imm(R1, extra[1]);
            c.b.emit(insn::stx(8, rec, 24, R1));
        })?;
        Ok(())
    }
}
