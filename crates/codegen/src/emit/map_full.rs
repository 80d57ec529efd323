//! Updates that fail because a `@map` is full are counted in BPF, per map,
//! so that user space can say how many were dropped (as bpftrace reports
//! full maps). One array entry holds a u64 counter per map id
//! ([`MapRole::DroppedUpdates`]); the program addresses its map's counter
//! directly (no lookup) and adds 1 atomically on that rare path.

use ustrace_lang::ast::Span;

use super::ProgramCompiler;
use crate::builder::MapId;
use crate::driver::Globals;
use crate::insn::{self, R1, R2};
use crate::program::{MapDef, MapKind, MapRole, FAILED_READS_SLOT};
use crate::CompileError;

/// How many maps the counters have room for (a map with a higher id is
/// not counted).
pub(crate) const DROPPED_UPDATES_SLOTS: u32 = FAILED_READS_SLOT;

impl Globals<'_> {
    /// The failed-update counters, created on first use.
    pub(crate) fn dropped_updates_map(&mut self) -> MapId {
        if let Some(i) = self
            .out
            .maps
            .iter()
            .position(|m| m.role == MapRole::DroppedUpdates)
        {
            return MapId(i);
        }
        self.add_map(MapDef {
            kind: MapKind::Array,
            key_size: 4,
            value_size: 8 * (DROPPED_UPDATES_SLOTS + 1),
            max_entries: 1,
            role: MapRole::DroppedUpdates,
        })
    }
}

impl ProgramCompiler<'_, '_> {
    /// Emits `dropped[map] += 1` (for the path where an update of `map`
    /// failed). Clobbers r1 and r2.
    pub(super) fn count_failed_update(
        &mut self,
        map: MapId,
        _span: Span,
    ) -> Result<(), CompileError> {
        if map.0 >= DROPPED_UPDATES_SLOTS as usize {
            return Ok(());
        }
        let counters = self.g.dropped_updates_map();
        self.b.load_map_value(R1, counters, 8 * map.0 as i32);
        self.b.emit(insn::mov64_imm(R2, 1));
        self.b.emit(insn::atomic_add64(R1, 0, R2));
        Ok(())
    }
}
