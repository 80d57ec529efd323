//! The library's error type: every failure, from a typo in the script to a
//! verifier refusal, as a value that renders to a clear message.

use ustrace_lang::Diagnostic;
use ustrace_probes::ProbeError;
use ustrace_runtime::RuntimeError;

use crate::Script;

/// Anything that can go wrong between script text and running probes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The script has an error at a known place (syntax, types, a probe
    /// that does not exist). Display gives the one-line summary;
    /// [`Error::render`] adds the source line and a caret.
    #[error("{summary}")]
    Script {
        /// `NAME:LINE:COL: error: MESSAGE`.
        summary: String,
        /// The full rendering with the source line and caret.
        rendered: String,
    },
    /// Discovery failed (a file, a pid, a pattern).
    #[error("{0}")]
    Probe(#[from] ProbeError),
    /// Debug information could not answer (none installed, an unknown
    /// function or type, a corrupt file).
    #[error("{0}")]
    Dwarf(#[from] ustrace_dwarf::DwarfError),
    /// The kernel refused something.
    #[error("{message}")]
    Kernel {
        /// One line.
        message: String,
        /// Extra lines: the verifier log tail, the script line at fault.
        details: String,
    },
    /// Bytes from the kernel do not match the layout the compiler gave
    /// them (a record cut short, an unknown tag).
    #[error("malformed data from the kernel: {0}")]
    Decode(#[from] ustrace_abi::DecodeError),
    /// A block binding that does not fit the script (a `fn_name` with no
    /// block of that label).
    #[error("{0}")]
    Binding(String),
    /// A configuration setting from outside the script refused (an
    /// environment variable such as `BPFTRACE_MISSING_PROBES=sometimes`).
    #[error("{0}")]
    Config(String),
    /// A bug in ustrace.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A failure of a running session: a malformed read is [`Error::Decode`],
/// anything else the kernel's refusal.
pub(crate) fn from_session(e: RuntimeError) -> Error {
    match e {
        RuntimeError::Decode(d) => Error::Decode(d),
        other => Error::Kernel {
            message: other.to_string(),
            details: String::new(),
        },
    }
}

impl Error {
    /// An error at a place in the script.
    pub(crate) fn script(name: &str, source: &str, d: Diagnostic) -> Error {
        let rendered = d.render(name, source);
        let summary = rendered.lines().next().unwrap_or_default().to_string();
        Error::Script { summary, rendered }
    }

    /// Everything to show the user: summary line plus details.
    pub fn render(&self) -> String {
        match self {
            Error::Script { rendered, .. } => rendered.trim_end().to_string(),
            Error::Kernel { message, details } if !details.is_empty() => {
                format!("{message}\n{}", details.trim_end())
            }
            other => other.to_string(),
        }
    }

    pub(crate) fn from_runtime(e: RuntimeError, script: &Script) -> Error {
        match e {
            RuntimeError::ProgramLoad {
                ref name, ref log, ..
            } => {
                let mut details = String::new();
                let tail: Vec<&str> = log.lines().rev().take(12).collect();
                if !tail.is_empty() {
                    details.push_str("verifier log (last lines):\n");
                    for l in tail.iter().rev() {
                        details.push_str("  ");
                        details.push_str(l);
                        details.push('\n');
                    }
                }
                if let Some(span) = failing_span(script, name, log) {
                    let (src_name, src) = script.source();
                    let d = Diagnostic::error(
                        span,
                        "the code generated for this part of the script was refused",
                    );
                    details.push_str(&d.render(src_name, src));
                }
                Error::Kernel {
                    message: e.to_string(),
                    details,
                }
            }
            other => Error::Kernel {
                message: other.to_string(),
                details: String::new(),
            },
        }
    }
}

/// Finds which script text produced the instruction the verifier stopped
/// at: the last `N: (..)` instruction line of the log, mapped through the
/// program's span table.
fn failing_span(script: &Script, prog_name: &str, log: &str) -> Option<ustrace_lang::ast::Span> {
    let insn: usize = log.lines().rev().find_map(|l| {
        let (num, rest) = l.split_once(':')?;
        if rest.trim_start().starts_with('(') {
            num.trim().parse().ok()
        } else {
            None
        }
    })?;
    let prog = script
        .compiled()
        .programs
        .iter()
        .find(|p| p.name == prog_name)?;
    prog.spans
        .iter()
        .rev()
        .find(|(at, _)| *at <= insn)
        .map(|(_, s)| *s)
}

/// Errors found while resolving attach points, before the source is known
/// to the resolver.
#[derive(Debug)]
pub(crate) enum ResolveError {
    /// At a place in the script.
    At(ustrace_lang::ast::Span, String),
    /// The file, library or glob an attach point names does not exist: an
    /// error unless `missing_probes` says `warn` or `ignore` (bpftrace 0.17
    /// refuses a missing uprobe target file too).
    MissingFile(ustrace_lang::ast::Span, String),
    /// Discovery failed.
    Probe(ProbeError),
}

impl ResolveError {
    /// Whether the attach point's file itself is missing (not only the
    /// function or probe inside it).
    pub(crate) fn is_missing_file(&self) -> bool {
        matches!(
            self,
            ResolveError::MissingFile(..)
                | ResolveError::Probe(ProbeError::NotFound { .. })
                | ResolveError::Probe(ProbeError::LibraryNotFound { .. })
        )
    }

    pub(crate) fn with_source(self, name: &str, source: &str) -> Error {
        match self {
            ResolveError::At(span, msg) | ResolveError::MissingFile(span, msg) => {
                Error::script(name, source, Diagnostic::error(span, msg))
            }
            ResolveError::Probe(e) => Error::Probe(e),
        }
    }
}
