//! argdist and trace: the tools whose scripts are written from BCC's probe
//! specifiers (tools/spec/) rather than read from tools/*.bt.

use anyhow::{bail, Result};

use super::catalog::{Invocation, Tool};
use super::options::{Flag, Parsed, Target};
use super::sink::Layout;
use super::spec::{argdist, trace};

const fn flag(short: char, value: Option<&'static str>, help: &'static str) -> Flag {
    Flag { short, value, help }
}

/// True for the tools whose script is written from specifiers.
pub fn writes_its_script(name: &str) -> bool {
    name == ARGDIST.name || name == TRACE.name
}

/// `-z`/`-Z`: bytes read for strings (1 to 200; 80 by default, as BCC).
fn string_size(parsed: &Parsed, letter: char) -> Result<u64> {
    let size = parsed.number(letter, 80)?;
    if !(1..=200).contains(&size) {
        bail!("-{letter} {size}: the string size must be from 1 to 200");
    }
    Ok(size)
}

/// BCC's argdist.
pub const ARGDIST: Tool = Tool {
    name: "argdist",
    summary: "count or histogram a function's arguments or return values (BCC argdist)",
    usage: "[-p PID | -c CMD] [-i SECS] [-n COUNT] [-T TOP] [-z SIZE] [-v] {-C SPEC | -H SPEC}...",
    flags: &[
        flag('p', Some("PID"), "trace only this process"),
        flag(
            'c',
            Some("CMD"),
            "run this command and trace it (BCC's -c, cumulative, is not offered)",
        ),
        flag(
            'C',
            Some("SPEC"),
            "count each distinct value of SPEC's expressions (repeatable)",
        ),
        flag(
            'H',
            Some("SPEC"),
            "a log2 histogram of SPEC's expression (repeatable)",
        ),
        flag(
            'i',
            Some("SECS"),
            "print (and clear) every SECS seconds (default 1)",
        ),
        flag('n', Some("COUNT"), "exit after COUNT prints"),
        flag(
            'T',
            Some("TOP"),
            "only the TOP most frequent values of each -C",
        ),
        flag(
            'z',
            Some("SIZE"),
            "bytes read for char* values (default 80, at most 200)",
        ),
        flag('v', None, "print the generated ustrace script first"),
        flag('h', None, "show this help"),
    ],
    examples: &[
        (
            "ustrace tool argdist -C 'p:c:malloc(size_t size):size_t:size'",
            "malloc sizes, counted",
        ),
        (
            "ustrace tool argdist -p 181 -H 'r:c:read()'",
            "read()'s return values, PID 181",
        ),
        (
            "ustrace tool argdist -C 'p:c:write(int fd):int:fd' -T 5",
            "the 5 busiest fds",
        ),
        (
            "ustrace tool argdist -H 'p:c:write(int fd, void *b, size_t n):size_t:n:fd==1'",
            "sizes written to stdout",
        ),
        (
            "ustrace tool argdist -H 'r:c:malloc(size_t size):u64:$latency'",
            "malloc's latency (ns)",
        ),
        (
            "ustrace tool argdist -C 'r:c:gets():char*:$retval#lines read'",
            "strings gets() returned",
        ),
        (
            "ustrace tool argdist -c ./app -C 'u:./app:prov:req():u64:arg1'",
            "a USDT probe's 1st argument",
        ),
    ],
    plan: plan_argdist,
};

fn plan_argdist(parsed: &Parsed) -> Result<Invocation> {
    if let Some(extra) = parsed.positional.first() {
        bail!("`{extra}`: give each specifier after its own -C or -H");
    }
    let specs = |letter: char| -> Vec<String> {
        parsed
            .flags
            .iter()
            .filter(|(l, _)| *l == letter)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let (counts, hists) = (specs('C'), specs('H'));
    if counts.is_empty() && hists.is_empty() {
        bail!("at least one -C or -H specifier is required (see `ustrace tool argdist -h`)");
    }
    let options = argdist::Options {
        interval: parsed.number('i', 1)?,
        count: parsed.number('n', 0)?,
        string_size: string_size(parsed, 'z')?,
    };
    if options.interval == 0 {
        bail!("-i 0: the interval must be at least 1 second");
    }
    let (source, dists) = argdist::script(&counts, &hists, &options)?;
    let top = match parsed.value('T') {
        Some(_) => Some(parsed.number('T', 0)? as usize),
        None => None,
    };
    Ok(Invocation {
        source: source.into(),
        positional: Vec::new(),
        target: Target::from(parsed, None)?,
        layout: Layout::Distributions { dists, top },
    })
}

/// BCC's trace.
pub const TRACE: Tool = Tool {
    name: "trace",
    summary: "print a line per call of functions or USDT probes, with a message (BCC trace)",
    usage:
        "[-p PID | -c CMD] [-L TID] [-t | -T] [-C] [-U] [-n NAME] [-M MAX] [-Z SIZE] [-v] PROBE...",
    flags: &[
        flag('p', Some("PID"), "trace only this process"),
        flag(
            'c',
            Some("CMD"),
            "run this command and trace it (BCC's -c, a cgroup, is not offered)",
        ),
        flag('L', Some("TID"), "trace only this thread"),
        flag('t', None, "a TIME column: seconds since tracing started"),
        flag('T', None, "a TIME column: the local time (HH:MM:SS)"),
        flag('C', None, "a CPU column"),
        flag('U', None, "the user stack after each line"),
        flag('n', Some("NAME"), "only processes whose name contains NAME"),
        flag('M', Some("MAX"), "exit after MAX events"),
        flag(
            'Z',
            Some("SIZE"),
            "bytes read for each %s (default 80, at most 200)",
        ),
        flag('v', None, "print the generated ustrace script first"),
        flag('h', None, "show this help"),
    ],
    examples: &[
        (
            "ustrace tool trace 'c:open \"%s\", arg1'",
            "every open() with its path",
        ),
        (
            "ustrace tool trace 'p:c:write (arg1 == 1) \"%d bytes\", arg3'",
            "writes to stdout",
        ),
        (
            "ustrace tool trace 'r:c:malloc \"ret=%llx\", retval'",
            "malloc's return values",
        ),
        (
            "ustrace tool trace -p 181 'u:/usr/bin/python3.11:python:gc__start \"gen %d\", arg1'",
            "a USDT probe",
        ),
        (
            "ustrace tool trace -T -M 10 'c:open(char *path, int flags) \"%s %x\", path, flags'",
            "names from a signature",
        ),
        (
            "ustrace tool trace -c ./app 'c:malloc (arg1 > 4096)' 'r:c:malloc'",
            "several probes",
        ),
    ],
    plan: plan_trace,
};

fn plan_trace(parsed: &Parsed) -> Result<Invocation> {
    if parsed.positional.is_empty() {
        bail!("give at least one probe, e.g. 'c:open \"%s\", arg1' (see `ustrace tool trace -h`)");
    }
    let tid = match parsed.value('L') {
        Some(t) => Some(
            t.parse()
                .map_err(|_| anyhow::anyhow!("-L: `{t}` is not a thread id"))?,
        ),
        None => None,
    };
    let max_events = match parsed.value('M') {
        Some(_) => Some(parsed.number('M', 0)?),
        None => None,
    };
    let options = trace::Options {
        timestamp: parsed.has('t'),
        time: parsed.has('T'),
        cpu: parsed.has('C'),
        tid,
        name: parsed.value('n').map(str::to_string),
        max_events,
        string_size: string_size(parsed, 'Z')?,
        user_stack: parsed.has('U'),
    };
    let source = trace::script(&parsed.positional, &options)?;
    Ok(Invocation {
        source: source.into(),
        positional: Vec::new(),
        target: Target::from(parsed, None)?,
        layout: Layout::Lines,
    })
}
