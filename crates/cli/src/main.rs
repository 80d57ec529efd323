//! The `ustrace` command: bpftrace's language for user-space tracing,
//! compiled straight to eBPF. A thin layer over the `ustrace` library:
//! flags, the child process of `-c`, signals, output and exit codes.

mod child;
mod list;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use ustrace::sink::{FoldedSink, JsonSink, Sink, TextSink};
use ustrace::{Record, Script, ScriptOptions};

/// Trace user-space programs with eBPF: USDT probes and uprobes, in
/// bpftrace's language, with no LLVM.
#[derive(Parser, Debug)]
#[command(name = "ustrace", version, about, disable_help_subcommand = true)]
struct Cli {
    /// The program to run, as text.
    #[arg(short = 'e', value_name = "PROGRAM")]
    program: Option<String>,

    /// Trace only this process.
    #[arg(short = 'p', value_name = "PID")]
    pid: Option<u32>,

    /// Run this command (split on spaces, quotes respected), trace it, and
    /// exit when it exits.
    #[arg(short = 'c', value_name = "CMD")]
    command: Option<String>,

    /// List probes matching the pattern (or of the script's attach points).
    #[arg(short = 'l')]
    list: bool,

    /// Verbose: with -l, show locations, semaphores and arguments.
    #[arg(short = 'v')]
    verbose: bool,

    /// Debug: print the AST, the generated instructions and the verifier log.
    #[arg(short = 'd')]
    debug: bool,

    /// Output format.
    #[arg(short = 'f', value_name = "FORMAT", value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Write output to this file instead of stdout.
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,

    /// Allow unsafe builtins (system()).
    #[arg(long = "unsafe")]
    allow_unsafe: bool,

    /// Attach with one perf-event uprobe per location instead of uprobe_multi.
    #[arg(long = "perf-attach", hide = true)]
    perf_attach: bool,

    /// Script file (when -e is not given), then positional parameters
    /// ($1, $2, ...). With -l: the probe pattern.
    #[arg(value_name = "FILE|PATTERN")]
    rest: Vec<String>,
}

/// The output formats of `-f`, one [`Sink`] each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// bpftrace's text output.
    Text,
    /// bpftrace's NDJSON, one object per line.
    Json,
    /// Maps as folded stacks for flame graphs; printf output unchanged.
    Folded,
}

impl Format {
    /// The sink that writes this format to `out`.
    fn sink(self, out: Box<dyn Write>) -> Box<dyn Sink> {
        match self {
            Format::Text => Box::new(TextSink::new(out)),
            Format::Json => Box::new(JsonSink::new(out)),
            Format::Folded => Box::new(FoldedSink::new(out)),
        }
    }
}

/// How long one poll waits for events before checking signals and the
/// traced process.
const POLL_PERIOD: Duration = Duration::from_millis(100);

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            match e.downcast_ref::<ustrace::Error>() {
                // Already `NAME:LINE:COL: error: ...` with the source line.
                Some(u @ ustrace::Error::Script { .. }) => eprintln!("{}", u.render()),
                Some(u) => eprintln!("ERROR: {}", u.render()),
                None => eprintln!("ERROR: {e:#}"),
            }
            std::process::exit(1);
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    let mut out: Box<dyn Write> = match &cli.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .with_context(|| format!("cannot create output file {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    if cli.list {
        let pattern = cli.program.clone().or_else(|| cli.rest.first().cloned());
        list::list(&mut out, pattern.as_deref(), cli.pid, cli.verbose)?;
        out.flush()?;
        return Ok(0);
    }
    let (source, name, positional) = match &cli.program {
        Some(p) => (p.clone(), "stdin".to_string(), cli.rest.clone()),
        None => {
            let Some(file) = cli.rest.first() else {
                bail!("no program given: use -e 'PROGRAM' or a script file (see --help)");
            };
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read script {file}"))?;
            (text, file.clone(), cli.rest[1..].to_vec())
        }
    };
    if let Some(pid) = cli.pid {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            bail!("process {pid} does not exist");
        }
    }
    let mut child = match &cli.command {
        Some(cmd) => Some(child::Child::spawn_stopped(cmd)?),
        None => None,
    };
    let str_len = std::env::var("USTRACE_STRLEN")
        .or_else(|_| std::env::var("BPFTRACE_STRLEN"))
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(64)
        .clamp(1, 200);
    let mut options = ScriptOptions::builder()
        .str_len(str_len)
        .positional(positional)
        .verifier_log(cli.debug)
        .force_perf_attach(cli.perf_attach)
        .allow_unsafe(cli.allow_unsafe);
    if let Some(pid) = cli.pid {
        options = options.pid(pid);
    }
    if let Some(c) = &child {
        options = options.child_pid(c.pid());
    }
    let options = options.build();
    let script = Script::compile(&source, &name, &options)?;
    let mut sink = cli.format.sink(out);
    if cli.debug {
        sink.text(&format!("AST:\n{:#?}\n", script.ast()))?;
        for p in &script.compiled().programs {
            sink.text(&format!(
                "\nProgram {} ({} instructions):\n{}",
                p.name,
                p.insns.len(),
                ustrace::disassemble(&p.insns)
            ))?;
        }
    }
    ustrace::check_privileges()?;
    sink.begin(script.attach_count())?;
    sink.flush()?;
    let mut tracer = script.start()?;
    if cli.debug {
        for log in tracer.verifier_logs() {
            sink.text(&format!("\nVerifier log:\n{log}\n"))?;
        }
    }
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    if let Some(c) = child.as_mut() {
        c.release()?;
    }
    tracer.begin();
    let mut exit_code = 0i32;
    loop {
        let records = tracer.poll(POLL_PERIOD)?;
        let exited = emit(sink.as_mut(), &records)?;
        sink.flush()?;
        if let Some(code) = exited {
            exit_code = code as i32;
            break;
        }
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        if let Some(c) = child.as_mut() {
            if c.has_exited() {
                break;
            }
        } else if let Some(pid) = cli.pid {
            if !process_alive(pid) {
                break;
            }
        }
    }
    let records = tracer.end()?;
    emit(sink.as_mut(), &records)?;
    sink.trace_ended()?;
    emit(sink.as_mut(), &tracer.final_maps()?)?;
    let lost = tracer.lost_events()?;
    if lost > 0 {
        sink.lost_events(lost)?;
    }
    sink.flush()?;
    if let Some(c) = child.as_mut() {
        c.terminate();
    }
    Ok(exit_code)
}

/// Writes records; returns the exit code when the script called exit().
fn emit(sink: &mut dyn Sink, records: &[Record]) -> Result<Option<i64>> {
    let mut exited = None;
    for r in records {
        sink.record(r)?;
        if let Record::Exit { code } = r {
            exited = Some(*code);
        }
    }
    Ok(exited)
}

/// True while `pid` exists and is not a zombie.
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X'))
        }
        Err(_) => false,
    }
}
