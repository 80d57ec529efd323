//! `-l`: which probes a pattern names, as the lines bpftrace prints.

use ustrace_probes::{describe_probe, find_usdt_probes, list_lines, ProbeError, UsdtPattern};

use ustrace_lang::ast::AttachKind;

use crate::Error;

/// Lists the probes matching `pattern`, as bpftrace's `-l` does:
/// `usdt:PATH:PROVIDER:NAME` (USDT probes), `uprobe:PATH:FUNCTION`
/// (functions), `*:PATH:...` (both), or a bare `PATH` (every USDT probe
/// in it). PATH may be a glob, a library name, or `*` for every object
/// process `pid` maps; wildcards are allowed everywhere. With `verbose`,
/// each probe is followed by its locations, semaphores and argument specs
/// (each function by its address and file offset).
pub fn list_probes(pattern: &str, pid: Option<u32>, verbose: bool) -> Result<Vec<String>, Error> {
    let trimmed = pattern.trim();
    for kind in ["uprobe:", "uretprobe:", "u:", "ur:"] {
        if let Some(rest) = trimmed.strip_prefix(kind) {
            return list_functions(kind, rest, pid, verbose);
        }
    }
    if let Some(rest) = trimmed.strip_prefix("*:") {
        return list_every_kind(rest, pid, verbose);
    }
    list_usdt(usdt_pattern(pattern)?, pid, verbose)
}

/// `-l` with a script (`-l -e '...'`, `-l script.bt`): the probes its
/// attach points name, each expanded as [`list_probes`] does, in order
/// and once each; `BEGIN`, `END`, `interval` and `profile` as written.
/// An attach point that names nothing is an error at its place.
pub fn list_script_probes(
    source: &str,
    source_name: &str,
    pid: Option<u32>,
    verbose: bool,
) -> Result<Vec<String>, Error> {
    let ast = ustrace_lang::parse(source).map_err(|d| Error::script(source_name, source, d))?;
    let mut lines: Vec<String> = Vec::new();
    for ap in ast.probes.iter().flat_map(|p| &p.attach_points) {
        let found = match &ap.kind {
            AttachKind::Usdt { .. } | AttachKind::Uprobe { .. } => {
                list_probes(&ap.raw, pid, verbose).map_err(|e| {
                    let d = ustrace_lang::Diagnostic::error(ap.span, e.to_string());
                    Error::script(source_name, source, d)
                })?
            }
            _ => vec![ap.raw.clone()],
        };
        for line in found {
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
    }
    Ok(lines)
}

/// Every probe of process `pid`: the USDT probes and functions of every
/// object it maps (`-l -p PID` without a pattern).
pub fn list_process_probes(pid: u32, verbose: bool) -> Result<Vec<String>, Error> {
    list_every_kind("*:*", Some(pid), verbose)
}

/// `-l '*:PATH:...'`: the functions, then the USDT probes, that the rest
/// of the pattern names. Each kind may find nothing; an error is reported
/// only when both fail.
fn list_every_kind(rest: &str, pid: Option<u32>, verbose: bool) -> Result<Vec<String>, Error> {
    let functions = list_functions("uprobe:", rest, pid, verbose);
    let usdt = match UsdtPattern::parse(rest) {
        Ok(pattern) => match list_usdt(pattern, pid, verbose) {
            Err(Error::Probe(ProbeError::NoMatch { .. })) => Ok(Vec::new()),
            other => other,
        },
        Err(e) => Err(Error::Probe(e)),
    };
    match (functions, usdt) {
        (Err(e), Err(_)) => Err(e),
        (f, u) => {
            let mut lines = f.unwrap_or_default();
            lines.extend(u.unwrap_or_default());
            Ok(lines)
        }
    }
}

/// The USDT probes `pattern` names, as `-l` (or `-lv`) prints them.
fn list_usdt(pattern: UsdtPattern, pid: Option<u32>, verbose: bool) -> Result<Vec<String>, Error> {
    let found = find_usdt_probes(&pattern, pid)?;
    if !verbose {
        return Ok(list_lines(&found));
    }
    let mut sorted: Vec<_> = found.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.display_path, &a.probe.provider, &a.probe.name).cmp(&(
            &b.display_path,
            &b.probe.provider,
            &b.probe.name,
        ))
    });
    Ok(sorted.into_iter().flat_map(describe_probe).collect())
}

/// Reads what the user gave `-l`: `usdt:...`, or just a path (every probe).
fn usdt_pattern(text: &str) -> Result<UsdtPattern, Error> {
    let text = text.trim();
    if let Some(rest) = text
        .strip_prefix("usdt:")
        .or_else(|| text.strip_prefix("U:"))
    {
        // `usdt:PATH` alone lists every probe of PATH.
        if !rest.contains(':') {
            return Ok(UsdtPattern {
                path: rest.to_string(),
                provider: None,
                name: "*".to_string(),
            });
        }
        return Ok(UsdtPattern::parse(rest)?);
    }
    if text.is_empty() || text == "*" {
        return Ok(UsdtPattern {
            path: "*".to_string(),
            provider: None,
            name: "*".to_string(),
        });
    }
    if text.contains(':') {
        let kind = text.split(':').next().unwrap_or_default();
        return Err(Error::Probe(ProbeError::BadPattern {
            pattern: text.to_string(),
            reason: format!(
                "listing `{kind}` probes is not supported; use usdt:PATH:PROVIDER:NAME, uprobe:PATH:FUNCTION or *:PATH:*"
            ),
        }));
    }
    Ok(UsdtPattern {
        path: text.to_string(),
        provider: None,
        name: "*".to_string(),
    })
}

/// `-l 'uprobe:PATH:PATTERN'`: the functions a uprobe could attach to
/// (`-v` adds each one's address and file offset).
fn list_functions(
    kind: &str,
    rest: &str,
    pid: Option<u32>,
    verbose: bool,
) -> Result<Vec<String>, Error> {
    let kind = match kind {
        "u:" => "uprobe:",
        "ur:" => "uretprobe:",
        k => k,
    };
    // PATH:FUNCTION, where FUNCTION may hold `::` (C++) and quotes.
    let (path, func) = match rest.split_once(':') {
        Some((p, f)) => (p, f.trim_matches('"')),
        None => (rest, "*"),
    };
    let func = if func.is_empty() { "*" } else { func };
    let objects = ustrace_probes::find_objects(path, pid)?;
    let mut lines = Vec::new();
    for file in &objects.files {
        let found = match ustrace_probes::find_functions(&file.host_path, func) {
            Ok(found) => found,
            Err(e) if objects.exact => return Err(e.into()),
            // Among many files, a broken or non-ELF one is skipped.
            Err(_) => continue,
        };
        let display = &file.display_path;
        lines.extend(found.into_iter().map(|f| {
            if verbose {
                format!(
                    "{kind}{display}:{}\n    address {:#x}, file offset {:#x}",
                    f.name, f.address, f.file_offset
                )
            } else {
                format!("{kind}{display}:{}", f.name)
            }
        }));
    }
    Ok(lines)
}
