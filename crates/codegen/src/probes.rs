//! Probe kinds: which programs a script needs. Every attach point of a
//! block is turned into a [`ProgramPlan`]: a trigger program (BEGIN, END,
//! interval), a profile sampler, or one program for all USDT or uprobe
//! sites of the block, told apart by cookie. The plan's [`Context`] tells
//! the semantic pass and the emitter what `argN`, `probe`, `func` and
//! `retval` mean there.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ustrace_dwarf::Function;
use ustrace_lang::ast::{AttachKind, AttachPoint, Probe, Script, UprobeTarget};
use ustrace_probes::{ArgLocation, ArgSpec, Register, RegisterOperand};

use crate::options::*;
use crate::program::*;
use crate::CompileError;

/// What kind of program is being compiled (decides what `argN` means).
pub(crate) enum Context {
    /// BEGIN, END, interval, profile: `probe` is constant, no arguments.
    Trigger { probe_id: usize },
    /// A USDT program or uprobe program; sites indexed by cookie. For
    /// uprobes, each site's "specs" are the calling convention's argument
    /// registers, and `on_return` tells whether `retval` exists.
    Usdt {
        sites: Vec<SiteInfo>,
        on_return: Option<bool>,
    },
}

/// One attach site of a USDT or uprobe program.
pub(crate) struct SiteInfo {
    /// The site's probe name (index into the probe name table).
    pub(crate) probe_id: usize,
    /// The traced function's name in the string table (uprobes; `func`).
    pub(crate) func_id: Option<usize>,
    /// Link-time address of the site (static USDT operands).
    pub(crate) pc: u64,
    /// Argument specs; an `Err` says why the argument is unreadable.
    pub(crate) args: Vec<Result<ArgSpec, String>>,
    /// Uprobes: the function's debug information (`args`, typed
    /// `retval`); `None` where `args` means nothing.
    pub(crate) debug: Option<SiteDebug>,
}

/// A uprobe site's debug information: its file's, and the function's
/// file offset in it.
pub(crate) struct SiteDebug {
    /// The file's types, or why it has none.
    pub(crate) types: Result<Arc<TracedTypes>, String>,
    /// The probed function's file offset.
    pub(crate) file_offset: u64,
}

impl SiteDebug {
    /// The file's types and the probed function, or why there are none.
    pub(crate) fn function(&self) -> Result<(&Arc<TracedTypes>, &Function), String> {
        let prog = self.types.as_ref().map_err(|e| e.clone())?;
        match prog.functions.get(&self.file_offset) {
            Some(Ok(f)) => Ok((prog, f)),
            Some(Err(e)) => Err(e.clone()),
            None => Err("no debug information was read for this function".to_string()),
        }
    }
}

/// One program to generate: a probe block in one attach context.
pub(crate) struct ProgramPlan<'s> {
    /// The block.
    pub(crate) probe: &'s Probe,
    /// What the block's builtins mean here.
    pub(crate) ctx: Context,
    /// A short program name (shown by bpftool).
    pub(crate) name: String,
    /// Where the program attaches.
    pub(crate) target: ProgramTarget,
    /// True when the program itself must compare the pid with `-p`'s:
    /// samplers see every task. uprobe links filter by pid in the kernel,
    /// and trigger programs run in ustrace's own process.
    pub(crate) pid_filter: bool,
    /// False for a block whose attach points were all skipped: it is
    /// checked (its maps and types count) but never emitted nor attached.
    pub(crate) attached: bool,
}

/// The System V x86-64 integer argument registers, in order.
const ARG_REGISTERS: [Register; 6] = [
    Register::Rdi,
    Register::Rsi,
    Register::Rdx,
    Register::Rcx,
    Register::R8,
    Register::R9,
];

/// Why `argN` cannot be read in a uretprobe.
const RETURN_ARGS: &str = "arguments are not available in a uretprobe (use retval)";

/// Most arguments a USDT probe has (the `sys/sdt.h` macros go up to 12).
const USDT_MAX_ARGS: usize = 12;

/// The programs of `script` in load order; registers probe names in
/// `out.probe_names` and counts attach points in `out.attach_count`.
pub(crate) fn plan_programs<'s>(
    script: &'s Script,
    resolved: &[Vec<ResolvedAttach>],
    opts: &CompileOptions,
    out: &mut CompiledScript,
) -> Result<Vec<ProgramPlan<'s>>, CompileError> {
    let mut plans = Vec::new();
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
        let mut skipped: Vec<&AttachPoint> = Vec::new();
        let plans_before = plans.len();
        for (ai, ap) in probe.attach_points.iter().enumerate() {
            let trigger = |out: &mut CompiledScript, name: &str, prog: &str, target| {
                out.attach_count += 1;
                ProgramPlan {
                    probe,
                    ctx: Context::Trigger {
                        probe_id: probe_id(out, name),
                    },
                    name: prog.to_string(),
                    target,
                    pid_filter: false,
                    attached: true,
                }
            };
            match res.get(ai) {
                Some(ResolvedAttach::Begin) => {
                    plans.push(trigger(out, "BEGIN", "BEGIN", ProgramTarget::Begin))
                }
                Some(ResolvedAttach::End) => {
                    plans.push(trigger(out, "END", "END", ProgramTarget::End))
                }
                Some(ResolvedAttach::Interval { period_ns }) => plans.push(trigger(
                    out,
                    &ap.raw,
                    "interval",
                    ProgramTarget::Interval {
                        period_ns: *period_ns,
                    },
                )),
                Some(ResolvedAttach::Profile { hz, period_ns }) => {
                    let target = ProgramTarget::Profile {
                        hz: *hz,
                        period_ns: *period_ns,
                    };
                    let mut plan = trigger(out, &ap.raw, "profile", target);
                    // Samples every task: filtered by -p in the program.
                    plan.pid_filter = true;
                    plans.push(plan);
                }
                Some(ResolvedAttach::Usdt(targets)) => {
                    out.attach_count += targets.len();
                    usdt.extend(targets.iter());
                }
                Some(ResolvedAttach::Uprobe(functions)) => {
                    out.attach_count += functions.len();
                    for f in functions {
                        if f.is_return {
                            returns.push(f);
                        } else {
                            entries.push(f);
                        }
                    }
                }
                Some(ResolvedAttach::Skipped) => skipped.push(ap),
                None => {
                    return Err(CompileError::new(
                        ap.span,
                        "internal error: attach point not resolved",
                    ))
                }
            }
        }
        if !usdt.is_empty() {
            plans.push(plan_usdt(out, probe, &usdt));
        }
        if !entries.is_empty() {
            plans.push(plan_uprobe(out, probe, &entries, false, opts));
        }
        if !returns.is_empty() {
            plans.push(plan_uprobe(out, probe, &returns, true, opts));
        }
        if plans.len() == plans_before {
            if let Some(ap) = skipped.first() {
                plans.push(plan_skipped(out, probe, ap)?);
            }
        }
    }
    Ok(plans)
}

/// The check-only program of a block whose attach points were all
/// skipped, shaped after its first one: one site named as written, whose
/// `argN` are 64-bit registers (the real arguments are unknown), with
/// `func` (uprobes) the function as written and no debug information.
/// Never emitted nor attached.
fn plan_skipped<'s>(
    out: &mut CompiledScript,
    probe: &'s Probe,
    ap: &AttachPoint,
) -> Result<ProgramPlan<'s>, CompileError> {
    let unknown = || {
        format!(
            "`{}` was skipped (it matches nothing), so its argument types are unknown",
            ap.raw
        )
    };
    let (args, func_id, on_return, debug) = match &ap.kind {
        AttachKind::Usdt { .. } => (
            std::iter::repeat_with(|| Ok(u64_register(Register::Rdi)))
                .take(USDT_MAX_ARGS)
                .collect(),
            None,
            None,
            None,
        ),
        AttachKind::Uprobe {
            target, is_return, ..
        } => {
            let function = match target {
                UprobeTarget::Symbol { name, .. } => name.clone(),
                UprobeTarget::Address(addr) => format!("{addr:#x}"),
            };
            let args = if *is_return {
                vec![Err(RETURN_ARGS.to_string())]
            } else {
                ARG_REGISTERS.iter().map(|&r| Ok(u64_register(r))).collect()
            };
            let debug = SiteDebug {
                types: Err(unknown()),
                file_offset: 0,
            };
            (
                args,
                Some(probe_id(out, &function)),
                Some(*is_return),
                Some(debug),
            )
        }
        _ => {
            return Err(CompileError::new(
                ap.span,
                "internal error: only uprobe and usdt attach points are skipped",
            ))
        }
    };
    let site = SiteInfo {
        probe_id: probe_id(out, &ap.raw),
        func_id,
        pc: 0,
        args,
        debug,
    };
    let mut plan = plan_sites(
        probe,
        ap.raw.clone(),
        BTreeMap::new(),
        vec![site],
        on_return,
    );
    plan.attached = false;
    Ok(plan)
}

/// An 8-byte unsigned argument held in register `reg`.
fn u64_register(reg: Register) -> ArgSpec {
    ArgSpec {
        size: 8,
        signed: false,
        location: ArgLocation::Register(RegisterOperand {
            reg,
            width: 8,
            high_byte: false,
        }),
    }
}

/// The index of `name` in the probe name table, added when new.
fn probe_id(out: &mut CompiledScript, name: &str) -> usize {
    if let Some(i) = out.probe_names.iter().position(|n| n == name) {
        return i;
    }
    out.probe_names.push(name.to_string());
    out.probe_names.len() - 1
}

/// All USDT probes of a block: one program, one site per probe location.
fn plan_usdt<'s>(
    out: &mut CompiledScript,
    probe: &'s Probe,
    targets: &[&UsdtTarget],
) -> ProgramPlan<'s> {
    let mut sites = Vec::new();
    let mut files: BTreeMap<PathBuf, Vec<UprobeSite>> = BTreeMap::new();
    for t in targets {
        let probe_name = format!("usdt:{}:{}:{}", t.display_path, t.provider, t.name);
        let probe_id = probe_id(out, &probe_name);
        for s in &t.sites {
            let cookie = sites.len() as u64;
            sites.push(SiteInfo {
                probe_id,
                func_id: None,
                pc: s.pc,
                args: s.args.clone(),
                debug: None,
            });
            files.entry(t.path.clone()).or_default().push(UprobeSite {
                offset: s.file_offset,
                ref_ctr_offset: s.semaphore_offset,
                cookie,
            });
        }
    }
    let name = targets
        .first()
        .map(|t| t.name.clone())
        .unwrap_or_else(|| "usdt".to_string());
    plan_sites(probe, name, files, sites, None)
}

/// The program of a block's USDT or uprobe sites: one uprobe_multi target
/// per file, sites told apart by cookie. `on_return` is `None` for USDT,
/// else whether the uprobes fire on return. The link filters by pid.
fn plan_sites<'s>(
    probe: &'s Probe,
    name: String,
    files: BTreeMap<PathBuf, Vec<UprobeSite>>,
    sites: Vec<SiteInfo>,
    on_return: Option<bool>,
) -> ProgramPlan<'s> {
    let target = ProgramTarget::Uprobe {
        files: files
            .into_iter()
            .map(|(path, sites)| UprobeFile { path, sites })
            .collect(),
        is_return: on_return == Some(true),
    };
    ProgramPlan {
        probe,
        ctx: Context::Usdt { sites, on_return },
        name,
        target,
        pid_filter: false,
        attached: true,
    }
}

/// `uprobe`/`uretprobe`: one program for all functions of a block, the
/// site told apart by cookie (for `probe`). `argN` reads the argument
/// registers at entry; `retval` reads `%rax` on return.
fn plan_uprobe<'s>(
    out: &mut CompiledScript,
    probe: &'s Probe,
    functions: &[&UprobeFunction],
    is_return: bool,
    opts: &CompileOptions,
) -> ProgramPlan<'s> {
    let entry_args: Vec<Result<ArgSpec, String>> = ARG_REGISTERS
        .iter()
        .map(|&reg| Ok(u64_register(reg)))
        .collect();
    let mut sites = Vec::new();
    let mut files: BTreeMap<PathBuf, Vec<UprobeSite>> = BTreeMap::new();
    for f in functions {
        let kind = if is_return { "uretprobe" } else { "uprobe" };
        let site_id = probe_id(out, &format!("{kind}:{}:{}", f.display_path, f.function));
        let cookie = sites.len() as u64;
        let args = if is_return {
            vec![Err(RETURN_ARGS.to_string())]
        } else {
            entry_args.clone()
        };
        let func_id = Some(probe_id(out, &f.function));
        let debug = Some(SiteDebug {
            types: opts.program_types.get(&f.path).cloned().unwrap_or_else(|| {
                Err(format!(
                    "no debug information was read for {}",
                    f.display_path
                ))
            }),
            file_offset: f.file_offset,
        });
        sites.push(SiteInfo {
            probe_id: site_id,
            func_id,
            pc: 0,
            args,
            debug,
        });
        files.entry(f.path.clone()).or_default().push(UprobeSite {
            offset: f.file_offset,
            ref_ctr_offset: 0,
            cookie,
        });
    }
    let name = functions
        .first()
        .map(|f| f.function.clone())
        .unwrap_or_else(|| "uprobe".to_string());
    plan_sites(probe, name, files, sites, Some(is_return))
}

impl Context {
    /// Per site: the spec of `argN` and the pc static operands are
    /// relative to (0 for the others, so that equal specs share code);
    /// or why `argN` cannot be read here.
    pub(crate) fn arg_specs(
        &self,
        n: usize,
        probe_names: &[String],
    ) -> Result<Vec<(ArgSpec, u64)>, String> {
        let Context::Usdt { sites, .. } = self else {
            return Err(format!("`arg{n}` is not available in this probe"));
        };
        let mut specs = Vec::new();
        for s in sites {
            let spec = match s.args.get(n) {
                Some(Ok(spec)) => spec.clone(),
                Some(Err(why)) => return Err(format!("cannot read `arg{n}`: {why}")),
                None => {
                    let name = probe_names.get(s.probe_id).cloned().unwrap_or_default();
                    let why = match s.args.len() {
                        0 => format!("{name} has no arguments"),
                        1 => format!("{name} has only 1 argument (arg0)"),
                        count => {
                            format!("{name} has only {count} arguments (arg0..arg{})", count - 1)
                        }
                    };
                    return Err(format!("cannot read `arg{n}`: {why}"));
                }
            };
            let pc = if matches!(spec.location, ArgLocation::Static { .. }) {
                s.pc
            } else {
                0
            };
            specs.push((spec, pc));
        }
        Ok(specs)
    }

    /// Per site: the probe name's id.
    pub(crate) fn probe_ids(&self) -> Vec<usize> {
        match self {
            Context::Trigger { probe_id } => vec![*probe_id],
            Context::Usdt { sites, .. } => sites.iter().map(|s| s.probe_id).collect(),
        }
    }

    /// Per site: the traced function's name id (`func`), uprobes only.
    pub(crate) fn func_ids(&self) -> Result<Vec<usize>, &'static str> {
        let ids: Option<Vec<usize>> = match self {
            Context::Usdt { sites, .. } => sites.iter().map(|s| s.func_id).collect(),
            Context::Trigger { .. } => None,
        };
        match ids {
            Some(ids) if !ids.is_empty() => Ok(ids),
            _ => Err("`func` is only available in uprobe and uretprobe probes"),
        }
    }

    /// True in uprobe and USDT programs (registers can be read).
    pub(crate) fn has_registers(&self) -> bool {
        matches!(self, Context::Usdt { .. })
    }

    /// True in uretprobe programs (`retval`).
    pub(crate) fn on_return(&self) -> bool {
        matches!(
            self,
            Context::Usdt {
                on_return: Some(true),
                ..
            }
        )
    }
}

impl ProgramPlan<'_> {
    /// True for a BEGIN, END or interval block with no statement and no
    /// predicate: its program would do nothing, so none is loaded (the
    /// attach point still counts in `Attaching N probes`). Probes on
    /// processes are kept: attaching them is what a `{ }` block asks for
    /// (USDT semaphores, `-c` accounting).
    pub(crate) fn does_nothing(&self) -> bool {
        matches!(
            self.target,
            ProgramTarget::Begin | ProgramTarget::End | ProgramTarget::Interval { .. }
        ) && self.probe.predicate.is_none()
            && self.probe.body.stmts.is_empty()
    }
}
