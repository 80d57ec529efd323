//! Probe kinds: what each attach kind compiles to (trigger programs, USDT
//! and uprobe site tables told apart by cookie, profile samplers).

use std::collections::BTreeMap;
use std::path::PathBuf;

use ustrace_lang::ast::Probe;
use ustrace_probes::{ArgLocation, ArgSpec, Register, RegisterOperand};

use crate::driver::Globals;
use crate::emit::ProgramCompiler;
use crate::options::*;
use crate::program::*;
use crate::CompileError;

/// What kind of program is being compiled (decides what `argN` means).
pub(crate) enum Context {
    /// BEGIN, END, interval: run by the runtime on demand; `probe` is constant.
    Trigger { probe_id: usize },
    /// A USDT program or uprobe program; sites indexed by cookie. For
    /// uprobes, each site's "specs" are the calling convention's argument
    /// registers, and `on_return` tells whether `retval` exists.
    Usdt {
        sites: Vec<SiteInfo>,
        on_return: Option<bool>,
    },
}

pub(crate) struct SiteInfo {
    pub(crate) probe_id: usize,
    /// The traced function's name in the string table (uprobes; `func`).
    pub(crate) func_id: Option<usize>,
    pub(crate) pc: u64,
    pub(crate) args: Vec<Result<ArgSpec, String>>,
}

pub(crate) fn compile_trigger(
    g: &mut Globals,
    probe: &Probe,
    target: ProgramTarget,
    name: &str,
) -> Result<(), CompileError> {
    let probe_id = g.probe_id(name);
    let ctx = Context::Trigger { probe_id };
    let prog_name = match &target {
        ProgramTarget::Begin => "BEGIN".to_string(),
        ProgramTarget::End => "END".to_string(),
        _ => "interval".to_string(),
    };
    // Trigger programs run in ustrace's own process: no pid filter.
    let program = ProgramCompiler::new(g, ctx, false).compile(probe, prog_name, target)?;
    g.out.programs.push(program);
    Ok(())
}

pub(crate) fn compile_usdt(
    g: &mut Globals,
    probe: &Probe,
    targets: &[&UsdtTarget],
) -> Result<(), CompileError> {
    let mut sites = Vec::new();
    let mut files: BTreeMap<PathBuf, Vec<UprobeSite>> = BTreeMap::new();
    for t in targets {
        let probe_name = format!("usdt:{}:{}:{}", t.display_path, t.provider, t.name);
        let probe_id = g.probe_id(&probe_name);
        for s in &t.sites {
            let cookie = sites.len() as u64;
            sites.push(SiteInfo {
                probe_id,
                func_id: None,
                pc: s.pc,
                args: s.args.clone(),
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
    compile_sites(g, probe, name, files, sites, None)
}

/// The program of a block's USDT or uprobe sites: one uprobe_multi target
/// per file, sites told apart by cookie. `on_return` is `None` for USDT,
/// else whether the uprobes fire on return.
pub(crate) fn compile_sites(
    g: &mut Globals,
    probe: &Probe,
    name: String,
    files: BTreeMap<PathBuf, Vec<UprobeSite>>,
    sites: Vec<SiteInfo>,
    on_return: Option<bool>,
) -> Result<(), CompileError> {
    let target = ProgramTarget::Uprobe {
        files: files
            .into_iter()
            .map(|(path, sites)| UprobeFile { path, sites })
            .collect(),
        is_return: on_return == Some(true),
    };
    let ctx = Context::Usdt { sites, on_return };
    let program = ProgramCompiler::new(g, ctx, true).compile(probe, name, target)?;
    g.out.programs.push(program);
    Ok(())
}

/// The System V x86-64 integer argument registers, in order.
pub(crate) const ARG_REGISTERS: [Register; 6] = [
    Register::Rdi,
    Register::Rsi,
    Register::Rdx,
    Register::Rcx,
    Register::R8,
    Register::R9,
];

/// `uprobe`/`uretprobe`: one program for all functions of a block, the
/// site told apart by cookie (for `probe`). `argN` reads the argument
/// registers at entry; `retval` reads `%rax` on return.
pub(crate) fn compile_uprobe(
    g: &mut Globals,
    probe: &Probe,
    functions: &[&UprobeFunction],
    is_return: bool,
) -> Result<(), CompileError> {
    let entry_args: Vec<Result<ArgSpec, String>> = ARG_REGISTERS
        .iter()
        .map(|&reg| {
            Ok(ArgSpec {
                size: 8,
                signed: false,
                location: ArgLocation::Register(RegisterOperand {
                    reg,
                    width: 8,
                    high_byte: false,
                }),
            })
        })
        .collect();
    let mut sites = Vec::new();
    let mut files: BTreeMap<PathBuf, Vec<UprobeSite>> = BTreeMap::new();
    for f in functions {
        let kind = if is_return { "uretprobe" } else { "uprobe" };
        let probe_id = g.probe_id(&format!("{kind}:{}:{}", f.display_path, f.function));
        let cookie = sites.len() as u64;
        let args = if is_return {
            vec![Err(
                "arguments are not available in a uretprobe (use retval)".to_string(),
            )]
        } else {
            entry_args.clone()
        };
        let func_id = Some(g.probe_id(&f.function));
        sites.push(SiteInfo {
            probe_id,
            func_id,
            pc: 0,
            args,
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
    compile_sites(g, probe, name, files, sites, Some(is_return))
}
