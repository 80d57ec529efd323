//! The language tools (`-l LANG`): ucalls, uflow, ugc, uobjnew, uthreads
//! and ustat, each a script per language from tools/, its runtime file
//! found by [`runtimes`](super::runtimes). Planning a run on a `-c`
//! command also sets the environment the command inherits (PHP's
//! `USE_ZEND_DTRACE=1`, Ruby's TracePoint through RUBYOPT).

use anyhow::{bail, Result};

use super::catalog::Invocation;
use super::options::{Parsed, Target};
use super::runtimes::{self, Lang};
use super::sections;
use super::sink::Layout;

const FUNCCOUNT: &str = include_str!("../../../../tools/funccount.bt");
const UCALLS: &str = include_str!("../../../../tools/ucalls.bt");
const UCALLS_JAVA: &str = include_str!("../../../../tools/ucalls_java.bt");
const UCALLS_RUBY: &str = include_str!("../../../../tools/ucalls_ruby.bt");
const UCALLS_PHP: &str = include_str!("../../../../tools/ucalls_php.bt");
const UFLOW: &str = include_str!("../../../../tools/uflow.bt");
const UFLOW_JAVA: &str = include_str!("../../../../tools/uflow_java.bt");
const UFLOW_RUBY: &str = include_str!("../../../../tools/uflow_ruby.bt");
const UFLOW_PHP: &str = include_str!("../../../../tools/uflow_php.bt");
const UGC: &str = include_str!("../../../../tools/ugc.bt");
const UGC_JAVA: &str = include_str!("../../../../tools/ugc_java.bt");
const UGC_RUBY: &str = include_str!("../../../../tools/ugc_ruby.bt");
const UOBJNEW_JAVA: &str = include_str!("../../../../tools/uobjnew_java.bt");
const UOBJNEW_RUBY: &str = include_str!("../../../../tools/uobjnew_ruby.bt");
const UOBJNEW_C: &str = include_str!("../../../../tools/uobjnew_c.bt");
const UTHREADS_JAVA: &str = include_str!("../../../../tools/uthreads_java.bt");
const UTHREADS_C: &str = include_str!("../../../../tools/uthreads_c.bt");
const USTAT: &str = include_str!("../../../../tools/ustat.bt");

/// The optional positional PID of the u* tools.
fn pid_positional(parsed: &Parsed) -> Result<Option<&str>> {
    match parsed.positional.as_slice() {
        [] => Ok(None),
        [pid] => Ok(Some(pid)),
        more => bail!("expected at most one PID, got {} arguments", more.len()),
    }
}

/// The PID for a script's heading: `-p`'s, or 0 (none).
fn target_pid(target: &Target) -> String {
    match target {
        Target::Pid(pid) => pid.to_string(),
        Target::Command(_) | Target::All => "0".to_string(),
    }
}

/// The `-l` language and the target of a u* tool.
fn lang_and_target(parsed: &Parsed, allowed: &[Lang]) -> Result<(Lang, Target)> {
    let lang = runtimes::language(parsed.value('l'), Lang::Python, allowed)?;
    let target = Target::from(parsed, pid_positional(parsed)?)?;
    Ok((lang, target))
}

/// The runtime file of `lang` for `target`, after checking what the
/// runtime needs for its probes to fire; on a `-c` command, sets the
/// environment it will inherit. `methods`: the tool uses the method (and
/// allocation) probes, which need Java's extended probes and Ruby's
/// TracePoint.
fn prepare(lang: Lang, target: &Target, methods: bool) -> Result<String> {
    match lang {
        Lang::Java if methods => runtimes::check_java_extended(target)?,
        Lang::Php => runtimes::check_php_process(target)?,
        _ => {}
    }
    let file = runtimes::runtime_file(lang, target)?;
    if lang == Lang::Ruby && methods {
        eprintln!("{}", runtimes::RUBY_METHOD_WARNING);
        if let Target::Pid(pid) = target {
            eprintln!("note: methods written in Ruby are seen only if process {pid} enabled a TracePoint (RUBYOPT=-r a file with `TracePoint.new(:call, :return) {{}}.enable`); C methods always");
        }
    }
    if let Target::Command(_) = target {
        for (name, value) in runtimes::command_environment(lang, methods)? {
            // Single-threaded here: the command is forked later.
            std::env::set_var(name, value);
        }
    }
    Ok(file)
}

/// `ucalls`.
pub fn plan_ucalls(parsed: &Parsed) -> Result<Invocation> {
    if parsed.has('S') {
        bail!("-S (system calls) needs kernel probes (raw_syscalls tracepoints): ustrace traces user space only");
    }
    let (lang, target) = lang_and_target(
        parsed,
        &[Lang::Python, Lang::Java, Lang::Ruby, Lang::Php, Lang::C],
    )?;
    let top = match parsed.value('T') {
        Some(_) => Some(parsed.number('T', 0)? as usize),
        None => None,
    };
    if lang == Lang::C {
        if parsed.has('L') {
            bail!("-l c with -L: use `ustrace tool funclatency` for C function times");
        }
        let Some(exe) = target.executable()? else {
            bail!("-l c needs the process: a PID or -c CMD");
        };
        return Ok(Invocation {
            source: FUNCCOUNT.into(),
            positional: vec![exe, "*".into(), "0".into(), "0".into()],
            target,
            layout: Layout::Counts {
                heading: "METHOD",
                width: 50,
                count_heading: "# CALLS",
                top,
            },
        });
    }
    let (divisor, heading) = if parsed.has('m') {
        (1_000_000, "TIME (ms)")
    } else {
        (1_000, "TIME (us)")
    };
    let latency = parsed.has('L');
    let source = match lang {
        Lang::Java => UCALLS_JAVA.into(),
        // Ruby's return probes only for latencies: their probe path is the
        // one that crashes Ruby 3.1 most (docs/tools.md).
        Lang::Ruby if !latency => sections::keep(UCALLS_RUBY, &[]).into(),
        Lang::Ruby => UCALLS_RUBY.into(),
        Lang::Php => UCALLS_PHP.into(),
        Lang::Python | Lang::C => UCALLS.into(),
    };
    Ok(Invocation {
        source,
        positional: vec![
            prepare(lang, &target, true)?,
            u8::from(latency).to_string(),
            divisor.to_string(),
            target_pid(&target),
        ],
        target,
        layout: Layout::Calls {
            time_heading: latency.then_some(heading),
            top,
        },
    })
}

/// `uflow`.
pub fn plan_uflow(parsed: &Parsed) -> Result<Invocation> {
    let (lang, target) =
        lang_and_target(parsed, &[Lang::Python, Lang::Java, Lang::Ruby, Lang::Php])?;
    let source = match lang {
        Lang::Java => UFLOW_JAVA,
        Lang::Ruby => UFLOW_RUBY,
        Lang::Php => UFLOW_PHP,
        Lang::Python | Lang::C => UFLOW,
    };
    // BCC's -M and -C: prefixes of the method and class names, with their
    // lengths (strncmp's length is a constant of the script).
    let method = parsed.value('M').unwrap_or("");
    let class = parsed.value('C').unwrap_or("");
    Ok(Invocation {
        source: source.into(),
        positional: vec![
            prepare(lang, &target, true)?,
            target_pid(&target),
            method.to_string(),
            method.len().to_string(),
            class.to_string(),
            class.len().to_string(),
        ],
        target,
        layout: Layout::Flow,
    })
}

/// `ugc`.
pub fn plan_ugc(parsed: &Parsed) -> Result<Invocation> {
    let (lang, target) = lang_and_target(parsed, &[Lang::Python, Lang::Java, Lang::Ruby])?;
    let source = match lang {
        Lang::Java => UGC_JAVA,
        Lang::Ruby => UGC_RUBY,
        _ => UGC,
    };
    Ok(Invocation {
        source: source.into(),
        positional: vec![prepare(lang, &target, false)?, target_pid(&target)],
        target,
        layout: Layout::Collections {
            millis: parsed.has('m'),
        },
    })
}

/// The interval of uobjnew (`-i`, or BCC's positional INTERVAL after the
/// PID).
fn interval(parsed: &Parsed, after_pid: Option<&str>) -> Result<String> {
    match after_pid {
        Some(v) => v
            .parse::<u64>()
            .map(|n| n.to_string())
            .map_err(|_| anyhow::anyhow!("interval `{v}` is not a non-negative integer")),
        None => Ok(parsed.number('i', 0)?.to_string()),
    }
}

/// `uobjnew`.
pub fn plan_uobjnew(parsed: &Parsed) -> Result<Invocation> {
    let lang = runtimes::language(
        parsed.value('l'),
        Lang::Java,
        &[Lang::Java, Lang::Ruby, Lang::C],
    )?;
    let (pid, after) = match parsed.positional.as_slice() {
        [] => (None, None),
        [pid] => (Some(pid.as_str()), None),
        [pid, interval] => (Some(pid.as_str()), Some(interval.as_str())),
        more => bail!(
            "expected at most PID and INTERVAL, got {} arguments",
            more.len()
        ),
    };
    let target = Target::from(parsed, pid)?;
    let top = |letter| -> Result<Option<usize>> {
        Ok(match parsed.value(letter) {
            Some(_) => Some(parsed.number(letter, 0)? as usize),
            None => None,
        })
    };
    let (file, source) = match lang {
        Lang::C => ("libc".to_string(), UOBJNEW_C),
        Lang::Ruby => (prepare(lang, &target, false)?, UOBJNEW_RUBY),
        _ => (prepare(lang, &target, true)?, UOBJNEW_JAVA),
    };
    Ok(Invocation {
        source: source.into(),
        positional: vec![file, interval(parsed, after)?, target_pid(&target)],
        target,
        layout: Layout::Allocs {
            top_count: top('C')?,
            top_size: top('S')?,
        },
    })
}

/// `uthreads`.
pub fn plan_uthreads(parsed: &Parsed) -> Result<Invocation> {
    let lang = runtimes::language(parsed.value('l'), Lang::C, &[Lang::Java, Lang::C])?;
    let target = Target::from(parsed, pid_positional(parsed)?)?;
    let (file, source) = match lang {
        Lang::Java => (prepare(lang, &target, false)?, UTHREADS_JAVA),
        _ => ("libc".to_string(), UTHREADS_C),
    };
    Ok(Invocation {
        source: source.into(),
        positional: vec![file, target_pid(&target)],
        target,
        layout: Layout::Threads,
    })
}

/// `ustat`: the runtimes of `-l` (every one when absent) that running
/// processes use or that are installed, each a section of tools/ustat.bt.
pub fn plan_ustat(parsed: &Parsed) -> Result<Invocation> {
    let langs: Vec<Lang> = match parsed.value('l') {
        Some(_) => vec![runtimes::language(
            parsed.value('l'),
            Lang::Python,
            &runtimes::RUNTIMES,
        )?],
        None => runtimes::RUNTIMES.to_vec(),
    };
    let number = |i: usize, default: u64| -> Result<u64> {
        match parsed.positional.get(i) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| anyhow::anyhow!("`{v}` is not a non-negative integer")),
        }
    };
    if parsed.positional.len() > 2 {
        bail!("expected at most INTERVAL and COUNT");
    }
    let interval = number(0, 1)?;
    if interval == 0 {
        bail!("the interval must be at least 1 second");
    }
    let count = number(1, 0)?;
    let mut found = runtimes::discover(&langs);
    if let (Some(x), [lang]) = (parsed.value('x'), langs.as_slice()) {
        found = vec![(*lang, x.to_string())];
    } else if parsed.value('x').is_some() {
        bail!("-x PATH needs -l LANG (the runtime PATH belongs to)");
    }
    if found.is_empty() {
        let names: Vec<&str> = langs.iter().map(|l| l.name()).collect();
        bail!(
            "no {} runtime with USDT probes is running or installed",
            names.join(", ")
        );
    }
    // One positional parameter per runtime section, then the interval and
    // the count; the sections of runtimes not found are left out.
    let mut positional = Vec::new();
    let mut present = Vec::new();
    for lang in runtimes::RUNTIMES {
        match found.iter().find(|(l, _)| *l == lang) {
            Some((_, file)) => {
                positional.push(file.clone());
                present.push(lang.name());
            }
            None => positional.push(String::new()),
        }
    }
    positional.push(interval.to_string());
    positional.push(count.to_string());
    let text = sections::keep(USTAT, &present);
    Ok(Invocation {
        source: text.into(),
        positional,
        target: Target::All,
        layout: Layout::Rates {
            interval,
            max_rows: parsed.number('r', 20)? as usize,
        },
    })
}
