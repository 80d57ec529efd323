//! The compiler proper: walks the AST of each probe block, checks types as
//! it goes, and emits instructions through a [`Builder`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use ustrace_lang::ast::{
    BinaryOp, Block, Expr, ExprKind, IntType, Probe, Script, Span, Stmt, StmtKind, UnaryOp,
};
use ustrace_probes::{ArgLocation, ArgSpec, Register, RegisterOperand};

use crate::builder::{Builder, Label, MapId};
use crate::insn::{self, helper, AluOp, JmpOp, Reg, R0, R1, R10, R2, R3, R6, R7};
use crate::program::*;
use crate::usdt_args;
use crate::CompileError;

#[path = "map_full.rs"]
mod map_full;
#[path = "maps.rs"]
mod maps;

/// Settings that change the generated code.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Only events of this process (`-p`, `-c`).
    pub pid: Option<u32>,
    /// Bytes read by `str()` by default (bpftrace's BPFTRACE_STRLEN, 64).
    pub str_len: usize,
    /// Positional parameters `$1`, `$2`, ...
    pub positional: Vec<String>,
    /// The child's pid for `cpid` (`-c`).
    pub child_pid: Option<u32>,
    /// Ring buffer size in bytes (a power of two, multiple of the page size).
    pub ringbuf_bytes: u32,
    /// Allow `system()` (`--unsafe`).
    pub allow_unsafe: bool,
    /// `uaddr("name")`: link-time addresses of the symbols the script asks
    /// for, found in its probed files by the resolve layer.
    pub uaddr: HashMap<String, u64>,
    /// Walk `ustack` by frame pointers (the kernel's `bpf_get_stackid`)
    /// instead of unwind tables.
    pub frame_pointer_stacks: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            pid: None,
            str_len: 64,
            positional: Vec::new(),
            child_pid: None,
            ringbuf_bytes: 8 << 20,
            allow_unsafe: false,
            uaddr: HashMap::new(),
            frame_pointer_stacks: false,
        }
    }
}

/// An attach point after resolution against files and processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedAttach {
    /// `BEGIN`.
    Begin,
    /// `END`.
    End,
    /// `interval:...`.
    Interval {
        /// Period in nanoseconds.
        period_ns: u64,
    },
    /// The USDT probes an attach point matched.
    Usdt(Vec<UsdtTarget>),
    /// The functions a `uprobe`/`uretprobe` attach point matched.
    Uprobe(Vec<UprobeFunction>),
    /// `profile:hz:N` (Some(N)) or `profile:us:N` etc. (period in ns).
    Profile {
        /// Samples per second per CPU.
        hz: Option<u64>,
        /// Sampling period in nanoseconds, when `hz` is `None`.
        period_ns: u64,
    },
}

/// One function (or address) to place a uprobe on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UprobeFunction {
    /// The file to attach to (host path).
    pub path: PathBuf,
    /// The path as the user should see it (in `probe`).
    pub display_path: String,
    /// The function's name (or the address as written).
    pub function: String,
    /// File offset of the instruction to probe.
    pub file_offset: u64,
    /// True for `uretprobe` (fires on return).
    pub is_return: bool,
}

/// One USDT probe in one file, with all of its locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtTarget {
    /// The file to attach to (host path).
    pub path: PathBuf,
    /// The path as the user should see it (in `probe`).
    pub display_path: String,
    /// Provider name.
    pub provider: String,
    /// Probe name.
    pub name: String,
    /// Each location.
    pub sites: Vec<UsdtSite>,
}

/// One location of a USDT probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtSite {
    /// File offset to attach the uprobe at.
    pub file_offset: u64,
    /// File offset of the semaphore, 0 if none.
    pub semaphore_offset: u64,
    /// Link-time address of the site (for static operands).
    pub pc: u64,
    /// Parsed argument specs; an `Err` holds why the argument is unreadable.
    pub args: Vec<Result<ArgSpec, String>>,
}

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
const SMALL_RINGBUF_BYTES: u32 = 64 << 10;

fn compile_pass(
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
struct Globals<'a> {
    out: CompiledScript,
    opts: &'a CompileOptions,
    user_maps: HashMap<String, MapId>,
    /// True in the first pass, which only learns map layouts.
    discovery: bool,
}

impl Globals<'_> {
    fn add_map(&mut self, def: MapDef) -> MapId {
        self.out.maps.push(def);
        MapId(self.out.maps.len() - 1)
    }

    /// The stack trace map of `ustack`, created on first use.
    fn stack_map(&mut self) -> MapId {
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

    /// The maps of the unwind-table stack walker, created on first use.
    fn unwind_maps(&mut self) -> crate::unwind::UnwindMaps {
        let ids: Vec<MapId> = crate::unwind::map_defs()
            .into_iter()
            .map(
                |def| match self.out.maps.iter().position(|m| m.role == def.role) {
                    Some(i) => MapId(i),
                    None => self.add_map(def),
                },
            )
            .collect();
        crate::unwind::UnwindMaps {
            stacks: ids[0],
            rows: ids[1],
            mappings: ids[2],
            scratch: ids[3],
        }
    }

    /// The map holding the session's start time, created on first use.
    fn start_time_map(&mut self) -> MapId {
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

    fn probe_id(&mut self, name: &str) -> usize {
        if let Some(i) = self.out.probe_names.iter().position(|n| n == name) {
            return i;
        }
        self.out.probe_names.push(name.to_string());
        self.out.probe_names.len() - 1
    }
}

/// What kind of program is being compiled (decides what `argN` means).
enum Context {
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

struct SiteInfo {
    probe_id: usize,
    /// The traced function's name in the string table (uprobes; `func`).
    func_id: Option<usize>,
    pc: u64,
    args: Vec<Result<ArgSpec, String>>,
}

fn compile_trigger(
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

fn compile_usdt(
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
fn compile_sites(
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
const ARG_REGISTERS: [Register; 6] = [
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
fn compile_uprobe(
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

/// The type of a value during compilation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    /// A 64-bit integer in a register or slot; `signed` decides division,
    /// comparison and printing.
    Int { signed: bool },
    /// A NUL-terminated string in a buffer of this many bytes.
    Str(usize),
    /// A probe id, printed as the probe's name.
    ProbeName,
    /// A user stack (id and pid in a 16-byte slot).
    UStack(StackMode),
    /// `usym(addr)`: an address and the pid it belongs to.
    USym,
    /// `buf()` bytes: length, then this many bytes at most.
    Buffer(usize),
    /// `strftime()`: nanoseconds with a format (index).
    Timestamp(usize),
    /// No value (printf(), exit()).
    Void,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Int { signed: true } => "int64",
            Ty::Int { signed: false } => "uint64",
            Ty::Str(_) => "string",
            Ty::ProbeName => "probe",
            Ty::UStack(_) => "ustack",
            Ty::USym => "usym",
            Ty::Buffer(_) => "buffer",
            Ty::Timestamp(_) => "timestamp",
            Ty::Void => "none",
        }
    }
}

/// A computed value.
#[derive(Debug, Clone)]
enum Val {
    /// A compile-time integer.
    Const(i64, bool),
    /// An integer in an 8-byte stack slot.
    Slot(i16, bool),
    /// A string in a stack buffer.
    Buf(i16, usize),
    /// A compile-time string.
    StrConst(String),
    /// A probe id in an 8-byte slot.
    Probe(i16),
    /// A compile-time probe id.
    ProbeConst(usize),
    /// A user stack in a 16-byte slot: stack id, then pid.
    UStack(i16, StackMode),
    /// `usym()` in a 16-byte slot: address, then pid.
    USym(i16),
    /// `buf()` bytes in a slot: 8-byte length, then the bytes.
    Bytes(i16, usize),
    /// `strftime()` nanoseconds in an 8-byte slot, with the format index.
    Timestamp(i16, usize),
    /// Nothing.
    Void,
}

impl Val {
    fn ty(&self) -> Ty {
        match self {
            Val::Const(_, s) | Val::Slot(_, s) => Ty::Int { signed: *s },
            Val::Buf(_, n) => Ty::Str(*n),
            Val::StrConst(s) => Ty::Str(s.len() + 1),
            Val::Probe(_) | Val::ProbeConst(_) => Ty::ProbeName,
            Val::UStack(_, m) => Ty::UStack(*m),
            Val::USym(_) => Ty::USym,
            Val::Bytes(_, n) => Ty::Buffer(*n),
            Val::Timestamp(_, i) => Ty::Timestamp(*i),
            Val::Void => Ty::Void,
        }
    }
}

/// A scratch variable: its slot and type, fixed by its first assignment.
#[derive(Debug, Clone, Copy)]
struct Var {
    slot: i16,
    ty: Ty,
}

struct ProgramCompiler<'g, 'o> {
    g: &'g mut Globals<'o>,
    b: Builder,
    ctx: Context,
    pid_filter: bool,
    vars: HashMap<String, Var>,
    /// Bytes used from the bottom of the stack by variables.
    var_bytes: i32,
    cookie_slot: Option<i16>,
    exit_label: Label,
    loops: Vec<(Label, Label)>,
}

impl<'g, 'o> ProgramCompiler<'g, 'o> {
    fn new(g: &'g mut Globals<'o>, ctx: Context, pid_filter: bool) -> Self {
        let mut b = Builder::new();
        let exit_label = b.label();
        ProgramCompiler {
            g,
            b,
            ctx,
            pid_filter,
            vars: HashMap::new(),
            var_bytes: 0,
            cookie_slot: None,
            exit_label,
            loops: Vec::new(),
        }
    }

    fn compile(
        mut self,
        probe: &Probe,
        name: String,
        target: ProgramTarget,
    ) -> Result<CompiledProgram, CompileError> {
        self.b.mark(probe.span);
        self.b.emit(insn::mov64_reg(R6, R1));
        if self.pid_filter {
            if let Some(pid) = self.g.opts.pid {
                self.b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
                self.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
                let exit = self.exit_label;
                self.b.jmp_imm(JmpOp::Jne, R0, pid as i32, exit);
            }
        }
        if matches!(&self.ctx, Context::Usdt { sites, .. } if sites.len() > 1) {
            let slot = self.alloc_var(8, probe.span)?;
            self.b.emit(insn::mov64_reg(R1, R6));
            self.b.emit(insn::call(helper::GET_ATTACH_COOKIE));
            self.b.emit(insn::stx(8, R10, slot, R0));
            self.cookie_slot = Some(slot);
        }
        if let Some(pred) = &probe.predicate {
            let mark = self.b.stack_mark();
            self.b.mark(pred.span);
            let v = self.expr(pred)?;
            self.truth(&v, pred.span)?;
            let exit = self.exit_label;
            self.b.jmp_imm(JmpOp::Jeq, R0, 0, exit);
            self.b.release(mark);
        }
        self.block(&probe.body)?;
        let exit = self.exit_label;
        self.b.bind(exit);
        self.b.emit(insn::mov64_imm(R0, 0));
        self.b.emit(insn::exit());
        let (insns, map_relocs, spans) = self.b.finish(probe.span)?;
        Ok(CompiledProgram {
            name,
            insns,
            map_relocs,
            spans,
            target,
            span: probe.span,
        })
    }

    /// Allocates a slot that lives for the whole program (variables).
    fn alloc_var(&mut self, size: usize, span: Span) -> Result<i16, CompileError> {
        let size = ((size.max(1) + 7) & !7) as i32;
        if self.var_bytes + size + self.b.stack_mark() > crate::builder::STACK_SIZE {
            return Err(CompileError::new(
                span,
                "this probe needs more than 512 bytes of BPF stack",
            ));
        }
        self.var_bytes += size;
        Ok((-crate::builder::STACK_SIZE + self.var_bytes - size) as i16)
    }

    /// Allocates a temporary slot (freed at the end of the statement).
    fn alloc_tmp(&mut self, size: usize, span: Span) -> Result<i16, CompileError> {
        let off = self.b.alloc(size, span)?;
        if (-(off as i32)) + self.var_bytes > crate::builder::STACK_SIZE {
            return Err(CompileError::new(
                span,
                "this probe needs more than 512 bytes of BPF stack",
            ));
        }
        Ok(off)
    }

    fn block(&mut self, block: &Block) -> Result<(), CompileError> {
        for stmt in &block.stmts {
            let mark = self.b.stack_mark();
            self.stmt(stmt)?;
            self.b.release(mark);
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &Stmt) -> Result<(), CompileError> {
        self.b.mark(stmt.span);
        match &stmt.kind {
            StmtKind::Expr(e) => {
                self.expr(e)?;
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value, stmt.span)?,
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let v = self.expr(cond)?;
                self.truth(&v, cond.span)?;
                let else_l = self.b.label();
                let end_l = self.b.label();
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, else_l);
                self.block(then_block)?;
                self.b.goto(end_l);
                self.b.bind(else_l);
                if let Some(eb) = else_block {
                    self.block(eb)?;
                }
                self.b.bind(end_l);
            }
            StmtKind::While { cond, body } => {
                let top = self.b.label();
                let end = self.b.label();
                self.b.bind(top);
                let mark = self.b.stack_mark();
                let v = self.expr(cond)?;
                self.truth(&v, cond.span)?;
                self.b.release(mark);
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, end);
                self.loops.push((top, end));
                self.block(body)?;
                self.loops.pop();
                self.b.goto(top);
                self.b.bind(end);
            }
            StmtKind::Unroll { count, body } => {
                if *count == 0 || *count > 100 {
                    return Err(CompileError::new(
                        stmt.span,
                        "unroll count must be between 1 and 100",
                    ));
                }
                let end = self.b.label();
                for _ in 0..*count {
                    let next = self.b.label();
                    self.loops.push((next, end));
                    self.block(body)?;
                    self.loops.pop();
                    self.b.bind(next);
                }
                self.b.bind(end);
            }
            StmtKind::Break | StmtKind::Continue => {
                let Some(&(cont, brk)) = self.loops.last() else {
                    return Err(CompileError::new(
                        stmt.span,
                        "`break` and `continue` are only valid inside a loop",
                    ));
                };
                let l = if matches!(stmt.kind, StmtKind::Break) {
                    brk
                } else {
                    cont
                };
                self.b.goto(l);
            }
            StmtKind::Return => {
                let l = self.exit_label;
                self.b.goto(l);
            }
        }
        Ok(())
    }

    fn assign(
        &mut self,
        target: &Expr,
        op: Option<BinaryOp>,
        value: &Expr,
        span: Span,
    ) -> Result<(), CompileError> {
        match &target.kind {
            ExprKind::Variable(name) => {
                let v = match op {
                    None => self.expr(value)?,
                    Some(op) => {
                        let cur = self.var_value(name, target.span)?;
                        let rhs = self.expr(value)?;
                        self.binary(op, cur, rhs, span, target.span, value.span)?
                    }
                };
                self.store_var(name, v, target.span, value.span)
            }
            ExprKind::Map { name, keys } => {
                if let (
                    None,
                    ExprKind::Call {
                        name: func, args, ..
                    },
                ) = (op, &value.kind)
                {
                    if is_aggregation(func) {
                        return self.aggregate(name, keys, func, args, value.span);
                    }
                }
                let v = match op {
                    None => self.expr(value)?,
                    Some(op) => {
                        let cur = self.map_read(name, keys, target.span)?;
                        let rhs = self.expr(value)?;
                        self.binary(op, cur, rhs, span, target.span, value.span)?
                    }
                };
                self.map_store(name, keys, v, span)
            }
            _ => Err(CompileError::new(
                target.span,
                "can only assign to a $variable or an @map",
            )),
        }
    }

    fn var_value(&mut self, name: &str, span: Span) -> Result<Val, CompileError> {
        match self.vars.get(name) {
            Some(var) => Ok(match var.ty {
                Ty::Int { signed } => Val::Slot(var.slot, signed),
                Ty::Str(n) => Val::Buf(var.slot, n),
                Ty::ProbeName => Val::Probe(var.slot),
                Ty::UStack(m) => Val::UStack(var.slot, m),
                Ty::USym => Val::USym(var.slot),
                Ty::Buffer(n) => Val::Bytes(var.slot, n),
                Ty::Timestamp(i) => Val::Timestamp(var.slot, i),
                Ty::Void => Val::Void,
            }),
            None => Err(CompileError::new(
                span,
                format!("undefined variable `${name}`: assign it before use"),
            )),
        }
    }

    fn store_var(
        &mut self,
        name: &str,
        v: Val,
        tspan: Span,
        vspan: Span,
    ) -> Result<(), CompileError> {
        let ty = v.ty();
        if ty == Ty::Void {
            return Err(CompileError::new(
                vspan,
                "this expression has no value to assign",
            ));
        }
        let var = match self.vars.get(name).copied() {
            Some(var) => {
                let compatible = match (var.ty, ty) {
                    (Ty::Int { .. }, Ty::Int { .. }) => true,
                    (Ty::Str(a), Ty::Str(b)) => b <= a,
                    (a, b) => a == b,
                };
                if !compatible {
                    return Err(CompileError::new(
                        vspan,
                        format!(
                            "type mismatch for `${name}`: it holds {} but this is {}",
                            var.ty.name(),
                            ty.name()
                        ),
                    ));
                }
                var
            }
            None => {
                let size = match ty {
                    Ty::Str(n) => n.max(self.g.opts.str_len),
                    Ty::UStack(_) | Ty::USym => 16,
                    Ty::Buffer(n) => FieldKind::Buffer(n).size(),
                    _ => 8,
                };
                let slot = self.alloc_var(size, tspan)?;
                let ty = match ty {
                    Ty::Str(_) => Ty::Str(size),
                    t => t,
                };
                let var = Var { slot, ty };
                self.vars.insert(name.to_string(), var);
                var
            }
        };
        match (var.ty, &v) {
            (Ty::Str(n), _) => self.copy_string(&v, var.slot, n),
            (Ty::UStack(_), Val::UStack(src, _)) | (Ty::USym, Val::USym(src)) => {
                self.copy_words(*src, R10, var.slot, 16)
            }
            (Ty::Buffer(n), Val::Bytes(src, _)) => {
                self.copy_words(*src, R10, var.slot, FieldKind::Buffer(n).size())
            }
            (Ty::Timestamp(_), Val::Timestamp(src, _)) => self.copy_words(*src, R10, var.slot, 8),
            _ => {
                self.load(&v, R0);
                self.b.emit(insn::stx(8, R10, var.slot, R0));
            }
        }
        if let Ty::Int { .. } = var.ty {
            // The variable keeps the signedness of its first assignment.
        }
        Ok(())
    }

    /// Copies a string value into a buffer of `n` bytes (NUL-padded).
    fn copy_string(&mut self, v: &Val, dst: i16, n: usize) {
        self.b.zero_stack(dst, (n + 7) & !7);
        match v {
            Val::StrConst(s) => {
                let bytes = s.as_bytes();
                let take = bytes.len().min(n.saturating_sub(1));
                self.store_bytes(R10, dst, &bytes[..take]);
            }
            Val::Buf(src, m) => {
                let words = (*m.min(&n)).div_ceil(8);
                for w in 0..words {
                    let o = (w * 8) as i16;
                    self.b.emit(insn::ldx(8, R0, R10, src + o));
                    self.b.emit(insn::stx(8, R10, dst + o, R0));
                }
            }
            _ => {}
        }
    }

    /// Stores constant bytes at `base + off` (4 bytes at a time).
    fn store_bytes(&mut self, base: Reg, off: i16, bytes: &[u8]) {
        for (i, chunk) in bytes.chunks(4).enumerate() {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            self.b.emit(insn::st_imm(
                4,
                base,
                off + (i * 4) as i16,
                i32::from_le_bytes(w),
            ));
        }
    }

    /// Loads an integer-like value into `r`.
    fn load(&mut self, v: &Val, r: Reg) {
        match v {
            Val::Const(c, _) => self.b.mov_imm(r, *c),
            Val::Slot(s, _) | Val::Probe(s) => self.b.emit(insn::ldx(8, r, R10, *s)),
            Val::ProbeConst(id) => self.b.mov_imm(r, *id as i64),
            Val::Timestamp(slot, _) => self.b.emit(insn::ldx(8, r, R10, *slot)),
            Val::USym(slot) => self.b.emit(insn::ldx(8, r, R10, *slot)),
            Val::Buf(..) | Val::StrConst(_) | Val::UStack(..) | Val::Bytes(..) | Val::Void => {
                self.b.mov_imm(r, 0)
            }
        }
    }

    /// Puts an integer result from r0 into a new temporary slot.
    fn spill(&mut self, signed: bool, span: Span) -> Result<Val, CompileError> {
        let slot = self.alloc_tmp(8, span)?;
        self.b.emit(insn::stx(8, R10, slot, R0));
        Ok(Val::Slot(slot, signed))
    }

    /// Leaves 1/0 in r0 for the truth of an integer value.
    fn truth(&mut self, v: &Val, span: Span) -> Result<(), CompileError> {
        match v.ty() {
            Ty::Int { .. } => {
                self.load(v, R0);
                Ok(())
            }
            t => Err(CompileError::new(
                span,
                format!("a condition must be an integer, not a {}", t.name()),
            )),
        }
    }

    fn int_operand(&mut self, e: &Expr) -> Result<Val, CompileError> {
        let v = self.expr(e)?;
        match v.ty() {
            Ty::Int { .. } => Ok(v),
            t => Err(CompileError::new(
                e.span,
                format!("expected an integer here, found a {}", t.name()),
            )),
        }
    }

    fn expr(&mut self, e: &Expr) -> Result<Val, CompileError> {
        match &e.kind {
            ExprKind::Integer(v) => Ok(Val::Const(*v as i64, false)),
            ExprKind::String(s) => Ok(Val::StrConst(s.clone())),
            ExprKind::Builtin(name) => self.builtin(name, e.span),
            ExprKind::Positional(n) => {
                let text = self.g.opts.positional.get(n.wrapping_sub(1)).cloned();
                match text {
                    Some(t) => match parse_int(&t) {
                        Some(v) => Ok(Val::Const(v, true)),
                        None => Ok(Val::StrConst(t)),
                    },
                    None => Ok(Val::Const(0, true)),
                }
            }
            ExprKind::PositionalCount => Ok(Val::Const(self.g.opts.positional.len() as i64, false)),
            ExprKind::Variable(name) => self.var_value(name, e.span),
            ExprKind::Map { name, keys } => self.map_read(name, keys, e.span),
            ExprKind::Call { name, args, name_span } => self.call(name, args, e.span, *name_span),
            ExprKind::Unary { op, operand } => self.unary(*op, operand, e.span),
            ExprKind::Binary { op, lhs, rhs } => {
                if matches!(op, BinaryOp::And | BinaryOp::Or) {
                    return self.logical(*op, lhs, rhs, e.span);
                }
                let l = self.expr(lhs)?;
                let r = self.expr(rhs)?;
                self.binary(*op, l, r, e.span, lhs.span, rhs.span)
            }
            ExprKind::Ternary { cond, then_expr, else_expr } => {
                let c = self.expr(cond)?;
                self.truth(&c, cond.span)?;
                let else_l = self.b.label();
                let end_l = self.b.label();
                // Both arms must be integers or strings of a common size.
                let result = self.alloc_tmp(8.max(self.g.opts.str_len), e.span)?;
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, else_l);
                let a = self.expr(then_expr)?;
                let ta = a.ty();
                self.store_result(&a, result)?;
                self.b.goto(end_l);
                self.b.bind(else_l);
                let bv = self.expr(else_expr)?;
                let tb = bv.ty();
                self.store_result(&bv, result)?;
                self.b.bind(end_l);
                match (ta, tb) {
                    (Ty::Int { signed: s1 }, Ty::Int { signed: s2 }) => Ok(Val::Slot(result, s1 || s2)),
                    (Ty::Str(_), Ty::Str(_)) => Ok(Val::Buf(result, self.g.opts.str_len)),
                    _ => Err(CompileError::new(
                        e.span,
                        format!("the two branches of `?:` differ in type ({} and {})", ta.name(), tb.name()),
                    )),
                }
            }
            ExprKind::Cast { ty, operand } => {
                let v = self.int_operand(operand)?;
                self.cast(v, *ty, e.span)
            }
            ExprKind::Tuple(_) => Err(CompileError::new(e.span, "tuples are not supported yet by this version of ustrace")),
            ExprKind::IncDec { target, increment, prefix } => {
                if let ExprKind::Map { name, keys } = &target.kind {
                    let cur = self.map_read(name, keys, target.span)?;
                    let Val::Slot(old_slot, signed) = cur else {
                        if self.g.discovery {
                            let one = Val::Const(0, false);
                            self.map_store(name, keys, one, e.span)?;
                            return Ok(Val::Const(0, false));
                        }
                        return Err(CompileError::new(target.span, "`++`/`--` need an integer map value"));
                    };
                    self.b.emit(insn::ldx(8, R0, R10, old_slot));
                    self.b.emit(insn::alu64_imm(AluOp::Add, R0, if *increment { 1 } else { -1 }));
                    let new = self.spill(signed, e.span)?;
                    self.map_store(name, keys, new.clone(), e.span)?;
                    return Ok(if *prefix { new } else { Val::Slot(old_slot, signed) });
                }
                let ExprKind::Variable(name) = &target.kind else {
                    return Err(CompileError::new(target.span, "`++`/`--` need a $variable or an @map element"));
                };
                let cur = self.var_value(name, target.span)?;
                let Val::Slot(slot, signed) = cur else {
                    return Err(CompileError::new(target.span, "`++`/`--` need an integer variable"));
                };
                self.b.emit(insn::ldx(8, R0, R10, slot));
                let old = self.spill(signed, e.span)?;
                self.b.emit(insn::alu64_imm(AluOp::Add, R0, if *increment { 1 } else { -1 }));
                self.b.emit(insn::stx(8, R10, slot, R0));
                Ok(if *prefix { Val::Slot(slot, signed) } else { old })
            }
            ExprKind::Field { .. } | ExprKind::Index { .. } => Err(CompileError::new(
                e.span,
                "struct fields and indexing are not supported by ustrace (there are no type definitions without kernel headers)",
            )),
        }
    }

    /// Writes an integer or string into a result slot sized for either.
    fn store_result(&mut self, v: &Val, slot: i16) -> Result<(), CompileError> {
        match v.ty() {
            Ty::Str(_) => {
                let n = self.g.opts.str_len;
                self.copy_string(v, slot, n);
            }
            _ => {
                self.load(v, R0);
                self.b.emit(insn::stx(8, R10, slot, R0));
            }
        }
        Ok(())
    }

    fn cast(&mut self, v: Val, ty: IntType, span: Span) -> Result<Val, CompileError> {
        if let Val::Const(c, _) = v {
            let bits = ty.size as u32 * 8;
            let r = if bits >= 64 {
                c
            } else if ty.signed {
                (c << (64 - bits)) >> (64 - bits)
            } else {
                ((c as u64) & ((1u64 << bits) - 1)) as i64
            };
            return Ok(Val::Const(r, ty.signed));
        }
        self.load(&v, R0);
        usdt_args::extend(&mut self.b, R0, ty.size, ty.signed);
        self.spill(ty.signed, span)
    }

    fn logical(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
    ) -> Result<Val, CompileError> {
        let slot = self.alloc_tmp(8, span)?;
        let done = self.b.label();
        let l = self.expr(lhs)?;
        self.truth(&l, lhs.span)?;
        self.b
            .emit(insn::mov64_imm(R1, if op == BinaryOp::And { 0 } else { 1 }));
        self.b.emit(insn::stx(8, R10, slot, R1));
        let jop = if op == BinaryOp::And {
            JmpOp::Jeq
        } else {
            JmpOp::Jne
        };
        self.b.jmp_imm(jop, R0, 0, done);
        let r = self.expr(rhs)?;
        self.truth(&r, rhs.span)?;
        self.b.emit(insn::mov64_imm(R1, 0));
        let skip = self.b.label();
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, skip);
        self.b.emit(insn::mov64_imm(R1, 1));
        self.b.bind(skip);
        self.b.emit(insn::stx(8, R10, slot, R1));
        self.b.bind(done);
        Ok(Val::Slot(slot, false))
    }

    fn unary(&mut self, op: UnaryOp, operand: &Expr, span: Span) -> Result<Val, CompileError> {
        let v = self.int_operand(operand)?;
        if let Val::Const(c, s) = v {
            return Ok(match op {
                UnaryOp::Neg => Val::Const(c.wrapping_neg(), true),
                UnaryOp::Not => Val::Const((c == 0) as i64, false),
                UnaryOp::BitNot => Val::Const(!c, s),
                UnaryOp::Deref => return self.deref(v, span),
            });
        }
        let signed = matches!(v.ty(), Ty::Int { signed: true });
        match op {
            UnaryOp::Neg => {
                self.load(&v, R0);
                self.b.emit(insn::neg64(R0));
                self.spill(true, span)
            }
            UnaryOp::BitNot => {
                self.load(&v, R0);
                self.b.emit(insn::alu64_imm(AluOp::Xor, R0, -1));
                self.spill(signed, span)
            }
            UnaryOp::Not => {
                self.load(&v, R1);
                self.b.emit(insn::mov64_imm(R0, 1));
                let l = self.b.label();
                self.b.jmp_imm(JmpOp::Jeq, R1, 0, l);
                self.b.emit(insn::mov64_imm(R0, 0));
                self.b.bind(l);
                self.spill(false, span)
            }
            UnaryOp::Deref => self.deref(v, span),
        }
    }

    /// `*ptr`: reads 8 bytes of user memory.
    fn deref(&mut self, v: Val, span: Span) -> Result<Val, CompileError> {
        let slot = self.alloc_tmp(8, span)?;
        self.b.emit(insn::st_imm(8, R10, slot, 0));
        self.load(&v, R3);
        self.b.emit(insn::mov64_reg(R1, R10));
        self.b.emit(insn::alu64_imm(AluOp::Add, R1, slot as i32));
        self.b.emit(insn::mov64_imm(R2, 8));
        self.b.emit(insn::call(helper::PROBE_READ_USER));
        Ok(Val::Slot(slot, true))
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        l: Val,
        r: Val,
        span: Span,
        lspan: Span,
        rspan: Span,
    ) -> Result<Val, CompileError> {
        let (lt, rt) = (l.ty(), r.ty());
        if let (Ty::Str(_), Ty::Str(_)) = (lt, rt) {
            return match op {
                BinaryOp::Eq | BinaryOp::Ne => self.str_compare(op, l, r, span),
                _ => Err(CompileError::new(
                    span,
                    format!("operator {op:?} is not defined on strings"),
                )),
            };
        }
        for (t, s) in [(lt, lspan), (rt, rspan)] {
            if !matches!(t, Ty::Int { .. }) {
                return Err(CompileError::new(
                    s,
                    format!(
                        "type mismatch: this operand is a {} but the operator needs integers",
                        t.name()
                    ),
                ));
            }
        }
        // Signed when both sides are, or when a constant meets a signed side.
        let l_signed = matches!(lt, Ty::Int { signed: true });
        let r_signed = matches!(rt, Ty::Int { signed: true });
        let l_const = matches!(l, Val::Const(..));
        let r_const = matches!(r, Val::Const(..));
        let signed = (l_signed || l_const) && (r_signed || r_const) && (l_signed || r_signed);
        if let (Val::Const(a, _), Val::Const(b, _)) = (&l, &r) {
            if let Some(v) = fold(op, *a, *b, signed) {
                let res_signed = if is_comparison(op) { false } else { signed };
                return Ok(Val::Const(v, res_signed));
            }
        }
        self.load(&l, R0);
        self.load(&r, R1);
        let alu = |op: AluOp| insn::alu64_reg(op, R0, R1);
        match op {
            BinaryOp::Add => self.b.emit(alu(AluOp::Add)),
            BinaryOp::Sub => self.b.emit(alu(AluOp::Sub)),
            BinaryOp::Mul => self.b.emit(alu(AluOp::Mul)),
            BinaryOp::BitAnd => self.b.emit(alu(AluOp::And)),
            BinaryOp::BitOr => self.b.emit(alu(AluOp::Or)),
            BinaryOp::BitXor => self.b.emit(alu(AluOp::Xor)),
            BinaryOp::Shl => self.b.emit(alu(AluOp::Lsh)),
            BinaryOp::Shr => self
                .b
                .emit(alu(if signed { AluOp::Arsh } else { AluOp::Rsh })),
            BinaryOp::Div | BinaryOp::Mod => {
                // Division by zero yields 0 (documented): the BPF ISA defines
                // x/0 = 0 and x%0 = x; we make both 0.
                let zero = self.b.label();
                let done = self.b.label();
                self.b.jmp_imm(JmpOp::Jeq, R1, 0, zero);
                let aop = if op == BinaryOp::Div {
                    AluOp::Div
                } else {
                    AluOp::Mod
                };
                if signed {
                    self.b.emit(insn::alu64_reg_signed(aop, R0, R1));
                } else {
                    self.b.emit(alu(aop));
                }
                self.b.goto(done);
                self.b.bind(zero);
                self.b.emit(insn::mov64_imm(R0, 0));
                self.b.bind(done);
            }
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => {
                let jop = match (op, signed) {
                    (BinaryOp::Eq, _) => JmpOp::Jeq,
                    (BinaryOp::Ne, _) => JmpOp::Jne,
                    (BinaryOp::Lt, true) => JmpOp::Jslt,
                    (BinaryOp::Lt, false) => JmpOp::Jlt,
                    (BinaryOp::Le, true) => JmpOp::Jsle,
                    (BinaryOp::Le, false) => JmpOp::Jle,
                    (BinaryOp::Gt, true) => JmpOp::Jsgt,
                    (BinaryOp::Gt, false) => JmpOp::Jgt,
                    (BinaryOp::Ge, true) => JmpOp::Jsge,
                    _ => JmpOp::Jge,
                };
                self.b.emit(insn::mov64_reg(R2, R0));
                self.b.emit(insn::mov64_imm(R0, 1));
                let t = self.b.label();
                self.b.jmp_reg(jop, R2, R1, t);
                self.b.emit(insn::mov64_imm(R0, 0));
                self.b.bind(t);
                return self.spill(false, span);
            }
            BinaryOp::And | BinaryOp::Or => unreachable_logical(),
        }
        self.spill(signed, span)
    }

    /// String equality, byte by byte up to the first NUL.
    fn str_compare(
        &mut self,
        op: BinaryOp,
        l: Val,
        r: Val,
        span: Span,
    ) -> Result<Val, CompileError> {
        let n = self.g.opts.str_len;
        let a = self.materialize_str(&l, span)?;
        let b = self.materialize_str(&r, span)?;
        let len = l.ty().str_len().min(r.ty().str_len()).min(n.max(1));
        let not_equal = self.b.label();
        let done = self.b.label();
        for i in 0..len {
            let i = i as i16;
            self.b.emit(insn::ldx(1, R1, R10, a + i));
            self.b.emit(insn::ldx(1, R2, R10, b + i));
            self.b.jmp_reg(JmpOp::Jne, R1, R2, not_equal);
            self.b.jmp_imm(JmpOp::Jeq, R1, 0, done);
        }
        self.b.bind(done);
        self.b
            .emit(insn::mov64_imm(R0, if op == BinaryOp::Eq { 1 } else { 0 }));
        let end = self.b.label();
        self.b.goto(end);
        self.b.bind(not_equal);
        self.b
            .emit(insn::mov64_imm(R0, if op == BinaryOp::Eq { 0 } else { 1 }));
        self.b.bind(end);
        self.spill(false, span)
    }

    /// Ensures a string value lives in a stack buffer; returns its offset.
    fn materialize_str(&mut self, v: &Val, span: Span) -> Result<i16, CompileError> {
        match v {
            Val::Buf(off, _) => Ok(*off),
            Val::StrConst(s) => {
                let n = s.len() + 1;
                let off = self.alloc_tmp(n, span)?;
                self.copy_string(v, off, n);
                Ok(off)
            }
            _ => Err(CompileError::new(span, "expected a string")),
        }
    }

    fn builtin(&mut self, name: &str, span: Span) -> Result<Val, CompileError> {
        if let Some(n) = name
            .strip_prefix("arg")
            .and_then(|d| d.parse::<usize>().ok())
        {
            return self.arg(n, span);
        }
        match name {
            "pid" | "tid" => {
                self.b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
                if name == "pid" {
                    self.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
                } else {
                    self.b.emit(insn::mov32_reg(R0, R0));
                }
                self.spill(false, span)
            }
            "uid" | "gid" => {
                self.b.emit(insn::call(helper::GET_CURRENT_UID_GID));
                if name == "gid" {
                    self.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
                } else {
                    self.b.emit(insn::mov32_reg(R0, R0));
                }
                self.spill(false, span)
            }
            "nsecs" => {
                self.b.emit(insn::call(helper::KTIME_GET_NS));
                self.spill(false, span)
            }
            "elapsed" => {
                // nsecs - the start time the runtime stored in a 1-entry array.
                let map = self.g.start_time_map();
                let key = self.alloc_tmp(8, span)?;
                self.b.emit(insn::st_imm(8, R10, key, 0));
                self.b.load_map(R1, map);
                self.b.emit(insn::mov64_reg(R2, R10));
                self.b.emit(insn::alu64_imm(AluOp::Add, R2, key as i32));
                self.b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
                let have = self.b.label();
                let done = self.b.label();
                self.b.jmp_imm(JmpOp::Jne, R0, 0, have);
                self.b.emit(insn::st_imm(8, R10, key, 0));
                self.b.goto(done);
                self.b.bind(have);
                self.b.emit(insn::ldx(8, R1, R0, 0));
                self.b.emit(insn::stx(8, R10, key, R1));
                self.b.bind(done);
                self.b.emit(insn::call(helper::KTIME_GET_NS));
                self.b.emit(insn::ldx(8, R1, R10, key));
                self.b.emit(insn::alu64_reg(AluOp::Sub, R0, R1));
                self.spill(false, span)
            }
            "cpu" => {
                self.b.emit(insn::call(helper::GET_SMP_PROCESSOR_ID));
                self.spill(false, span)
            }
            "rand" => {
                self.b.emit(insn::call(helper::GET_PRANDOM_U32));
                self.spill(false, span)
            }
            "cpid" => match self.g.opts.child_pid {
                Some(p) => Ok(Val::Const(p as i64, false)),
                None => Err(CompileError::new(
                    span,
                    "`cpid` needs a child started with -c",
                )),
            },
            "comm" => {
                let off = self.alloc_tmp(16, span)?;
                self.b.emit(insn::mov64_reg(R1, R10));
                self.b.emit(insn::alu64_imm(AluOp::Add, R1, off as i32));
                self.b.emit(insn::mov64_imm(R2, 16));
                self.b.emit(insn::call(helper::GET_CURRENT_COMM));
                Ok(Val::Buf(off, 16))
            }
            "probe" => self.probe_name(span),
            "func" => self.func_name(span),
            "ustack" => self.ustack(
                StackMode {
                    perf: false,
                    depth: USTACK_MAX_DEPTH,
                },
                span,
            ),
            "retval" => match &self.ctx {
                Context::Usdt {
                    on_return: Some(true),
                    ..
                } => {
                    self.b
                        .emit(insn::ldx(8, R0, R6, Register::Rax.pt_regs_offset() as i16));
                    self.spill(false, span)
                }
                _ => Err(CompileError::new(
                    span,
                    "`retval` is only available in uretprobe probes",
                )),
            },
            _ => Err(CompileError::new(span, format!("unknown builtin `{name}`"))),
        }
    }

    /// Copies `size` bytes (a multiple of 8) from stack slot `src` to
    /// `dst_reg + dst_off`, through r0... r1 is clobbered.
    fn copy_words(&mut self, src: i16, dst_reg: Reg, dst_off: i16, size: usize) {
        for w in 0..size / 8 {
            let o = (w * 8) as i16;
            self.b.emit(insn::ldx(8, R1, R10, src + o));
            self.b.emit(insn::stx(8, dst_reg, dst_off + o, R1));
        }
    }

    /// `buf(ptr, n)`: up to `n` bytes of user memory (at most the constant
    /// `n`, or the string length when `n` is computed).
    fn buf(&mut self, args: &[Expr], span: Span) -> Result<Val, CompileError> {
        let [ptr, len] = args else {
            return Err(CompileError::new(
                span,
                "buf() takes a pointer and a length: buf(arg0, 16)",
            ));
        };
        let cap = match &len.kind {
            ExprKind::Integer(n) => usize::try_from(*n).unwrap_or(usize::MAX).clamp(1, 256),
            _ => self.g.opts.str_len,
        };
        let p = self.int_operand(ptr)?;
        let n = self.int_operand(len)?;
        let size = FieldKind::Buffer(cap).size();
        let slot = self.alloc_tmp(size, span)?;
        self.b.zero_stack(slot, size);
        // r2 = min(n, cap), unsigned, so the verifier sees the bound.
        self.load(&n, R2);
        let within = self.b.label();
        self.b.jmp_imm(JmpOp::Jle, R2, cap as i32, within);
        self.b.emit(insn::mov64_imm(R2, cap as i32));
        self.b.bind(within);
        self.b.emit(insn::stx(8, R10, slot, R2));
        self.load(&p, R3);
        self.b.emit(insn::mov64_reg(R1, R10));
        self.b
            .emit(insn::alu64_imm(AluOp::Add, R1, (slot + 8) as i32));
        self.b.emit(insn::call(helper::PROBE_READ_USER));
        // A failed read leaves zeroes; keep the length so it prints as such.
        Ok(Val::Bytes(slot, cap))
    }

    /// `strftime(fmt, ns)`: the nanoseconds, formatted in user space.
    fn strftime(&mut self, args: &[Expr], span: Span) -> Result<Val, CompileError> {
        let [Expr {
            kind: ExprKind::String(fmt),
            ..
        }, ns] = args
        else {
            return Err(CompileError::new(
                span,
                "strftime() takes a format literal and nanoseconds: strftime(\"%H:%M:%S\", nsecs)",
            ));
        };
        let index = match self.g.out.strftime_formats.iter().position(|f| f == fmt) {
            Some(i) => i,
            None => {
                self.g.out.strftime_formats.push(fmt.clone());
                self.g.out.strftime_formats.len() - 1
            }
        };
        let v = self.int_operand(ns)?;
        let slot = self.alloc_tmp(8, span)?;
        self.load(&v, R0);
        self.b.emit(insn::stx(8, R10, slot, R0));
        Ok(Val::Timestamp(slot, index))
    }

    /// `ustack`: the user stack's id (bpf_get_stackid with
    /// BPF_F_USER_STACK) and the pid its addresses belong to.
    fn ustack(&mut self, mode: StackMode, span: Span) -> Result<Val, CompileError> {
        const BPF_F_USER_STACK: i32 = 1 << 8;
        let slot = self.alloc_tmp(16, span)?;
        if !self.g.opts.frame_pointer_stacks {
            let maps = self.g.unwind_maps();
            let state = self.alloc_tmp(crate::unwind::STATE_SIZE, span)?;
            crate::unwind::emit_ustack(&mut self.b, &maps, R6, mode.depth, state, slot);
            return Ok(Val::UStack(slot, mode));
        }
        let map = self.g.stack_map();
        self.b.emit(insn::mov64_reg(R1, R6));
        self.b.load_map(R2, map);
        self.b.emit(insn::mov64_imm(R3, BPF_F_USER_STACK));
        self.b.emit(insn::call(helper::GET_STACKID));
        self.b.emit(insn::stx(8, R10, slot, R0));
        self.b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
        self.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
        self.b.emit(insn::stx(8, R10, slot + 8, R0));
        Ok(Val::UStack(slot, mode))
    }

    /// `func`: the traced function's name (uprobes only).
    fn func_name(&mut self, span: Span) -> Result<Val, CompileError> {
        let ids: Vec<usize> = match &self.ctx {
            Context::Usdt { sites, .. } => sites.iter().filter_map(|s| s.func_id).collect(),
            Context::Trigger { .. } => Vec::new(),
        };
        let all_sites = match &self.ctx {
            Context::Usdt { sites, .. } => sites.len(),
            Context::Trigger { .. } => 0,
        };
        if ids.is_empty() || ids.len() != all_sites {
            return Err(CompileError::new(
                span,
                "`func` is only available in uprobe and uretprobe probes",
            ));
        }
        if ids.iter().all(|&i| i == ids[0]) {
            return Ok(Val::ProbeConst(ids[0]));
        }
        let slot = self.alloc_tmp(8, span)?;
        self.dispatch_on_cookie(&ids, |c, id| {
            c.b.mov_imm(R0, *id as i64);
            c.b.emit(insn::stx(8, R10, slot, R0));
            Ok(())
        })?;
        Ok(Val::Probe(slot))
    }

    fn probe_name(&mut self, span: Span) -> Result<Val, CompileError> {
        match &self.ctx {
            Context::Trigger { probe_id } => Ok(Val::ProbeConst(*probe_id)),
            Context::Usdt { sites, .. } => {
                let ids: Vec<usize> = sites.iter().map(|s| s.probe_id).collect();
                if ids.iter().all(|&i| i == ids[0]) {
                    return Ok(Val::ProbeConst(ids[0]));
                }
                let slot = self.alloc_tmp(8, span)?;
                self.dispatch_on_cookie(&ids, |c, id| {
                    c.b.mov_imm(R0, *id as i64);
                    c.b.emit(insn::stx(8, R10, slot, R0));
                    Ok(())
                })?;
                Ok(Val::Probe(slot))
            }
        }
    }

    /// Emits per-site code: sites whose `keys` are equal share one copy.
    fn dispatch_on_cookie<K: Clone + PartialEq>(
        &mut self,
        keys: &[K],
        mut emit: impl FnMut(&mut Self, &K) -> Result<(), CompileError>,
    ) -> Result<(), CompileError> {
        let mut groups: Vec<(K, Vec<usize>)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            match groups.iter_mut().find(|(g, _)| g == k) {
                Some((_, v)) => v.push(i),
                None => groups.push((k.clone(), vec![i])),
            }
        }
        if groups.len() == 1 {
            return emit(self, &groups[0].0);
        }
        let Some(cookie) = self.cookie_slot else {
            return emit(self, &groups[0].0);
        };
        let end = self.b.label();
        self.b.emit(insn::ldx(8, R1, R10, cookie));
        let labels: Vec<Label> = groups.iter().map(|_| self.b.label()).collect();
        for (gi, (_, members)) in groups.iter().enumerate() {
            for &m in members {
                self.b.jmp_imm(JmpOp::Jeq, R1, m as i32, labels[gi]);
            }
        }
        // An unknown cookie: fall into the first group.
        self.b.goto(labels[0]);
        for (gi, (k, _)) in groups.iter().enumerate() {
            self.b.bind(labels[gi]);
            emit(self, k)?;
            self.b.goto(end);
        }
        self.b.bind(end);
        Ok(())
    }

    fn arg(&mut self, n: usize, span: Span) -> Result<Val, CompileError> {
        let specs: Vec<(Result<ArgSpec, String>, u64)> = match &self.ctx {
            Context::Trigger { .. } => {
                return Err(CompileError::new(
                    span,
                    format!("`arg{n}` is not available in this probe"),
                ))
            }
            Context::Usdt { sites, .. } => sites
                .iter()
                .map(|s| {
                    let spec = match s.args.get(n) {
                        Some(r) => r.clone(),
                        None => {
                            let name = self
                                .g
                                .out
                                .probe_names
                                .get(s.probe_id)
                                .cloned()
                                .unwrap_or_default();
                            let count = s.args.len();
                            Err(match count {
                                0 => format!("{name} has no arguments"),
                                1 => format!("{name} has only 1 argument (arg0)"),
                                _ => format!(
                                    "{name} has only {count} arguments (arg0..arg{})",
                                    count - 1
                                ),
                            })
                        }
                    };
                    (spec, s.pc)
                })
                .collect(),
        };
        for (spec, _) in &specs {
            if let Err(why) = spec {
                return Err(CompileError::new(
                    span,
                    format!("cannot read `arg{n}`: {why}"),
                ));
            }
        }
        let signed = specs.iter().any(|(s, _)| matches!(s, Ok(a) if a.signed));
        let slot = self.alloc_tmp(8, span)?;
        // Static operands depend on the site's pc, so they key on it too.
        let keys: Vec<(ArgSpec, u64)> = specs
            .into_iter()
            .filter_map(|(s, pc)| {
                s.ok().map(|s| {
                    let pc_key = if matches!(s.location, ustrace_probes::ArgLocation::Static { .. })
                    {
                        pc
                    } else {
                        0
                    };
                    (s, pc_key)
                })
            })
            .collect();
        self.dispatch_on_cookie(&keys, |c, (spec, pc)| {
            usdt_args::read_arg(&mut c.b, spec, *pc, slot);
            Ok(())
        })?;
        Ok(Val::Slot(slot, signed))
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
        name_span: Span,
    ) -> Result<Val, CompileError> {
        match name {
            "printf" => self.printf(args, span),
            "time" => self.time(args, span),
            "reg" => {
                let [Expr {
                    kind: ExprKind::String(r),
                    span: rspan,
                }] = args
                else {
                    return Err(CompileError::new(
                        span,
                        "reg() takes a register name: reg(\"ip\")",
                    ));
                };
                let reg = match r.as_str() {
                    "ip" => Register::Rip,
                    "sp" => Register::Rsp,
                    "bp" => Register::Rbp,
                    "ax" => Register::Rax,
                    "bx" => Register::Rbx,
                    "cx" => Register::Rcx,
                    "dx" => Register::Rdx,
                    "si" => Register::Rsi,
                    "di" => Register::Rdi,
                    "r8" => Register::R8,
                    "r9" => Register::R9,
                    "r10" => Register::R10,
                    "r11" => Register::R11,
                    "r12" => Register::R12,
                    "r13" => Register::R13,
                    "r14" => Register::R14,
                    "r15" => Register::R15,
                    other => {
                        return Err(CompileError::new(
                            *rspan,
                            format!(
                                "unknown register `{other}` (ip sp bp ax bx cx dx si di r8..r15)"
                            ),
                        ))
                    }
                };
                if !matches!(self.ctx, Context::Usdt { .. }) {
                    return Err(CompileError::new(
                        span,
                        "reg() is only available in usdt, uprobe and uretprobe probes",
                    ));
                }
                self.b
                    .emit(insn::ldx(8, R0, R6, reg.pt_regs_offset() as i16));
                self.spill(false, span)
            }
            "uaddr" => {
                let [Expr {
                    kind: ExprKind::String(sym),
                    span: sym_span,
                }] = args
                else {
                    return Err(CompileError::new(
                        span,
                        "uaddr() takes a symbol name: uaddr(\"main\")",
                    ));
                };
                match self.g.opts.uaddr.get(sym) {
                    Some(&a) => Ok(Val::Const(a as i64, false)),
                    None => Err(CompileError::new(
                        *sym_span,
                        format!("uaddr(): no symbol `{sym}` in the files this script probes"),
                    )),
                }
            }
            "usym" => {
                let [addr] = args else {
                    return Err(CompileError::new(
                        span,
                        "usym() takes one address: usym(reg(\"ip\")) or usym(arg0)",
                    ));
                };
                let v = self.int_operand(addr)?;
                let slot = self.alloc_tmp(16, span)?;
                self.load(&v, R0);
                self.b.emit(insn::stx(8, R10, slot, R0));
                self.b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
                self.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
                self.b.emit(insn::stx(8, R10, slot + 8, R0));
                Ok(Val::USym(slot))
            }
            "buf" => self.buf(args, span),
            "strftime" => self.strftime(args, span),
            "system" => {
                if !self.g.opts.allow_unsafe {
                    return Err(CompileError::new(
                        name_span,
                        "system() runs commands; it needs the --unsafe flag",
                    ));
                }
                self.formatted(args, PrintfKind::System, span)
            }
            "ustack" => {
                let mut mode = StackMode {
                    perf: false,
                    depth: USTACK_MAX_DEPTH,
                };
                for (i, a) in args.iter().enumerate() {
                    match &a.kind {
                        ExprKind::Builtin(b) if b == "perf" && i == 0 => mode.perf = true,
                        ExprKind::Integer(n)
                            if i + 1 == args.len() && (1..=u64::from(USTACK_MAX_DEPTH)).contains(n) =>
                        {
                            mode.depth = *n as u8
                        }
                        _ => {
                            return Err(CompileError::new(
                                a.span,
                                format!("ustack() takes `perf` and/or a frame count from 1 to {USTACK_MAX_DEPTH}: ustack(perf, 8)"),
                            ))
                        }
                    }
                }
                self.ustack(mode, span)
            }
            "exit" => {
                let code = match args.first() {
                    Some(a) => self.int_operand(a)?,
                    None => Val::Const(0, false),
                };
                self.load(&code, R7);
                self.emit_record(span, 16, |c, rec| {
                    c.b.mov_imm(R1, TAG_EXIT as i64);
                    c.b.emit(insn::stx(8, rec, 0, R1));
                    c.b.emit(insn::stx(8, rec, 8, R7));
                })?;
                let l = self.exit_label;
                self.b.goto(l);
                Ok(Val::Void)
            }
            "str" => {
                let Some(ptr) = args.first() else {
                    return Err(CompileError::new(
                        span,
                        "str() needs a pointer argument: str(ptr[, len])",
                    ));
                };
                let default_len = self.g.opts.str_len;
                let len = match args.get(1) {
                    Some(e) => match &e.kind {
                        ExprKind::Integer(n) => (*n as usize).clamp(1, default_len.max(1)),
                        _ => default_len,
                    },
                    None => default_len,
                };
                let p = self.int_operand(ptr)?;
                let buf = self.alloc_tmp(len.max(8), span)?;
                self.b.zero_stack(buf, (len.max(8) + 7) & !7);
                self.load(&p, R3);
                if let Some(lenexpr) = args.get(1) {
                    if !matches!(lenexpr.kind, ExprKind::Integer(_)) {
                        // Runtime length: clamp into [1, len].
                        let lv = self.int_operand(lenexpr)?;
                        self.load(&lv, R2);
                        self.b.emit(insn::alu64_imm(AluOp::Add, R2, 1));
                        let ok = self.b.label();
                        self.b.jmp_imm(JmpOp::Jle, R2, len as i32, ok);
                        self.b.emit(insn::mov64_imm(R2, len as i32));
                        self.b.bind(ok);
                        let ok2 = self.b.label();
                        self.b.jmp_imm(JmpOp::Jge, R2, 1, ok2);
                        self.b.emit(insn::mov64_imm(R2, 1));
                        self.b.bind(ok2);
                        self.load(&p, R3);
                    } else {
                        self.b.emit(insn::mov64_imm(R2, len as i32));
                    }
                } else {
                    self.b.emit(insn::mov64_imm(R2, len as i32));
                }
                self.b.emit(insn::mov64_reg(R1, R10));
                self.b.emit(insn::alu64_imm(AluOp::Add, R1, buf as i32));
                self.b.emit(insn::call(helper::PROBE_READ_USER_STR));
                Ok(Val::Buf(buf, len))
            }
            "delete" => {
                let [target] = args else {
                    return Err(CompileError::new(
                        span,
                        "delete() takes one map element: delete(@m[key])",
                    ));
                };
                self.map_delete(target, span)?;
                Ok(Val::Void)
            }
            "has_key" => {
                let [target] = args else {
                    return Err(CompileError::new(
                        span,
                        "has_key() takes one map element: has_key(@m[key])",
                    ));
                };
                self.map_has_key(target, span)
            }
            "print" | "clear" | "zero" => {
                let tag = match name {
                    "print" => TAG_PRINT_MAP,
                    "clear" => TAG_CLEAR_MAP,
                    _ => TAG_ZERO_MAP,
                };
                if name == "print"
                    && !matches!(args.first().map(|a| &a.kind), Some(ExprKind::Map { keys, .. }) if keys.is_empty())
                {
                    let [value] = args else {
                        return Err(CompileError::new(
                            span,
                            "print() of a value takes exactly one argument",
                        ));
                    };
                    return self.print_value(value, span);
                }
                self.map_command(tag, args, span)?;
                Ok(Val::Void)
            }
            n if is_aggregation(n) => Err(CompileError::new(
                span,
                format!("{n}() must be assigned to a map, e.g. @x = {n}(...)"),
            )),
            _ => Err(CompileError::new(
                name_span,
                format!("unknown function `{name}`"),
            )),
        }
    }

    /// Reserves a ring buffer record of `size` bytes, lets `fill` write it
    /// through the register it is given, and submits it; counts a lost event
    /// when the buffer is full.
    fn emit_record(
        &mut self,
        _span: Span,
        size: usize,
        fill: impl FnOnce(&mut Self, Reg),
    ) -> Result<(), CompileError> {
        let rb = self.g.out.ringbuf;
        let lost = self.g.out.lost_counter;
        let key_off = self.alloc_tmp(8, _span)?;
        self.b.load_map(R1, rb);
        self.b.emit(insn::mov64_imm(R2, size as i32));
        self.b.emit(insn::mov64_imm(R3, 0));
        self.b.emit(insn::call(helper::RINGBUF_RESERVE));
        let full = self.b.label();
        let done = self.b.label();
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, full);
        self.b.emit(insn::mov64_reg(insn::R8, R0));
        fill(self, insn::R8);
        self.b.emit(insn::mov64_reg(R1, insn::R8));
        self.b.emit(insn::mov64_imm(R2, 0));
        self.b.emit(insn::call(helper::RINGBUF_SUBMIT));
        self.b.goto(done);
        self.b.bind(full);
        // lost[0] += 1
        self.b.emit(insn::st_imm(8, R10, key_off, 0));
        self.b.load_map(R1, lost);
        self.b.emit(insn::mov64_reg(R2, R10));
        self.b.emit(insn::alu64_imm(AluOp::Add, R2, key_off as i32));
        self.b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, done);
        self.b.emit(insn::mov64_imm(R1, 1));
        self.b.emit(insn::atomic_add64(R0, 0, R1));
        self.b.bind(done);
        Ok(())
    }

    fn printf(&mut self, args: &[Expr], span: Span) -> Result<Val, CompileError> {
        self.formatted(args, PrintfKind::Printf, span)
    }

    /// printf() and system(): a format and its arguments, as one record.
    fn formatted(
        &mut self,
        args: &[Expr],
        kind: PrintfKind,
        span: Span,
    ) -> Result<Val, CompileError> {
        let Some(fmt_expr) = args.first() else {
            return Err(CompileError::new(span, "printf() needs a format string"));
        };
        let ExprKind::String(fmt) = &fmt_expr.kind else {
            return Err(CompileError::new(
                fmt_expr.span,
                "printf()'s first argument must be a string literal",
            ));
        };
        let format = match ustrace_lang::printf::parse_format(fmt) {
            Ok(f) => f,
            Err(e) => return Err(CompileError::new(fmt_expr.span, e.to_string())),
        };
        let wanted = format.arg_count();
        if wanted != args.len() - 1 {
            return Err(CompileError::new(
                span,
                format!(
                    "printf: the format wants {wanted} argument(s) but {} given",
                    args.len() - 1
                ),
            ));
        }
        // Evaluate every argument first (helpers may run), then copy them
        // into the record in one go.
        let mut vals = Vec::new();
        let mut fields = Vec::new();
        for a in &args[1..] {
            let v = self.expr(a)?;
            let f = match v.ty() {
                Ty::Int { signed } => FieldKind::Int { signed },
                Ty::Str(n) => FieldKind::Str(n),
                Ty::ProbeName => FieldKind::ProbeName,
                Ty::UStack(m) => FieldKind::UStack(m),
                Ty::USym => FieldKind::USym,
                Ty::Buffer(n) => FieldKind::Buffer(n),
                Ty::Timestamp(i) => FieldKind::Strftime(i),
                Ty::Void => {
                    return Err(CompileError::new(
                        a.span,
                        "this expression has no value to print",
                    ))
                }
            };
            if let Some(conv) = format.conversions().nth(fields.len()) {
                if let Some(msg) = crate::printf_types::mismatch(conv, &f) {
                    return Err(CompileError::new(a.span, msg));
                }
            }
            vals.push(v);
            fields.push(f);
        }
        self.emit_printf(fmt.clone(), vals, fields, kind, span)
    }

    /// `time([fmt])`: the current local time, formatted by strftime in user
    /// space when the record is printed (bpftrace's default `%H:%M:%S\n`).
    fn time(&mut self, args: &[Expr], span: Span) -> Result<Val, CompileError> {
        let fmt = match args {
            [] => "%H:%M:%S\n".to_string(),
            [Expr {
                kind: ExprKind::String(f),
                ..
            }] => f.clone(),
            _ => {
                return Err(CompileError::new(
                    span,
                    "time() takes an optional string literal: time(\"%H:%M:%S\\n\")",
                ))
            }
        };
        self.emit_printf(fmt, Vec::new(), Vec::new(), PrintfKind::Time, span)
    }

    /// `print(value)`: the value and a newline, as a printf record.
    fn print_value(&mut self, arg: &Expr, span: Span) -> Result<Val, CompileError> {
        let v = self.expr(arg)?;
        let (fmt, field) = match v.ty() {
            Ty::Int { signed: true } => ("%ld\n", FieldKind::Int { signed: true }),
            Ty::Int { signed: false } => ("%lu\n", FieldKind::Int { signed: false }),
            Ty::Str(n) => ("%s\n", FieldKind::Str(n)),
            Ty::ProbeName => ("%s\n", FieldKind::ProbeName),
            Ty::UStack(m) => ("%s\n", FieldKind::UStack(m)),
            Ty::USym => ("%s\n", FieldKind::USym),
            Ty::Buffer(n) => ("%r\n", FieldKind::Buffer(n)),
            Ty::Timestamp(i) => ("%s\n", FieldKind::Strftime(i)),
            Ty::Void => {
                return Err(CompileError::new(
                    arg.span,
                    "this expression has no value to print",
                ))
            }
        };
        self.emit_printf(
            fmt.to_string(),
            vec![v],
            vec![field],
            PrintfKind::Printf,
            span,
        )
    }

    /// Emits the ring buffer record of a printf whose arguments are already
    /// evaluated.
    fn emit_printf(
        &mut self,
        fmt: String,
        vals: Vec<Val>,
        fields: Vec<FieldKind>,
        kind: PrintfKind,
        span: Span,
    ) -> Result<Val, CompileError> {
        let def = PrintfDef::new(fmt, fields.clone(), kind)
            .map_err(|e| CompileError::new(span, e.to_string()))?;
        let id = match self.g.out.printfs.iter().position(|p| *p == def) {
            Some(i) => i,
            None => {
                self.g.out.printfs.push(def.clone());
                self.g.out.printfs.len() - 1
            }
        };
        let size = def.record_size();
        self.emit_record(span, size, |c, rec| {
            c.b.mov_imm(R1, id as i64);
            c.b.emit(insn::stx(8, rec, 0, R1));
            let mut off = 8i16;
            for (v, f) in vals.iter().zip(&fields) {
                match (v, f) {
                    (Val::StrConst(s), FieldKind::Str(n)) => {
                        let bytes = s.as_bytes();
                        let padded = (*n + 7) & !7;
                        for w in 0..padded / 8 {
                            c.b.emit(insn::st_imm(8, rec, off + (w * 8) as i16, 0));
                        }
                        c.store_bytes(rec, off, &bytes[..bytes.len().min(n.saturating_sub(1))]);
                    }
                    (Val::Buf(src, _), FieldKind::Str(n)) => {
                        for w in 0..(*n).div_ceil(8) {
                            let o = (w * 8) as i16;
                            c.b.emit(insn::ldx(8, R1, R10, src + o));
                            c.b.emit(insn::stx(8, rec, off + o, R1));
                        }
                    }
                    (Val::UStack(src, _), FieldKind::UStack(_))
                    | (Val::USym(src), FieldKind::USym) => c.copy_words(*src, rec, off, 16),
                    (Val::Bytes(src, _), FieldKind::Buffer(_)) => {
                        c.copy_words(*src, rec, off, f.size())
                    }
                    _ => {
                        c.load(v, R1);
                        c.b.emit(insn::stx(8, rec, off, R1));
                    }
                }
                off += f.size() as i16;
            }
        })?;
        Ok(Val::Void)
    }
}

impl Ty {
    fn str_len(self) -> usize {
        match self {
            Ty::Str(n) => n,
            _ => 8,
        }
    }
}

fn unreachable_logical() {}

/// True for the functions that aggregate into a map.
fn is_aggregation(name: &str) -> bool {
    matches!(
        name,
        "count" | "sum" | "min" | "max" | "avg" | "stats" | "hist" | "lhist"
    )
}

fn is_comparison(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
    )
}

/// Constant folding with the same semantics as the generated code.
fn fold(op: BinaryOp, a: i64, b: i64, signed: bool) -> Option<i64> {
    let (ua, ub) = (a as u64, b as u64);
    Some(match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::Div => {
            if b == 0 {
                0
            } else if signed {
                a.wrapping_div(b)
            } else {
                (ua / ub) as i64
            }
        }
        BinaryOp::Mod => {
            if b == 0 {
                0
            } else if signed {
                a.wrapping_rem(b)
            } else {
                (ua % ub) as i64
            }
        }
        BinaryOp::BitAnd => a & b,
        BinaryOp::BitOr => a | b,
        BinaryOp::BitXor => a ^ b,
        BinaryOp::Shl => ua.wrapping_shl(ub as u32 & 63) as i64,
        BinaryOp::Shr => {
            if signed {
                a.wrapping_shr(ub as u32 & 63)
            } else {
                ua.wrapping_shr(ub as u32 & 63) as i64
            }
        }
        BinaryOp::Eq => (a == b) as i64,
        BinaryOp::Ne => (a != b) as i64,
        BinaryOp::Lt => (if signed { a < b } else { ua < ub }) as i64,
        BinaryOp::Le => (if signed { a <= b } else { ua <= ub }) as i64,
        BinaryOp::Gt => (if signed { a > b } else { ua > ub }) as i64,
        BinaryOp::Ge => (if signed { a >= b } else { ua >= ub }) as i64,
        BinaryOp::And | BinaryOp::Or => return None,
    })
}

/// Parses a positional parameter as an integer (decimal or 0x hex).
fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x") {
        return u64::from_str_radix(h, 16).ok().map(|v| v as i64);
    }
    t.parse::<i64>().ok()
}
