//! The `ustrace` command: bpftrace's language for user-space tracing,
//! compiled straight to eBPF. A thin layer over the `ustrace` library:
//! flags, the child process of `-c`, signals, output and exit codes.

mod child;
mod flags;
mod graphs;
mod info;
mod input;
mod list;
mod metrics;
mod output_file;
mod settings;
mod signals;
mod tools;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Parser, ValueEnum};
use ustrace::sink::{FoldedSink, JsonSink, Picture, PictureSink, Sink, TextSink};
use ustrace::{MessageLevel, Record, Script, ScriptOptions};

/// Trace user-space programs with eBPF: USDT probes and uprobes, in
/// bpftrace's language, with no LLVM.
#[derive(Parser, Debug)]
#[command(name = "ustrace", version, about, disable_help_subcommand = true)]
struct Cli {
    /// The program to run, as text.
    #[arg(short = 'e', value_name = "PROGRAM")]
    program: Option<String>,

    /// Trace only this process.
    #[arg(short = 'p', value_name = "PID", conflicts_with = "command")]
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

    /// While tracing, serve the maps at http://ADDR:PORT/metrics for
    /// Prometheus (bind to 127.0.0.1 unless the port is firewalled).
    #[arg(long = "metrics", value_name = "ADDR:PORT")]
    metrics: Option<String>,

    /// Allow unsafe builtins (system()).
    #[arg(long = "unsafe")]
    allow_unsafe: bool,

    /// Attach with one perf-event uprobe per location instead of uprobe_multi.
    #[arg(long = "perf-attach", hide = true)]
    perf_attach: bool,

    /// bpftrace's run-control flags (-q, -B, --dry-run, --info, ...).
    #[command(flatten)]
    run: flags::RunFlags,

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
    /// Each map keyed by ustack as a flame graph (SVG); printf output to
    /// stderr.
    Svg,
    /// Each map keyed by ustack as a gzipped pprof profile; printf output
    /// to stderr.
    Pprof,
    /// BCC's layout, for `ustrace tool NAME` (set by the tool).
    #[value(hide = true)]
    Bcc,
}

impl Format {
    /// The sink that writes this format to `out`; pictures are titled
    /// `title`, and go to files named after `per_map` when there are
    /// several.
    fn sink(self, out: Box<dyn Write>, title: &str, per_map: Option<PathBuf>) -> Box<dyn Sink> {
        match self {
            Format::Text => Box::new(TextSink::new(out)),
            Format::Json => Box::new(JsonSink::new(out)),
            Format::Folded => Box::new(FoldedSink::new(out)),
            Format::Svg => Box::new(PictureSink::new(out, Picture::Svg, title, per_map)),
            Format::Pprof => Box::new(PictureSink::new(out, Picture::Pprof, title, per_map)),
            Format::Bcc => tools::sink(out),
        }
    }

    /// The picture this format draws, if it is one.
    fn picture(self) -> Option<Picture> {
        match self {
            Format::Svg => Some(Picture::Svg),
            Format::Pprof => Some(Picture::Pprof),
            Format::Text | Format::Json | Format::Folded | Format::Bcc => None,
        }
    }
}

/// How long one poll waits for events before checking signals and the
/// traced process.
const POLL_PERIOD: Duration = Duration::from_millis(100);

fn main() {
    let cli = match tools::command_line(std::env::args_os().collect()) {
        Ok(tools::CommandLine::Plain(args) | tools::CommandLine::Tool(args)) => {
            Cli::parse_from(args)
        }
        Ok(tools::CommandLine::Done(code)) => std::process::exit(code),
        Err(e) => {
            signals::report(&format!("ERROR: {e:#}"));
            std::process::exit(1);
        }
    };
    match run(cli) {
        Ok(code) => std::process::exit(code),
        // The reader went away (`| head`): end quietly, as Unix tools do.
        Err(e) if signals::is_broken_pipe(&e) => signals::exit_by_sigpipe(),
        Err(e) => {
            match e.downcast_ref::<ustrace::Error>() {
                // Already `NAME:LINE:COL: error: ...` with the source line.
                Some(u @ ustrace::Error::Script { .. }) => {
                    signals::report(&u.render());
                    if let Some(note) = tools::script_note() {
                        signals::report(&note);
                    }
                }
                Some(u) => signals::report(&format!("ERROR: {}", u.render())),
                None => signals::report(&format!("ERROR: {e:#}")),
            }
            std::process::exit(1);
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    // Bound before anything is attached: a bad or busy address fails first.
    let endpoint = match (&cli.metrics, cli.list) {
        (Some(addr), false) => Some(metrics::Endpoint::bind(addr)?),
        _ => None,
    };
    let script_file = match (&cli.program, cli.list) {
        (None, false) => cli.rest.first().map(Path::new),
        _ => None,
    };
    // Created (truncated) only once the script is attached.
    let mut out = output_file::Output::new(cli.output.as_deref(), script_file)?;
    if cli.run.info {
        out.commit()?;
        info::print(&mut out)?;
        out.flush()?;
        return Ok(0);
    }
    if cli.list {
        out.commit()?;
        let pattern = cli.rest.first().map(String::as_str);
        list::list(
            &mut out,
            cli.program.as_deref(),
            pattern,
            cli.pid,
            cli.verbose,
            &cli.run,
        )?;
        out.flush()?;
        return Ok(0);
    }
    let (source, name, positional) = match &cli.program {
        Some(p) => (p.clone(), "stdin".to_string(), cli.rest.clone()),
        None => {
            let Some(file) = cli.rest.first() else {
                bail!("no program given: use -e 'PROGRAM' or a script file (see --help)");
            };
            let text = input::read_script(Path::new(file))?;
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
    let str_len = settings::str_len()?;
    let max_map_keys = settings::max_map_keys()?;
    let mut options = ScriptOptions::builder()
        .str_len(str_len)
        .max_map_keys(max_map_keys)
        .positional(positional)
        .config_overrides(ustrace::config_from_env()?)
        .verifier_log(cli.debug)
        .force_perf_attach(cli.perf_attach)
        .allow_unsafe(cli.allow_unsafe)
        .warn_failed_reads(cli.run.helper_errors);
    if let Some(pid) = cli.pid {
        options = options.pid(pid);
    }
    if let Some(c) = &child {
        options = options.child_pid(c.pid()).child_program(c.program());
    }
    let options = options.build();
    let script = Script::compile(&source, &name, &options)?;
    for w in script.warnings() {
        cli.run.warn(w);
    }
    let exposed = endpoint.as_ref().map(|_| {
        let (kept, warnings) = metrics::exposable(script.maps());
        for w in warnings {
            cli.run.warn(&w);
        }
        kept
    });
    let per_map = match cli.format.picture() {
        Some(p) => graphs::check(&script, p, cli.output.as_deref())?,
        None => None,
    };
    let title = if cli.program.is_some() {
        &source
    } else {
        &name
    };
    let buffered = flags::Buffered::new(out.clone(), cli.run.buffering);
    let mut sink = cli.format.sink(Box::new(buffered), title, per_map);
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
    if !cli.run.quiet {
        sink.begin(script.attach_count())?;
    }
    sink.flush()?;
    let mut tracer = script.start()?;
    out.commit()?;
    let refused = tracer.refused_probes();
    if !refused.is_empty() {
        cli.run.warn(&format!(
            "the kernel refused uprobes on {} function(s), attached the rest: {}",
            refused.len(),
            refused.join(", ")
        ));
    }
    if cli.debug {
        for log in tracer.verifier_logs() {
            sink.text(&format!("\nVerifier log:\n{log}\n"))?;
        }
    }
    if cli.run.dry_run {
        // Loaded and attached: that was the check. BEGIN never runs.
        if let Some(c) = child.as_mut() {
            c.terminate(|| true);
        }
        return Ok(0);
    }
    signals::install();
    // BEGIN first, so that its output (a tool's heading) comes before
    // anything the released child makes the probes print.
    tracer.begin();
    if let Some(c) = child.as_mut() {
        c.release()?;
    }
    let _serving = match (endpoint, exposed) {
        (Some(endpoint), Some(maps)) => {
            signals::report(&format!(
                "Serving metrics at http://{}/metrics",
                endpoint.addr()
            ));
            Some(endpoint.serve(tracer.map_reader()?, maps))
        }
        _ => None,
    };
    let warnings = !cli.run.no_warnings;
    let mut exit_code = 0i32;
    loop {
        let records = tracer.poll(POLL_PERIOD)?;
        if cli.debug {
            for line in tracer.table_loads() {
                eprintln!("{line}");
            }
        }
        let exited = emit(sink.as_mut(), warnings, &records)?;
        sink.flush()?;
        if let Some(code) = exited {
            exit_code = code as i32;
            break;
        }
        if signals::received() > 0 {
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
    tracer.detach();
    if let Some(c) = child.as_mut() {
        // Probes are off: end the child now (a second Ctrl-C: at once).
        c.terminate(|| signals::received() >= 2);
    }
    // Take what is left in bounded batches before END (memory stays small).
    while let records @ [_, ..] = &tracer.poll(Duration::ZERO)?[..] {
        emit(sink.as_mut(), warnings, records)?;
    }
    let records = tracer.end()?;
    emit(sink.as_mut(), warnings, &records)?;
    sink.trace_ended()?;
    emit(sink.as_mut(), warnings, &tracer.final_maps()?)?;
    if sink.wants_profiles() {
        for profile in tracer.stack_profiles()? {
            sink.profile(&profile)?;
        }
    }
    let lost = tracer.lost_events()?;
    if lost > 0 {
        sink.lost_events(lost)?;
    }
    sink.flush()?;
    // A full map was reported when an update failed (the BPF program's
    // warning, once per update site), as bpftrace reports it.
    let failed_reads = tracer.failed_reads()?;
    // With -k each failure was reported where it happened.
    if failed_reads > 0 && !cli.run.helper_errors {
        cli.run.warn(&format!(
            "{failed_reads} read(s) of user memory failed and gave zeros (an address not mapped, or a page not yet loaded)"
        ));
    }
    Ok(exit_code)
}

/// Writes records; returns the exit code when the script called exit().
/// `warnf()` messages are dropped unless `warnings` (`--no-warnings`).
fn emit(sink: &mut dyn Sink, warnings: bool, records: &[Record]) -> Result<Option<i64>> {
    let mut exited = None;
    for r in records {
        if !warnings
            && matches!(
                r,
                Record::Message {
                    level: MessageLevel::Warning,
                    ..
                }
            )
        {
            continue;
        }
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
