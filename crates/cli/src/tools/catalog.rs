//! The tools: their scripts (embedded from tools/), options, help, and how
//! options become the script's positional parameters.

use anyhow::{bail, Result};

use super::options::{Flag, Parsed, Target};
use super::sink::Layout;

/// What a tool runs: a script, its parameters, the process, the layout.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The script's text.
    pub source: &'static str,
    /// Its positional parameters.
    pub positional: Vec<String>,
    /// The process to trace.
    pub target: Target,
    /// How the output is laid out.
    pub layout: Layout,
}

/// One tool.
pub struct Tool {
    /// The name (`funccount`).
    pub name: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// The usage line after `ustrace tool NAME`.
    pub usage: &'static str,
    /// Its options.
    pub flags: &'static [Flag],
    /// Example command lines with what they do.
    pub examples: &'static [(&'static str, &'static str)],
    /// The options turned into a run.
    pub plan: fn(&Parsed) -> Result<Invocation>,
}

const FUNCCOUNT: &str = include_str!("../../../../tools/funccount.bt");
const FUNCLATENCY: &str = include_str!("../../../../tools/funclatency.bt");
const UCALLS: &str = include_str!("../../../../tools/ucalls.bt");
const UFLOW: &str = include_str!("../../../../tools/uflow.bt");
const STACKCOUNT: &str = include_str!("../../../../tools/stackcount.bt");
const DBSLOWER: &str = include_str!("../../../../tools/dbslower.bt");
const DBSTAT: &str = include_str!("../../../../tools/dbstat.bt");
const UCALLS_JAVA: &str = include_str!("../../../../tools/ucalls_java.bt");
const UGC: &str = include_str!("../../../../tools/ugc.bt");
const USTAT: &str = include_str!("../../../../tools/ustat.bt");

const fn flag(short: char, value: Option<&'static str>, help: &'static str) -> Flag {
    Flag { short, value, help }
}

const PID: Flag = flag('p', Some("PID"), "trace only this process");
const CMD: Flag = flag('c', Some("CMD"), "run this command and trace it");
const HELP: Flag = flag('h', None, "show this help");
const DURATION: Flag = flag('d', Some("SECS"), "stop after this many seconds");
/// BCC's `-S` (system calls): kernel probes, refused in one line.
const SYSCALLS: Flag = flag('S', None, "system calls: refused, they need kernel probes");
const LANG: Flag = flag(
    'l',
    Some("LANG"),
    "the language: python or c (default python)",
);

/// Every tool, in `ustrace tool list` order.
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "funccount",
        summary: "count calls to functions matching a pattern (BCC funccount)",
        usage: "[-p PID | -c CMD] [-i SECS] [-d SECS] [LIB:]PATTERN",
        flags: &[
            PID,
            CMD,
            flag('i', Some("SECS"), "print and clear the counts every SECS"),
            DURATION,
            HELP,
        ],
        examples: &[
            (
                "ustrace tool funccount 'c:str*'",
                "count libc's str* functions, all processes",
            ),
            (
                "ustrace tool funccount -p 181 -i 1 'c:malloc'",
                "malloc calls of PID 181, per second",
            ),
            (
                "ustrace tool funccount -c './app' 'work*'",
                "functions of ./app itself matching work*",
            ),
        ],
        plan: plan_funccount,
    },
    Tool {
        name: "funclatency",
        summary: "time functions from entry to return, as a histogram (BCC funclatency)",
        usage: "[-p PID | -c CMD] [-u | -m] [-F] [-i SECS [-T]] [-d SECS] [LIB:]PATTERN",
        flags: &[
            PID,
            CMD,
            flag('u', None, "microseconds"),
            flag('m', None, "milliseconds"),
            flag('F', None, "one histogram per function (and process)"),
            flag(
                'i',
                Some("SECS"),
                "print and clear the histograms every SECS",
            ),
            flag('T', None, "print the time before each interval's output"),
            DURATION,
            HELP,
        ],
        examples: &[
            (
                "ustrace tool funclatency c:read",
                "time libc's read() (nanoseconds)",
            ),
            (
                "ustrace tool funclatency -m -p 181 c:nanosleep",
                "in milliseconds, PID 181 only",
            ),
            (
                "ustrace tool funclatency -F -i 5 -T 'c:*printf'",
                "a histogram per function, every 5 s",
            ),
        ],
        plan: plan_funclatency,
    },
    Tool {
        name: "ucalls",
        summary: "count (and with -L time) the calls of a language's functions (BCC ucalls)",
        usage: "[-l python|java|c] [-L] [-m] [-T N] [-c CMD] [PID]",
        flags: &[
            LANG,
            PID,
            CMD,
            flag('L', None, "also the total time in each function"),
            flag('m', None, "times in milliseconds (default microseconds)"),
            flag('T', Some("N"), "only the N most called"),
            SYSCALLS,
            HELP,
        ],
        examples: &[
            (
                "ustrace tool ucalls -l python 181",
                "Python functions called in PID 181",
            ),
            (
                "ustrace tool ucalls -L -c 'python3.11 app.py'",
                "with total times, running app.py",
            ),
            (
                "ustrace tool ucalls -l c -T 10 -c ./app",
                "the 10 most called functions of ./app",
            ),
        ],
        plan: plan_ucalls,
    },
    Tool {
        name: "uflow",
        summary: "print the flow of a language's function calls and returns (BCC uflow)",
        usage: "[-l python] [-M METHOD] [-C CLASS] [-c CMD] [PID]",
        flags: &[
            LANG,
            PID,
            CMD,
            flag(
                'M',
                Some("METHOD"),
                "only functions whose name starts with METHOD",
            ),
            flag(
                'C',
                Some("CLASS"),
                "only functions of files (Python's classes) starting with CLASS",
            ),
            HELP,
        ],
        examples: &[
            (
                "ustrace tool uflow -l python 181",
                "calls and returns in PID 181",
            ),
            (
                "ustrace tool uflow -c 'python3.11 app.py'",
                "running app.py",
            ),
            (
                "ustrace tool uflow -M handle_ 181",
                "only functions named handle_*",
            ),
        ],
        plan: plan_uflow,
    },
    Tool {
        name: "ugc",
        summary: "print a language's garbage collections with their durations (BCC ugc)",
        usage: "[-l python] [-m] [-c CMD] [PID]",
        flags: &[
            LANG,
            PID,
            CMD,
            flag(
                'm',
                None,
                "durations in milliseconds (default microseconds)",
            ),
            HELP,
        ],
        examples: &[
            ("ustrace tool ugc -l python 181", "the GCs of PID 181"),
            (
                "ustrace tool ugc -m -c 'python3.11 app.py'",
                "in milliseconds, running app.py",
            ),
        ],
        plan: plan_ugc,
    },
    Tool {
        name: "stackcount",
        summary: "count the user stacks that call functions matching a pattern (BCC stackcount)",
        usage: "[-p PID | -c CMD] [-P] [-i SECS] [-d SECS] [LIB:]PATTERN",
        flags: &[
            PID,
            CMD,
            flag('P', None, "count each process's stacks apart"),
            flag('i', Some("SECS"), "print and clear the counts every SECS"),
            DURATION,
            HELP,
        ],
        examples: &[
            (
                "ustrace tool stackcount -p 181 c:malloc",
                "who calls malloc in PID 181",
            ),
            (
                "ustrace tool stackcount -c ./app work",
                "the stacks reaching work() in ./app",
            ),
            (
                "ustrace tool stackcount -P -i 10 c:malloc",
                "per process, every 10 seconds",
            ),
        ],
        plan: plan_stackcount,
    },
    Tool {
        name: "dbslower",
        summary: "print PostgreSQL queries slower than a threshold (BCC dbslower)",
        usage: "[-p PID | -c CMD] [-m MS] [-x PATH] postgres",
        flags: &[
            PID,
            CMD,
            flag(
                'm',
                Some("MS"),
                "the threshold in milliseconds (default 1; 0 prints all)",
            ),
            flag('x', Some("PATH"), "the postgres executable"),
            HELP,
        ],
        examples: &[
            (
                "ustrace tool dbslower postgres",
                "queries slower than 1 ms, every backend",
            ),
            (
                "ustrace tool dbslower -m 0 -p 181 postgres",
                "every query of backend 181",
            ),
        ],
        plan: plan_dbslower,
    },
    Tool {
        name: "dbstat",
        summary: "a histogram of PostgreSQL query latencies (BCC dbstat)",
        usage: "[-p PID | -c CMD] [-m MS] [-u] [-i SECS] [-x PATH] postgres",
        flags: &[
            PID,
            CMD,
            flag(
                'm',
                Some("MS"),
                "count only queries slower than MS milliseconds",
            ),
            flag('u', None, "microseconds (default milliseconds)"),
            flag(
                'i',
                Some("SECS"),
                "print and clear the histogram every SECS",
            ),
            flag('x', Some("PATH"), "the postgres executable"),
            HELP,
        ],
        examples: &[
            (
                "ustrace tool dbstat postgres",
                "query latencies of every backend",
            ),
            (
                "ustrace tool dbstat -u -i 5 postgres",
                "in microseconds, every 5 seconds",
            ),
        ],
        plan: plan_dbstat,
    },
    Tool {
        name: "ustat",
        summary: "per-process rates of Python calls and GCs, every interval (BCC ustat)",
        usage: "[-l python] [-r MAXROWS] [-x PATH] [INTERVAL [COUNT]]",
        flags: &[
            LANG,
            flag(
                'r',
                Some("MAXROWS"),
                "print at most MAXROWS processes (default 20)",
            ),
            flag(
                'x',
                Some("PATH"),
                "the Python executable or library (default /usr/bin/python3.11)",
            ),
            HELP,
        ],
        examples: &[
            ("ustrace tool ustat", "every Python process, every second"),
            ("ustrace tool ustat 5 3", "every 5 seconds, 3 times"),
        ],
        plan: plan_ustat,
    },
    super::spec_tools::ARGDIST,
    super::spec_tools::TRACE,
];

/// The tool called `name`.
pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

/// BCC's `[LIB:]PATTERN` as (file, function pattern): `c:malloc` is libc's,
/// `/path/bin:f*` a file's; a bare pattern is in the traced program.
fn split_pattern(pattern: &str, target: &Target) -> Result<(String, String)> {
    if pattern.starts_with("u:") || pattern.starts_with("p:") || pattern.starts_with("t:") {
        bail!("pattern `{pattern}`: only user functions ([LIB:]FUNC) are supported, not BCC's u:/p:/t: prefixes");
    }
    match pattern.rsplit_once(':') {
        Some((lib, func)) if !lib.is_empty() && !func.is_empty() => {
            let file = if lib.contains('/') || lib.starts_with("lib") {
                lib.to_string()
            } else {
                format!("lib{lib}")
            };
            Ok((file, func.to_string()))
        }
        Some(_) => bail!("pattern `{pattern}`: expected LIB:FUNC"),
        None => match target.executable()? {
            Some(exe) => Ok((exe, pattern.to_string())),
            None => bail!(
                "pattern `{pattern}`: name the library or file (LIB:FUNC, e.g. c:{pattern}) or give -p/-c"
            ),
        },
    }
}

/// The one positional argument a tool needs.
fn one_positional<'a>(parsed: &'a Parsed, what: &str) -> Result<&'a str> {
    match parsed.positional.as_slice() {
        [one] => Ok(one),
        [] => bail!("missing {what}"),
        more => bail!("expected one {what}, got {}", more.len()),
    }
}

fn plan_funccount(parsed: &Parsed) -> Result<Invocation> {
    let target = Target::from(parsed, None)?;
    let (file, func) = split_pattern(one_positional(parsed, "PATTERN")?, &target)?;
    Ok(Invocation {
        source: FUNCCOUNT,
        positional: vec![
            file,
            func,
            parsed.number('i', 0)?.to_string(),
            parsed.number('d', 0)?.to_string(),
        ],
        target,
        layout: Layout::Counts {
            heading: "FUNC",
            width: 36,
            count_heading: "COUNT",
            top: None,
        },
    })
}

fn plan_funclatency(parsed: &Parsed) -> Result<Invocation> {
    let target = Target::from(parsed, None)?;
    let (file, func) = split_pattern(one_positional(parsed, "PATTERN")?, &target)?;
    let interval = parsed.number('i', 0)?;
    if parsed.has('T') && interval == 0 {
        bail!("-T prints the time of each interval: give -i SECS");
    }
    let (divisor, unit) = match (parsed.has('u'), parsed.has('m')) {
        (true, true) => bail!("give -u or -m, not both"),
        (true, false) => (1_000, "usecs"),
        (false, true) => (1_000_000, "msecs"),
        (false, false) => (1, "nsecs"),
    };
    Ok(Invocation {
        source: FUNCLATENCY,
        positional: vec![
            file,
            func,
            divisor.to_string(),
            parsed.number('d', 0)?.to_string(),
            interval.to_string(),
            u8::from(parsed.has('F')).to_string(),
            u8::from(parsed.has('T')).to_string(),
        ],
        target,
        layout: Layout::Hist {
            label: unit.to_string(),
            average: Some(unit),
        },
    })
}

/// The language of `-l` (python by default), refusing the ones not done.
fn language(parsed: &Parsed, allowed: &[&str]) -> Result<String> {
    let lang = parsed.value('l').unwrap_or("python").to_string();
    if allowed.contains(&lang.as_str()) {
        return Ok(lang);
    }
    match lang.as_str() {
        "java" | "ruby" | "php" | "perl" | "tcl" | "node" => bail!(
            "-l {lang}: not supported yet (see docs/tools.md); supported: {}",
            allowed.join(", ")
        ),
        _ => bail!(
            "-l {lang}: unknown language; supported: {}",
            allowed.join(", ")
        ),
    }
}

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

/// The JVM library of the target (libjvm.so, with the hotspot probes), after
/// checking that its method probes are on (-XX:+ExtendedDTraceProbes).
fn jvm_file(target: &Target) -> Result<String> {
    const FLAG: &str = "-XX:+ExtendedDTraceProbes";
    let missing_flag = || {
        anyhow::anyhow!("-l java: the JVM's method probes fire only with {FLAG}: add it to the java command line")
    };
    match target {
        Target::Pid(pid) => {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if !String::from_utf8_lossy(&cmdline).contains(FLAG) {
                return Err(missing_flag());
            }
            let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
                .map_err(|e| anyhow::anyhow!("reading /proc/{pid}/maps: {e}"))?;
            match maps
                .lines()
                .filter_map(|l| l.split_whitespace().nth(5))
                .find(|p| p.ends_with("/libjvm.so"))
            {
                Some(p) => Ok(p.to_string()),
                None => bail!("process {pid} has no libjvm.so mapped: not a JVM"),
            }
        }
        Target::Command(cmd) => {
            if !cmd.contains(FLAG) {
                return Err(missing_flag());
            }
            let Some(exe) = target.executable()? else {
                bail!("-c: empty command");
            };
            let exe = std::fs::canonicalize(&exe).unwrap_or_else(|_| exe.into());
            let jvm = exe
                .parent()
                .and_then(|bin| bin.parent())
                .map(|home| home.join("lib/server/libjvm.so"));
            match jvm {
                Some(j) if j.is_file() => Ok(j.display().to_string()),
                _ => bail!("-l java: no lib/server/libjvm.so next to {}", exe.display()),
            }
        }
        Target::All => {
            let default = "/usr/lib/jvm/default-java/lib/server/libjvm.so";
            match std::fs::canonicalize(default) {
                Ok(p) => Ok(p.display().to_string()),
                Err(_) => bail!("-l java: {default} not found: give a PID or -c CMD"),
            }
        }
    }
}

/// The Python executable of the target (python3.11 when none).
fn python_file(target: &Target) -> Result<String> {
    Ok(target
        .executable()?
        .unwrap_or_else(|| "/usr/bin/python3.11".to_string()))
}

fn plan_ucalls(parsed: &Parsed) -> Result<Invocation> {
    if parsed.has('S') {
        bail!("-S (system calls) needs kernel probes (raw_syscalls tracepoints): ustrace traces user space only");
    }
    let lang = language(parsed, &["python", "java", "c"])?;
    let target = Target::from(parsed, pid_positional(parsed)?)?;
    let top = match parsed.value('T') {
        Some(_) => Some(parsed.number('T', 0)? as usize),
        None => None,
    };
    if lang == "c" {
        if parsed.has('L') {
            bail!("-l c with -L: use `ustrace tool funclatency` for C function times");
        }
        let Some(exe) = target.executable()? else {
            bail!("-l c needs the process: a PID or -c CMD");
        };
        return Ok(Invocation {
            source: FUNCCOUNT,
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
    if lang == "java" {
        return Ok(Invocation {
            source: UCALLS_JAVA,
            positional: vec![
                jvm_file(&target)?,
                u8::from(latency).to_string(),
                divisor.to_string(),
                target_pid(&target),
            ],
            target,
            layout: Layout::Calls {
                time_heading: latency.then_some(heading),
                top,
            },
        });
    }
    Ok(Invocation {
        source: UCALLS,
        positional: vec![
            python_file(&target)?,
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

fn plan_uflow(parsed: &Parsed) -> Result<Invocation> {
    language(parsed, &["python"])?;
    let target = Target::from(parsed, pid_positional(parsed)?)?;
    let method = parsed.value('M').unwrap_or("");
    let class = parsed.value('C').unwrap_or("");
    Ok(Invocation {
        source: UFLOW,
        positional: vec![
            python_file(&target)?,
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

fn plan_ugc(parsed: &Parsed) -> Result<Invocation> {
    language(parsed, &["python"])?;
    let target = Target::from(parsed, pid_positional(parsed)?)?;
    Ok(Invocation {
        source: UGC,
        positional: vec![python_file(&target)?, target_pid(&target)],
        target,
        layout: Layout::Collections {
            millis: parsed.has('m'),
        },
    })
}

fn plan_stackcount(parsed: &Parsed) -> Result<Invocation> {
    let target = Target::from(parsed, None)?;
    let (file, func) = split_pattern(one_positional(parsed, "PATTERN")?, &target)?;
    Ok(Invocation {
        source: STACKCOUNT,
        positional: vec![
            file,
            func,
            parsed.number('d', 0)?.to_string(),
            parsed.number('i', 0)?.to_string(),
            u8::from(parsed.has('P')).to_string(),
        ],
        target,
        layout: Layout::Stacks,
    })
}

/// The postgres executable: `-x`, the target's, or the newest installed.
fn postgres_file(parsed: &Parsed, target: &Target) -> Result<String> {
    match one_positional(parsed, "database engine (postgres)")? {
        "postgres" => {}
        "mysql" => bail!(
            "mysql: no MySQL/MariaDB with USDT probes on this system; only postgres is supported"
        ),
        other => bail!("unknown database engine `{other}`: expected postgres"),
    }
    if let Some(x) = parsed.value('x') {
        return Ok(x.to_string());
    }
    // A -c command may start postgres through a wrapper (setpriv, su):
    // only a PID names the executable for sure.
    if let Target::Pid(_) = target {
        if let Some(exe) = target.executable()? {
            return Ok(exe);
        }
    }
    let mut installed: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin/postgres"))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    installed.sort();
    match installed.pop() {
        Some(p) => Ok(p.display().to_string()),
        None => bail!("no postgres found under /usr/lib/postgresql: give -x PATH"),
    }
}

fn plan_dbslower(parsed: &Parsed) -> Result<Invocation> {
    let target = Target::from(parsed, None)?;
    let file = postgres_file(parsed, &target)?;
    Ok(Invocation {
        source: DBSLOWER,
        positional: vec![file, parsed.number('m', 1)?.to_string()],
        target,
        layout: Layout::Slower,
    })
}

fn plan_dbstat(parsed: &Parsed) -> Result<Invocation> {
    let target = Target::from(parsed, None)?;
    let file = postgres_file(parsed, &target)?;
    let threshold_ms = parsed.number('m', 0)?;
    let (divisor, threshold, unit) = if parsed.has('u') {
        (1_000, threshold_ms.saturating_mul(1000), "us")
    } else {
        (1_000_000, threshold_ms, "ms")
    };
    Ok(Invocation {
        source: DBSTAT,
        positional: vec![
            file,
            divisor.to_string(),
            threshold.to_string(),
            parsed.number('i', 0)?.to_string(),
        ],
        target,
        layout: Layout::Hist {
            label: format!("query latency ({unit})"),
            average: None,
        },
    })
}

fn plan_ustat(parsed: &Parsed) -> Result<Invocation> {
    language(parsed, &["python"])?;
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
    let file = parsed
        .value('x')
        .unwrap_or("/usr/bin/python3.11")
        .to_string();
    Ok(Invocation {
        source: USTAT,
        positional: vec![file, interval.to_string(), count.to_string()],
        target: Target::All,
        layout: Layout::Rates {
            interval,
            max_rows: parsed.number('r', 20)? as usize,
        },
    })
}
