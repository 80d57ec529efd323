//! `args.NAME` in uprobes: each probed function's parameters, read from
//! its file's debug information (crates/dwarf) once per file, and handed
//! to the code generator as argument specs by name.

use std::collections::HashMap;
use std::path::PathBuf;

use ustrace_codegen::{NamedArg, ResolvedAttach};
use ustrace_dwarf::{DebugInfo, TypeTable};
use ustrace_lang::ast::{Expr, ExprKind, Script};

/// Parameters by (file, file offset) of every uprobe function, when the
/// script uses `args`; empty otherwise (no debug information is read).
pub(crate) fn uprobe_params(
    script: &Script,
    resolved: &[Vec<ResolvedAttach>],
) -> HashMap<(PathBuf, u64), Result<Vec<NamedArg>, String>> {
    let mut out = HashMap::new();
    if !uses_args(script) {
        return out;
    }
    // The functions of each file, entry probes only (a uretprobe has no
    // arguments), by file offset.
    let mut files: HashMap<PathBuf, Vec<u64>> = HashMap::new();
    for r in resolved.iter().flatten() {
        if let ResolvedAttach::Uprobe(functions) = r {
            for f in functions.iter().filter(|f| !f.is_return) {
                files.entry(f.path.clone()).or_default().push(f.file_offset);
            }
        }
    }
    for (path, offsets) in files {
        let info = DebugInfo::open(&path).map_err(|e| e.to_string());
        // File offset -> link-time address, from the symbol tables.
        let addresses: HashMap<u64, u64> = ustrace_probes::find_functions(&path, "*")
            .map(|fs| fs.into_iter().map(|f| (f.file_offset, f.address)).collect())
            .unwrap_or_default();
        for offset in offsets {
            let params = match (&info, addresses.get(&offset)) {
                (Err(e), _) => Err(e.clone()),
                (Ok(_), None) => Err("the function has no symbol to find it by".to_string()),
                (Ok(info), Some(&address)) => params_at(info, address),
            };
            out.insert((path.clone(), offset), params);
        }
    }
    out
}

/// The parameters of the function at `address`, each with its argument
/// spec or why it cannot be read.
fn params_at(info: &DebugInfo, address: u64) -> Result<Vec<NamedArg>, String> {
    let mut types = TypeTable::new();
    let function = info
        .function_at(address, &mut types)
        .map_err(|e| e.to_string())?;
    Ok(function
        .params
        .iter()
        .map(|p| NamedArg {
            name: p.name.clone(),
            spec: function
                .readable_param(&p.name, &types)
                .map_err(|e| e.to_string())
                .and_then(|p| {
                    p.location.arg_spec(&types, p.ty).ok_or_else(|| {
                        format!(
                            "parameter `{}` is a `{}`; only integer, enum and pointer \
                             parameters can be read (struct fields are not supported yet)",
                            p.name,
                            types.name(p.ty)
                        )
                    })
                }),
        })
        .collect())
}

/// True when an expression of the script is `args.NAME` (or `args`).
fn uses_args(script: &Script) -> bool {
    let mut found = false;
    ustrace_lang::ast::visit_exprs(script, &mut |e: &Expr| {
        if matches!(&e.kind, ExprKind::Builtin(name) if name == "args") {
            found = true;
        }
    });
    found
}
