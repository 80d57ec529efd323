//! Updates that fail because a `@map` is full. Each is counted in BPF, per
//! map ([`MapRole::DroppedUpdates`], one array entry holding a u64 counter
//! per map id), and reported at run time as bpftrace reports a failed
//! `map_update_elem`: a warning at the script location of the update,
//! `stdin:1:26-35: WARNING: Map full; can't update element. ...` followed by
//! `Additional Info - helper: 2, retcode: -7`. bpftrace sends one such
//! record per failure; ustrace sends it once per update site (a flag per
//! site after the counters), so a busy probe cannot flood the output.

use ustrace_lang::ast::Span;

use super::ProgramCompiler;
use crate::builder::MapId;
use crate::driver::Globals;
use crate::insn::{self, JmpOp, R1, R2};
use crate::program::{MapDef, MapKind, MapRole, PrintfDef, PrintfKind, FAILED_READS_SLOT};
use crate::CompileError;

/// How many maps the counters have room for (a map with a higher id is
/// not counted).
pub(crate) const DROPPED_UPDATES_SLOTS: u32 = FAILED_READS_SLOT;

/// How many update sites have a "reported" flag of their own (sites beyond
/// share the last flag: the first of them to fail reports).
const REPORTED_SITE_SLOTS: u32 = 256;

/// The first site flag's slot (after the failed-read counter).
const FIRST_SITE_SLOT: u32 = FAILED_READS_SLOT + 1;

/// The kernel's `-E2BIG`: what `map_update_elem` returns on a full map.
const E2BIG: i32 = -7;

/// `BPF_FUNC_map_update_elem`, named in the warning as bpftrace names it.
const MAP_UPDATE_ELEM_ID: i32 = 2;

/// bpftrace's wording for a full map (its helper-error output).
const MAP_FULL_MESSAGE: &str = "Map full; can't update element. Try increasing max_map_keys config or manually setting the max entries in a map declaration e.g. `let @a = hash(5000)`";

/// Whether `def` is the full-map warning (a rare record, sent at most once
/// per update site).
pub(crate) fn is_full_map_warning(def: &PrintfDef) -> bool {
    matches!(def.kind, PrintfKind::Warning { .. }) && def.format.starts_with(MAP_FULL_MESSAGE)
}

impl Globals<'_> {
    /// The failed-update counters and site flags, created on first use.
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
            value_size: 8 * (FIRST_SITE_SLOT + REPORTED_SITE_SLOTS),
            max_entries: 1,
            role: MapRole::DroppedUpdates,
        })
    }
}

impl ProgramCompiler<'_, '_> {
    /// Emits `dropped[map] += 1` and, the first time this site fails, the
    /// full-map warning at `span` (for the path where an update of `map`
    /// failed). Clobbers r0-r5.
    pub(super) fn count_failed_update(
        &mut self,
        map: MapId,
        span: Span,
    ) -> Result<(), CompileError> {
        let counters = self.g.dropped_updates_map();
        if map.0 < DROPPED_UPDATES_SLOTS as usize {
            self.b.load_map_value(R1, counters, 8 * map.0 as i32);
            self.b.emit(insn::mov64_imm(R2, 1));
            self.b.emit(insn::atomic_add64(R1, 0, R2));
        }
        let site = self.g.full_map_sites.min(REPORTED_SITE_SLOTS - 1);
        self.g.full_map_sites = self.g.full_map_sites.saturating_add(1);
        let reported = self.b.label();
        self.b
            .load_map_value(R1, counters, 8 * (FIRST_SITE_SLOT + site) as i32);
        self.b.emit(insn::ldx(8, R2, R1, 0));
        self.b.jmp_imm(JmpOp::Jne, R2, 0, reported);
        self.b.emit(insn::st_imm(8, R1, 0, 1));
        self.emit_printf(
            format!(
                "{MAP_FULL_MESSAGE}\nAdditional Info - helper: {MAP_UPDATE_ELEM_ID}, retcode: {E2BIG}"
            ),
            Vec::new(),
            PrintfKind::Warning {
                start: span.start,
                end: span.end,
            },
            span,
        )?;
        self.b.bind(reported);
        Ok(())
    }
}
