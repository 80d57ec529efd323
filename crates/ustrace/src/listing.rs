//! `-l`: which probes a pattern names, as the lines bpftrace prints.

use ustrace_dwarf::{DebugInfo, TypeTable};
use ustrace_probes::{describe_probe, find_usdt_probes, list_lines, ProbeError, UsdtPattern};

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

/// Lists the USDT probes matching `pattern` (`usdt:PATH:PROVIDER:NAME`,
/// wildcards allowed; a bare `PATH` means every probe in it), searching the
/// objects of process `pid` when given. With `verbose`, each probe is
/// followed by its locations, semaphores and argument specs, and each
/// uprobe function by its parameters (see [`list_probes_with_warnings`]).
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
    let pattern = usdt_pattern(pattern)?;
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
                "listing `{kind}` probes is not supported; use usdt:PATH:PROVIDER:NAME"
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
    let file = if path.contains('/') {
        std::path::PathBuf::from(path)
    } else {
        ustrace_probes::libpath::resolve_library_in(path, pid)?
    };
    let display = file.to_string_lossy().into_owned();
    let found = ustrace_probes::find_functions(&file, if func.is_empty() { "*" } else { func })?;
    let mut listing = Listing::default();
    let debug = match verbose && !found.is_empty() {
        false => None,
        // Without usable debug information the functions are still
        // listed; the warning says why their parameters are not.
        true => match DebugInfo::open(&file) {
            Ok(info) => Some(info),
            Err(e) => {
                listing
                    .warnings
                    .push(format!("{e}; parameters are not listed"));
                None
            }
        },
    };
    let retprobe = kind == "uretprobe:";
    for f in found {
        listing.lines.push(format!("{kind}{display}:{}", f.name));
        if let Some(info) = &debug {
            listing
                .lines
                .extend(signature_lines(info, f.address, retprobe));
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
