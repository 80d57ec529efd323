//! The entry point: one program per probe block and attach kind, the maps
//! every program shares, and the finished [`CompiledScript`].

use std::collections::HashMap;

use ustrace_lang::ast::Script;

use crate::builder::MapId;
use crate::emit::ProgramCompiler;
use crate::options::*;
use crate::probes::{compile_trigger, compile_uprobe, compile_usdt, Context};
use crate::program::*;
use crate::CompileError;

/// Compiles `script`. `resolved[i][j]` is attach point `j` of probe block `i`.
pub fn compile(
    script: &Script,
    resolved: &[Vec<ResolvedAttach>],
    opts: &CompileOptions,
) -> Result<CompiledScript, CompileError> {
    // Pass 1 discovers every map's layout (a map may be read in a block
    // that comes before the one assigning it); pass 2 generates the code
    // with all layouts known.
    let discovered = compile_pass(script, resolved, opts, None)?;
    let mut out = compile_pass(script, resolved, opts, Some(discovered))?;
    // Without printf the ring buffer only carries rare control records
    // (exit, print, clear); a small one keeps the memory footprint small
    // (the kernel maps every page of it into our address space).
    if out.printfs.is_empty() {
        if let Some(ring) = out.maps.get_mut(out.ringbuf.0) {
            ring.max_entries = ring.max_entries.min(SMALL_RINGBUF_BYTES);
        }
    }
    Ok(out)
}

/// Ring buffer size for scripts that never call printf.
pub(crate) const SMALL_RINGBUF_BYTES: u32 = 64 << 10;

pub(crate) fn compile_pass(
    script: &Script,
    resolved: &[Vec<ResolvedAttach>],
    opts: &CompileOptions,
    known: Option<CompiledScript>,
) -> Result<CompiledScript, CompileError> {
    let discovery = known.is_none();
    let mut g = Globals {
        out: CompiledScript::default(),
        opts,
        user_maps: HashMap::new(),
        discovery,
    };
    g.out.ringbuf = g.add_map(MapDef {
        kind: MapKind::RingBuf,
        key_size: 0,
        value_size: 0,
        max_entries: opts.ringbuf_bytes,
        role: MapRole::Events,
    });
    g.out.lost_counter = g.add_map(MapDef {
        kind: MapKind::PerCpuArray,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        role: MapRole::LostCounter,
    });
    if let Some(known) = known {
        for m in known.maps.into_iter().skip(2) {
            if let MapRole::User(u) = &m.role {
                let name = u.name.clone();
                let id = g.add_map(m);
                g.user_maps.insert(name, id);
            }
        }
    }
    for (pi, probe) in script.probes.iter().enumerate() {
        let Some(res) = resolved.get(pi) else {
            return Err(CompileError::new(
                probe.span,
                "internal error: probe not resolved",
            ));
        };
        let mut usdt: Vec<&UsdtTarget> = Vec::new();
        let mut entries: Vec<&UprobeFunction> = Vec::new();
        let mut returns: Vec<&UprobeFunction> = Vec::new();
        for (ai, ap) in probe.attach_points.iter().enumerate() {
            match res.get(ai) {
                Some(ResolvedAttach::Begin) => {
                    g.out.attach_count += 1;
                    compile_trigger(&mut g, probe, ProgramTarget::Begin, "BEGIN")?
                }
                Some(ResolvedAttach::End) => {
                    g.out.attach_count += 1;
                    compile_trigger(&mut g, probe, ProgramTarget::End, "END")?
                }
                Some(ResolvedAttach::Interval { period_ns }) => {
                    g.out.attach_count += 1;
                    compile_trigger(
                        &mut g,
                        probe,
                        ProgramTarget::Interval {
                            period_ns: *period_ns,
                        },
                        &ap.raw,
                    )?
                }
                Some(ResolvedAttach::Usdt(targets)) => {
                    g.out.attach_count += targets.len();
                    usdt.extend(targets.iter());
                }
                Some(ResolvedAttach::Profile { hz, period_ns }) => {
                    g.out.attach_count += 1;
                    let probe_id = g.probe_id(&ap.raw);
                    let target = ProgramTarget::Profile {
                        hz: *hz,
                        period_ns: *period_ns,
                    };
                    // Samples every task: filtered by -p like a uprobe.
                    let program = ProgramCompiler::new(&mut g, Context::Trigger { probe_id }, true)
                        .compile(probe, "profile".to_string(), target)?;
                    g.out.programs.push(program);
                }
                Some(ResolvedAttach::Uprobe(functions)) => {
                    g.out.attach_count += functions.len();
                    for f in functions {
                        if f.is_return {
                            returns.push(f);
                        } else {
                            entries.push(f);
                        }
                    }
                }
                None => {
                    return Err(CompileError::new(
                        ap.span,
                        "internal error: attach point not resolved",
                    ))
                }
            }
        }
        if !usdt.is_empty() {
            compile_usdt(&mut g, probe, &usdt)?;
        }
        if !entries.is_empty() {
            compile_uprobe(&mut g, probe, &entries, false)?;
        }
        if !returns.is_empty() {
            compile_uprobe(&mut g, probe, &returns, true)?;
        }
    }
    Ok(g.out)
}

/// State shared by all programs of a script.
pub(crate) struct Globals<'a> {
    pub(crate) out: CompiledScript,
    pub(crate) opts: &'a CompileOptions,
    pub(crate) user_maps: HashMap<String, MapId>,
    /// True in the first pass, which only learns map layouts.
    pub(crate) discovery: bool,
}

impl Globals<'_> {
    pub(crate) fn add_map(&mut self, def: MapDef) -> MapId {
        self.out.maps.push(def);
        MapId(self.out.maps.len() - 1)
    }

    /// The stack trace map of `ustack`, created on first use.
    pub(crate) fn stack_map(&mut self) -> MapId {
        if let Some(i) = self
            .out
            .maps
            .iter()
            .position(|m| m.role == MapRole::StackTraces)
        {
            return MapId(i);
        }
        self.add_map(MapDef {
            kind: MapKind::StackTrace,
            key_size: 4,
            value_size: 8 * USTACK_MAX_DEPTH as u32,
            max_entries: 4096,
            role: MapRole::StackTraces,
        })
    }

    /// The map holding the session's start time, created on first use.
    pub(crate) fn start_time_map(&mut self) -> MapId {
        if let Some(i) = self
            .out
            .maps
            .iter()
            .position(|m| m.role == MapRole::StartTime)
        {
            return MapId(i);
        }
        self.add_map(MapDef {
            kind: MapKind::Array,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            role: MapRole::StartTime,
        })
    }

    pub(crate) fn probe_id(&mut self, name: &str) -> usize {
        if let Some(i) = self.out.probe_names.iter().position(|n| n == name) {
            return i;
        }
        self.out.probe_names.push(name.to_string());
        self.out.probe_names.len() - 1
    }
}
