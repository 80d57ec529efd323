//! Labelled blocks bound to probes: the library side of BCC's
//! `enable_probe(probe=..., fn_name=NAME)`.
//!
//! A script parsed with labels allowed may name a block with a bare word
//! (`trace_udst { ... }`). Each [`BlockBinding`] gives the attach points of
//! the block with that label; binding replaces the label by them, so the
//! resolver and the code generator only ever see ordinary attach points.

use std::collections::HashMap;

use ustrace_lang::ast::{AttachKind, AttachPoint, Script, Span};

use crate::error::ResolveError;
use crate::Error;

/// The probes a labelled block attaches to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockBinding {
    /// The block's label (BCC's `fn_name`).
    pub label: String,
    /// Where the block attaches (usually [`AttachKind::Usdt`] with a full
    /// path, provider and name).
    pub probes: Vec<AttachKind>,
}

/// Replaces every label of `script` by the attach points bound to it.
/// Errors: a label used by two blocks, a label bound to nothing (at the
/// label), a binding naming a label the script does not have.
pub(crate) fn bind(script: &mut Script, bindings: &[BlockBinding]) -> Result<(), BindError> {
    let mut seen: HashMap<String, Span> = HashMap::new();
    for probe in &script.probes {
        for ap in &probe.attach_points {
            if let AttachKind::Label { name } = &ap.kind {
                if seen.insert(name.clone(), ap.span).is_some() {
                    return Err(BindError::At(ResolveError::At(
                        ap.span,
                        format!("block label `{name}` is used by two blocks"),
                    )));
                }
            }
        }
    }
    for b in bindings {
        if !seen.contains_key(&b.label) {
            return Err(BindError::NoBlock(b.label.clone()));
        }
    }
    for probe in &mut script.probes {
        let mut points = Vec::with_capacity(probe.attach_points.len());
        for ap in probe.attach_points.drain(..) {
            let AttachKind::Label { name } = &ap.kind else {
                points.push(ap);
                continue;
            };
            let kinds: Vec<&AttachKind> = bindings
                .iter()
                .filter(|b| &b.label == name)
                .flat_map(|b| &b.probes)
                .collect();
            if kinds.is_empty() {
                return Err(BindError::At(ResolveError::At(
                    ap.span,
                    format!("block label `{name}` is bound to no probe (enable a probe with fn_name=\"{name}\")"),
                )));
            }
            points.extend(kinds.into_iter().map(|kind| AttachPoint {
                raw: describe(kind),
                kind: kind.clone(),
                span: ap.span,
            }));
        }
        probe.attach_points = points;
    }
    Ok(())
}

/// Why binding failed.
#[derive(Debug)]
pub(crate) enum BindError {
    /// At a place in the script.
    At(ResolveError),
    /// A binding for a label no block has.
    NoBlock(String),
}

impl BindError {
    pub(crate) fn with_source(self, name: &str, source: &str) -> Error {
        match self {
            BindError::At(e) => e.with_source(name, source),
            BindError::NoBlock(label) => Error::Binding(format!(
                "fn_name `{label}`: the script has no block labelled `{label}`"
            )),
        }
    }
}

/// The attach point as bpftrace would write it (for messages and `-d`).
fn describe(kind: &AttachKind) -> String {
    match kind {
        AttachKind::Usdt {
            path,
            provider: Some(p),
            name,
        } => format!("usdt:{path}:{p}:{name}"),
        AttachKind::Usdt {
            path,
            provider: None,
            name,
        } => format!("usdt:{path}:{name}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usdt(name: &str) -> AttachKind {
        AttachKind::Usdt {
            path: "/bin/srv".into(),
            provider: Some("grp".into()),
            name: name.into(),
        }
    }

    fn binding(label: &str, probes: &[&str]) -> BlockBinding {
        BlockBinding {
            label: label.into(),
            probes: probes.iter().map(|p| usdt(p)).collect(),
        }
    }

    #[test]
    fn labels_become_their_probes() {
        let mut s = ustrace_lang::parse_labelled("h { exit(); } BEGIN { }").unwrap();
        bind(&mut s, &[binding("h", &["a"]), binding("h", &["b"])]).unwrap();
        let raws: Vec<_> = s.probes[0]
            .attach_points
            .iter()
            .map(|a| a.raw.clone())
            .collect();
        assert_eq!(raws, ["usdt:/bin/srv:grp:a", "usdt:/bin/srv:grp:b"]);
        assert_eq!(s.probes[1].attach_points[0].kind, AttachKind::Begin);
    }

    #[test]
    fn bad_bindings_are_errors() {
        let src = "h { exit(); }";
        let mut s = ustrace_lang::parse_labelled(src).unwrap();
        let e = bind(&mut s.clone(), &[]).unwrap_err().with_source("t", src);
        assert_eq!(
            e.to_string(),
            "t:1:1: error: block label `h` is bound to no probe (enable a probe with fn_name=\"h\")"
        );
        let e = bind(&mut s, &[binding("g", &["a"])])
            .unwrap_err()
            .with_source("t", src);
        assert_eq!(
            e.to_string(),
            "fn_name `g`: the script has no block labelled `g`"
        );
        let src = "h { } h { }";
        let mut s = ustrace_lang::parse_labelled(src).unwrap();
        let e = bind(&mut s, &[binding("h", &["a"])])
            .unwrap_err()
            .with_source("t", src);
        assert_eq!(
            e.to_string(),
            "t:1:7: error: block label `h` is used by two blocks"
        );
    }
}
