//! Where each parameter is at a function's first instruction (where a
//! uprobe fires), by the System V x86-64 calling convention.
//!
//! Supported (readable from the uprobe's `pt_regs`):
//! - integers, pointers, references, enums and `bool` up to 8 bytes: the
//!   next of `%rdi %rsi %rdx %rcx %r8 %r9`;
//! - aggregates of up to 16 bytes made only of integers: one or two of
//!   those registers ([`ParamLocation::RegisterPair`] for two);
//! - parameters that no longer fit in registers, and aggregates over 16
//!   bytes: on the stack, `offset` bytes above `%rsp` (the return address
//!   is at 0, the first stack parameter at 8);
//! - C++ classes with a non-trivial copy constructor or destructor
//!   (`DW_CC_pass_by_reference`): their address, in a register;
//! - a struct returned in memory: its buffer's address is a hidden first
//!   parameter in `%rdi` (and is in `%rax` at return).
//!
//! Where optimized code's own location list names a register at the entry
//! address, [`crate::Function`] uses that instead (see `entry_location`).
//!
//! Not supported ([`ParamLocation::Unsupported`], with the reason):
//! `float`/`double` and aggregates holding them (passed in `%xmm`
//! registers, which `pt_regs` does not hold), `long double` (x87),
//! functions whose calling convention the compiler changed
//! (`DW_CC_nocall`, or constant parameters: `.constprop`/`.isra` clones)
//! beyond what their location lists say, and Rust aggregates other than
//! scalar pairs (`&str`, `(u64, u64)`), whose ABI is Rust's own.

use ustrace_probes::{ArgLocation, ArgSpec, Register, RegisterOperand};

use crate::types::{Encoding, Language, Type, TypeId, TypeTable};

/// The System V integer argument registers, in order.
pub const ARGUMENT_REGISTERS: [Register; 6] = [
    Register::Rdi,
    Register::Rsi,
    Register::Rdx,
    Register::Rcx,
    Register::R8,
    Register::R9,
];

const SSE_REGISTERS: usize = 8;

/// Where a parameter (or return value) is when the probe fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamLocation {
    /// The whole value is in this register.
    Register(Register),
    /// A 9-to-16-byte aggregate: its first eight bytes in the first
    /// register, the rest in the second.
    RegisterPair(Register, Register),
    /// A Rust pair (`&str`, `&[T]`, a two-field struct): its first field
    /// in the first register, its second in the second, whatever their
    /// offsets in memory.
    FieldPair(Register, Register),
    /// The register holds the value's address.
    Indirect(Register),
    /// In user memory at `%rsp + offset`, `%rsp` taken at the first
    /// instruction.
    Stack {
        /// Bytes above `%rsp`.
        offset: u64,
    },
    /// Not readable from a uprobe; the reason says why.
    Unsupported(String),
}

impl std::fmt::Display for ParamLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamLocation::Register(r) => write!(f, "%{}", r.name64()),
            ParamLocation::RegisterPair(a, b) => write!(f, "%{}:%{}", a.name64(), b.name64()),
            ParamLocation::FieldPair(a, b) => write!(f, "{{%{}, %{}}}", a.name64(), b.name64()),
            ParamLocation::Indirect(r) => write!(f, "(%{})", r.name64()),
            ParamLocation::Stack { offset } => write!(f, "{offset}(%rsp)"),
            ParamLocation::Unsupported(why) => write!(f, "<{why}>"),
        }
    }
}

impl ParamLocation {
    /// The location as a USDT-style argument spec (`8@%rdi`, `-4@16(%rsp)`)
    /// for a scalar of type `ty` (integer, pointer, reference, enum) of 1,
    /// 2, 4 or 8 bytes: exactly what the code generator already reads for
    /// USDT arguments. `None` for aggregates and unsupported locations.
    pub fn arg_spec(&self, table: &TypeTable, ty: TypeId) -> Option<ArgSpec> {
        let (size, signed) = scalar(table, ty)?;
        let location = match self {
            ParamLocation::Register(reg) => ArgLocation::Register(RegisterOperand {
                reg: *reg,
                width: size as u8,
                high_byte: false,
            }),
            ParamLocation::Stack { offset } => ArgLocation::Memory {
                base: Register::Rsp,
                index: None,
                offset: i64::try_from(*offset).ok()?,
            },
            _ => return None,
        };
        Some(ArgSpec {
            size: size as u8,
            signed,
            location,
        })
    }
}

/// `(size, signed)` of an integer-like scalar of 1, 2, 4 or 8 bytes.
fn scalar(table: &TypeTable, ty: TypeId) -> Option<(u64, bool)> {
    let (size, signed) = match table.get(table.resolve(ty)) {
        Type::Base { size, encoding, .. } => match encoding {
            Encoding::Signed | Encoding::SignedChar => (*size, true),
            Encoding::Unsigned | Encoding::UnsignedChar | Encoding::Bool | Encoding::Utf => {
                (*size, false)
            }
            Encoding::Float | Encoding::Other => return None,
        },
        Type::Pointer { .. } | Type::Reference { .. } => (8, false),
        Type::Enum(e) => (e.size, e.signed),
        _ => return None,
    };
    matches!(size, 1 | 2 | 4 | 8).then_some((size, signed))
}

/// How the calling convention treats one value.
#[derive(Debug, Clone, PartialEq)]
enum Class {
    /// `n` eightbytes of integer class (1 or 2).
    Integer(u64),
    /// Two integer fields, one register each (Rust).
    FieldPair,
    /// Passed in SSE registers (`n` of them) and `int` integer registers.
    Sse { sse: usize, int: usize },
    /// Passed in memory (on the stack).
    Memory,
    /// Its address is passed, in an integer register.
    Indirect,
    /// Nothing is passed (a Rust zero-sized value).
    Absent,
    /// Not modelled; the reason.
    Unknown(String),
}

/// The locations of parameters `params` (in order) of a function
/// returning `ret`, written in `language`.
pub(crate) fn assign(
    table: &TypeTable,
    params: &[TypeId],
    ret: TypeId,
    language: Language,
) -> (Vec<ParamLocation>, ParamLocation) {
    let mut next_int = 0usize;
    let mut next_sse = 0usize;
    let mut stack = 8u64;
    let ret_location = match classify(table, ret, language) {
        _ if matches!(table.get(table.resolve(ret)), Type::Void) => {
            ParamLocation::Unsupported("no return value".into())
        }
        Class::Integer(1) => ParamLocation::Register(Register::Rax),
        Class::Integer(_) => ParamLocation::RegisterPair(Register::Rax, Register::Rdx),
        Class::FieldPair => ParamLocation::FieldPair(Register::Rax, Register::Rdx),
        Class::Memory | Class::Indirect => {
            // The caller's buffer: a hidden first argument, returned in %rax.
            next_int = 1;
            ParamLocation::Indirect(Register::Rax)
        }
        Class::Sse { .. } => ParamLocation::Unsupported("returned in %xmm0".into()),
        Class::Absent => ParamLocation::Unsupported("zero-sized: nothing is returned".into()),
        Class::Unknown(why) => ParamLocation::Unsupported(why),
    };
    let mut out = Vec::with_capacity(params.len());
    // After a parameter whose passing is unknown, the next ones' registers
    // are unknown too: never guess.
    let mut unknown_before: Option<usize> = None;
    for (position, &p) in params.iter().enumerate() {
        if let Some(earlier) = unknown_before {
            out.push(ParamLocation::Unsupported(format!(
                "it follows parameter {earlier}, whose passing is not known"
            )));
            continue;
        }
        let size = table.size_of(p).unwrap_or(8);
        let on_stack = |stack: &mut u64| {
            let at = *stack;
            *stack = stack.saturating_add(size.div_ceil(8).max(1).saturating_mul(8));
            ParamLocation::Stack { offset: at }
        };
        let location = match classify(table, p, language) {
            Class::Integer(n) if next_int + n as usize <= ARGUMENT_REGISTERS.len() => {
                let first = ARGUMENT_REGISTERS[next_int];
                next_int += n as usize;
                if n == 1 {
                    ParamLocation::Register(first)
                } else {
                    ParamLocation::RegisterPair(first, ARGUMENT_REGISTERS[next_int - 1])
                }
            }
            Class::FieldPair if next_int + 2 <= ARGUMENT_REGISTERS.len() => {
                next_int += 2;
                ParamLocation::FieldPair(
                    ARGUMENT_REGISTERS[next_int - 2],
                    ARGUMENT_REGISTERS[next_int - 1],
                )
            }
            Class::FieldPair => {
                ParamLocation::Unsupported("a Rust pair past the sixth register".into())
            }
            Class::Indirect if next_int < ARGUMENT_REGISTERS.len() => {
                next_int += 1;
                ParamLocation::Indirect(ARGUMENT_REGISTERS[next_int - 1])
            }
            Class::Indirect => {
                stack += 8;
                ParamLocation::Unsupported("its address is on the stack".into())
            }
            Class::Sse { sse, int }
                if next_sse + sse <= SSE_REGISTERS
                    && next_int + int <= ARGUMENT_REGISTERS.len() =>
            {
                next_sse += sse;
                next_int += int;
                ParamLocation::Unsupported(format!(
                    "passed in %xmm{}, which uprobes cannot read",
                    next_sse - sse
                ))
            }
            Class::Absent => ParamLocation::Unsupported("zero-sized: nothing is passed".into()),
            Class::Unknown(why) => {
                unknown_before = Some(position);
                ParamLocation::Unsupported(why)
            }
            // Integer or SSE values that no longer fit, and memory-class values.
            _ => on_stack(&mut stack),
        };
        out.push(location);
    }
    (out, ret_location)
}

fn classify(table: &TypeTable, ty: TypeId, language: Language) -> Class {
    let resolved = table.resolve(ty);
    let size = table.size_of(resolved);
    match table.get(resolved) {
        Type::Void => Class::Unknown("void".into()),
        Type::Base { encoding, size, .. } => match (encoding, size) {
            (Encoding::Float, 4 | 8) => Class::Sse { sse: 1, int: 0 },
            (Encoding::Float, _) => Class::Memory,
            (Encoding::Other, _) => Class::Unknown(format!("{}-byte base type", size)),
            (_, 1..=8) => Class::Integer(1),
            (_, 16) => Class::Integer(2),
            _ => Class::Unknown(format!("{size}-byte integer")),
        },
        Type::Pointer { .. } | Type::Reference { .. } | Type::Enum(_) => Class::Integer(1),
        Type::Function { .. }
        | Type::Unsupported { .. }
        | Type::Typedef { .. }
        | Type::Qualified { .. } => Class::Unknown(format!("type `{}`", table.name(ty))),
        Type::Record(r) if r.pass_by_reference => Class::Indirect,
        Type::Record(_) | Type::Array { .. } => {
            let Some(size) = size else {
                return Class::Unknown(format!("incomplete type `{}`", table.name(ty)));
            };
            let mut leaves = Vec::new();
            if !flatten(table, resolved, 0, &mut leaves, 0) {
                return Class::Memory;
            }
            if language == Language::Rust {
                return rust_aggregate(size, &leaves);
            }
            if size > 16 {
                return Class::Memory;
            }
            if size == 0 {
                return Class::Absent;
            }
            let eightbytes = size.div_ceil(8);
            let mut int = 0;
            let mut sse = 0;
            for i in 0..eightbytes {
                let (lo, hi) = (i * 8, i * 8 + 8);
                let integer = leaves
                    .iter()
                    .any(|l| !l.float && l.offset < hi && l.offset + l.size > lo);
                if integer {
                    int += 1;
                } else {
                    sse += 1;
                }
            }
            if sse == 0 {
                Class::Integer(int)
            } else {
                Class::Sse {
                    sse,
                    int: int as usize,
                }
            }
        }
    }
}

/// Rust's own ABI (best effort, as rustc 1.95 compiles it, checked on
/// the test program's machine code): a pair of non-float scalars (`&str`,
/// `&[T]`, a two-field struct) in two registers, field by field; other
/// integer aggregates of up to 8 bytes (enums with data among them) in one
/// register; aggregates over 16 bytes by address. The rest is not modelled.
fn rust_aggregate(size: u64, leaves: &[Leaf]) -> Class {
    let all_int = leaves.iter().all(|l| !l.float);
    match leaves {
        _ if size == 0 => Class::Absent,
        [_, _] if all_int && size <= 16 => Class::FieldPair,
        _ if all_int && size <= 8 => Class::Integer(1),
        _ if size > 16 => Class::Indirect,
        _ => Class::Unknown("a Rust aggregate (Rust's own ABI is not modelled)".into()),
    }
}

/// One scalar inside an aggregate.
struct Leaf {
    offset: u64,
    size: u64,
    float: bool,
}

/// The scalars of `ty` at `base`; false when one is misaligned (which
/// makes the aggregate memory class).
fn flatten(table: &TypeTable, ty: TypeId, base: u64, out: &mut Vec<Leaf>, depth: u32) -> bool {
    // Corrupt types can nest empty records in arrays many times over.
    let budget = std::cell::Cell::new(1024u32);
    flatten_bounded(table, ty, base, out, depth, &budget)
}

fn flatten_bounded(
    table: &TypeTable,
    ty: TypeId,
    base: u64,
    out: &mut Vec<Leaf>,
    depth: u32,
    budget: &std::cell::Cell<u32>,
) -> bool {
    if depth > 16 || out.len() > 64 || budget.get() == 0 {
        return false;
    }
    budget.set(budget.get() - 1);
    let ty = table.resolve(ty);
    match table.get(ty) {
        Type::Record(r) => {
            if r.variant_part.is_some() {
                // A Rust enum with data: treated as opaque integers.
                let size = r.size.unwrap_or(0);
                out.push(Leaf {
                    offset: base,
                    size,
                    float: false,
                });
                return true;
            }
            r.members.iter().all(|m| {
                if m.bitfield.is_some() {
                    out.push(Leaf {
                        offset: base.saturating_add(m.offset),
                        size: 1,
                        float: false,
                    });
                    true
                } else {
                    flatten_bounded(
                        table,
                        m.ty,
                        base.saturating_add(m.offset),
                        out,
                        depth + 1,
                        budget,
                    )
                }
            })
        }
        Type::Array { element, count } => {
            let Some(elem_size) = table.size_of(*element) else {
                return true;
            };
            (0..count.unwrap_or(0).min(16)).all(|i| {
                flatten_bounded(
                    table,
                    *element,
                    base.saturating_add(i.saturating_mul(elem_size)),
                    out,
                    depth + 1,
                    budget,
                )
            })
        }
        _ => {
            let Some(size) = table.size_of(ty) else {
                return true;
            };
            let float = matches!(
                table.get(ty),
                Type::Base {
                    encoding: Encoding::Float,
                    ..
                }
            );
            out.push(Leaf {
                offset: base,
                size,
                float,
            });
            size == 0 || base.is_multiple_of(size.min(8))
        }
    }
}
