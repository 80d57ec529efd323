//! Script maps (`@name[keys]`): key building, assignment, reads, and the
//! aggregation functions (count, sum, min, max, avg, stats, hist, lhist).
//!
//! Plain assignments live in a hash map; aggregations in a per-CPU hash map
//! that user space sums over CPUs when printing, so that hot probes on
//! several CPUs never contend. Histograms append the bucket index to the
//! key. The first use of a map fixes its key layout and value kind; the
//! compiler makes a discovery pass first so that every program agrees.

use ustrace_lang::ast::{Expr, ExprKind, Span};

use super::{ProgramCompiler, Ty, Val};
use crate::builder::MapId;
use crate::insn::{self, helper, AluOp, JmpOp, R0, R1, R10, R2, R3, R4, R7};
use crate::program::*;
use crate::CompileError;

/// Most entries a script map holds (bpftrace's default).
pub const MAP_MAX_ENTRIES: u32 = 4096;

/// `BPF_NOEXIST`: create only.
const BPF_NOEXIST: i32 = 1;

/// A map key computed into a stack buffer.
pub(super) struct Key {
    pub slot: i16,
    pub fields: Vec<FieldKind>,
    pub size: usize,
}

impl ProgramCompiler<'_, '_> {
    /// Size of string fields in maps (keys and values): one size for all,
    /// so every use of a map agrees on its layout.
    pub(super) fn map_str_len(&self) -> usize {
        (self.g.opts.str_len.max(16) + 7) & !7
    }

    /// Evaluates key expressions into a buffer (with `extra` zeroed bytes at
    /// the end, for a histogram's bucket).
    pub(super) fn build_key(
        &mut self,
        keys: &[Expr],
        extra: usize,
        span: Span,
    ) -> Result<Key, CompileError> {
        let mut vals = Vec::new();
        for k in keys {
            let v = self.expr(k)?;
            let f = match v.ty() {
                Ty::Int { signed } => FieldKind::Int { signed },
                Ty::Str(_) => FieldKind::Str(self.map_str_len()),
                Ty::ProbeName => FieldKind::ProbeName,
                Ty::UStack(m) => FieldKind::UStack(m),
                Ty::USym => FieldKind::USym,
                Ty::Buffer(n) => FieldKind::Buffer(n),
                Ty::Timestamp(_) => FieldKind::Int { signed: false },
                Ty::Void => {
                    return Err(CompileError::new(
                        k.span,
                        "this expression has no value to use as a map key",
                    ))
                }
            };
            vals.push((v, f));
        }
        let fields: Vec<FieldKind> = vals.iter().map(|(_, f)| *f).collect();
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
        for (v, f) in &vals {
            match (f, v) {
                (FieldKind::Str(n), _) => self.copy_string(v, off, *n),
                (FieldKind::UStack(_), Val::UStack(src, _)) | (FieldKind::USym, Val::USym(src)) => {
                    self.copy_words(*src, R10, off, 16)
                }
                (FieldKind::Buffer(_), Val::Bytes(src, _)) => {
                    self.copy_words(*src, R10, off, f.size())
                }
                _ => {
                    self.load(v, R0);
                    self.b.emit(insn::stx(8, R10, off, R0));
                }
            }
            off += f.size() as i16;
        }
        if extra > 0 {
            self.b.zero_stack(slot + body as i16, extra);
        }
        Ok(Key { slot, fields, size })
    }

    /// Finds or creates the map `name` with this layout; a different layout
    /// than an earlier use is a type error.
    pub(super) fn define_map(
        &mut self,
        name: &str,
        key: &[FieldKind],
        value: ValueKind,
        span: Span,
    ) -> Result<MapId, CompileError> {
        let full = format!("@{name}");
        if let Some(&id) = self.g.user_maps.get(&full) {
            let MapRole::User(existing) = &self.g.out.maps[id.0].role else {
                return Err(CompileError::new(span, "internal error: map role"));
            };
            // Integer fields unify whatever their signedness (literals are
            // unsigned here, bpftrace's are int64); signed wins.
            let same_shape = existing.key.len() == key.len()
                && existing.key.iter().zip(key).all(|(a, b)| match (a, b) {
                    (FieldKind::Int { .. }, FieldKind::Int { .. }) => true,
                    _ => a == b,
                });
            if same_shape && existing.key != key {
                let merged: Vec<FieldKind> = existing
                    .key
                    .iter()
                    .zip(key)
                    .map(|(a, b)| match (a, b) {
                        (FieldKind::Int { signed: x }, FieldKind::Int { signed: y }) => {
                            FieldKind::Int { signed: *x || *y }
                        }
                        _ => *a,
                    })
                    .collect();
                if let MapRole::User(m) = &mut self.g.out.maps[id.0].role {
                    m.key = merged;
                }
            }
            let MapRole::User(existing) = &self.g.out.maps[id.0].role else {
                return Err(CompileError::new(span, "internal error: map role"));
            };
            if !same_shape {
                return Err(CompileError::new(
                    span,
                    format!(
                        "map {full} is used with different key types: first [{}], here [{}]",
                        describe_key(&existing.key),
                        describe_key(key)
                    ),
                ));
            }
            let same = match (existing.value, value) {
                (ValueKind::Int { .. }, ValueKind::Int { .. }) => true,
                (a, b) => a == b,
            };
            if !same {
                return Err(CompileError::new(
                    span,
                    format!(
                        "map {full} holds {} but is used here as {}",
                        describe_value(existing.value),
                        describe_value(value)
                    ),
                ));
            }
            if let (ValueKind::Int { signed: false }, ValueKind::Int { signed: true }) =
                (existing.value, value)
            {
                if let MapRole::User(u) = &mut self.g.out.maps[id.0].role {
                    u.value = ValueKind::Int { signed: true };
                }
            }
            return Ok(id);
        }
        let key_body: usize = if key.is_empty() {
            8
        } else {
            key.iter().map(|f| f.size()).sum()
        };
        let key_size = key_body + if value.is_histogram() { 8 } else { 0 };
        let def = MapDef {
            kind: if value.per_cpu() {
                MapKind::PerCpuHash
            } else {
                MapKind::Hash
            },
            key_size: key_size as u32,
            value_size: value.size() as u32,
            max_entries: MAP_MAX_ENTRIES,
            role: MapRole::User(UserMap {
                name: full.clone(),
                key: key.to_vec(),
                value,
            }),
        };
        let id = self.g.add_map(def);
        self.g.user_maps.insert(full, id);
        Ok(id)
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

    /// Leaves in r7 a pointer to the value for `key`, creating a zeroed
    /// entry first when absent; jumps to `fail` when the map is full.
    fn lookup_or_init(
        &mut self,
        map: MapId,
        key: &Key,
        value_size: usize,
        fail: crate::builder::Label,
        span: Span,
    ) -> Result<(), CompileError> {
        let have = self.b.label();
        self.lookup(map, key.slot);
        self.b.jmp_imm(JmpOp::Jne, R0, 0, have);
        let zero = self.alloc_tmp(value_size, span)?;
        self.b.zero_stack(zero, (value_size + 7) & !7);
        self.b.load_map(R1, map);
        self.b.emit(insn::mov64_reg(R2, R10));
        self.b
            .emit(insn::alu64_imm(AluOp::Add, R2, key.slot as i32));
        self.b.emit(insn::mov64_reg(R3, R10));
        self.b.emit(insn::alu64_imm(AluOp::Add, R3, zero as i32));
        self.b.emit(insn::mov64_imm(R4, BPF_NOEXIST));
        self.b.emit(insn::call(helper::MAP_UPDATE_ELEM));
        self.lookup(map, key.slot);
        self.b.jmp_imm(JmpOp::Jne, R0, 0, have);
        self.count_failed_update(map, span)?;
        self.b.goto(fail);
        self.b.bind(have);
        self.b.emit(insn::mov64_reg(R7, R0));
        Ok(())
    }

    /// `@name[keys] = value` (value already computed).
    pub(super) fn map_store(
        &mut self,
        name: &str,
        keys: &[Expr],
        v: Val,
        span: Span,
    ) -> Result<(), CompileError> {
        let value_kind = match v.ty() {
            Ty::Int { signed } => ValueKind::Int { signed },
            Ty::Str(_) => ValueKind::Str(self.map_str_len()),
            Ty::ProbeName | Ty::UStack(_) | Ty::USym | Ty::Buffer(_) | Ty::Timestamp(_) => {
                return Err(CompileError::new(
                    span,
                    format!(
                        "storing `{}` in a map is not supported; use it as a key",
                        v.ty().name()
                    ),
                ))
            }
            Ty::Void => {
                return Err(CompileError::new(
                    span,
                    "this expression has no value to store",
                ))
            }
        };
        let key = self.build_key(keys, 0, span)?;
        let map = self.define_map(name, &key.fields, value_kind, span)?;
        let vsize = value_kind.size();
        let vslot = self.alloc_tmp(vsize, span)?;
        match value_kind {
            ValueKind::Str(n) => self.copy_string(&v, vslot, n),
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

    /// Reads `@name[keys]`: the value, or 0 / "" when absent.
    pub(super) fn map_read(
        &mut self,
        name: &str,
        keys: &[Expr],
        span: Span,
    ) -> Result<Val, CompileError> {
        let Some((map, def)) = self.map_kind(name) else {
            if self.g.discovery {
                return Ok(Val::Const(0, false));
            }
            return Err(CompileError::new(
                span,
                format!("undefined map @{name}: it is never assigned"),
            ));
        };
        let key = self.build_key(keys, 0, span)?;
        if !same_key_shape(&key.fields, &def.key) {
            return Err(CompileError::new(
                span,
                format!(
                    "map @{name} has keys [{}] but is read here with [{}]",
                    describe_key(&def.key),
                    describe_key(&key.fields)
                ),
            ));
        }
        // An 8-byte integer value: assigned ints and count/sum/min/max
        // (this CPU's share only; bpftrace has the same limitation).
        let scalar = match def.value {
            ValueKind::Int { signed } => Some(signed),
            ValueKind::Count => Some(false),
            ValueKind::Sum | ValueKind::Min | ValueKind::Max => Some(true),
            _ => None,
        };
        if let Some(signed) = scalar {
            let slot = self.alloc_tmp(8, span)?;
            self.b.emit(insn::st_imm(8, R10, slot, 0));
            self.lookup(map, key.slot);
            let absent = self.b.label();
            self.b.jmp_imm(JmpOp::Jeq, R0, 0, absent);
            self.b.emit(insn::ldx(8, R1, R0, 0));
            self.b.emit(insn::stx(8, R10, slot, R1));
            self.b.bind(absent);
            return Ok(Val::Slot(slot, signed));
        }
        match def.value {
            ValueKind::Str(n) => {
                let slot = self.alloc_tmp(n, span)?;
                self.b.zero_stack(slot, n);
                self.lookup(map, key.slot);
                let absent = self.b.label();
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, absent);
                for w in 0..n / 8 {
                    let o = (w * 8) as i16;
                    self.b.emit(insn::ldx(8, R1, R0, o));
                    self.b.emit(insn::stx(8, R10, slot + o, R1));
                }
                self.b.bind(absent);
                Ok(Val::Buf(slot, n))
            }
            other => Err(CompileError::new(
                span,
                format!(
                    "map @{name} holds {} which cannot be read in a probe",
                    describe_value(other)
                ),
            )),
        }
    }

    /// `@m[k] = count()` and the other aggregations.
    pub(super) fn aggregate(
        &mut self,
        name: &str,
        keys: &[Expr],
        func: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<(), CompileError> {
        let want = match func {
            "count" => 0,
            "sum" | "min" | "max" | "avg" | "stats" | "hist" => 1,
            "lhist" => 4,
            _ => {
                return Err(CompileError::new(
                    span,
                    format!("unknown aggregation {func}()"),
                ))
            }
        };
        if args.len() != want {
            return Err(CompileError::new(
                span,
                format!("{func}() takes {want} argument(s), {} given", args.len()),
            ));
        }
        let value_kind = match func {
            "count" => ValueKind::Count,
            "sum" => ValueKind::Sum,
            "min" => ValueKind::Min,
            "max" => ValueKind::Max,
            "avg" => ValueKind::Avg,
            "stats" => ValueKind::Stats,
            "hist" => ValueKind::Hist,
            _ => {
                let mut c = [0i64; 3];
                for (i, a) in args[1..].iter().enumerate() {
                    c[i] = match self.expr(a)? {
                        Val::Const(v, _) => v,
                        _ => {
                            return Err(CompileError::new(
                                a.span,
                                "lhist() bounds and step must be integer constants",
                            ))
                        }
                    };
                }
                let (min, max, step) = (c[0], c[1], c[2]);
                if step <= 0 || max <= min || (max - min) / step > 1000 {
                    return Err(CompileError::new(
                        span,
                        "lhist(value, min, max, step) needs min < max, step > 0 and at most 1000 buckets",
                    ));
                }
                ValueKind::Lhist { min, max, step }
            }
        };
        let x = match args.first() {
            Some(a) => {
                let v = self.expr(a)?;
                if !matches!(v.ty(), Ty::Int { .. }) {
                    return Err(CompileError::new(
                        a.span,
                        format!("{func}() needs an integer, not a {}", v.ty().name()),
                    ));
                }
                Some(v)
            }
            None => None,
        };
        // Compute the value (and bucket) before building the key.
        let xslot = match &x {
            Some(v) => {
                let s = self.alloc_tmp(8, span)?;
                self.load(v, R0);
                self.b.emit(insn::stx(8, R10, s, R0));
                Some(s)
            }
            None => None,
        };
        let extra = if value_kind.is_histogram() { 8 } else { 0 };
        let key = self.build_key(keys, extra, span)?;
        let map = self.define_map(name, &key.fields, value_kind, span)?;
        if let (Some(xs), true) = (xslot, value_kind.is_histogram()) {
            self.b.emit(insn::ldx(8, R1, R10, xs));
            match value_kind {
                ValueKind::Lhist { min, max, step } => self.lhist_bucket(min, max, step),
                _ => self.log2_bucket(),
            }
            self.b
                .emit(insn::stx(8, R10, key.slot + (key.size - 8) as i16, R0));
        }
        let done = self.b.label();
        self.lookup_or_init(map, &key, value_kind.size(), done, span)?;
        if let Some(xs) = xslot {
            self.b.emit(insn::ldx(8, R1, R10, xs));
        }
        match value_kind {
            ValueKind::Count | ValueKind::Hist | ValueKind::Lhist { .. } => {
                self.b.emit(insn::ldx(8, R0, R7, 0));
                self.b.emit(insn::alu64_imm(AluOp::Add, R0, 1));
                self.b.emit(insn::stx(8, R7, 0, R0));
            }
            ValueKind::Sum => {
                self.b.emit(insn::ldx(8, R0, R7, 0));
                self.b.emit(insn::alu64_reg(AluOp::Add, R0, R1));
                self.b.emit(insn::stx(8, R7, 0, R0));
            }
            ValueKind::Avg | ValueKind::Stats => {
                self.b.emit(insn::ldx(8, R0, R7, 0));
                self.b.emit(insn::alu64_imm(AluOp::Add, R0, 1));
                self.b.emit(insn::stx(8, R7, 0, R0));
                self.b.emit(insn::ldx(8, R0, R7, 8));
                self.b.emit(insn::alu64_reg(AluOp::Add, R0, R1));
                self.b.emit(insn::stx(8, R7, 8, R0));
            }
            ValueKind::Min | ValueKind::Max => {
                // {value, set}: store when unset or better.
                let store = self.b.label();
                self.b.emit(insn::ldx(8, R0, R7, 8));
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, store);
                self.b.emit(insn::ldx(8, R0, R7, 0));
                let op = if value_kind == ValueKind::Min {
                    JmpOp::Jslt
                } else {
                    JmpOp::Jsgt
                };
                self.b.jmp_reg(op, R1, R0, store);
                self.b.goto(done);
                self.b.bind(store);
                self.b.emit(insn::stx(8, R7, 0, R1));
                self.b.emit(insn::st_imm(8, R7, 8, 1));
            }
            ValueKind::Int { .. } | ValueKind::Str(_) => {}
        }
        self.b.bind(done);
        Ok(())
    }

    /// r0 = log2 histogram bucket of the signed value in r1:
    /// 0 for negative, 1 for 0, and 2 + floor(log2(v)) for v >= 1.
    fn log2_bucket(&mut self) {
        let done = self.b.label();
        let positive = self.b.label();
        self.b.emit(insn::mov64_imm(R0, 0));
        self.b.jmp_imm(JmpOp::Jslt, R1, 0, done);
        self.b.emit(insn::mov64_imm(R0, 1));
        self.b.jmp_imm(JmpOp::Jeq, R1, 0, done);
        self.b.goto(positive);
        self.b.bind(positive);
        self.b.emit(insn::mov64_imm(R0, 2));
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.b.label();
            self.b.emit(insn::mov64_reg(R2, R1));
            self.b.emit(insn::alu64_imm(AluOp::Rsh, R2, shift));
            self.b.jmp_imm(JmpOp::Jeq, R2, 0, skip);
            self.b.emit(insn::mov64_reg(R1, R2));
            self.b.emit(insn::alu64_imm(AluOp::Add, R0, shift));
            self.b.bind(skip);
        }
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

    /// `delete(@m[k])`.
    pub(super) fn map_delete(&mut self, target: &Expr, span: Span) -> Result<(), CompileError> {
        let ExprKind::Map { name, keys } = &target.kind else {
            return Err(CompileError::new(
                target.span,
                "delete() takes a map element: delete(@m[key])",
            ));
        };
        let Some((map, def)) = self.map_kind(name) else {
            if self.g.discovery {
                return Ok(());
            }
            return Err(CompileError::new(
                target.span,
                format!("undefined map @{name}"),
            ));
        };
        if def.value.is_histogram() {
            return Err(CompileError::new(
                span,
                "delete() of a histogram element is not supported; use clear()",
            ));
        }
        let key = self.build_key(keys, 0, span)?;
        if !same_key_shape(&key.fields, &def.key) {
            return Err(CompileError::new(
                target.span,
                format!("map @{name} has keys [{}]", describe_key(&def.key)),
            ));
        }
        self.b.load_map(R1, map);
        self.b.emit(insn::mov64_reg(R2, R10));
        self.b
            .emit(insn::alu64_imm(AluOp::Add, R2, key.slot as i32));
        self.b.emit(insn::call(helper::MAP_DELETE_ELEM));
        Ok(())
    }

    /// `has_key(@m[k])`: 1 when present.
    pub(super) fn map_has_key(&mut self, target: &Expr, span: Span) -> Result<Val, CompileError> {
        let ExprKind::Map { name, keys } = &target.kind else {
            return Err(CompileError::new(
                target.span,
                "has_key() takes a map element: has_key(@m[key])",
            ));
        };
        let Some((map, _)) = self.map_kind(name) else {
            if self.g.discovery {
                return Ok(Val::Const(0, false));
            }
            return Err(CompileError::new(
                target.span,
                format!("undefined map @{name}"),
            ));
        };
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

    /// `print(@m)`, `clear(@m)`, `zero(@m)`: asks user space to do it.
    pub(super) fn map_command(
        &mut self,
        tag: u64,
        args: &[Expr],
        span: Span,
    ) -> Result<(), CompileError> {
        let Some(first) = args.first() else {
            return Err(CompileError::new(
                span,
                "this function needs a map argument",
            ));
        };
        let ExprKind::Map { name, keys } = &first.kind else {
            return Err(CompileError::new(first.span, "expected a map (@name)"));
        };
        if !keys.is_empty() {
            return Err(CompileError::new(
                first.span,
                "give the whole map (@name), not an element",
            ));
        }
        let id = match self.map_kind(name) {
            Some((id, _)) => id.0 as i64,
            None if self.g.discovery => 0,
            None => {
                return Err(CompileError::new(
                    first.span,
                    format!("undefined map @{name}"),
                ))
            }
        };
        let mut extra = [0i64; 2];
        for (i, a) in args[1..].iter().enumerate().take(2) {
            extra[i] = match self.expr(a)? {
                Val::Const(v, _) => v,
                _ => return Err(CompileError::new(a.span, "expected an integer constant")),
            };
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

fn describe_key(k: &[FieldKind]) -> String {
    k.iter()
        .map(|f| match f {
            FieldKind::Int { signed: true } => "int64",
            FieldKind::Int { signed: false } => "uint64",
            FieldKind::Str(_) => "string",
            FieldKind::ProbeName => "probe",
            FieldKind::UStack(_) => "ustack",
            FieldKind::USym => "usym",
            FieldKind::Buffer(_) => "buffer",
            FieldKind::Strftime(_) => "timestamp",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_value(v: ValueKind) -> String {
    match v {
        ValueKind::Int { .. } => "an integer".into(),
        ValueKind::Str(_) => "a string".into(),
        ValueKind::Count => "count()".into(),
        ValueKind::Sum => "sum()".into(),
        ValueKind::Min => "min()".into(),
        ValueKind::Max => "max()".into(),
        ValueKind::Avg => "avg()".into(),
        ValueKind::Stats => "stats()".into(),
        ValueKind::Hist => "hist()".into(),
        ValueKind::Lhist { .. } => "lhist()".into(),
    }
}

/// True when two key layouts agree, integers matching whatever their
/// signedness (bpftrace treats every integer key as 64-bit).
pub(super) fn same_key_shape(a: &[FieldKind], b: &[FieldKind]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (FieldKind::Int { .. }, FieldKind::Int { .. }) => true,
            _ => x == y,
        })
}
