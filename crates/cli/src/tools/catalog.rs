//! The tools: their scripts (embedded from tools/), options, help, and how
//! options become the script's positional parameters.

use anyhow::{bail, Result};

use super::lang_tools::{
    plan_ucalls, plan_uflow, plan_ugc, plan_uobjnew, plan_ustat, plan_uthreads,
};
use super::options::{Flag, Parsed, Target};
use std::borrow::Cow;

use super::sink::Layout;

/// What a tool runs: a script, its parameters, the process, the layout.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The script's text: one of tools/*.bt as built in, or written for
    /// this run (sections chosen, specifiers translated).
    pub source: Cow<'static, str>,
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
const STACKCOUNT: &str = include_str!("../../../../tools/stackcount.bt");
const DBSLOWER: &str = include_str!("../../../../tools/dbslower.bt");
const DBSTAT: &str = include_str!("../../../../tools/dbstat.bt");

const fn flag(short: char, value: Option<&'static str>, help: &'static str) -> Flag {
    Flag { short, value, help }
}

const PID: Flag = flag('p', Some("PID"), "trace only this process");
const CMD: Flag = flag('c', Some("CMD"), "run this command and trace it");
const HELP: Flag = flag('h', None, "show this help");
const DURATION: Flag = flag('d', Some("SECS"), "stop after this many seconds");
/// BCC's `-S` (system calls): kernel probes, refused in one line.
const SYSCALLS: Flag = flag('S', None, "system calls: refused, they need kernel probes");
const fn lang(help: &'static str) -> Flag {
    flag('l', Some("LANG"), help)
}

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
        usage: "[-l python|java|ruby|php|c] [-L] [-m] [-T N] [-c CMD] [PID]",
        flags: &[
            lang("python, java, ruby, php or c (default python)"),
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
            (
                "ustrace tool ucalls -l ruby -L -c 'ruby app.rb'",
                "Ruby and C methods of app.rb, with times",
            ),
            (
                "ustrace tool ucalls -l php -c 'php8.2 app.php'",
                "PHP functions (sets USE_ZEND_DTRACE=1)",
            ),
            (
                "ustrace tool ucalls -l java -c 'java -XX:+ExtendedDTraceProbes App'",
                "Java methods",
            ),
        ],
        plan: plan_ucalls,
    },
    Tool {
        name: "uflow",
        summary: "print the flow of a language's function calls and returns (BCC uflow)",
        usage: "[-l python|java|ruby|php] [-M METHOD] [-C CLASS] [-c CMD] [PID]",
        flags: &[
            lang("python, java, ruby or php (default python)"),
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
                "only functions of classes (Python: files) starting with CLASS",
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
                "ustrace tool uflow -l php -c 'php8.2 app.php'",
                "PHP calls and returns of app.php",
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
        usage: "[-l python|java|ruby] [-m] [-c CMD] [PID]",
        flags: &[
            lang("python, java or ruby (default python)"),
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
            (
                "ustrace tool ugc -l java 181",
                "the collections of JVM 181",
            ),
        ],
        plan: plan_ugc,
    },
    Tool {
        name: "uobjnew",
        summary: "count a language's allocations by class, with bytes where the runtime gives them (BCC uobjnew)",
        usage: "[-l java|ruby|c] [-C N | -S N] [-i SECS] [-c CMD] [PID [INTERVAL]]",
        flags: &[
            lang("java, ruby or c (default java)"),
            PID,
            CMD,
            flag('C', Some("N"), "only the N classes with the most allocations"),
            flag('S', Some("N"), "only the N classes with the most bytes"),
            flag(
                'i',
                Some("SECS"),
                "print and clear the table every SECS",
            ),
            HELP,
        ],
        examples: &[
            (
                "ustrace tool uobjnew -l java 181",
                "allocations of JVM 181 (started with -XX:+ExtendedDTraceProbes)",
            ),
            (
                "ustrace tool uobjnew -l ruby -C 10 -c 'ruby app.rb'",
                "the 10 Ruby classes most allocated by app.rb",
            ),
            (
                "ustrace tool uobjnew -l c 181 5",
                "malloc() sizes of PID 181, every 5 seconds",
            ),
        ],
        plan: plan_uobjnew,
    },
    Tool {
        name: "uthreads",
        summary: "print the threads a program starts (BCC uthreads)",
        usage: "[-l java|c] [-c CMD] [PID]",
        flags: &[lang("java or c (default c: pthread_create)"), PID, CMD, HELP],
        examples: &[
            (
                "ustrace tool uthreads 181",
                "pthread_create calls of PID 181",
            ),
            (
                "ustrace tool uthreads -l java -c 'java App'",
                "Java threads started and stopped",
            ),
        ],
        plan: plan_uthreads,
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
        summary: "per-process rates of calls, GCs, allocations, class loads, exceptions and threads of the running runtimes (BCC ustat)",
        usage: "[-l python|java|ruby|php] [-r MAXROWS] [-x PATH] [INTERVAL [COUNT]]",
        flags: &[
            lang("only this runtime (default: every one running or installed)"),
            flag(
                'r',
                Some("MAXROWS"),
                "print at most MAXROWS processes (default 20)",
            ),
            flag(
                'x',
                Some("PATH"),
                "the runtime's executable or library (with -l; default: discovered)",
            ),
            HELP,
        ],
        examples: &[
            (
                "ustrace tool ustat",
                "every Python, Java, Ruby and PHP process, every second",
            ),
            ("ustrace tool ustat -l java 2", "JVMs only, every 2 seconds"),
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
            Ok((super::spec::library_file(lib), func.to_string()))
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
        source: FUNCCOUNT.into(),
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
        source: FUNCLATENCY.into(),
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

fn plan_stackcount(parsed: &Parsed) -> Result<Invocation> {
    let target = Target::from(parsed, None)?;
    let (file, func) = split_pattern(one_positional(parsed, "PATTERN")?, &target)?;
    Ok(Invocation {
        source: STACKCOUNT.into(),
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
        source: DBSLOWER.into(),
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
        source: DBSTAT.into(),
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
