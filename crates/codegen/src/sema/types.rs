//! The types of script values.

use crate::program::{FieldKind, StackMode, ValueKind};

/// The type of an expression.
///
/// Today's language computes every integer in 64 bits; `bits` records the
/// width a value came from (a cast, an argument) so that later issues
/// (DWARF types, tuples as values, booleans) can grow the enum without
/// touching the emitter's layout rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Type {
    /// An integer; `signed` decides division, comparison and printing.
    Int {
        /// Width of the source value in bits (8, 16, 32 or 64).
        bits: u8,
        /// Signedness.
        signed: bool,
    },
    /// A truth value: `true`/`false`, comparisons, `!`, `&&`, `||`.
    /// Held as 0 or 1 in 8 bytes; usable wherever an integer is.
    Bool,
    /// A NUL-terminated string in a buffer of this many bytes.
    Str(usize),
    /// A tuple: its elements laid out one after the other (each string
    /// element in a buffer of the script's one map string size, so that
    /// every tuple of the same element types has the same layout).
    Tuple(Vec<Type>),
    /// A user stack (id and pid), printed in this mode.
    Stack(StackMode),
    /// A probe or function name (an index into the probe name table).
    ProbeName,
    /// `usym(addr)`: an address and the pid it belongs to.
    Symbol,
    /// A pointer to user memory holding a value of this type (reserved for
    /// DWARF-typed arguments).
    #[allow(dead_code)]
    Pointer(Box<Type>),
    /// A struct, union or array of the traced program (from its debug
    /// information), read whole for printing.
    Record(crate::typed::DType),
    /// `buf()` bytes: a length, then this many bytes at most.
    Buffer(usize),
    /// `strftime()`: nanoseconds with a format (index into the script's
    /// strftime formats).
    Timestamp(usize),
    /// `username`: a user id printed as the user's name.
    Username,
    /// `strerror()`: an error number printed as its text.
    Strerror,
    /// `syscall_name()`: a system call number printed as its name.
    SyscallName,
    /// `ntop()`: an address family and 16 address bytes, printed as text.
    Inet,
    /// No value (printf(), exit()).
    Void,
}

impl Type {
    /// A 64-bit integer.
    pub(crate) fn int(signed: bool) -> Type {
        Type::Int { bits: 64, signed }
    }

    /// True for integers.
    pub(crate) fn is_int(&self) -> bool {
        matches!(self, Type::Int { .. })
    }

    /// True for integers and bools (a bool is 0 or 1 where an integer is
    /// wanted).
    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self, Type::Int { .. } | Type::Bool)
    }

    /// True for tuples.
    pub(crate) fn is_tuple(&self) -> bool {
        matches!(self, Type::Tuple(_))
    }

    /// True for signed integers.
    pub(crate) fn is_signed(&self) -> bool {
        matches!(self, Type::Int { signed: true, .. })
    }

    /// The name used in error messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Type::Int { signed: true, .. } => "int64",
            Type::Int { signed: false, .. } => "uint64",
            Type::Bool => "bool",
            Type::Str(_) => "string",
            Type::Tuple(_) => "tuple",
            Type::Stack(_) => "ustack",
            Type::ProbeName => "probe",
            Type::Symbol => "usym",
            Type::Pointer(_) => "pointer",
            Type::Record(_) => "record",
            Type::Buffer(_) => "buffer",
            Type::Timestamp(_) => "timestamp",
            Type::Username => "username",
            Type::Strerror => "strerror",
            Type::SyscallName => "syscall name",
            Type::Inet => "inet",
            Type::Void => "none",
        }
    }

    /// The type as messages write it: a tuple with its elements,
    /// `(uint64, string)`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Type::Tuple(items) => {
                let items: Vec<String> = items.iter().map(Type::describe).collect();
                format!("({})", items.join(", "))
            }
            other => other.name().to_string(),
        }
    }

    /// Size and alignment of a value of this type as bpftrace lays it out
    /// (`sizeof`): a tuple is a C struct of its elements, each at the next
    /// multiple of its alignment, the whole rounded up to the largest
    /// alignment (bpftrace's `Struct::CreateTuple`, LLVM's struct layout).
    /// `None` for types bpftrace sizes differently or not at all.
    pub(crate) fn bpftrace_layout(&self) -> Option<(u64, u64)> {
        Some(match self {
            Type::Int { bits, .. } => (u64::from(*bits / 8), u64::from(*bits / 8)),
            Type::Bool => (1, 1),
            Type::Str(n) => (*n as u64, 1),
            Type::Tuple(items) => {
                let (mut size, mut align) = (0u64, 1u64);
                for t in items {
                    let (s, a) = t.bpftrace_layout()?;
                    size = size.next_multiple_of(a) + s;
                    align = align.max(a);
                }
                (size.next_multiple_of(align), align)
            }
            _ => return None,
        })
    }

    /// Bytes a string comparison looks at (8 for non-strings).
    pub(crate) fn str_len(&self) -> usize {
        match self {
            Type::Str(n) => *n,
            _ => 8,
        }
    }

    /// The fields a value of this type takes in a printf record (a tuple:
    /// its header, then its elements' fields), `None` for types that
    /// cannot be printed.
    pub(crate) fn record_fields(&self) -> Option<Vec<FieldKind>> {
        let one = match self {
            Type::Int { signed, .. } => FieldKind::Int { signed: *signed },
            Type::Bool => FieldKind::Bool,
            Type::Str(n) => FieldKind::Str(*n),
            Type::ProbeName => FieldKind::ProbeName,
            Type::Stack(m) => FieldKind::UStack(*m),
            Type::Symbol => FieldKind::USym,
            Type::Buffer(n) => FieldKind::Buffer(*n),
            Type::Timestamp(i) => FieldKind::Strftime(*i),
            Type::Username => FieldKind::Username,
            Type::Strerror => FieldKind::Strerror,
            Type::SyscallName => FieldKind::SyscallName,
            Type::Inet => FieldKind::Inet,
            // The index is the emitter's (`ProgramCompiler::printable_field`).
            Type::Record(d) => FieldKind::Record {
                index: usize::MAX,
                size: d.size() as usize,
            },
            Type::Tuple(items) => {
                let mut fields = vec![FieldKind::Tuple(items.len())];
                for t in items {
                    fields.extend(t.record_fields()?);
                }
                return Some(fields);
            }
            Type::Void | Type::Pointer(_) => return None,
        };
        Some(vec![one])
    }

    /// The one field a value of this type takes in a printf record; `None`
    /// for tuples (several fields, see [`Type::record_fields`]) and types
    /// that cannot be printed.
    pub(crate) fn record_field(&self) -> Option<FieldKind> {
        match self {
            Type::Tuple(_) => None,
            _ => self.record_fields()?.first().copied(),
        }
    }

    /// The fields a value of this type takes in a map key (strings get the
    /// script's one map string size `str_len`), `None` for void.
    pub(crate) fn key_fields(&self, str_len: usize) -> Option<Vec<FieldKind>> {
        Some(match self {
            Type::Str(_) => vec![FieldKind::Str(str_len)],
            Type::Timestamp(_) => vec![FieldKind::Int { signed: false }],
            Type::Record(_) => return None,
            Type::Tuple(items) => {
                let mut fields = vec![FieldKind::Tuple(items.len())];
                for t in items {
                    fields.extend(t.key_fields(str_len)?);
                }
                fields
            }
            other => other.record_fields()?,
        })
    }

    /// Bytes of the stack slot a value of this type takes (a scratch
    /// variable, a tuple element).
    pub(crate) fn slot_size(&self) -> usize {
        match self {
            Type::Str(n) => *n,
            Type::Stack(_) | Type::Symbol => 16,
            Type::Buffer(n) => FieldKind::Buffer(*n).size(),
            Type::Tuple(items) => items.iter().map(Type::slot_size).sum(),
            Type::Inet => FieldKind::Inet.size(),
            _ => 8,
        }
    }

    /// Where element `index` of a tuple of `items` starts, in bytes.
    pub(crate) fn tuple_offset(items: &[Type], index: usize) -> usize {
        items.iter().take(index).map(Type::slot_size).sum()
    }

    /// The type of a tuple element as the tuple holds it: strings in a
    /// buffer of the map string size `str_len`.
    pub(crate) fn into_tuple_element(self, str_len: usize) -> Type {
        match self {
            Type::Str(_) => Type::Str(str_len),
            Type::Timestamp(_) => Type::int(false),
            other => other,
        }
    }

    /// True when values of the two types have the same layout (integers
    /// of either signedness match).
    pub(crate) fn same_shape(&self, other: &Type) -> bool {
        match (self, other) {
            (Type::Int { .. }, Type::Int { .. }) => true,
            (Type::Tuple(a), Type::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_shape(y))
            }
            (a, b) => a == b,
        }
    }

    /// The value kind of a map assigned a value of this type.
    pub(crate) fn map_value(&self, str_len: usize) -> Result<ValueKind, MapValueError> {
        match self {
            Type::Int { signed, .. } => Ok(ValueKind::Int { signed: *signed }),
            // `func` is stored as its name (bpftrace's tools keep `func`
            // for the return probe: `@f[tid] = func`); `probe` as the
            // probe's number, named in full by user space (a path-long
            // probe name does not fit a string of max_strlen bytes).
            Type::Str(_) => Ok(ValueKind::Str(str_len)),
            Type::ProbeName => Ok(ValueKind::Named(FieldKind::ProbeName)),
            Type::Bool => Ok(ValueKind::Bool),
            Type::Stack(mode) => Ok(ValueKind::Named(FieldKind::UStack(*mode))),
            Type::Symbol => Ok(ValueKind::Named(FieldKind::USym)),
            Type::Tuple(_) if self.plain() => Ok(ValueKind::Tuple {
                size: self.slot_size(),
            }),
            Type::Void => Err(MapValueError::Void),
            _ => Err(MapValueError::Unsupported),
        }
    }

    /// True for integers, bools, strings and tuples of those: values user
    /// space prints without the session's state (stacks, symbols, probes),
    /// and that compare element by element.
    pub(crate) fn plain(&self) -> bool {
        match self {
            Type::Int { .. } | Type::Bool | Type::Str(_) => true,
            Type::Tuple(items) => items.iter().all(Type::plain),
            _ => false,
        }
    }

    /// The type of a map value laid out as `fields` (a tuple value's
    /// fields, header first), `None` when they do not describe one value.
    pub(crate) fn of_fields(fields: &[FieldKind]) -> Option<Type> {
        let mut next = 0;
        let t = Type::next_of_fields(fields, &mut next)?;
        (next == fields.len()).then_some(t)
    }

    /// The type of a map's keys laid out as `fields`: the one key's type,
    /// or a tuple of them for several; `None` when they describe no keys.
    pub(crate) fn of_key_fields(fields: &[FieldKind]) -> Option<Type> {
        let mut next = 0;
        let mut keys = Vec::new();
        while next < fields.len() {
            keys.push(Type::next_of_fields(fields, &mut next)?);
        }
        match keys.len() {
            0 => None,
            1 => keys.pop(),
            _ => Some(Type::Tuple(keys)),
        }
    }

    fn next_of_fields(fields: &[FieldKind], next: &mut usize) -> Option<Type> {
        let f = *fields.get(*next)?;
        *next += 1;
        Some(match f {
            FieldKind::Int { signed } => Type::int(signed),
            FieldKind::Bool => Type::Bool,
            FieldKind::Str(n) => Type::Str(n),
            FieldKind::ProbeName => Type::ProbeName,
            FieldKind::UStack(m) => Type::Stack(m),
            FieldKind::USym => Type::Symbol,
            FieldKind::Buffer(n) => Type::Buffer(n),
            FieldKind::Strftime(_) => Type::int(false),
            FieldKind::Username => Type::Username,
            FieldKind::Strerror => Type::Strerror,
            FieldKind::SyscallName => Type::SyscallName,
            FieldKind::Inet => Type::Inet,
            FieldKind::Record { .. } => return None,
            FieldKind::Tuple(n) => Type::Tuple(
                (0..n)
                    .map(|_| Type::next_of_fields(fields, next))
                    .collect::<Option<Vec<_>>>()?,
            ),
        })
    }
}

/// The key layout of `@m[k1, k2, ...]` whose keys have these types; a
/// single tuple key `@m[(k1, k2)]` is the same as `@m[k1, k2]` (no
/// header). `Err(i)`: key `i` has no value.
pub(crate) fn key_layout(keys: &[Type], str_len: usize) -> Result<Vec<FieldKind>, usize> {
    let mut fields = Vec::new();
    for (i, t) in keys.iter().enumerate() {
        fields.extend(t.key_fields(str_len).ok_or(i)?);
    }
    if let ([Type::Tuple(_)], Some(FieldKind::Tuple(_))) = (keys, fields.first()) {
        fields.remove(0);
    }
    Ok(fields)
}

/// Why a value cannot be stored in a map.
pub(crate) enum MapValueError {
    /// The expression has no value.
    Void,
    /// The type exists but maps cannot hold it (yet).
    Unsupported,
}

/// What the semantic pass knows about an expression: its type and, for
/// compile-time constants, its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Typed {
    /// The type.
    pub(crate) ty: Type,
    /// The value of a constant integer.
    pub(crate) konst: Option<i64>,
}

impl Typed {
    /// A value known only at run time.
    pub(crate) fn of(ty: Type) -> Typed {
        Typed { ty, konst: None }
    }

    /// A constant integer.
    pub(crate) fn int_const(v: i64, signed: bool) -> Typed {
        Typed {
            ty: Type::int(signed),
            konst: Some(v),
        }
    }

    /// An integer known at run time.
    pub(crate) fn int(signed: bool) -> Typed {
        Typed::of(Type::int(signed))
    }

    /// A constant bool.
    pub(crate) fn bool_const(v: bool) -> Typed {
        Typed {
            ty: Type::Bool,
            konst: Some(i64::from(v)),
        }
    }

    /// A bool known at run time.
    pub(crate) fn bool() -> Typed {
        Typed::of(Type::Bool)
    }
}
