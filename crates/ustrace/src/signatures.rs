//! Program types for uprobes: each probed file's debug information
//! (crates/dwarf) read once, when the script needs it (`args`, `retval`
//! in a uretprobe, a cast to a program type), into one type table per
//! file that the code generator walks (`args.r->hdr.len`).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ustrace_codegen::{ResolvedAttach, TracedTypes};
use ustrace_dwarf::{DebugInfo, Function, Member, Record, RecordKind, Type, TypeId, TypeTable};
use ustrace_lang::ast::{Expr, ExprKind, Script};

/// What the script asks of program types.
#[derive(Default)]
struct Needs {
    /// `args` appears.
    args: bool,
    /// `retval` appears.
    retval: bool,
    /// Type names written in casts (as `TypeName::display` spells them).
    type_names: BTreeSet<String>,
}

impl Needs {
    fn of(script: &Script) -> Needs {
        let mut needs = Needs::default();
        ustrace_lang::ast::visit_exprs(script, &mut |e: &Expr| match &e.kind {
            ExprKind::Builtin(name) if name == "args" => needs.args = true,
            ExprKind::Builtin(name) if name == "retval" => needs.retval = true,
            ExprKind::TypeCast { ty, .. } | ExprKind::Offsetof { ty, .. } => {
                needs.type_names.insert(ty.display());
            }
            // A bare name may be an integer type or a builtin (`pid`):
            // those are not looked up (an unknown name is an error only
            // when the compiler asks).
            ExprKind::SizeofType(ty) if ty.pointers == 0 => {
                needs.type_names.insert(ty.display());
            }
            _ => {}
        });
        needs
    }

    fn any(&self) -> bool {
        self.args || self.retval || !self.type_names.is_empty()
    }
}

/// The debug information of every uprobe file the script needs it for,
/// by path; empty when it needs none (no debug information is read).
pub(crate) fn program_types(
    script: &Script,
    resolved: &[Vec<ResolvedAttach>],
) -> HashMap<PathBuf, Result<Arc<TracedTypes>, String>> {
    let mut out = HashMap::new();
    let needs = Needs::of(script);
    if !needs.any() {
        return out;
    }
    // The probed functions of each file, by file offset.
    let mut files: HashMap<PathBuf, Vec<u64>> = HashMap::new();
    for r in resolved.iter().flatten() {
        if let ResolvedAttach::Uprobe(functions) = r {
            for f in functions {
                files.entry(f.path.clone()).or_default().push(f.file_offset);
            }
        }
    }
    for (path, offsets) in files {
        let types = DebugInfo::open(&path)
            .map_err(|e| e.to_string())
            .map(|info| Arc::new(read_file(&info, &path, &offsets, &needs)));
        out.insert(path, types);
    }
    out
}

/// The functions at `offsets` and the script's type names, in one table.
fn read_file(info: &DebugInfo, path: &Path, offsets: &[u64], needs: &Needs) -> TracedTypes {
    let mut table = TypeTable::new();
    // File offset -> link-time address, from the symbol tables.
    let addresses: HashMap<u64, u64> = ustrace_probes::find_functions(path, "*")
        .map(|fs| fs.into_iter().map(|f| (f.file_offset, f.address)).collect())
        .unwrap_or_default();
    let mut functions = HashMap::new();
    for &offset in offsets {
        let function = match addresses.get(&offset) {
            None => Err("the function has no symbol to find its debug information by".to_string()),
            Some(&address) => info
                .function_at(address, &mut table)
                .map_err(|e| e.to_string()),
        };
        functions.insert(offset, function);
    }
    let mut args_records = HashMap::new();
    if needs.args {
        for (&offset, function) in &functions {
            if let Ok(f) = function {
                args_records.insert(offset, args_record(f, &mut table));
            }
        }
    }
    let mut named = HashMap::new();
    for name in &needs.type_names {
        named.insert(name.clone(), named_type(info, name, &mut table));
    }
    TracedTypes {
        types: table,
        functions,
        args_records,
        named,
    }
}

/// The struct `print(args)` prints: the parameters a uprobe can read
/// (not those in `%xmm` registers), in order, each at the next 8-byte
/// boundary.
fn args_record(function: &Function, table: &mut TypeTable) -> Result<TypeId, String> {
    let mut members = Vec::new();
    let mut offset = 0u64;
    let readable = function
        .params
        .iter()
        .filter(|p| function.readable_param(&p.name, table).is_ok());
    for p in readable {
        let size = table.size_of(p.ty).ok_or_else(|| {
            format!(
                "parameter `{}` is a `{}`, whose size is unknown",
                p.name,
                table.name(p.ty)
            )
        })?;
        members.push(Member {
            name: p.name.clone(),
            ty: p.ty,
            offset,
            bitfield: None,
            is_base: false,
        });
        offset = offset.saturating_add(size.max(1).div_ceil(8) * 8);
    }
    let language = function.language;
    Ok(table.add(
        Type::Record(Record {
            kind: RecordKind::Struct,
            name: None,
            size: Some(offset),
            members,
            variant_part: None,
            pass_by_reference: false,
        }),
        language,
    ))
}

/// `struct req**` -> the id of `struct req`, wrapped in two pointers.
fn named_type(
    info: &DebugInfo,
    written: &str,
    table: &mut TypeTable,
) -> Result<ustrace_dwarf::TypeId, String> {
    let base = written.trim_end_matches('*');
    let pointers = written.len() - base.len();
    let mut id = info.type_named(base, table).map_err(|e| e.to_string())?;
    for _ in 0..pointers {
        let language = table.language(id);
        id = table.add(Type::Pointer { pointee: id }, language);
    }
    Ok(id)
}
