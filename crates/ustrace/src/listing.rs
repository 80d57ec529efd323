//! `-l`: which probes a pattern names, as the lines bpftrace prints.

use ustrace_dwarf::{DebugInfo, TypeTable};
use ustrace_probes::{describe_probe, find_usdt_probes, list_lines, ProbeError, UsdtPattern};

use ustrace_lang::ast::AttachKind;

use crate::Error;

/// What `-l` prints: lines for standard output, and warnings (a file
/// without debug information under `-lv`) for standard error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The probe lines (and under `-v`, their details).
    pub lines: Vec<String>,
    /// One line each; the listing is still complete without them.
    pub warnings: Vec<String>,
}

/// Lists the probes matching `pattern`, as bpftrace's `-l` does:
/// `usdt:PATH:PROVIDER:NAME` (USDT probes), `uprobe:PATH:FUNCTION`
/// (functions), `*:PATH:...` (both), or a bare `PATH` (every USDT probe
/// in it). PATH may be a glob, a library name, or `*` for every object
/// process `pid` maps; wildcards are allowed everywhere. With `verbose`,
/// each probe is followed by its locations, semaphores and argument specs,
/// and each uprobe function by its parameters (see
/// [`list_probes_with_warnings`]).
pub fn list_probes(pattern: &str, pid: Option<u32>, verbose: bool) -> Result<Vec<String>, Error> {
    Ok(list_probes_with_warnings(pattern, pid, verbose)?.lines)
}

/// [`list_probes`], with the warnings to show beside the lines.
pub fn list_probes_with_warnings(
    pattern: &str,
    pid: Option<u32>,
    verbose: bool,
) -> Result<Listing, Error> {
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
) -> Result<Listing, Error> {
    let ast = ustrace_lang::parse(source).map_err(|d| Error::script(source_name, source, d))?;
    let mut listing = Listing::default();
    for ap in ast.probes.iter().flat_map(|p| &p.attach_points) {
        let found = match &ap.kind {
            AttachKind::Usdt { .. } | AttachKind::Uprobe { .. } => {
                list_probes_with_warnings(&ap.raw, pid, verbose).map_err(|e| {
                    let d = ustrace_lang::Diagnostic::error(ap.span, e.to_string());
                    Error::script(source_name, source, d)
                })?
            }
            _ => Listing {
                lines: vec![ap.raw.clone()],
                warnings: Vec::new(),
            },
        };
        for line in found.lines {
            if !listing.lines.contains(&line) {
                listing.lines.push(line);
            }
        }
        listing.warnings.extend(found.warnings);
    }
    Ok(listing)
}

/// Every probe of process `pid`: the USDT probes and functions of every
/// object it maps (`-l -p PID` without a pattern).
pub fn list_process_probes(pid: u32, verbose: bool) -> Result<Listing, Error> {
    list_every_kind("*:*", Some(pid), verbose)
}

/// `-l '*:PATH:...'`: the functions, then the USDT probes, that the rest
/// of the pattern names. Each kind may find nothing; an error is reported
/// only when both fail.
fn list_every_kind(rest: &str, pid: Option<u32>, verbose: bool) -> Result<Listing, Error> {
    let functions = list_functions("uprobe:", rest, pid, verbose);
    let usdt = match UsdtPattern::parse(rest) {
        Ok(pattern) => match list_usdt(pattern, pid, verbose) {
            Err(Error::Probe(ProbeError::NoMatch { .. })) => Ok(Listing::default()),
            other => other,
        },
        Err(e) => Err(Error::Probe(e)),
    };
    match (functions, usdt) {
        (Err(e), Err(_)) => Err(e),
        (f, u) => {
            let mut listing = f.unwrap_or_default();
            let u = u.unwrap_or_default();
            listing.lines.extend(u.lines);
            listing.warnings.extend(u.warnings);
            Ok(listing)
        }
    }
}

/// The USDT probes `pattern` names, as `-l` (or `-lv`) prints them.
fn list_usdt(pattern: UsdtPattern, pid: Option<u32>, verbose: bool) -> Result<Listing, Error> {
    let found = find_usdt_probes(&pattern, pid)?;
    if !verbose {
        return Ok(Listing {
            lines: list_lines(&found),
            warnings: Vec::new(),
        });
    }
    let mut sorted: Vec<_> = found.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.display_path, &a.probe.provider, &a.probe.name).cmp(&(
            &b.display_path,
            &b.probe.provider,
            &b.probe.name,
        ))
    });
    Ok(Listing {
        lines: sorted.into_iter().flat_map(describe_probe).collect(),
        warnings: Vec::new(),
    })
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

/// `-l 'uprobe:PATH:PATTERN'`: the functions a uprobe could attach to.
/// `-v` adds, as bpftrace does, one `    TYPE NAME` line per parameter
/// from the file's debug information (for a uretprobe, `    TYPE retval`).
fn list_functions(
    kind: &str,
    rest: &str,
    pid: Option<u32>,
    verbose: bool,
) -> Result<Listing, Error> {
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
    let retprobe = kind == "uretprobe:";
    let mut listing = Listing::default();
    for file in &objects.files {
        let found = match ustrace_probes::find_functions(&file.host_path, func) {
            Ok(found) => found,
            Err(e) if objects.exact => return Err(e.into()),
            // Among many files, a broken or non-ELF one is skipped.
            Err(_) => continue,
        };
        let debug = match verbose && !found.is_empty() {
            false => None,
            // Without usable debug information the functions are still
            // listed; the warning says why their parameters are not (for
            // a file named alone: among many, most libraries have none).
            true => match DebugInfo::open(&file.host_path) {
                Ok(info) => Some(info),
                Err(e) => {
                    if objects.exact {
                        listing
                            .warnings
                            .push(format!("{e}; parameters are not listed"));
                    }
                    None
                }
            },
        };
        let display = &file.display_path;
        for f in found {
            listing.lines.push(format!("{kind}{display}:{}", f.name));
            if let Some(info) = &debug {
                listing
                    .lines
                    .extend(signature_lines(info, f.address, retprobe));
            }
        }
    }
    Ok(listing)
}

/// Under a uprobe, `    TYPE NAME` for each parameter of the function at
/// `address`; under a uretprobe, `    TYPE retval` (nothing for `void`).
/// Functions without debug information get no lines, as in bpftrace.
fn signature_lines(info: &DebugInfo, address: u64, retprobe: bool) -> Vec<String> {
    let mut types = TypeTable::new();
    let Ok(function) = info.function_at(address, &mut types) else {
        return Vec::new();
    };
    if retprobe {
        return match types.get(function.return_type) {
            ustrace_dwarf::Type::Void => Vec::new(),
            _ => vec![format!("    {} retval", types.name(function.return_type))],
        };
    }
    function
        .params
        .iter()
        .map(|p| format!("    {} {}", types.name(p.ty), p.name))
        .collect()
}
