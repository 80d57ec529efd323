//! BCC's trace: `'[TYPE:]LIB:FUNC[(SIGNATURE)] [(FILTER)] ["FORMAT"[, ARG...]]'`
//! probes as one ustrace script, each probe a block printing one line in
//! BCC's columns (`PID TID COMM FUNC -`, optionally `TIME` and `CPU`
//! first).

use std::fmt::Write as _;
use std::ops::Range;

use super::cexpr::{self, CType, Name};
use super::probe::{self, Kind, Point};
use super::{escape, split_top_level, SpecError};

/// The options of trace that shape the script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-t`: seconds since tracing started, first column.
    pub timestamp: bool,
    /// `-T`: the local time (HH:MM:SS), first column.
    pub time: bool,
    /// `-C`: the CPU column.
    pub cpu: bool,
    /// `-L TID`: one thread only.
    pub tid: Option<u32>,
    /// `-n NAME`: only processes whose name contains NAME.
    pub name: Option<String>,
    /// `-M N`: stop after N events.
    pub max_events: Option<u64>,
    /// `-Z N`: bytes read for each `%s` (default 80, as BCC).
    pub string_size: u64,
    /// `-U`: the user stack after each line (and an empty line).
    pub user_stack: bool,
}

/// One parsed probe.
struct Probe {
    point: Point,
    /// The predicate, as ustrace source (`true` when none).
    filter: Option<String>,
    /// The message format (inside the quotes, as ustrace source) and its
    /// arguments as ustrace expressions.
    format: Option<(String, Vec<String>)>,
}

/// The script tracing `probes` with `options`.
pub fn script(probes: &[String], options: &Options) -> Result<String, SpecError> {
    let parsed = probes
        .iter()
        .map(|p| parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = super::config_line(options.string_size);
    let (mut head_fmt, mut head_args) = (String::new(), Vec::new());
    if options.timestamp || options.time {
        head_fmt.push_str("%-8s ");
        head_args.push("\"TIME\"".to_string());
    }
    if options.cpu {
        head_fmt.push_str("%-3s ");
        head_args.push("\"CPU\"".to_string());
    }
    let dash = if parsed.iter().all(|p| p.format.is_none()) {
        ""
    } else {
        "-"
    };
    let _ = writeln!(
        out,
        "BEGIN {{ printf(\"{head_fmt}%-7s %-7s %-15s %-16s %s\\n\", {}\"PID\", \"TID\", \"COMM\", \"FUNC\", \"{dash}\"); }}",
        head_args.iter().map(|a| format!("{a}, ")).collect::<String>()
    );
    for p in &parsed {
        out.push_str(&block(p, options));
    }
    Ok(out)
}

/// One probe's block.
fn block(p: &Probe, options: &Options) -> String {
    let mut fmt = String::new();
    let mut args: Vec<String> = Vec::new();
    if options.timestamp {
        fmt.push_str("%d.%06d ");
        args.push("elapsed / 1000000000".into());
        args.push("elapsed % 1000000000 / 1000".into());
    } else if options.time {
        fmt.push_str("%-8s ");
        args.push("strftime(\"%H:%M:%S\", nsecs)".into());
    }
    if options.cpu {
        fmt.push_str("%-3d ");
        args.push("cpu".into());
    }
    fmt.push_str("%-7d %-7d %-15s %-16s ");
    args.extend(["pid".into(), "tid".into(), "comm".into()]);
    args.push(format!("\"{}\"", escape(p.point.display())));
    if let Some((user_fmt, user_args)) = &p.format {
        fmt.push_str(user_fmt);
        args.extend(user_args.iter().cloned());
    }
    if options.user_stack {
        // ustack prints as `\n` and one `        FRAME\n` per frame: the
        // frames follow the line, then the format's newline ends the
        // event with an empty line, as BCC's -U.
        fmt.push_str("%s");
        args.push("ustack".into());
    }
    let print = format!("printf(\"{fmt}\\n\", {});", args.join(", "));
    let body = match options.max_events {
        Some(max) => format!(
            "if (@_events < {max}) {{ @_events++; {print} if (@_events >= {max}) {{ exit(); }} }}"
        ),
        None => print,
    };
    let mut conditions: Vec<String> = Vec::new();
    if let Some(f) = &p.filter {
        conditions.push(format!("({f})"));
    }
    if let Some(tid) = options.tid {
        conditions.push(format!("tid == {tid}"));
    }
    if let Some(name) = &options.name {
        conditions.push(format!("strcontains(comm, \"{}\")", escape(name)));
    }
    let predicate = if conditions.is_empty() {
        String::new()
    } else {
        format!(" /{}/", conditions.join(" && "))
    };
    format!("{}{predicate} {{ {body} }}\n", p.point.attach)
}

/// The end of the parenthesized text starting at `open` (an index of
/// `(` in `text`): the index just after its `)`.
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The index of the first non-whitespace byte of `text` at or after `at`.
fn skip_space(text: &str, at: usize) -> usize {
    at + text[at..].len() - text[at..].trim_start().len()
}

/// Parses one probe.
fn parse(text: &str) -> Result<Probe, SpecError> {
    let start = skip_space(text, 0);
    let spec_end = text[start..]
        .find(|c: char| c.is_whitespace() || c == '(')
        .map_or(text.len(), |i| start + i);
    if spec_end == start {
        return Err(SpecError::new(
            text,
            0..text.len(),
            "expected a probe: [TYPE:]LIB:FUNC",
        ));
    }
    let point = spec_point(text, start..spec_end)?;
    let mut at = spec_end;
    let mut params: Vec<String> = Vec::new();
    if text[at..].starts_with('(') {
        let Some(end) = matching_paren(text, at) else {
            return Err(SpecError::new(
                text,
                at..text.len(),
                "unmatched `(` in the signature",
            ));
        };
        if point.kind == Kind::Usdt {
            return Err(SpecError::new(
                text,
                at..end,
                "USDT probes have no signature: use arg1, arg2, ...",
            ));
        }
        params = probe::signature(text, at + 1..end - 1)?;
        at = end;
    }
    at = skip_space(text, at);
    let mut resolve =
        |name: Name<'_>, span: Range<usize>| resolve(text, &point, &params, name, span);
    let mut filter = None;
    if text[at..].starts_with('(') {
        let Some(end) = matching_paren(text, at) else {
            return Err(SpecError::new(
                text,
                at..text.len(),
                "unmatched `(` in the filter",
            ));
        };
        filter = Some(cexpr::translate(text, &text[at..end], at, &mut resolve)?);
        at = skip_space(text, end);
    }
    let format = if at < text.len() {
        Some(action(text, at, &mut resolve)?)
    } else {
        None
    };
    Ok(Probe {
        point,
        filter,
        format,
    })
}

/// The probe part (`p:c:open`, `c:open`, `u:/bin/app:prov:name`) at
/// `span` of `text`.
fn spec_point(text: &str, span: Range<usize>) -> Result<Point, SpecError> {
    let parts: Vec<(Range<usize>, &str)> = split_top_level(&text[span.clone()], ':')
        .into_iter()
        .map(|(off, p)| (span.start + off..span.start + off + p.len(), p))
        .collect();
    let part = |i: usize| (parts[i].1, parts[i].0.clone());
    let joined = |from: usize, to: usize| {
        let range = parts[from].0.start..parts[to].0.end;
        (&text[range.clone()], range)
    };
    match parts.len() {
        1 => Err(SpecError::new(
            text,
            span,
            "a function without a library is a kernel function, which needs kernel probes: ustrace traces user space only; name a library (c:open) or a file (/path/app:func)",
        )),
        2 => probe::point(text, Kind::Entry, part(0), part(1)),
        n => {
            let kind = probe::kind(text, parts[0].1, parts[0].0.clone())?;
            match kind {
                Kind::Usdt => probe::point(text, kind, part(1), joined(2, n - 1)),
                _ => probe::point(text, kind, joined(1, n - 2), part(n - 1)),
            }
        }
    }
}

/// A name in a filter or argument, as ustrace source.
fn resolve(
    text: &str,
    point: &Point,
    params: &[String],
    name: Name<'_>,
    span: Range<usize>,
) -> Result<String, SpecError> {
    let err = |m: String| Err(SpecError::new(text, span.clone(), m));
    match name {
        Name::Plain(n) => {
            if let Some(i) = params.iter().position(|p| p == n) {
                if point.kind == Kind::Return {
                    return err(format!(
                        "`{n}`: a return probe has no arguments (use retval)"
                    ));
                }
                return Ok(format!("arg{i}"));
            }
            if n == "retval" {
                return match point.kind {
                    Kind::Return => Ok("retval".into()),
                    _ => err("retval is only in return probes (r:)".into()),
                };
            }
            match point.kind.bcc_arg(n) {
                Some(Ok(arg)) => Ok(arg),
                Some(Err(why)) => err(why),
                None => err(format!(
                    "unknown name `{n}`: use arg1, arg2, ..., retval, $pid, $tgid, $uid, $gid, $cpu or a parameter of the signature"
                )),
            }
        }
        Name::Dollar(d) => match d {
            "pid" => Ok("tid".into()),
            "tgid" => Ok("pid".into()),
            "uid" => Ok("uid".into()),
            "gid" => Ok("gid".into()),
            "cpu" => Ok("cpu".into()),
            "task" => {
                err("$task is the kernel's task struct: not available in user-space tracing".into())
            }
            other => err(format!(
                "unknown `${other}`: use $pid, $tgid, $uid, $gid or $cpu"
            )),
        },
        Name::Entry(_) => err("$entry() is argdist's, not trace's".into()),
    }
}

/// The action at `at` of `text`: `"FORMAT"[, ARG...]`, as a ustrace format
/// (without quotes) and its arguments.
fn action(
    text: &str,
    at: usize,
    resolve: &mut cexpr::Resolver<'_>,
) -> Result<(String, Vec<String>), SpecError> {
    if !text[at..].starts_with('"') {
        return Err(SpecError::new(
            text,
            at..text.len(),
            "expected a filter in parentheses or a format string in double quotes",
        ));
    }
    let mut escaped = false;
    let close = text[at + 1..].char_indices().find_map(|(i, c)| {
        let end = !escaped && c == '"';
        escaped = !escaped && c == '\\';
        end.then_some(at + 1 + i)
    });
    let Some(close) = close else {
        return Err(SpecError::new(
            text,
            at..text.len(),
            "unterminated format string",
        ));
    };
    let conversions = conversions(text, at + 1..close)?;
    let rest_at = skip_space(text, close + 1);
    let mut args = Vec::new();
    if rest_at < text.len() {
        let Some(list) = text[rest_at..].strip_prefix(',') else {
            return Err(SpecError::new(
                text,
                rest_at..text.len(),
                "expected `,` and the arguments after the format",
            ));
        };
        for (off, arg) in split_top_level(list, ',') {
            let base = rest_at + 1 + off;
            if arg.trim().is_empty() {
                return Err(SpecError::new(
                    text,
                    base..base + arg.len(),
                    "an empty argument",
                ));
            }
            args.push((
                base..base + arg.len(),
                cexpr::translate(text, arg, base, resolve)?,
            ));
        }
    }
    if args.len() > conversions.len() {
        let extra = args[conversions.len()].0.clone();
        return Err(SpecError::new(
            text,
            extra,
            "more arguments than the format has conversions",
        ));
    }
    if args.len() < conversions.len() {
        return Err(SpecError::new(
            text,
            at..close + 1,
            format!(
                "the format has {} conversions but {} arguments",
                conversions.len(),
                args.len()
            ),
        ));
    }
    let mut format = String::new();
    let mut last = at + 1;
    let mut values = Vec::new();
    for (conv, (_, expr)) in conversions.iter().zip(args) {
        format.push_str(&text[last..conv.span.start]);
        format.push_str(&conv.rewritten);
        last = conv.span.end;
        values.push(match conv.value {
            Some(CType::Str) => format!("str({expr})"),
            Some(t) => format!("{}({expr})", t.cast()),
            None => expr,
        });
    }
    format.push_str(&text[last..close]);
    Ok((format, values))
}

/// A `%` conversion of a format.
struct Conversion {
    /// Where it is in the specifier.
    span: Range<usize>,
    /// As ustrace's printf takes it (length modifiers dropped: the cast of
    /// the value sets the width).
    rewritten: String,
    /// How the value is read: a cast, a string, or as it is (`%p`).
    value: Option<CType>,
}

/// The conversions of the format at `span` of `text`.
fn conversions(text: &str, span: Range<usize>) -> Result<Vec<Conversion>, SpecError> {
    let fmt = &text[span.clone()];
    let bytes = fmt.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'%') {
            i += 2;
            continue;
        }
        let start = i;
        i += 1;
        let spec_start = i;
        while i < bytes.len() && b"-+ #0".contains(&bytes[i]) {
            i += 1;
        }
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let flags = &fmt[spec_start..i];
        let len_start = i;
        while i < bytes.len() && b"hlz".contains(&bytes[i]) {
            i += 1;
        }
        let length = &fmt[len_start..i];
        let conv = bytes.get(i).copied().map(char::from);
        let end = (i + 1).min(fmt.len());
        let at = span.start + start..span.start + end;
        let wide = matches!(length, "l" | "ll" | "z");
        let int = |bits, signed| Some(CType::Int { bits, signed });
        let bits = match length {
            "hh" => 8,
            "h" => 16,
            _ if wide => 64,
            "" => 32,
            _ => {
                return Err(SpecError::new(
                    text,
                    at,
                    format!("unknown length `{length}`"),
                ))
            }
        };
        let (letter, value) = match conv {
            Some('d' | 'i') => ('d', int(bits, true)),
            Some(c @ ('u' | 'x' | 'X' | 'o')) => (c, int(bits, false)),
            Some('c') if length.is_empty() => ('c', int(8, true)),
            Some('s') if length.is_empty() => ('s', Some(CType::Str)),
            Some('p') if length.is_empty() => ('p', None),
            Some('K') => {
                return Err(SpecError::new(
                    text,
                    at,
                    "%K prints a kernel symbol: ustrace traces user space only",
                ))
            }
            Some('U') => {
                return Err(SpecError::new(
                    text,
                    at,
                    "%U (user symbols) is not supported yet: print the address with %llx",
                ))
            }
            _ => {
                return Err(SpecError::new(
                    text,
                    at,
                    "unknown conversion: use %d %i %u %x %X %o %c %s %p with h, l or ll",
                ))
            }
        };
        out.push(Conversion {
            span: at,
            rewritten: format!("%{flags}{letter}"),
            value,
        });
        i = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opts() -> Options {
        Options {
            string_size: 80,
            ..Options::default()
        }
    }

    fn one(probe: &str) -> Result<String, SpecError> {
        script(&[probe.to_string()], &opts()).map(|s| s.lines().nth(2).unwrap_or("").to_string())
    }

    #[test]
    fn probes_become_blocks() {
        assert_eq!(
            one(r#"p:c:open "%s", arg1"#).unwrap(),
            r#"uprobe:libc:open { printf("%-7d %-7d %-15s %-16s %s\n", pid, tid, comm, "open", str(arg0)); }"#
        );
        assert_eq!(
            one(r#"r:c:malloc (retval) "ret=%lx", retval"#).unwrap(),
            r#"uretprobe:libc:malloc /(( retval ))/ { printf("%-7d %-7d %-15s %-16s ret=%x\n", pid, tid, comm, "malloc", (uint64)(retval)); }"#
        );
        assert_eq!(
            one(r#"u:/bin/app:prov:req (arg1 > 10) "%d %hu", arg1, $tgid"#).unwrap(),
            r#"usdt:/bin/app:prov:req /(( arg0 > 10 ))/ { printf("%-7d %-7d %-15s %-16s %d %u\n", pid, tid, comm, "prov:req", (int32)(arg0), (uint16)(pid)); }"#
        );
        assert_eq!(
            one(r#"c:open(char *path, int flags) (flags == 42) "%s", path"#).unwrap(),
            r#"uprobe:libc:open /(( arg1 == 42 ))/ { printf("%-7d %-7d %-15s %-16s %s\n", pid, tid, comm, "open", str(arg0)); }"#
        );
        assert_eq!(
            one("/bin/app:work").unwrap(),
            r#"uprobe:/bin/app:work { printf("%-7d %-7d %-15s %-16s \n", pid, tid, comm, "work"); }"#
        );
    }

    #[test]
    fn header_and_options() {
        let o = Options {
            timestamp: true,
            cpu: true,
            tid: Some(7),
            name: Some("ap\"p".into()),
            max_events: Some(3),
            string_size: 32,
            ..Options::default()
        };
        let s = script(&[r#"c:f "%d", arg1"#.to_string()], &o).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[0],
            "config = { print_maps_on_exit = false; max_strlen = 32; missing_probes = error }"
        );
        assert_eq!(
            lines[1],
            r#"BEGIN { printf("%-8s %-3s %-7s %-7s %-15s %-16s %s\n", "TIME", "CPU", "PID", "TID", "COMM", "FUNC", "-"); }"#
        );
        assert_eq!(
            lines[2],
            r#"uprobe:libc:f /tid == 7 && strcontains(comm, "ap\"p")/ { if (@_events < 3) { @_events++; printf("%d.%06d %-3d %-7d %-7d %-15s %-16s %d\n", elapsed / 1000000000, elapsed % 1000000000 / 1000, cpu, pid, tid, comm, "f", (int32)(arg0)); if (@_events >= 3) { exit(); } } }"#
        );
    }

    #[test]
    fn bad_probes_are_pointed_at() {
        let cases: &[(&str, Range<usize>, &str)] = &[
            ("do_sys_open", 0..11, "kernel"),
            ("r::do_sys_open", 1..3, "kernel"),
            ("t:block:rq", 0..1, "kernel"),
            (
                r#"c:open (foo > 1) "%d", arg1"#,
                8..11,
                "unknown name `foo`",
            ),
            (r#"c:open "%d %d", arg1"#, 7..14, "2 conversions but 1"),
            (r#"c:open "%d", arg1, arg2"#, 18..23, "more arguments"),
            (r#"c:open "%K", arg1"#, 8..10, "kernel symbol"),
            (r#"c:open "%d", retval"#, 13..19, "return probes"),
            (r#"c:open "%d", arg0"#, 13..17, "from 1"),
            (r#"c:open (arg1 > 1"#, 7..16, "unmatched"),
            (r#"c:open arg1"#, 7..11, "format string"),
            (r#"u:/a:p(int x)"#, 6..13, "no signature"),
            (r#"c:open "%s" arg1"#, 12..16, "expected `,`"),
            (r#"c:open "%d", arg1->b"#, 17..19, "struct"),
            (r#"x:c:open"#, 0..1, "probe type"),
        ];
        for (probe, span, words) in cases {
            let e = one(probe).unwrap_err();
            assert_eq!(&e.span, span, "{probe}: {e}");
            assert!(e.message.contains(words), "{probe}: {e}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in r#"[pru:c/a-z0-9 ()"%,$>=*+é]{0,30}"#) {
            if let Err(e) = script(std::slice::from_ref(&text), &opts()) {
                prop_assert!(e.span.end <= text.len());
                let _ = e.to_string();
            }
        }
    }
}
