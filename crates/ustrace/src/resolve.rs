//! Attach points to concrete locations: expands wildcards, finds libraries,
//! reads USDT notes, and hands the code generator files, offsets and specs.

use ustrace_codegen::{ResolvedAttach, UsdtSite, UsdtTarget};
use ustrace_lang::ast::{AttachKind, Script};
use ustrace_probes as probes;

use crate::error::ResolveError;
use crate::ScriptOptions;

/// Resolves every attach point of every probe block.
pub(crate) fn resolve(script: &Script, options: &ScriptOptions) -> Result<Vec<Vec<ResolvedAttach>>, ResolveError> {
    let pid = options.pid.or(options.child_pid);
    let mut out = Vec::new();
    for probe in &script.probes {
        let mut row = Vec::new();
        for ap in &probe.attach_points {
            let r = match &ap.kind {
                AttachKind::Begin => ResolvedAttach::Begin,
                AttachKind::End => ResolvedAttach::End,
                AttachKind::Interval { period_ns } => {
                    if *period_ns == 0 {
                        return Err(ResolveError::At(ap.span, "an interval must be longer than 0".into()));
                    }
                    ResolvedAttach::Interval { period_ns: *period_ns }
                }
                AttachKind::Usdt { path, provider, name } => {
                    let pattern = probes::UsdtPattern {
                        path: path.clone(),
                        provider: provider.clone(),
                        name: name.clone(),
                    };
                    let found = probes::find_usdt_probes(&pattern, pid).map_err(|e| match e {
                        probes::ProbeError::NoMatch { .. } => ResolveError::At(ap.span, e.to_string()),
                        other => ResolveError::Probe(other),
                    })?;
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
                                    args: l.args.iter().map(|a| a.clone().map_err(|e| e.to_string())).collect(),
                                })
                                .collect(),
                        })
                        .collect();
                    ResolvedAttach::Usdt(targets)
                }
                AttachKind::Uprobe { .. } => {
                    return Err(ResolveError::At(
                        ap.span,
                        "uprobe/uretprobe probes are not supported yet by this version of ustrace".into(),
                    ))
                }
                AttachKind::Profile { .. } => {
                    return Err(ResolveError::At(
                        ap.span,
                        "profile probes are not supported yet by this version of ustrace".into(),
                    ))
                }
            };
            row.push(r);
        }
        out.push(row);
    }
    Ok(out)
}
