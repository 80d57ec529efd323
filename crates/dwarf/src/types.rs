//! The program's types, as read from DWARF: an owned graph in a
//! [`TypeTable`], independent of gimli. Types refer to each other by
//! [`TypeId`], so recursive types (`struct req { struct req *next; }`) are
//! plain cycles of ids.

use std::cell::Cell;
use std::collections::HashMap;

/// Records a member search may visit (a corrupt file can nest anonymous
/// members in themselves, many times over).
const SEARCH_BUDGET: u32 = 4096;

/// The index of a type in its [`TypeTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub(crate) u32);

/// The source language of a compile unit; it decides how types are named
/// and (for Rust) how arguments are passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// C (any standard), and assembly or unknown languages.
    C,
    /// C++ (any standard).
    Cpp,
    /// Rust.
    Rust,
}

/// How a base type's bits are read (`DW_AT_encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// A signed integer (`int`, `long`, `i32`).
    Signed,
    /// An unsigned integer (`unsigned int`, `size_t`'s target, `u64`).
    Unsigned,
    /// `char` or `signed char`.
    SignedChar,
    /// `unsigned char`, `u8` in some producers.
    UnsignedChar,
    /// `_Bool`, `bool`.
    Bool,
    /// `float`, `double`, `long double`, `f32`, `f64`.
    Float,
    /// A Unicode code point (Rust's `char`, C++'s `char32_t`).
    Utf,
    /// Anything else (complex numbers, decimal floats): kept by name only.
    Other,
}

/// `const`, `volatile`, `restrict` or `_Atomic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `const`.
    Const,
    /// `volatile`.
    Volatile,
    /// `restrict`.
    Restrict,
    /// `_Atomic`.
    Atomic,
}

impl Qualifier {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Qualifier::Const => "const",
            Qualifier::Volatile => "volatile",
            Qualifier::Restrict => "restrict",
            Qualifier::Atomic => "_Atomic",
        }
    }
}

/// `struct`, `class` or `union`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A C/C++/Rust `struct` (Rust enums with data too: see [`VariantPart`]).
    Struct,
    /// A C++ `class`.
    Class,
    /// A `union`: every member at offset 0.
    Union,
}

/// A bitfield's position: bits counted from the start of the enclosing
/// record, least significant bit first (x86-64 is little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bitfield {
    /// The first bit, from the start of the record.
    pub bit_offset: u64,
    /// The number of bits.
    pub bit_size: u64,
}

/// A data member of a struct, class or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its name; empty for an anonymous struct or union member (whose own
    /// members are reached as if they were the parent's) and base classes.
    pub name: String,
    /// Its type.
    pub ty: TypeId,
    /// Its byte offset from the start of the record (for a bitfield, the
    /// byte holding its first bit).
    pub offset: u64,
    /// Set for bitfields.
    pub bitfield: Option<Bitfield>,
    /// True for a C++ base class (`DW_TAG_inheritance`).
    pub is_base: bool,
}

/// One alternative of a Rust enum with data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The discriminant value selecting it; `None` for the default variant.
    pub discriminant: Option<u64>,
    /// Its members (rustc gives each variant one member, named after the
    /// variant, whose type is a struct holding the variant's fields).
    pub members: Vec<Member>,
}

/// The data-carrying part of a Rust enum (`DW_TAG_variant_part`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantPart {
    /// The member holding the discriminant (absent for niche-only layouts
    /// where rustc does not name one).
    pub discriminant: Option<Member>,
    /// The variants.
    pub variants: Vec<Variant>,
}

/// A struct, class or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `struct`, `class` or `union`.
    pub kind: RecordKind,
    /// Its name as the language spells it (`req`, `shop::Item`, `Order`);
    /// `None` when anonymous.
    pub name: Option<String>,
    /// Its size in bytes; `None` when only declared (an incomplete type).
    pub size: Option<u64>,
    /// Its data members in declaration order (static members excluded).
    pub members: Vec<Member>,
    /// For Rust enums with data: the variants.
    pub variant_part: Option<VariantPart>,
    /// True when the C++ ABI passes it by invisible reference (it has a
    /// non-trivial copy constructor or destructor: `DW_CC_pass_by_reference`).
    pub pass_by_reference: bool,
}

/// One named constant of an enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enumerator {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: i128,
}

/// A C/C++ enum (Rust's fieldless enums are records with a variant part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enum {
    /// Its name as the language spells it; `None` when anonymous.
    pub name: Option<String>,
    /// Its size in bytes.
    pub size: u64,
    /// True when its underlying integer type is signed.
    pub signed: bool,
    /// The enumerators, in declaration order.
    pub enumerators: Vec<Enumerator>,
}

/// A type of the traced program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `void` (a function returning nothing, the target of `void *`).
    Void,
    /// An integer, character, boolean or floating-point type.
    Base {
        /// Its name (`int`, `long unsigned int`, `u64`).
        name: String,
        /// Its size in bytes.
        size: u64,
        /// How its bits are read.
        encoding: Encoding,
    },
    /// A pointer (C `T *`, Rust `&T`, `*const T`, `Box<T>`'s inner pointer).
    Pointer {
        /// What it points to.
        pointee: TypeId,
    },
    /// A C++ reference, `T &` or `T &&`: an address at the ABI level.
    Reference {
        /// What it refers to.
        pointee: TypeId,
        /// True for `&&`.
        rvalue: bool,
    },
    /// A struct, class or union.
    Record(Record),
    /// An enum.
    Enum(Enum),
    /// A `typedef` (C++ `using`).
    Typedef {
        /// Its name as the language spells it.
        name: String,
        /// The type it names.
        target: TypeId,
    },
    /// An array; several dimensions are arrays of arrays.
    Array {
        /// The element type.
        element: TypeId,
        /// The number of elements; `None` for a flexible array member.
        count: Option<u64>,
    },
    /// A qualified type.
    Qualified {
        /// The qualifier.
        qualifier: Qualifier,
        /// The qualified type.
        inner: TypeId,
    },
    /// A function type (the target of a function pointer).
    Function {
        /// The return type.
        ret: TypeId,
        /// The parameter types.
        params: Vec<TypeId>,
        /// True when it takes `...`.
        variadic: bool,
    },
    /// A type this reader does not model; `name` says what it is.
    Unsupported {
        /// How it is shown (`decltype(nullptr)`, `pointer to member`).
        name: String,
    },
}

/// The types read so far, with the DWARF entry each came from (so each
/// entry is read once and cycles close).
#[derive(Debug, Clone, Default)]
pub struct TypeTable {
    types: Vec<Type>,
    languages: Vec<Language>,
    pub(crate) by_entry: HashMap<u64, TypeId>,
}

impl TypeTable {
    /// An empty table.
    pub fn new() -> TypeTable {
        TypeTable::default()
    }

    /// Adds `ty`, written in `language`.
    pub fn add(&mut self, ty: Type, language: Language) -> TypeId {
        let id = TypeId(self.types.len() as u32);
        self.types.push(ty);
        self.languages.push(language);
        id
    }

    pub(crate) fn set(&mut self, id: TypeId, ty: Type) {
        if let Some(slot) = self.types.get_mut(id.0 as usize) {
            *slot = ty;
        }
    }

    /// The type `id` stands for.
    pub fn get(&self, id: TypeId) -> &Type {
        static VOID: Type = Type::Void;
        self.types.get(id.0 as usize).unwrap_or(&VOID)
    }

    /// The language of the compile unit `id` was read from.
    pub fn language(&self, id: TypeId) -> Language {
        self.languages
            .get(id.0 as usize)
            .copied()
            .unwrap_or(Language::C)
    }

    /// The number of types in the table.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// True when the table holds no type.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// `id` without typedefs and qualifiers: the type that decides layout.
    pub fn resolve(&self, id: TypeId) -> TypeId {
        let mut current = id;
        // Bounded: a corrupt file could make a typedef cycle.
        for _ in 0..64 {
            match self.get(current) {
                Type::Typedef { target, .. } => current = *target,
                Type::Qualified { inner, .. } => current = *inner,
                _ => return current,
            }
        }
        current
    }

    /// The size of a value of type `id` in bytes; `None` for `void`,
    /// functions, incomplete records and flexible arrays.
    pub fn size_of(&self, id: TypeId) -> Option<u64> {
        self.size_bounded(id, 0)
    }

    fn size_bounded(&self, id: TypeId, depth: u32) -> Option<u64> {
        if depth > 64 {
            return None;
        }
        match self.get(id) {
            Type::Void | Type::Function { .. } | Type::Unsupported { .. } => None,
            Type::Base { size, .. } => Some(*size),
            Type::Pointer { .. } | Type::Reference { .. } => Some(8),
            Type::Record(r) => r.size,
            Type::Enum(e) => Some(e.size),
            Type::Typedef { target, .. } => self.size_bounded(*target, depth + 1),
            Type::Qualified { inner, .. } => self.size_bounded(*inner, depth + 1),
            Type::Array { element, count } => {
                count.and_then(|n| self.size_bounded(*element, depth + 1)?.checked_mul(n))
            }
        }
    }

    /// The member `name` of the record `id` (typedefs and qualifiers looked
    /// through), searching anonymous struct and union members and C++ base
    /// classes as the language does. Returns the member with its offset
    /// from the start of `id` (bitfield offsets adjusted likewise).
    pub fn member(&self, id: TypeId, name: &str) -> Option<Member> {
        let budget = Cell::new(SEARCH_BUDGET);
        self.member_bounded(id, name, 0, &budget)
    }

    fn member_bounded(
        &self,
        id: TypeId,
        name: &str,
        depth: u32,
        budget: &Cell<u32>,
    ) -> Option<Member> {
        if depth > 16 || budget.get() == 0 {
            return None;
        }
        budget.set(budget.get() - 1);
        let Type::Record(record) = self.get(self.resolve(id)) else {
            return None;
        };
        if let Some(m) = record.members.iter().find(|m| m.name == name) {
            return Some(m.clone());
        }
        for m in record.members.iter().filter(|m| m.name.is_empty()) {
            if let Some(mut inner) = self.member_bounded(m.ty, name, depth + 1, budget) {
                inner.offset = inner.offset.saturating_add(m.offset);
                if let Some(b) = inner.bitfield.as_mut() {
                    b.bit_offset = b.bit_offset.saturating_add(m.offset.saturating_mul(8));
                }
                return Some(inner);
            }
        }
        None
    }

    /// The names of the members of record `id` (for suggestions), anonymous
    /// members' names included.
    pub fn member_names(&self, id: TypeId) -> Vec<String> {
        let mut out = Vec::new();
        let budget = Cell::new(SEARCH_BUDGET);
        self.collect_member_names(id, &mut out, 0, &budget);
        out
    }

    fn collect_member_names(
        &self,
        id: TypeId,
        out: &mut Vec<String>,
        depth: u32,
        budget: &Cell<u32>,
    ) {
        if depth > 16 || budget.get() == 0 {
            return;
        }
        budget.set(budget.get() - 1);
        if let Type::Record(record) = self.get(self.resolve(id)) {
            for m in &record.members {
                if m.name.is_empty() {
                    self.collect_member_names(m.ty, out, depth + 1, budget);
                } else {
                    out.push(m.name.clone());
                }
            }
        }
    }

    /// The name of enumerator `value` of enum `id`, if it has one.
    pub fn enumerator_name(&self, id: TypeId, value: i128) -> Option<&str> {
        match self.get(self.resolve(id)) {
            Type::Enum(e) => e
                .enumerators
                .iter()
                .find(|en| en.value == value)
                .map(|en| en.name.as_str()),
            _ => None,
        }
    }
}
