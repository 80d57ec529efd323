//! Attach points to concrete locations: expands wildcards, finds libraries,
//! reads USDT notes, and hands the code generator files, offsets and specs.

use std::path::PathBuf;

use ustrace_codegen::{ResolvedAttach, UprobeFunction, UsdtSite, UsdtTarget};
use ustrace_lang::ast::{AttachKind, MissingProbes, ProfileRate, Script, Span, UprobeTarget};
use ustrace_probes as probes;

use crate::error::ResolveError;
use crate::ScriptOptions;

/// Resolves every attach point of every probe block; also returns
/// warnings about what was resolved (see [`outside_process`]).
///
/// An attach point whose file, function or USDT probe does not exist is
/// handled as `missing_probes` says: `error` stops; `warn` drops it with a
/// warning; `ignore` drops it silently. Unset, ustrace keeps bpftrace
/// 0.17's behaviour, which the tools of Debian's bpftrace rely on (their
/// `ssllatency.bt` names libcrypto functions that exist only with debug
/// symbols): a missing attach point is dropped with a warning, and only a
/// script left with no probe at all is an error (the first missing attach
/// point's). A dropped attach point resolves to [`ResolvedAttach::Skipped`]:
/// its block stays in the script and is still compiled (the maps it
/// writes exist), only nothing attaches there.
pub(crate) fn resolve(
    script: &Script,
    options: &ScriptOptions,
) -> Result<(Vec<Vec<ResolvedAttach>>, Vec<String>), ResolveError> {
    let (resolved, mut warnings) = resolve_all(script, options)?;
    let pid = options.pid.or(options.child_pid);
    warnings.extend(outside_process(&resolved, pid));
    Ok((resolved, warnings))
}

/// Why an attach point is missing, one line.
fn missing_message(e: &ResolveError) -> String {
    match e {
        ResolveError::At(_, msg) | ResolveError::MissingFile(_, msg) => msg.clone(),
        ResolveError::Probe(p) => p.to_string(),
    }
}

/// With a pid: one warning per file that the process neither maps nor can
/// see in its mount namespace (found on the host only, e.g. a host path
/// given for a program in a container). Its probes fire only in processes
/// that map that file, so probably never in this one.
fn outside_process(resolved: &[Vec<ResolvedAttach>], pid: Option<u32>) -> Vec<String> {
    let Some(pid) = pid else {
        return Vec::new();
    };
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    let mapped: Vec<PathBuf> = probes::mapped_objects(pid)
        .map(|objs| objs.into_iter().map(|o| o.host_path).collect())
        .unwrap_or_default();
    let mut files: Vec<(&PathBuf, &str)> = Vec::new();
    for r in resolved.iter().flatten() {
        match r {
            ResolvedAttach::Usdt(targets) => {
                files.extend(targets.iter().map(|t| (&t.path, t.display_path.as_str())))
            }
            ResolvedAttach::Uprobe(functions) => {
                files.extend(functions.iter().map(|f| (&f.path, f.display_path.as_str())))
            }
            _ => {}
        }
    }
    files.dedup();
    files
        .into_iter()
        .filter(|(path, _)| !path.starts_with(&root) && !mapped.contains(path))
        .map(|(_, shown)| {
            format!(
                "{shown} is neither mapped by process {pid} nor in its mount namespace: its probes fire only in processes that map it"
            )
        })
        .collect()
}

/// Resolves every attach point of every probe block.
fn resolve_all(
    script: &Script,
    options: &ScriptOptions,
) -> Result<(Vec<Vec<ResolvedAttach>>, Vec<String>), ResolveError> {
    let pid = options.pid.or(options.child_pid);
    let mode = script.config.missing_probes;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let first_span = script.probes.first().map(|p| p.span).unwrap_or_default();
    let mut first_missing = None;
    let mut attached = false;
    for probe in &script.probes {
        let mut row = Vec::new();
        // Indexes of missing attach points, with why.
        let mut missing: Vec<(usize, ResolveError)> = Vec::new();
        for (index, ap) in probe.attach_points.iter().enumerate() {
            let r = match &ap.kind {
                AttachKind::Begin => ResolvedAttach::Begin,
                AttachKind::End => ResolvedAttach::End,
                AttachKind::Interval { period_ns } => {
                    if *period_ns == 0 {
                        return Err(ResolveError::At(
                            ap.span,
                            "an interval must be longer than 0".into(),
                        ));
                    }
                    ResolvedAttach::Interval {
                        period_ns: *period_ns,
                    }
                }
                AttachKind::Usdt {
                    path,
                    provider,
                    name,
                } => {
                    check_any_object(path, options, ap.span)?;
                    let pattern = probes::UsdtPattern {
                        path: path.clone(),
                        provider: provider.clone(),
                        name: name.clone(),
                    };
                    let found = probes::find_usdt_probes(&pattern, pid).map_err(|e| match e {
                        probes::ProbeError::NoMatch { .. } => {
                            ResolveError::At(ap.span, format!("{e}{}", suggest_usdt(&pattern, pid)))
                        }
                        other => ResolveError::Probe(other),
                    });
                    let found = match found {
                        Ok(found) => found,
                        Err(e) => {
                            missing.push((index, e));
                            row.push(ResolvedAttach::Skipped);
                            continue;
                        }
                    };
                    let targets = found
                        .into_iter()
                        .map(|f| UsdtTarget {
                            path: f.host_path.clone(),
                            display_path: f.display_path.clone(),
                            provider: f.probe.provider.clone(),
                            name: f.probe.name.clone(),
                            sites: f
                                .probe
                                .locations
                                .iter()
                                .map(|l| UsdtSite {
                                    file_offset: probes::attach_offset(l),
                                    semaphore_offset: l.semaphore_offset.unwrap_or(0),
                                    pc: l.pc,
                                    args: l
                                        .args
                                        .iter()
                                        .map(|a| a.clone().map_err(|e| e.to_string()))
                                        .collect(),
                                })
                                .collect(),
                        })
                        .collect();
                    ResolvedAttach::Usdt(targets)
                }
                AttachKind::Uprobe {
                    path,
                    target,
                    is_return,
                } => {
                    check_any_object(path, options, ap.span)?;
                    match resolve_uprobe(path, target, *is_return, pid, ap.span) {
                        Ok(functions) => ResolvedAttach::Uprobe(functions),
                        Err(e) => {
                            missing.push((index, e));
                            ResolvedAttach::Skipped
                        }
                    }
                }
                AttachKind::Label { name } => {
                    // `labels::bind` replaces every label before resolving.
                    return Err(ResolveError::At(
                        ap.span,
                        format!("block label `{name}` is bound to no probe"),
                    ));
                }
                AttachKind::Profile { rate } => match rate {
                    ProfileRate::Hz(0) | ProfileRate::PeriodNs(0) => {
                        return Err(ResolveError::At(
                            ap.span,
                            "a profile rate must be above 0".into(),
                        ))
                    }
                    ProfileRate::Hz(hz) => ResolvedAttach::Profile {
                        hz: Some(*hz),
                        period_ns: 0,
                    },
                    ProfileRate::PeriodNs(ns) => ResolvedAttach::Profile {
                        hz: None,
                        period_ns: *ns,
                    },
                },
            };
            row.push(r);
        }
        if !missing.is_empty() {
            // Unset: a missing function or probe is skipped with a warning
            // (bpftrace 0.17), a missing file or library is an error.
            if mode.is_none() {
                if let Some(at) = missing.iter().position(|(_, e)| e.is_missing_file()) {
                    return Err(missing.swap_remove(at).1);
                }
            }
            if mode == Some(MissingProbes::Error) {
                return Err(missing.swap_remove(0).1);
            }
            if mode != Some(MissingProbes::Ignore) {
                for (index, e) in &missing {
                    warnings.push(format!(
                        "attach point `{}` skipped: {}",
                        probe.attach_points[*index].raw,
                        missing_message(e)
                    ));
                }
            }
            if first_missing.is_none() {
                first_missing = missing.into_iter().next().map(|(_, e)| e);
            }
        }
        attached |= row.iter().any(|r| *r != ResolvedAttach::Skipped);
        out.push(row);
    }
    if !attached {
        return Err(
            first_missing.unwrap_or(ResolveError::At(first_span, "no probes to attach".into()))
        );
    }
    Ok((out, warnings))
}

/// `*` (every object of the process) cannot be resolved for `-c` alone:
/// the command is held before exec, so its process still maps ustrace's
/// own image. Refused with the way out.
fn check_any_object(path: &str, options: &ScriptOptions, span: Span) -> Result<(), ResolveError> {
    let any_object = path.is_empty() || path == "*";
    if any_object && options.pid.is_none() && options.child_pid.is_some() {
        return Err(ResolveError::At(
            span,
            "`*` as the file needs a running process: with -c the command has not started when probes are resolved; name the file or library, or use -p PID".to_string(),
        ));
    }
    Ok(())
}

/// A `uprobe:PATH:FUNCTION` attach point: the file(s) PATH designates (a
/// path, a glob, a library name, or `*` for every object of the process)
/// and the offset of every matching function in each.
fn resolve_uprobe(
    path: &str,
    target: &UprobeTarget,
    is_return: bool,
    pid: Option<u32>,
    span: Span,
) -> Result<Vec<UprobeFunction>, ResolveError> {
    let at = |message: String| ResolveError::At(span, message);
    let missing_file = |message: String| ResolveError::MissingFile(span, message);
    let objects = probes::find_objects(path, pid).map_err(|e| missing_file(e.to_string()))?;
    if objects.files.is_empty() {
        return Err(missing_file(format!("no file matches `{path}`")));
    }
    let mut out = Vec::new();
    for file in &objects.files {
        match functions_in(file, target, is_return) {
            Ok(found) => out.extend(found),
            // With many files, one without the function (or unreadable)
            // is expected.
            Err(e) if objects.exact => return Err(at(e)),
            Err(_) => {}
        }
    }
    if out.is_empty() {
        let wanted = match target {
            UprobeTarget::Address(addr) => format!("{addr:#x}"),
            UprobeTarget::Symbol { name, .. } => name.clone(),
        };
        return Err(at(format!(
            "no function matches `{wanted}` in the {} files `{path}` names",
            objects.files.len()
        )));
    }
    let UprobeTarget::Symbol { name, offset } = target else {
        return Ok(out);
    };
    if *offset != 0 && out.len() > 1 {
        return Err(at(format!(
            "`{name}+{offset}` matches {} functions; an offset needs exactly one",
            out.len()
        )));
    }
    Ok(out)
}

/// The functions of one file that a uprobe target names; the message
/// says why there are none.
fn functions_in(
    file: &probes::ObjectFile,
    target: &UprobeTarget,
    is_return: bool,
) -> Result<Vec<UprobeFunction>, String> {
    let make = |function: String, file_offset: u64| UprobeFunction {
        path: file.host_path.clone(),
        display_path: file.display_path.clone(),
        function,
        file_offset,
        is_return,
    };
    match target {
        UprobeTarget::Address(addr) => {
            let off =
                probes::address_to_offset(&file.host_path, *addr).map_err(|e| e.to_string())?;
            Ok(vec![make(format!("{addr:#x}"), off)])
        }
        UprobeTarget::Symbol { name, offset } => {
            let found = probes::find_functions(&file.host_path, name).map_err(|e| e.to_string())?;
            if found.is_empty() {
                return Err(format!(
                    "no function matches `{name}` in {}{}",
                    file.display_path,
                    suggest_function(&file.host_path, name)
                ));
            }
            Ok(found
                .into_iter()
                .map(|f| {
                    let label = if *offset == 0 {
                        f.name.clone()
                    } else {
                        format!("{}+{offset}", f.name)
                    };
                    make(label, f.file_offset + offset)
                })
                .collect())
        }
    }
}

/// ` (did you mean ...?)` naming the probes closest to a pattern that matched
/// nothing, searched in the same files; empty when there is nothing close.
fn suggest_usdt(pattern: &probes::UsdtPattern, pid: Option<u32>) -> String {
    let any = probes::UsdtPattern {
        path: pattern.path.clone(),
        provider: None,
        name: "*".to_string(),
    };
    let Ok(all) = probes::find_usdt_probes(&any, pid) else {
        return String::new();
    };
    let wanted = match &pattern.provider {
        Some(p) => format!("{p}:{}", pattern.name),
        None => pattern.name.clone(),
    };
    let scored: Vec<(usize, String)> = all
        .iter()
        .map(|f| {
            let full = format!("{}:{}", f.probe.provider, f.probe.name);
            let d = if pattern.provider.is_some() {
                edit_distance(&wanted, &full)
            } else {
                edit_distance(&wanted, &f.probe.name)
            };
            (d, full)
        })
        .collect();
    did_you_mean(scored, wanted.len() / 2 + 2)
}

/// `; did you mean `a`, `b`?` for the (distance, name) pairs within
/// `limit`, closest first, at most three; empty when none is close.
fn did_you_mean(mut scored: Vec<(usize, String)>, limit: usize) -> String {
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    let close: Vec<String> = scored
        .into_iter()
        .filter(|(d, _)| *d <= limit)
        .take(3)
        .map(|(_, n)| format!("`{n}`"))
        .collect();
    if close.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// ` ; did you mean ...?` naming up to three functions of `file` closest to
/// `name`; empty when none is close.
fn suggest_function(file: &std::path::Path, name: &str) -> String {
    let Ok(all) = probes::find_functions(file, "*") else {
        return String::new();
    };
    let scored = all
        .into_iter()
        .map(|f| (edit_distance(name, &f.name), f.name))
        .collect();
    did_you_mean(scored, name.len() / 2 + 1)
}

/// The link-time addresses of the symbols named by `uaddr("...")` in the
/// script, looked up (functions and objects alike) in the files its probes
/// attach to, in order. As with bpftrace, the address is the file's own: for
/// a position-independent executable or a library the running copy is
/// elsewhere.
pub(crate) fn uaddr_symbols(
    script: &Script,
    resolved: &[Vec<ResolvedAttach>],
) -> std::collections::HashMap<String, u64> {
    let mut names = Vec::new();
    ustrace_lang::ast::visit_exprs(script, &mut |e| {
        if let ustrace_lang::ast::ExprKind::Call { name, args, .. } = &e.kind {
            if let [ustrace_lang::ast::Expr {
                kind: ustrace_lang::ast::ExprKind::String(s),
                ..
            }] = args.as_slice()
            {
                if name == "uaddr" {
                    names.push(s.clone());
                }
            }
        }
    });
    let mut out = std::collections::HashMap::new();
    if names.is_empty() {
        return out;
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for r in resolved.iter().flatten() {
        match r {
            ResolvedAttach::Usdt(targets) => files.extend(targets.iter().map(|t| t.path.clone())),
            ResolvedAttach::Uprobe(functions) => {
                files.extend(functions.iter().map(|f| f.path.clone()))
            }
            _ => {}
        }
    }
    files.dedup();
    for name in names {
        for file in &files {
            if let Ok(Some(addr)) = probes::symbols::symbol_address(file, &name) {
                out.insert(name.clone(), addr);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("test_idx", "test_idx"), 0);
        assert_eq!(edit_distance("test_id", "test_idx"), 1);
        assert_eq!(edit_distance("tset_idx", "test_idx"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
