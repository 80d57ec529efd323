//! `ustrace tool NAME [options]`: BCC's user-space tools as scripts from the
//! repository's tools/ directory, embedded in the binary. A tool's options
//! become the script's positional parameters and ustrace's own `-p`/`-c`,
//! and its output is laid out as BCC prints it.

mod catalog;
mod lang_tools;
mod options;
mod rates;
mod runtimes;
mod sections;
mod sink;
mod spec;
mod spec_tools;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::OnceLock;

use anyhow::{bail, Result};

use options::Target;
use sink::{BccSink, Layout};

/// The layout of the tool being run (set once, by [`command_line`]).
static LAYOUT: OnceLock<Layout> = OnceLock::new();

/// The name of the tool being run (set once, by [`command_line`]).
static RUNNING_TOOL: OnceLock<&'static str> = OnceLock::new();

/// What the command line asks for.
pub enum CommandLine {
    /// Not `ustrace tool ...`: the arguments, unchanged.
    Plain(Vec<OsString>),
    /// A tool: ustrace's own arguments that run its script.
    Tool(Vec<OsString>),
    /// Printed already (a list or help): exit with this code.
    Done(i32),
}

/// Reads `ustrace tool ...` from `args` (program name first); anything
/// else passes through.
pub fn command_line(args: Vec<OsString>) -> Result<CommandLine> {
    if args.get(1).map(|a| a.as_os_str()) != Some("tool".as_ref()) {
        return Ok(CommandLine::Plain(args));
    }
    let mut rest = Vec::with_capacity(args.len());
    for a in &args[2..] {
        match a.to_str() {
            Some(s) => rest.push(s.to_string()),
            None => bail!("tool arguments must be UTF-8: {a:?}"),
        }
    }
    let Some((name, tool_args)) = rest.split_first() else {
        print!("{}", list());
        return Ok(CommandLine::Done(0));
    };
    if name == "list" {
        print!("{}", list());
        return Ok(CommandLine::Done(0));
    }
    let Some(tool) = catalog::find(name) else {
        bail!("no tool named `{name}` (see `ustrace tool list`)");
    };
    let parsed = options::parse(name, tool.flags, tool_args)?;
    if parsed.has('h') {
        print!("{}", help(tool));
        return Ok(CommandLine::Done(0));
    }
    let run = (tool.plan)(&parsed).map_err(|e| anyhow::anyhow!("{name}: {e:#}"))?;
    if parsed.has('v') && tool.flags.iter().any(|f| f.short == 'v') {
        println!("{}", run.source);
    }
    let _ = LAYOUT.set(run.layout);
    let _ = RUNNING_TOOL.set(tool.name);
    let mut argv: Vec<OsString> = vec![args[0].clone(), "-f".into(), "bcc".into()];
    match run.target {
        Target::Pid(pid) => argv.extend(["-p".into(), pid.to_string().into()]),
        Target::Command(cmd) => argv.extend(["-c".into(), cmd.into()]),
        Target::All => {}
    }
    argv.extend(["-e".into(), run.source.into_owned().into(), "--".into()]);
    argv.extend(run.positional.into_iter().map(OsString::from));
    Ok(CommandLine::Tool(argv))
}

/// The sink of `-f bcc`: the running tool's layout (funccount's table
/// when no tool set one).
pub fn sink(out: Box<dyn Write>) -> Box<dyn ustrace::sink::Sink> {
    let layout = LAYOUT.get().cloned().unwrap_or(Layout::Counts {
        heading: "FUNC",
        width: 36,
        count_heading: "COUNT",
        top: None,
    });
    Box::new(BccSink::new(out, layout))
}

/// A note for an error in a tool's script: the error's line is in that
/// script (written from argdist's and trace's specifiers, or one of
/// tools/*.bt with the arguments as $1, $2, ...), not in what was typed.
pub fn script_note() -> Option<String> {
    RUNNING_TOOL.get().map(|name| {
        if spec_tools::writes_its_script(name) {
            format!(
                "note: `ustrace tool {name}` wrote this script from its probe specifiers; -v prints it"
            )
        } else {
            format!(
                "note: this is the script `ustrace tool {name}` runs, with its arguments as $1, $2, ... (see docs/tools.md)"
            )
        }
    })
}

/// `ustrace tool list`.
fn list() -> String {
    let mut out = String::from("Tools (ustrace tool NAME -h for options and examples):\n");
    for t in catalog::TOOLS {
        let _ = writeln!(out, "  {:<12} {}", t.name, t.summary);
    }
    out
}

/// `ustrace tool NAME -h`.
fn help(tool: &catalog::Tool) -> String {
    let mut out = format!(
        "{}: {}\n\nusage: ustrace tool {} {}\n\noptions:\n",
        tool.name, tool.summary, tool.name, tool.usage
    );
    for f in tool.flags {
        let head = match f.value {
            Some(v) => format!("-{} {v}", f.short),
            None => format!("-{}", f.short),
        };
        let _ = writeln!(out, "  {head:<10} {}", f.help);
    }
    out.push_str("\nexamples:\n");
    for (cmd, what) in tool.examples {
        let _ = writeln!(out, "  {cmd:<50} # {what}");
    }
    let _ = writeln!(
        out,
        "\nThe script: tools/{}.bt, or tools/{}_LANG.bt per language (runnable as `ustrace tools/FILE.bt ARGS`, see its header).",
        tool.name, tool.name
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn plain_arguments_pass_through() {
        let CommandLine::Plain(a) = command_line(os(&["ustrace", "-e", "BEGIN{}"])).unwrap() else {
            panic!("not plain");
        };
        assert_eq!(a, os(&["ustrace", "-e", "BEGIN{}"]));
    }

    #[test]
    fn funccount_becomes_a_script_run() {
        let CommandLine::Tool(a) =
            command_line(os(&["ustrace", "tool", "funccount", "-i", "2", "c:str*"])).unwrap()
        else {
            panic!("not a tool run");
        };
        let tail: Vec<_> = a[a.len() - 5..].to_vec();
        assert_eq!(tail, os(&["--", "libc", "str*", "2", "0"]));
        assert_eq!(a[1..3].to_vec(), os(&["-f", "bcc"]));
    }

    #[test]
    fn unknown_tools_and_options_are_errors() {
        let e = command_line(os(&["ustrace", "tool", "nope"]))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "no tool named `nope` (see `ustrace tool list`)"
        );
        let e = command_line(os(&["ustrace", "tool", "ucalls", "-l", "cobol"]))
            .err()
            .unwrap();
        assert!(e.to_string().contains("unknown language"), "{e}");
        let e = command_line(os(&["ustrace", "tool", "funccount", "malloc"]))
            .err()
            .unwrap();
        assert!(e.to_string().contains("LIB:FUNC"), "{e}");
    }

    #[test]
    fn every_tool_has_help_and_a_header() {
        for t in catalog::TOOLS {
            assert!(help(t).contains("examples:"));
            assert!(list().contains(t.name));
        }
    }
}
