//! ustrace as a library: trace user-space programs with eBPF from Rust.
//!
//! This is the layer the `ustrace` command is built on, and the Rust
//! counterpart of BCC's Python USDT API. It offers:
//!
//! - **probe discovery**: [`probes`] re-exports the discovery layer (USDT
//!   notes, argument specs, process maps, library lookup), and
//!   [`list_probes`] lists what a pattern matches;
//! - **scripts**: [`Script::compile`] turns bpftrace-language source into
//!   eBPF programs (no LLVM), [`Script::start`] loads and attaches them, and
//!   the returned [`Tracer`] delivers each event as a [`Record`];
//! - **output**: a [`sink::Sink`] writes records as text, JSON or folded
//!   stacks, exactly as the `ustrace` command does;
//! - **the BCC-style USDT API**: [`Usdt`] lists a process's probes,
//!   enables some, and yields each hit's arguments as numbers.
//!
//! Loading BPF needs root (or CAP_BPF and CAP_PERFMON): the examples below
//! compile as tests but are not run by them.
//!
//! # A script and its tracer
//!
//! ```no_run
//! use std::time::Duration;
//! use ustrace::{Record, Script, ScriptOptions};
//!
//! let options = ScriptOptions::builder().pid(1234).build();
//! let script = Script::compile(
//!     r#"usdt:/usr/bin/test-server:test_grp:test_idx { printf("%d\n", arg0); @n = count(); }"#,
//!     "example.bt",
//!     &options,
//! )?;
//! let mut tracer = script.start()?;
//! tracer.begin();
//! for _ in 0..50 {
//!     for record in tracer.poll(Duration::from_millis(100))? {
//!         if let Record::Printf { text, .. } = record {
//!             print!("{text}");
//!         }
//!     }
//! }
//! tracer.end()?;
//! for map in tracer.final_maps()? {
//!     if let Record::Map { text, .. } = map {
//!         print!("{text}");
//!     }
//! }
//! # Ok::<(), ustrace::Error>(())
//! ```
//!
//! # The same, written by a sink
//!
//! ```no_run
//! use std::time::Duration;
//! use ustrace::sink::{JsonSink, Sink};
//! use ustrace::{Script, ScriptOptions};
//!
//! let script = Script::compile(
//!     r#"uprobe:/bin/bash:readline { @[comm] = count(); }"#,
//!     "example.bt",
//!     &ScriptOptions::default(),
//! )?;
//! let mut sink = JsonSink::new(std::io::stdout());
//! sink.begin(script.attach_count())?;
//! let mut tracer = script.start()?;
//! tracer.begin();
//! std::thread::sleep(Duration::from_secs(5));
//! for record in tracer.poll(Duration::ZERO)?.iter().chain(&tracer.end()?) {
//!     sink.record(record)?;
//! }
//! sink.trace_ended()?;
//! for map in tracer.final_maps()? {
//!     sink.record(&map)?;
//! }
//! sink.flush()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # USDT probes, BCC style
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let usdt = ustrace::Usdt::for_pid(1234).enable_probe("test_grp:test_idx")?;
//! let mut tracer = usdt.compile()?.start()?;
//! for _ in 0..50 {
//!     for hit in tracer.poll(Duration::from_millis(100))? {
//!         println!("pid {} {}: {:?}", hit.pid, hit.probe, hit.args);
//!     }
//! }
//! # Ok::<(), ustrace::Error>(())
//! ```

#![deny(missing_docs)]

mod config;
mod context;
mod error;
mod host;
mod labels;
mod listing;
mod map_reader;
mod maps;
mod perf_map;
mod profile;
mod record;
mod refused;
mod resolve;
mod signatures;
pub mod sink;
mod stacks;
mod syscalls;
mod tracer;
mod usdt;
mod values;

pub use context::EventContext;
pub use error::Error;
pub use labels::BlockBinding;
pub use listing::{
    list_probes, list_probes_with_warnings, list_process_probes, list_script_probes, Listing,
};
pub use map_reader::{MapInfo, MapReader};
pub use profile::StackProfile;
pub use record::{MessageLevel, Record};
pub use tracer::{FullMap, Tracer};
pub use usdt::{ProbeInfo, Usdt, UsdtEvent, UsdtScript, UsdtTracer};
pub use ustrace_output as output;
pub use ustrace_probes as probes;
/// What this kernel offers (`ustrace --info`): each feature tried for real.
pub use ustrace_runtime::features::{kernel_release, probe_features, Feature};

// Types that public functions return or take, so users need not depend on
// the inner crates.
pub use ustrace_abi::DecodeError;
pub use ustrace_codegen::insn::Insn;
pub use ustrace_codegen::program;
pub use ustrace_codegen::program::CompiledScript;
pub use ustrace_lang::ast;
pub use ustrace_output::{MapEntry, MapStyle, MapValue, Value};
pub use ustrace_probes::ProbeError;

/// Checks that this process may load BPF programs and attach uprobes:
/// root, or the capabilities CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN).
/// The error is one line saying what is missing.
pub fn check_privileges() -> Result<(), Error> {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |c: u32| caps & (1u64 << c) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return Ok(());
    }
    Err(Error::Kernel {
        message: "ustrace needs root (or the capabilities CAP_BPF and CAP_PERFMON) to load BPF programs and attach uprobes".to_string(),
        details: String::new(),
    })
}

/// Renders eBPF instructions in the verifier's notation (for `-d`).
pub fn disassemble(insns: &[Insn]) -> String {
    ustrace_codegen::disasm::disassemble(insns)
}

/// Settings for compiling and running a script. Build one with
/// [`ScriptOptions::builder`] (new settings may be added, so it cannot be
/// written as a struct literal outside this crate):
///
/// ```
/// let options = ustrace::ScriptOptions::builder().pid(1234).str_len(32).build();
/// assert_eq!(options.pid, Some(1234));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScriptOptions {
    /// Trace only this process (`-p`); its mapped libraries are searched for
    /// attach points given by name.
    pub pid: Option<u32>,
    /// The process started by `-c` (its pid is also `cpid`).
    pub child_pid: Option<u32>,
    /// The program that process will exec (its start-up files' unwind
    /// tables are built before it runs).
    pub child_program: Option<std::path::PathBuf>,
    /// Default `str()` length (bpftrace's BPFTRACE_STRLEN).
    pub str_len: usize,
    /// Positional parameters `$1`...
    pub positional: Vec<String>,
    /// Keep verifier logs (for `-d`).
    pub verifier_log: bool,
    /// Attach with one perf-event uprobe per site instead of uprobe_multi.
    pub force_perf_attach: bool,
    /// Allow `system()` (`--unsafe`).
    pub allow_unsafe: bool,
    /// Report every failed read of user memory at once, with the script
    /// location (bpftrace's `-k`); failures are counted either way
    /// ([`Tracer::failed_reads`]).
    pub warn_failed_reads: bool,
    /// Give every printf record its [`EventContext`] (task name, pid, tid,
    /// CPU, timestamp, probe) in [`Record::Printf::context`].
    pub event_context: bool,
    /// `Some`: blocks may be labelled with a bare name (`handler { }`),
    /// and these bindings give each label its probes (BCC's `fn_name`).
    pub block_bindings: Option<Vec<BlockBinding>>,
    /// Most keys a `@map` holds (bpftrace's `max_map_keys`); updates of
    /// new keys into a full map fail, and [`Tracer::full_maps`] tells.
    pub max_map_keys: u32,
    /// How `ustack` walks user stacks. The default comes from the
    /// environment variable `USTRACE_STACK_MODE` (`fp` for frame pointers;
    /// anything else, or unset, for unwind tables).
    pub stack_walk: StackWalk,
    /// Settings that win over the script's `config = { ... }` block, as
    /// bpftrace's environment variables do: see [`config_from_env`].
    pub config_overrides: ustrace_lang::ast::Config,
}

/// The config settings of bpftrace's environment variables
/// (`BPFTRACE_MAX_STRLEN`, `BPFTRACE_MISSING_PROBES`,
/// `BPFTRACE_CPP_DEMANGLE`, ...) in this process's environment, for
/// [`ScriptOptionsBuilder::config_overrides`]. Err: the variable with a
/// value out of range, one line.
pub fn config_from_env() -> Result<ustrace_lang::ast::Config, Error> {
    ustrace_lang::parser::config_from_env(std::env::vars()).map_err(Error::Config)
}

/// How `ustack` walks user stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackWalk {
    /// With unwind tables built from `.eh_frame`, frame pointers only where
    /// a pc has no table row (the default).
    Tables,
    /// By frame pointers only (the kernel's `bpf_get_stackid`), like
    /// bpftrace 0.17: cheaper, but loses frames of code built without them.
    FramePointer,
}

impl StackWalk {
    /// The mode `USTRACE_STACK_MODE` asks for (`fp` or `frame-pointer`:
    /// [`StackWalk::FramePointer`]; otherwise [`StackWalk::Tables`]).
    pub fn from_env() -> StackWalk {
        match std::env::var("USTRACE_STACK_MODE").as_deref() {
            Ok("fp") | Ok("frame-pointer") | Ok("frame_pointer") => StackWalk::FramePointer,
            _ => StackWalk::Tables,
        }
    }
}

/// The default of [`ScriptOptions::max_map_keys`] (bpftrace's too).
pub const DEFAULT_MAX_MAP_KEYS: u32 = 4096;

impl Default for ScriptOptions {
    fn default() -> Self {
        ScriptOptions {
            pid: None,
            child_pid: None,
            child_program: None,
            str_len: 64,
            positional: Vec::new(),
            verifier_log: false,
            force_perf_attach: false,
            allow_unsafe: false,
            warn_failed_reads: false,
            event_context: false,
            block_bindings: None,
            max_map_keys: DEFAULT_MAX_MAP_KEYS,
            stack_walk: StackWalk::from_env(),
            config_overrides: Default::default(),
        }
    }
}

impl ScriptOptions {
    /// A builder starting from the defaults (all processes, `str()` length
    /// 64, no positional parameters, nothing unsafe).
    pub fn builder() -> ScriptOptionsBuilder {
        ScriptOptionsBuilder {
            options: ScriptOptions::default(),
        }
    }
}

/// Builds [`ScriptOptions`]; each method sets one setting.
#[derive(Debug, Clone)]
pub struct ScriptOptionsBuilder {
    options: ScriptOptions,
}

impl ScriptOptionsBuilder {
    /// Trace only process `pid` (`-p`).
    pub fn pid(mut self, pid: u32) -> Self {
        self.options.pid = Some(pid);
        self
    }

    /// The process started for `-c`: traced only, and its pid is `cpid`.
    pub fn child_pid(mut self, pid: u32) -> Self {
        self.options.child_pid = Some(pid);
        self
    }

    /// The program the `-c` process will exec: the unwind tables of the
    /// files it maps at start are built before it is released.
    pub fn child_program(mut self, program: impl Into<std::path::PathBuf>) -> Self {
        self.options.child_program = Some(program.into());
        self
    }

    /// Default `str()` length in bytes.
    pub fn str_len(mut self, len: usize) -> Self {
        self.options.str_len = len;
        self
    }

    /// Config settings that win over the script's `config` block (from
    /// [`config_from_env`], as bpftrace reads its environment).
    pub fn config_overrides(mut self, config: ustrace_lang::ast::Config) -> Self {
        self.options.config_overrides = config;
        self
    }

    /// Positional parameters `$1`, `$2`... (also in attach points:
    /// `uprobe:$1:$2`).
    pub fn positional(mut self, params: Vec<String>) -> Self {
        self.options.positional = params;
        self
    }

    /// Keep the verifier logs of accepted programs (`-d`).
    pub fn verifier_log(mut self, on: bool) -> Self {
        self.options.verifier_log = on;
        self
    }

    /// Attach with one perf-event uprobe per site instead of uprobe_multi.
    pub fn force_perf_attach(mut self, on: bool) -> Self {
        self.options.force_perf_attach = on;
        self
    }

    /// Allow `system()` (`--unsafe`).
    pub fn allow_unsafe(mut self, on: bool) -> Self {
        self.options.allow_unsafe = on;
        self
    }

    /// Report every failed read of user memory at once (bpftrace's `-k`).
    pub fn warn_failed_reads(mut self, on: bool) -> Self {
        self.options.warn_failed_reads = on;
        self
    }

    /// Give every printf record its [`EventContext`].
    pub fn event_context(mut self, on: bool) -> Self {
        self.options.event_context = on;
        self
    }

    /// Let blocks be labelled with a bare name, bound to probes here.
    pub fn block_bindings(mut self, bindings: Vec<BlockBinding>) -> Self {
        self.options.block_bindings = Some(bindings);
        self
    }

    /// How `ustack` walks user stacks.
    pub fn stack_walk(mut self, walk: StackWalk) -> Self {
        self.options.stack_walk = walk;
        self
    }

    /// Most keys a `@map` may hold.
    pub fn max_map_keys(mut self, keys: u32) -> Self {
        self.options.max_map_keys = keys;
        self
    }

    /// The options.
    pub fn build(self) -> ScriptOptions {
        self.options
    }
}

/// Stack size of the thread [`Script::compile`] runs on. Address space
/// only: pages are touched as deep as a script needs (a 1,000-operator
/// chain takes about 8 MiB in a debug build).
pub const COMPILE_STACK_BYTES: usize = 64 << 20;

/// A compiled script: programs ready to load, and what they need to print.
///
/// Compiling needs no privileges; [`Script::start`] does.
///
/// ```
/// use ustrace::{Script, ScriptOptions};
///
/// let script = Script::compile(
///     r#"BEGIN { printf("hello\n"); exit(); }"#,
///     "hello.bt",
///     &ScriptOptions::default(),
/// )?;
/// assert_eq!(script.attach_count(), 1);
/// // A mistake is an error pointing at the script text.
/// let err = Script::compile("BEGIN { @x = nosuch(); }", "bad.bt", &ScriptOptions::default())
///     .err()
///     .expect("an unknown function");
/// assert!(err.to_string().starts_with("bad.bt:1:"), "{err}");
/// # Ok::<(), ustrace::Error>(())
/// ```
#[derive(Clone)]
pub struct Script {
    source: String,
    source_name: String,
    ast: ast::Script,
    compiled: CompiledScript,
    options: ScriptOptions,
    warnings: Vec<String>,
}

impl Script {
    /// Parses, resolves attach points against files and processes, checks
    /// types and generates code. Errors point into `source`, named
    /// `source_name` in messages.
    ///
    /// The work runs on a thread of its own with a [`COMPILE_STACK_BYTES`]
    /// stack: the passes are recursive, and the parser's limits on nesting
    /// and chaining are sized for that stack, not for the caller's.
    pub fn compile(
        source: &str,
        source_name: &str,
        options: &ScriptOptions,
    ) -> Result<Script, Error> {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("ustrace-compile".into())
                .stack_size(COMPILE_STACK_BYTES)
                .spawn_scoped(scope, || Script::compile_here(source, source_name, options))
                .map_err(|e| Error::Internal(format!("cannot start the compiler thread: {e}")))?
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn compile_here(
        source: &str,
        source_name: &str,
        options: &ScriptOptions,
    ) -> Result<Script, Error> {
        let parse_options = ustrace_lang::ParseOptions {
            labels: options.block_bindings.is_some(),
            positional: options.positional.clone(),
        };
        let parsed = ustrace_lang::parse_with(source, &parse_options);
        let mut ast = parsed.map_err(|d| Error::script(source_name, source, d))?;
        if let Some(bindings) = &options.block_bindings {
            labels::bind(&mut ast, bindings).map_err(|e| e.with_source(source_name, source))?;
        }
        if options.event_context {
            context::add_context(&mut ast);
        }
        ast.config = ast.config.clone().overridden_by(&options.config_overrides);
        let configured = config::apply(&ast.config, options);
        let options = &configured;
        let unused = host::unused_map_decls(&ast, source_name, source);
        let (resolved, mut warnings) =
            resolve::resolve(&ast, options).map_err(|e| e.with_source(source_name, source))?;
        warnings.splice(0..0, unused);
        if options.child_pid.is_none() {
            warnings.extend(host::cpid_without_child(&ast, source_name, source));
        }
        let uaddr = resolve::uaddr_symbols(&ast, &resolved);
        let program_types = signatures::program_types(&ast, &resolved);
        let opts = ustrace_codegen::CompileOptions {
            pid: options.pid.or(options.child_pid),
            str_len: options.str_len,
            positional: options.positional.clone(),
            child_pid: options.child_pid,
            allow_unsafe: options.allow_unsafe,
            warn_failed_reads: options.warn_failed_reads,
            uaddr,
            frame_pointer_stacks: options.stack_walk == StackWalk::FramePointer,
            program_types,
            ncpus: u32::try_from(ustrace_runtime::sys::online_cpus().len()).unwrap_or(1),
            possible_cpus: u32::try_from(ustrace_runtime::sys::possible_cpus()).unwrap_or(1),
            stack_format: stack_format(ast.config.stack_mode),
            task_parent: host::task_parent_offsets(&ast),
            pid_namespace: host::pid_namespace(),
            vma_fields: host::vma_offsets(&ast, options.stack_walk),
            ..Default::default()
        };
        let mut compiled = ustrace_codegen::compile(&ast, &resolved, &opts).map_err(|e| {
            Error::script(
                source_name,
                source,
                ustrace_lang::Diagnostic::error(e.span, e.message),
            )
        })?;
        warnings.extend(host::compile_warnings(&compiled, source_name, source));
        for map in &mut compiled.maps {
            if let ustrace_codegen::program::MapRole::User(u) = &map.role {
                // A declared map (`let @m = hash(N);`) keeps its own size.
                let declared = ast
                    .map_decls
                    .iter()
                    .any(|d| format!("@{}", d.name) == u.name);
                if !declared {
                    map.max_entries = options.max_map_keys.max(1);
                }
            }
        }
        Ok(Script {
            source: source.to_string(),
            source_name: source_name.to_string(),
            ast,
            compiled,
            options: options.clone(),
            warnings,
        })
    }

    /// Warnings about the resolved attach points (one line each, e.g. a
    /// file the traced process cannot see), for the caller to show.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How many probes will be attached, as bpftrace counts them.
    pub fn attach_count(&self) -> usize {
        self.compiled.attach_count
    }

    /// The parsed script.
    pub fn ast(&self) -> &ast::Script {
        &self.ast
    }

    /// The generated programs (for `-d` and tests).
    pub fn compiled(&self) -> &CompiledScript {
        &self.compiled
    }

    /// Loads and attaches every program. Events flow once this returns;
    /// call [`Tracer::begin`] to run BEGIN blocks.
    pub fn start(&self) -> Result<Tracer, Error> {
        let opts = ustrace_runtime::SessionOptions {
            pid: self.options.pid.or(self.options.child_pid),
            verifier_log: self.options.verifier_log,
            force_perf_attach: self.options.force_perf_attach,
            tables_for: self.options.pid,
        };
        let mut session = ustrace_runtime::Session::load(&self.compiled, &opts)
            .map_err(|e| Error::from_runtime(e, self))?;
        if self.options.pid.is_none() {
            if let Some(pid) = self.options.child_pid {
                // Held before exec: the files it will map get their tables
                // now, the rest once it has exec'd.
                if let Some(program) = &self.options.child_program {
                    session.prebuild_program_tables(program);
                }
                session.watch_process(pid);
            }
        }
        Ok(Tracer::new(std::sync::Arc::new(self.clone()), session))
    }

    pub(crate) fn source(&self) -> (&str, &str) {
        (&self.source_name, &self.source)
    }
}

/// The default `ustack` format of `config = { stack_mode = ... }`.
fn stack_format(
    setting: Option<ustrace_lang::ast::StackModeSetting>,
) -> ustrace_codegen::program::StackFormat {
    use ustrace_codegen::program::StackFormat;
    use ustrace_lang::ast::StackModeSetting;
    match setting {
        None | Some(StackModeSetting::Bpftrace) => StackFormat::Bpftrace,
        Some(StackModeSetting::Perf) => StackFormat::Perf,
        Some(StackModeSetting::Raw) => StackFormat::Raw,
        Some(StackModeSetting::BuildId) => StackFormat::BuildId,
    }
}
