//! `-l`: which probes a pattern names, as the lines bpftrace prints.

use ustrace_probes::{describe_probe, find_usdt_probes, list_lines, ProbeError, UsdtPattern};

use crate::Error;

/// Lists the USDT probes matching `pattern` (`usdt:PATH:PROVIDER:NAME`,
/// wildcards allowed; a bare `PATH` means every probe in it), searching the
/// objects of process `pid` when given. With `verbose`, each probe is
/// followed by its locations, semaphores and argument specs.
pub fn list_probes(pattern: &str, pid: Option<u32>, verbose: bool) -> Result<Vec<String>, Error> {
    let trimmed = pattern.trim();
    for kind in ["uprobe:", "uretprobe:", "u:", "ur:"] {
        if let Some(rest) = trimmed.strip_prefix(kind) {
            return list_functions(kind, rest, pid, verbose);
        }
    }
    let pattern = usdt_pattern(pattern)?;
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
    let file = if path.contains('/') {
        std::path::PathBuf::from(path)
    } else {
        ustrace_probes::libpath::resolve_library_in(path, pid)?
    };
    let display = file.to_string_lossy().into_owned();
    let found = ustrace_probes::find_functions(&file, if func.is_empty() { "*" } else { func })?;
    Ok(found
        .into_iter()
        .map(|f| {
            if verbose {
                format!(
                    "{kind}{display}:{}\n    address {:#x}, file offset {:#x}",
                    f.name, f.address, f.file_offset
                )
            } else {
                format!("{kind}{display}:{}", f.name)
            }
        })
        .collect())
}
