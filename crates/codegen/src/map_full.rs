//! Updates that fail because a `@map` is full are counted in BPF, per map
//! and per CPU, so that user space can say how many were dropped (as
//! bpftrace reports full maps). One per-CPU array, created on first use,
//! indexed by the map's [`MapId`]; [`MapRole::DroppedUpdates`].

use ustrace_lang::ast::Span;

use super::{Globals, ProgramCompiler};
use crate::builder::MapId;
use crate::insn::{self, helper, AluOp, JmpOp, R0, R1, R10, R2};
use crate::program::{MapDef, MapKind, MapRole};
use crate::CompileError;

/// How many maps the counter array has room for (a map with a higher id
/// is not counted).
pub const DROPPED_UPDATES_SLOTS: u32 = 1024;

impl Globals<'_> {
    /// The per-CPU array of failed-update counts, created on first use.
    pub(super) fn dropped_updates_map(&mut self) -> MapId {
        if let Some(i) = self
            .out
            .maps
            .iter()
            .position(|m| m.role == MapRole::DroppedUpdates)
        {
            return MapId(i);
        }
        self.add_map(MapDef {
            kind: MapKind::PerCpuArray,
            key_size: 4,
            value_size: 8,
            max_entries: DROPPED_UPDATES_SLOTS,
            role: MapRole::DroppedUpdates,
        })
    }
}

impl ProgramCompiler<'_, '_> {
    /// Emits `dropped[map] += 1` (for the path where an update of `map`
    /// failed). Clobbers r0-r5.
    pub(super) fn count_failed_update(
        &mut self,
        map: MapId,
        span: Span,
    ) -> Result<(), CompileError> {
        let counters = self.g.dropped_updates_map();
        let key = self.alloc_tmp(8, span)?;
        let done = self.b.label();
        self.b.emit(insn::st_imm(8, R10, key, map.0 as i32));
        self.b.load_map(R1, counters);
        self.b.emit(insn::mov64_reg(R2, R10));
        self.b.emit(insn::alu64_imm(AluOp::Add, R2, key as i32));
        self.b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, done);
        self.b.emit(insn::mov64_imm(R1, 1));
        self.b.emit(insn::atomic_add64(R0, 0, R1));
        self.b.bind(done);
        Ok(())
    }
}
