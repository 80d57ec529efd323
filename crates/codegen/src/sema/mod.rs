//! The semantic pass: names, scopes and the type of every expression, and
//! the layout of every map, decided once before any code is emitted.
//!
//! The pass walks each planned program (a probe block in one attach
//! context) the way the emitter will, computing types instead of code.
//! Scratch variables (`$x`) are scoped to one program and take the type of
//! their first assignment. Maps are global: the first use fixes a map's
//! key and value kinds, later uses must agree (integers unify, signed
//! wins). A map may be read in a block that comes before the one that
//! assigns it, so the walk repeats until the map table stops changing (two
//! walks for most scripts); reads of a map no walk ever assigns are errors.
//!
//! Every type error of the compiler comes from here, with the span of the
//! offending text. The emitter then trusts the types and the map table.

pub(crate) mod expr;
mod maps;
mod stmt;
mod tseries;
mod type_of;
pub(crate) mod types;

use std::collections::HashMap;

use ustrace_lang::ast::{Expr, ExprId, Span};

use crate::options::CompileOptions;
use crate::probes::{Context, ProgramPlan};
use crate::program::UserMap;
use crate::CompileError;
pub(crate) use maps::{value_type, whole_map_argument};
pub(crate) use types::{Type, Typed};

/// The most walks before map layouts must have settled.
const MAX_WALKS: usize = 8;

/// What the semantic pass decided for the whole script.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    /// Every script map with its final layout, in order of first use.
    pub(crate) maps: Vec<UserMap>,
    /// The types of each planned program, in the order of the plans.
    pub(crate) programs: Vec<ProgramTypes>,
    /// strftime formats, numbered as the checked types (`Timestamp(i)`)
    /// refer to them; the emitter starts from this table.
    pub(crate) strftime_formats: Vec<String>,
    /// Expression statements whose value is dropped, in source order,
    /// each once.
    pub(crate) discarded: Vec<Span>,
}

/// The types the semantic pass decided for one program: of every
/// expression (by [`ExprId`]) and of every scratch variable. The emitter
/// reads them instead of working types out again.
#[derive(Debug, Default, Clone)]
pub(crate) struct ProgramTypes {
    /// Indexed by expression id.
    exprs: Vec<Option<Typed>>,
    /// Scratch variables by name (without `$`).
    pub(crate) vars: HashMap<String, Type>,
    /// The size of the largest string assigned to each string variable
    /// (NUL included): bpftrace's type of the variable, which `strcap()`
    /// gives (the buffer itself is at least `max_strlen` bytes).
    pub(crate) var_caps: HashMap<String, usize>,
    /// Expression statements whose value is dropped (bpftrace's "Return
    /// value discarded." warning).
    pub(crate) discarded: Vec<Span>,
}

impl ProgramTypes {
    /// Records the type of expression `id` (the last record wins: a
    /// repeated walk of a loop body sees the final types).
    fn record(&mut self, id: ExprId, t: &Typed) {
        if id == ExprId::UNNUMBERED {
            return;
        }
        let at = id.0 as usize;
        if self.exprs.len() <= at {
            self.exprs.resize(at + 1, None);
        }
        self.exprs[at] = Some(t.clone());
    }

    /// The type of `e`; an internal error for an expression the semantic
    /// pass never saw.
    pub(crate) fn of(&self, e: &Expr) -> Result<&Typed, CompileError> {
        self.exprs
            .get(e.id.0 as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| {
                CompileError::new(
                    e.span,
                    "internal error: expression not typed by the semantic pass",
                )
            })
    }
}

/// Checks every planned program; returns the map table the emitter uses.
pub(crate) fn analyze(
    plans: &[ProgramPlan],
    opts: &CompileOptions,
    probe_names: &[String],
) -> Result<Analysis, CompileError> {
    let mut maps = MapTable::default();
    let mut programs = Vec::new();
    for walk in 0..MAX_WALKS {
        let before = maps.clone();
        programs.clear();
        for plan in plans {
            let mut c = Checker {
                opts,
                ctx: &plan.ctx,
                probe_names,
                maps: &mut maps,
                lenient: walk == 0,
                types: ProgramTypes::default(),
                loop_depth: 0,
                typed_vars: crate::typed::vars::typed_vars(&plan.ctx, opts, plan.probe),
            };
            c.program(plan)?;
            programs.push(c.types);
        }
        if walk > 0 && maps == before {
            break;
        }
    }
    let mut discarded: Vec<Span> = programs
        .iter()
        .flat_map(|p| p.discarded.iter().copied())
        .collect();
    discarded.sort_by_key(|s| (s.start, s.end));
    discarded.dedup();
    Ok(Analysis {
        maps: maps.maps,
        programs,
        strftime_formats: maps.strftime_formats,
        discarded,
    })
}

/// Script maps by name (with `@`), in order of first use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MapTable {
    pub(crate) maps: Vec<UserMap>,
    /// strftime formats, by index (as the emitter numbers them).
    pub(crate) strftime_formats: Vec<String>,
}

/// The checker of one program.
pub(crate) struct Checker<'a> {
    /// Compile settings (positional parameters, `-c`, `--unsafe`, ...).
    pub(crate) opts: &'a CompileOptions,
    /// Where the program runs.
    pub(crate) ctx: &'a Context,
    /// Probe names, for messages about arguments.
    pub(crate) probe_names: &'a [String],
    /// Every map's layout so far.
    pub(crate) maps: &'a mut MapTable,
    /// True in the first walk, when a map read before the block that
    /// assigns it is not yet an error.
    pub(crate) lenient: bool,
    /// The types decided so far (scratch variables included).
    pub(crate) types: ProgramTypes,
    /// Nesting of `while`/`unroll` (for `break`/`continue`).
    pub(crate) loop_depth: usize,
    /// Scratch variables holding a value of a traced program's type.
    pub(crate) typed_vars: crate::typed::vars::TypedVars,
}

impl Checker<'_> {
    fn program(&mut self, plan: &ProgramPlan) -> Result<(), CompileError> {
        if let Some(pred) = &plan.probe.predicate {
            let t = self.expr(pred)?;
            self.truth(&t, pred.span)?;
        }
        self.block(&plan.probe.body)
    }

    /// Size of string fields in maps (keys and values): one size for all,
    /// so every use of a map agrees on its layout.
    pub(crate) fn map_str_len(&self) -> usize {
        (self.opts.str_len.max(16) + 7) & !7
    }
}
