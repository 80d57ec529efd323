//! The entry point, in passes: plan the programs (one per probe block and
//! attach kind, [`crate::probes`]), check them ([`crate::sema`]: types,
//! scopes, map layouts), then emit each once ([`crate::emit`]) into the
//! [`CompiledScript`] the runtime loads.

use std::collections::HashMap;

use ustrace_lang::ast::{number_exprs, MapDecl, Script};

use crate::builder::MapId;
use crate::emit::ProgramCompiler;
use crate::options::*;
use crate::probes::plan_programs;
use crate::program::*;
use crate::sema;
use crate::CompileError;

/// Most entries a script map holds (bpftrace's default).
const MAP_MAX_ENTRIES: u32 = 4096;

/// Ring buffer size for scripts that never call printf.
const SMALL_RINGBUF_BYTES: u32 = 64 << 10;

/// Compiles `script`. `resolved[i][j]` is attach point `j` of probe block `i`.
pub fn compile(
    script: &Script,
    resolved: &[Vec<ResolvedAttach>],
    opts: &CompileOptions,
) -> Result<CompiledScript, CompileError> {
    // Every expression gets its own id: the passes key their types by it.
    let mut script = script.clone();
    number_exprs(&mut script);
    let mut out = CompiledScript::default();
    let plans = plan_programs(&script, resolved, opts, &mut out)?;
    let analysis =
        sema::analyze(&plans, opts, &out.probe_names).map_err(|e| mention_macros(e, &script))?;
    let mut g = Globals {
        out,
        opts,
        user_maps: HashMap::new(),
        full_map_sites: 0,
    };
    g.out.ringbuf = g.add_map(MapDef {
        kind: MapKind::RingBuf,
        key_size: 0,
        value_size: 0,
        max_entries: opts.ringbuf_bytes,
        role: MapRole::Events,
    });
    // One counter for all CPUs, incremented atomically on the (rare) full
    // ring buffer path and read by the runtime like a per-CPU one.
    g.out.lost_counter = g.add_map(MapDef {
        kind: MapKind::Array,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        role: MapRole::LostCounter,
    });
    // A program that is checked but not emitted may have numbered some
    // formats: the emitted ones keep the numbers their types carry.
    g.out.strftime_formats = analysis.strftime_formats;
    g.out.warnings = analysis
        .discarded
        .iter()
        .map(|&span| (span, DISCARDED.to_string()))
        .collect();
    let maps = analysis.maps;
    for map in maps {
        let name = map.name.clone();
        let mut def = user_map_def(map);
        declared(&mut def, &name, &script.map_decls)?;
        let id = g.add_map(def);
        g.user_maps.insert(name, id);
    }
    for (plan, types) in plans.into_iter().zip(analysis.programs) {
        if plan.does_nothing() || !plan.attached {
            continue;
        }
        let program = ProgramCompiler::new(&mut g, plan.ctx, plan.pid_filter, types).compile(
            plan.probe,
            plan.name,
            plan.target,
        )?;
        g.out.programs.push(program);
    }
    let mut out = g.out;
    // Without printf the ring buffer only carries rare control records
    // (exit, print, clear, the first full-map warning of each update
    // site); a small one keeps the memory footprint small (the kernel maps
    // every page of it into our address space).
    if out
        .printfs
        .iter()
        .all(crate::emit::map_full::is_full_map_warning)
    {
        if let Some(ring) = out.maps.get_mut(out.ringbuf.0) {
            ring.max_entries = ring.max_entries.min(SMALL_RINGBUF_BYTES);
        }
    }
    Ok(out)
}

/// bpftrace's warning, word for word, for an expression statement whose
/// value is dropped (`strlen($s);`).
const DISCARDED: &str = "Return value discarded.";

/// The kernel map of a script map: a hash map for assigned values, a
/// per-CPU hash map for aggregations; histograms add a bucket to the key.
fn user_map_def(map: UserMap) -> MapDef {
    let key_body: usize = if map.key.is_empty() {
        8
    } else {
        map.key.iter().map(|f| f.size()).sum()
    };
    let key_size = key_body + if map.value.has_index_key() { 8 } else { 0 };
    MapDef {
        kind: if map.value.per_cpu() {
            MapKind::PerCpuHash
        } else {
            MapKind::Hash
        },
        key_size: key_size as u32,
        value_size: map.value.size() as u32,
        max_entries: MAP_MAX_ENTRIES,
        role: MapRole::User(map),
    }
}

/// A map's kernel type and size from its declaration (`let @m =
/// lruhash(100);`), if it has one. Aggregations keep one value per CPU
/// in any declared kind; a per-CPU kind holds aggregations only.
fn declared(def: &mut MapDef, name: &str, decls: &[MapDecl]) -> Result<(), CompileError> {
    let Some(decl) = decls.iter().find(|d| format!("@{}", d.name) == name) else {
        return Ok(());
    };
    let per_cpu = matches!(def.kind, MapKind::PerCpuHash);
    if decl.kind.per_cpu() && !per_cpu {
        return Err(CompileError::new(
            decl.span,
            format!(
                "{name} is declared per-CPU but is assigned values: a per-CPU map holds aggregations (count(), sum(), min(), max(), avg(), stats(), hist(), lhist())"
            ),
        ));
    }
    def.kind = match (per_cpu, decl.kind.lru()) {
        (true, true) => MapKind::LruPerCpuHash,
        (true, false) => MapKind::PerCpuHash,
        (false, true) => MapKind::LruHash,
        (false, false) => MapKind::Hash,
    };
    def.max_entries = decl.max_entries;
    Ok(())
}

/// State shared by all programs of a script.
pub(crate) struct Globals<'a> {
    /// The script compiled so far.
    pub(crate) out: CompiledScript,
    /// Compile settings.
    pub(crate) opts: &'a CompileOptions,
    /// Script maps by name (with `@`).
    pub(crate) user_maps: HashMap<String, MapId>,
    /// Update sites of `@maps` that report a full map, numbered so far.
    pub(crate) full_map_sites: u32,
}

impl Globals<'_> {
    /// Adds a map; returns its id.
    pub(crate) fn add_map(&mut self, def: MapDef) -> MapId {
        self.out.maps.push(def);
        MapId(self.out.maps.len() - 1)
    }

    /// The map of `def`'s role, created from `def` on first use (maps
    /// every program of the script shares, such as scratch space).
    pub(crate) fn shared_map(&mut self, def: MapDef) -> MapId {
        match self.out.maps.iter().position(|m| m.role == def.role) {
            Some(i) => MapId(i),
            None => self.add_map(def),
        }
    }

    /// The stack trace map of `ustack`, created on first use.
    pub(crate) fn stack_map(&mut self) -> MapId {
        self.shared_map(MapDef {
            kind: MapKind::StackTrace,
            key_size: 4,
            value_size: 8 * USTACK_MAX_DEPTH as u32,
            max_entries: 4096,
            role: MapRole::StackTraces,
        })
    }

    /// The maps of the unwind-table stack walker, created on first use.
    pub(crate) fn unwind_maps(&mut self) -> crate::unwind::UnwindMaps {
        let ids: Vec<MapId> = crate::unwind::map_defs()
            .into_iter()
            .map(|def| self.shared_map(def))
            .collect();
        crate::unwind::UnwindMaps {
            stacks: ids[0],
            rows: ids[1],
            mappings: ids[2],
            scratch: ids[3],
            files: ids[4],
            log: self.mapping_log(),
        }
    }

    /// The mapping log and file names (crate::unwind::mapping_log_defs),
    /// created on first use.
    pub(crate) fn mapping_log(&mut self) -> crate::unwind::LogMaps {
        let ids: Vec<MapId> = crate::unwind::mapping_log_defs()
            .into_iter()
            .map(|def| self.shared_map(def))
            .collect();
        crate::unwind::LogMaps {
            mappings: ids[0],
            names: ids[1],
            scratch: ids[2],
        }
    }

    /// The map holding the session's start time, created on first use.
    pub(crate) fn start_time_map(&mut self) -> MapId {
        self.shared_map(MapDef {
            kind: MapKind::Array,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            role: MapRole::StartTime,
        })
    }
}

/// An unknown function in a script that defines macros may be a
/// misspelt macro: say so, with the nearest macro name.
fn mention_macros(mut e: CompileError, script: &Script) -> CompileError {
    if script.macros.is_empty() {
        return e;
    }
    let Some(name) = e
        .message
        .strip_prefix("unknown function `")
        .and_then(|rest| rest.strip_suffix('`'))
    else {
        return e;
    };
    let names: Vec<&str> = script.macros.iter().map(|m| m.name.as_str()).collect();
    let nearest = ustrace_lang::diag::suggest(name, &names);
    e.message = match nearest {
        Some(m) => format!("unknown function or macro `{name}` (did you mean the macro `{m}`?)"),
        None => format!("unknown function or macro `{name}`"),
    };
    e
}
