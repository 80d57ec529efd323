//! Values typed by the traced program's own debug information: `args.NAME`,
//! `retval` in uretprobes, casts to program types (`(struct req *)arg0`),
//! and the chains built on them: `->` and `.` on structs and unions,
//! `[i]` on arrays and pointers, `*p`.
//!
//! A chain is walked twice, by the semantic pass ([`check`]) for its type
//! and by the emitter ([`emit`]) for its code; both take each step from
//! the functions here, so they agree on layout and on every error. A step
//! either keeps a *value* (a pointer or integer the program holds, e.g. a
//! parameter's register) or reaches a *place*: an object in the traced
//! process's memory at an address plus a constant offset. Offsets of
//! `.field` and constant indices add up at compile time; only `->`, `*`
//! and a run-time index read memory, and the end of the chain reads the
//! object itself with one `bpf_probe_read_user`.
//!
//! The layer above ([`crate::options::TracedTypes`]) reads DWARF once per
//! file; here types are ids in that file's table ([`DType`]). Where one
//! program covers several functions, a parameter must have the same type
//! (by name) in each, as bpftrace requires; the first function's layout is
//! used.

pub(crate) mod check;
pub(crate) mod emit;
mod sizes;
pub(crate) mod vars;

use std::fmt;
use std::sync::Arc;

use ustrace_dwarf::{
    closest_names, did_you_mean, Bitfield, Encoding, ParamLocation, Type as DwarfType, TypeId,
    TypeTable,
};
use ustrace_probes::ArgSpec;

use crate::options::TracedTypes;
use crate::probes::Context;

/// True for the expression forms a typed chain can take (the cheap test
/// before the typed walk).
pub(crate) fn may_be_typed(e: &ustrace_lang::ast::Expr) -> bool {
    use ustrace_lang::ast::{ExprKind, UnaryOp};
    match &e.kind {
        ExprKind::Field { .. } | ExprKind::Index { .. } | ExprKind::TypeCast { .. } => true,
        ExprKind::Unary { op, .. } => *op == UnaryOp::Deref,
        ExprKind::Builtin(name) => name == "retval" || name == "args",
        _ => false,
    }
}

/// The program type of a typed chain, worked out without checking or
/// emitting it: `None` when `e` is not one (or is wrong, which the
/// semantic pass reports).
pub(crate) fn chain_type(
    ctx: &Context,
    opts: &crate::options::CompileOptions,
    vars: &vars::TypedVars,
    e: &ustrace_lang::ast::Expr,
) -> Option<DType> {
    use ustrace_lang::ast::{ExprKind, UnaryOp};
    let inner = |e| chain_type(ctx, opts, vars, e);
    match &e.kind {
        ExprKind::Variable(name) => vars.get(name).cloned(),
        ExprKind::Field { base, field } if crate::sema::expr::is_args(base) => {
            ctx.param_root(field).ok().map(|r| r.ty)
        }
        ExprKind::Builtin(name) if name == "retval" => ctx.return_root().map(|r| r.ty),
        ExprKind::TypeCast { ty, .. } => ctx.named_type(&ty.display(), &opts.program_types).ok(),
        ExprKind::Field { base, field } => field_step(&inner(base)?, field).ok().map(|s| s.ty),
        ExprKind::Index { base, .. } => index_step(&inner(base)?).ok().map(|s| s.element),
        ExprKind::Unary {
            op: UnaryOp::Deref,
            operand,
        } => deref_step(&inner(operand)?).ok(),
        _ => None,
    }
}

/// The enum type of `e` when it is a typed chain whose value is an enum
/// (printed by name by `printf("%s")` and `print()`, as bpftrace does).
pub(crate) fn enum_type(
    ctx: &Context,
    opts: &crate::options::CompileOptions,
    vars: &vars::TypedVars,
    e: &ustrace_lang::ast::Expr,
) -> Option<DType> {
    let d = chain_type(ctx, opts, vars, e)?;
    matches!(d.kind(), Kind::Int { is_enum: true, .. }).then_some(d)
}

/// A type of the traced program: an id in one file's type table.
#[derive(Clone)]
pub(crate) struct DType {
    /// The file's types.
    pub(crate) prog: Arc<TracedTypes>,
    /// The type.
    pub(crate) id: TypeId,
}

impl PartialEq for DType {
    fn eq(&self, other: &DType) -> bool {
        Arc::ptr_eq(&self.prog, &other.prog) && self.id == other.id
    }
}

impl Eq for DType {}

impl fmt::Debug for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DType({})", self.name())
    }
}

impl DType {
    /// The file's type table.
    pub(crate) fn table(&self) -> &TypeTable {
        &self.prog.types
    }

    /// Another type of the same file.
    pub(crate) fn with(&self, id: TypeId) -> DType {
        DType {
            prog: self.prog.clone(),
            id,
        }
    }

    /// Its size in bytes (0 when unknown).
    pub(crate) fn size(&self) -> u64 {
        self.table().size_of(self.id).unwrap_or(0)
    }

    /// The type as C writes it (`struct req*`).
    pub(crate) fn name(&self) -> String {
        self.table().name(self.id)
    }

    /// What a value of this type is to a script.
    pub(crate) fn kind(&self) -> Kind {
        let t = self.table();
        let resolved = t.resolve(self.id);
        match t.get(resolved) {
            DwarfType::Base { size, encoding, .. } => {
                let signed = match encoding {
                    Encoding::Signed | Encoding::SignedChar => true,
                    Encoding::Unsigned
                    | Encoding::UnsignedChar
                    | Encoding::Bool
                    | Encoding::Utf => false,
                    Encoding::Float | Encoding::Other => {
                        return Kind::Unsupported(format!(
                            "`{}` values are not supported (floating point)",
                            self.name()
                        ))
                    }
                };
                match size {
                    1 | 2 | 4 | 8 => Kind::Int {
                        size: *size as u8,
                        signed,
                        is_enum: false,
                    },
                    _ => Kind::Unsupported(format!(
                        "`{}` values are not supported ({size}-byte integers)",
                        self.name()
                    )),
                }
            }
            DwarfType::Enum(e) => match e.size {
                1 | 2 | 4 | 8 => Kind::Int {
                    size: e.size as u8,
                    signed: e.signed,
                    is_enum: true,
                },
                _ => Kind::Unsupported(format!("`{}` has an unusual size", self.name())),
            },
            DwarfType::Pointer { pointee } | DwarfType::Reference { pointee, .. } => {
                Kind::Pointer { pointee: *pointee }
            }
            DwarfType::Array {
                element,
                count: Some(count),
            } if is_char(t, *element) => Kind::CharArray { len: *count },
            DwarfType::Record(_) | DwarfType::Array { .. } => match t.size_of(resolved) {
                Some(size) => Kind::Aggregate { size },
                None => Kind::Unsupported(format!(
                    "`{}` has no known size (declared but not defined here, or a flexible array)",
                    self.name()
                )),
            },
            DwarfType::Void => Kind::Unsupported("a `void` value cannot be read".to_string()),
            DwarfType::Function { .. } => {
                Kind::Unsupported(format!("`{}` is a function, not a value", self.name()))
            }
            DwarfType::Unsupported { name } => {
                Kind::Unsupported(format!("type `{name}` is not supported"))
            }
            DwarfType::Typedef { .. } | DwarfType::Qualified { .. } => {
                Kind::Unsupported(format!("`{}` nests typedefs too deeply", self.name()))
            }
        }
    }
}

/// True for one-byte character types (`char`, `unsigned char`, `int8_t`).
fn is_char(t: &TypeTable, id: TypeId) -> bool {
    matches!(
        t.get(t.resolve(id)),
        DwarfType::Base { size: 1, encoding, .. }
            if matches!(encoding, Encoding::SignedChar | Encoding::UnsignedChar | Encoding::Signed | Encoding::Unsigned)
    )
}

/// What a program type is to a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An integer, character, boolean or enum of 1, 2, 4 or 8 bytes.
    Int {
        /// Its size in bytes.
        size: u8,
        /// Its signedness.
        signed: bool,
        /// True for enums.
        is_enum: bool,
    },
    /// A pointer or C++ reference (an address).
    Pointer {
        /// What it points to.
        pointee: TypeId,
    },
    /// `char[N]`: a string.
    CharArray {
        /// N.
        len: u64,
    },
    /// A struct, union, class or array of known size.
    Aggregate {
        /// Its size in bytes.
        size: u64,
    },
    /// Cannot be read; the reason names the type.
    Unsupported(String),
}

/// One `.field` / `->field` step.
#[derive(Debug, Clone)]
pub(crate) struct FieldStep {
    /// True when the base is a pointer to read first (`->`).
    pub(crate) deref: bool,
    /// The member's byte offset.
    pub(crate) offset: u64,
    /// The member's type.
    pub(crate) ty: DType,
    /// For bitfields: the bits, counted from `offset`.
    pub(crate) bitfield: Option<Bitfield>,
}

/// `base.field` or `base->field` on a value or object of type `base`.
pub(crate) fn field_step(base: &DType, field: &str) -> Result<FieldStep, String> {
    let t = base.table();
    let (deref, record) = match base.kind() {
        Kind::Pointer { pointee } => (true, pointee),
        _ => (false, base.id),
    };
    if !matches!(t.get(t.resolve(record)), DwarfType::Record(_)) {
        return Err(format!(
            "`{}` has no fields (`.{field}` and `->{field}` need a struct or union, or a pointer to one)",
            base.name()
        ));
    }
    let Some(m) = t.member(record, field) else {
        let names = t.member_names(record);
        let suggestions = closest_names(field, names.iter().map(String::as_str));
        return Err(format!(
            "`{}` has no field `{field}`{}",
            t.name(record),
            did_you_mean(&suggestions)
        ));
    };
    let bitfield = m.bitfield.map(|b| Bitfield {
        bit_offset: b.bit_offset.saturating_sub(m.offset.saturating_mul(8)),
        bit_size: b.bit_size,
    });
    Ok(FieldStep {
        deref,
        offset: m.offset,
        ty: base.with(m.ty),
        bitfield,
    })
}

/// One `[i]` step.
#[derive(Debug, Clone)]
pub(crate) struct IndexStep {
    /// True when the base is a pointer to read first.
    pub(crate) deref: bool,
    /// The element type.
    pub(crate) element: DType,
    /// The element size in bytes.
    pub(crate) size: u64,
}

/// `base[i]` on an array object or a pointer value.
pub(crate) fn index_step(base: &DType) -> Result<IndexStep, String> {
    let t = base.table();
    let (deref, element) = match (base.kind(), t.get(t.resolve(base.id))) {
        (Kind::Pointer { pointee }, _) => (true, pointee),
        (_, DwarfType::Array { element, .. }) => (false, *element),
        _ => {
            return Err(format!(
                "`{}` cannot be indexed (`[i]` needs an array or a pointer)",
                base.name()
            ))
        }
    };
    let Some(size) = t.size_of(element).filter(|s| *s > 0) else {
        return Err(format!(
            "`{}` cannot be indexed: its elements (`{}`) have no size",
            base.name(),
            t.name(element)
        ));
    };
    Ok(IndexStep {
        deref,
        element: base.with(element),
        size,
    })
}

/// `*p`: the type `p` points to.
pub(crate) fn deref_step(base: &DType) -> Result<DType, String> {
    match base.kind() {
        Kind::Pointer { pointee } => Ok(base.with(pointee)),
        _ => Err(format!(
            "`{}` is not a pointer: `*` cannot read through it",
            base.name()
        )),
    }
}

/// Where a typed root (a parameter, the return value) is.
#[derive(Debug, Clone)]
pub(crate) enum RootLoc {
    /// A scalar read per site with these specs (`argN`'s machinery).
    Specs(Vec<(ArgSpec, u64)>),
    /// An object in memory at the value of this `pt_regs` field plus an
    /// offset (a struct on the stack, a C++ object passed by address).
    Memory {
        /// The register's offset in `pt_regs`.
        reg: i16,
        /// Bytes after its value.
        offset: u64,
    },
    /// A small aggregate passed by value in registers: each register's
    /// bytes belong at an offset of the object (the emitter stores them
    /// into a stack copy of it).
    Registers {
        /// The object's size in bytes.
        size: u64,
        /// Per register: where its bytes go.
        parts: Vec<RegisterPart>,
    },
}

/// One register of an aggregate passed by value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegisterPart {
    /// The register's offset in `pt_regs`.
    pub(crate) reg: i16,
    /// Where its bytes go in the object.
    pub(crate) offset: u64,
    /// How many of its (low) bytes: 1, 2, 4 or 8.
    pub(crate) size: u8,
}

/// A parameter or return value: its type and where it is.
#[derive(Debug, Clone)]
pub(crate) struct Root {
    /// Its type.
    pub(crate) ty: DType,
    /// Where it is.
    pub(crate) loc: RootLoc,
}

/// "function `f` has no parameter `x`", with the closest names, or all
/// of them when none is close.
fn unknown_param(function: &ustrace_dwarf::Function, name: &str) -> String {
    let close = function.suggest_param(name);
    let names: Vec<&str> = function.params.iter().map(|p| p.name.as_str()).collect();
    let hint = match (close.is_empty(), names.is_empty()) {
        (false, _) => did_you_mean(&close),
        (true, true) => " (it has none)".to_string(),
        (true, false) => format!(" (it has: {})", names.join(", ")),
    };
    format!(
        "function `{}` has no parameter `{name}`{hint}",
        function.qualified_name
    )
}

/// Where a value of type `ty` is, given its calling-convention location.
fn root_loc(ty: &DType, loc: &ParamLocation, what: &str) -> Result<RootLoc, String> {
    if let Some(spec) = loc.arg_spec(ty.table(), ty.id) {
        return Ok(RootLoc::Specs(vec![(spec, 0)]));
    }
    if let Kind::Unsupported(why) = ty.kind() {
        return Err(why);
    }
    match loc {
        ParamLocation::Indirect(reg) => Ok(RootLoc::Memory {
            reg: reg.pt_regs_offset() as i16,
            offset: 0,
        }),
        ParamLocation::Stack { offset } => Ok(RootLoc::Memory {
            reg: ustrace_probes::Register::Rsp.pt_regs_offset() as i16,
            offset: *offset,
        }),
        ParamLocation::Unsupported(why) => Err(why.clone()),
        ParamLocation::Register(r) => registers(ty, vec![(*r, 0, 8)]),
        ParamLocation::RegisterPair(a, b) => registers(ty, vec![(*a, 0, 8), (*b, 8, 8)]),
        ParamLocation::FieldPair(a, b) => {
            // One field per register, wherever the fields are in memory.
            let t = ty.table();
            let fields = match t.get(t.resolve(ty.id)) {
                DwarfType::Record(r) if r.members.len() == 2 => r
                    .members
                    .iter()
                    .map(|m| (m.offset, t.size_of(m.ty).unwrap_or(0)))
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            };
            match fields.as_slice() {
                [(o1, s1), (o2, s2)] if [*s1, *s2].iter().all(|s| matches!(s, 1 | 2 | 4 | 8)) => {
                    registers(ty, vec![(*a, *o1, *s1 as u8), (*b, *o2, *s2 as u8)])
                }
                _ => Err(format!(
                    "{what} is a `{}` passed as two registers in a way that is not supported",
                    ty.name()
                )),
            }
        }
    }
}

/// An aggregate of at most 16 bytes in registers.
fn registers(
    ty: &DType,
    parts: Vec<(ustrace_probes::Register, u64, u8)>,
) -> Result<RootLoc, String> {
    let size = match ty.kind() {
        Kind::Aggregate { size } | Kind::CharArray { len: size } if size <= 16 => size,
        _ => return Err(format!("a `{}` in registers is not supported", ty.name())),
    };
    Ok(RootLoc::Registers {
        size,
        parts: parts
            .into_iter()
            .map(|(r, offset, size)| RegisterPart {
                reg: r.pt_regs_offset() as i16,
                offset,
                size,
            })
            .collect(),
    })
}

/// Merges the roots of several sites: the same type name everywhere, and
/// the same memory location (specs may differ: each site reads its own).
fn merge_roots(roots: Vec<Root>, what: &str) -> Result<Root, String> {
    let mut iter = roots.into_iter();
    let Some(mut first) = iter.next() else {
        return Err(format!("{what}: no probed function"));
    };
    for r in iter {
        if r.ty.name() != first.ty.name() {
            return Err(format!(
                "{what} has different types in the probed functions (`{}` and `{}`)",
                first.ty.name(),
                r.ty.name()
            ));
        }
        match (&mut first.loc, r.loc) {
            (RootLoc::Specs(a), RootLoc::Specs(b)) => a.extend(b),
            (a, b) if !matches!(a, RootLoc::Specs(_)) && format!("{a:?}") == format!("{b:?}") => {}
            _ => {
                return Err(format!(
                    "{what} is passed differently in the probed functions"
                ))
            }
        }
    }
    Ok(first)
}

impl Context {
    /// `args.NAME`: the parameter at every site.
    pub(crate) fn param_root(&self, name: &str) -> Result<Root, String> {
        let Context::Usdt { sites, on_return } = self else {
            return Err("`args` is only available in uprobe probes".to_string());
        };
        if *on_return == Some(true) {
            return Err("arguments are not available in a uretprobe (use retval)".to_string());
        }
        let mut roots = Vec::new();
        for s in sites {
            let Some(debug) = &s.debug else {
                return Err("`args` is only available in uprobe probes".to_string());
            };
            let (prog, function) = debug.function()?;
            if function.param(name).is_none() {
                return Err(unknown_param(function, name));
            }
            let p = function
                .readable_param(name, &prog.types)
                .map_err(|e| e.to_string())?;
            let ty = DType {
                prog: prog.clone(),
                id: p.ty,
            };
            let loc = root_loc(&ty, &p.location, &format!("parameter `{name}`"))?;
            roots.push(Root { ty, loc });
        }
        merge_roots(roots, &format!("parameter `{name}`"))
    }

    /// `args` as a whole: the record type of the first site's parameters
    /// and each parameter's name and where it is at every site.
    pub(crate) fn args_root(&self) -> Result<(DType, Vec<(String, Root)>), String> {
        let first = match self {
            Context::Usdt { sites, on_return } if *on_return != Some(true) => sites.first(),
            Context::Usdt { .. } => {
                return Err("arguments are not available in a uretprobe (use retval)".to_string())
            }
            Context::Trigger { .. } => None,
        };
        let Some(debug) = first.and_then(|s| s.debug.as_ref()) else {
            return Err("`args` is only available in uprobe probes".to_string());
        };
        let (prog, function) = debug.function()?;
        let record = match prog.args_records.get(&debug.file_offset) {
            Some(Ok(id)) => DType {
                prog: prog.clone(),
                id: *id,
            },
            Some(Err(why)) => return Err(why.clone()),
            None => return Err("no parameters were read for this function".to_string()),
        };
        let mut params = Vec::new();
        for p in &function.params {
            if record.table().member(record.id, &p.name).is_some() {
                params.push((p.name.clone(), self.param_root(&p.name)?));
            }
        }
        Ok((record, params))
    }

    /// `retval` typed by the functions' return type; `None` where it is
    /// the plain `%rax` (no debug information, `void`, or sites that
    /// disagree).
    pub(crate) fn return_root(&self) -> Option<Root> {
        let Context::Usdt {
            sites,
            on_return: Some(true),
        } = self
        else {
            return None;
        };
        let mut roots = Vec::new();
        for s in sites {
            let (prog, function) = s.debug.as_ref()?.function().ok()?;
            let ty = DType {
                prog: prog.clone(),
                id: function.return_type,
            };
            if matches!(ty.table().get(ty.table().resolve(ty.id)), DwarfType::Void) {
                return None;
            }
            let loc = match &function.return_location {
                ParamLocation::Indirect(reg) => RootLoc::Memory {
                    reg: reg.pt_regs_offset() as i16,
                    offset: 0,
                },
                other => match other.arg_spec(ty.table(), ty.id) {
                    Some(spec) => RootLoc::Specs(vec![(spec, 0)]),
                    None => root_loc(&ty, other, "retval").ok()?,
                },
            };
            roots.push(Root { ty, loc });
        }
        merge_roots(roots, "retval").ok()
    }

    /// A type the script names (`struct req*` in a cast), from the
    /// probed file (the first one that has debug information), or from
    /// any uprobe file of the script outside uprobes.
    pub(crate) fn named_type(
        &self,
        name: &str,
        all: &std::collections::HashMap<std::path::PathBuf, Result<Arc<TracedTypes>, String>>,
    ) -> Result<DType, String> {
        let mut first_error = None;
        let from_sites: Vec<Arc<TracedTypes>> = match self {
            Context::Usdt { sites, .. } => sites
                .iter()
                .filter_map(|s| s.debug.as_ref())
                .filter_map(|d| match &d.types {
                    Ok(p) => Some(p.clone()),
                    Err(e) => {
                        first_error.get_or_insert_with(|| e.clone());
                        None
                    }
                })
                .collect(),
            Context::Trigger { .. } => Vec::new(),
        };
        let mut candidates = from_sites;
        if candidates.is_empty() {
            let mut files: Vec<_> = all.iter().collect();
            files.sort_by(|a, b| a.0.cmp(b.0));
            for (_, r) in files {
                match r {
                    Ok(p) => candidates.push(p.clone()),
                    Err(e) => {
                        first_error.get_or_insert_with(|| e.clone());
                    }
                }
            }
        }
        for prog in &candidates {
            match prog.named.get(name) {
                Some(Ok(id)) => {
                    return Ok(DType {
                        prog: prog.clone(),
                        id: *id,
                    })
                }
                Some(Err(e)) => {
                    first_error.get_or_insert_with(|| e.clone());
                }
                None => {}
            }
        }
        Err(first_error.unwrap_or_else(|| {
            format!(
                "type `{name}` is unknown: program types come from the debug information of the probed files (a uprobe on a file built with -g)"
            )
        }))
    }
}
