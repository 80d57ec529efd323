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
    /// A truth value (reserved: comparisons give integers today).
    #[allow(dead_code)]
    Bool,
    /// A NUL-terminated string in a buffer of this many bytes.
    Str(usize),
    /// A tuple (reserved: tuples are map keys only today).
    #[allow(dead_code)]
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
            Type::Inet => "inet",
            Type::Void => "none",
        }
    }

    /// Bytes a string comparison looks at (8 for non-strings).
    pub(crate) fn str_len(&self) -> usize {
        match self {
            Type::Str(n) => *n,
            _ => 8,
        }
    }

    /// The field a value of this type takes in a printf record, `None` for
    /// types that cannot be printed.
    pub(crate) fn record_field(&self) -> Option<FieldKind> {
        Some(match self {
            Type::Int { signed, .. } => FieldKind::Int { signed: *signed },
            Type::Str(n) => FieldKind::Str(*n),
            Type::ProbeName => FieldKind::ProbeName,
            Type::Stack(m) => FieldKind::UStack(*m),
            Type::Symbol => FieldKind::USym,
            Type::Buffer(n) => FieldKind::Buffer(*n),
            Type::Timestamp(i) => FieldKind::Strftime(*i),
            Type::Username => FieldKind::Username,
            Type::Inet => FieldKind::Inet,
            // The index is the emitter's (`ProgramCompiler::printable_field`).
            Type::Record(d) => FieldKind::Record {
                index: usize::MAX,
                size: d.size() as usize,
            },
            Type::Void | Type::Bool | Type::Tuple(_) | Type::Pointer(_) => return None,
        })
    }

    /// The field a value of this type takes in a map key (strings get the
    /// script's one map string size `str_len`), `None` for void.
    pub(crate) fn key_field(&self, str_len: usize) -> Option<FieldKind> {
        Some(match self {
            Type::Str(_) => FieldKind::Str(str_len),
            Type::Timestamp(_) => FieldKind::Int { signed: false },
            Type::Record(_) => return None,
            other => other.record_field()?,
        })
    }

    /// Bytes of the stack slot a scratch variable of this type takes.
    pub(crate) fn slot_size(&self) -> usize {
        match self {
            Type::Str(n) => *n,
            Type::Stack(_) | Type::Symbol => 16,
            Type::Buffer(n) => FieldKind::Buffer(*n).size(),
            Type::Inet => FieldKind::Inet.size(),
            _ => 8,
        }
    }

    /// The value kind of a map assigned a value of this type.
    pub(crate) fn map_value(&self, str_len: usize) -> Result<ValueKind, MapValueError> {
        match self {
            Type::Int { signed, .. } => Ok(ValueKind::Int { signed: *signed }),
            // `probe` and `func` are stored as their names (bpftrace's
            // tools keep `func` for the return probe: `@f[tid] = func`).
            Type::Str(_) | Type::ProbeName => Ok(ValueKind::Str(str_len)),
            Type::Void => Err(MapValueError::Void),
            _ => Err(MapValueError::Unsupported),
        }
    }
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
}
