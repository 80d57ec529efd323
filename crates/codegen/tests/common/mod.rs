//! Shared by codegen's compile-only tests: compiling a script whose blocks
//! need no files (every block a BEGIN, an END or a profile probe).

use ustrace_codegen::program::CompiledScript;
use ustrace_codegen::{compile, CompileOptions, ResolvedAttach};
use ustrace_lang::ast::AttachKind;

/// Compiles `src` with `opts`, each `END` block an END, each `profile`
/// block a 99 Hz profile probe and every other block a BEGIN; an error as
/// (message, the source text it points at).
pub fn build_with(src: &str, opts: &CompileOptions) -> Result<CompiledScript, (String, String)> {
    let script = ustrace_lang::parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    let resolved: Vec<Vec<ResolvedAttach>> = script
        .probes
        .iter()
        .map(|p| {
            p.attach_points
                .iter()
                .map(|a| match a.kind {
                    AttachKind::End => ResolvedAttach::End,
                    AttachKind::Profile { .. } => ResolvedAttach::Profile {
                        hz: Some(99),
                        period_ns: 0,
                    },
                    _ => ResolvedAttach::Begin,
                })
                .collect()
        })
        .collect();
    compile(&script, &resolved, opts)
        .map_err(|e| (e.message, src[e.span.start..e.span.end].to_string()))
}
