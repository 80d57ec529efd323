//! Turning type entries (`DW_TAG_*_type`) into [`Type`]s of a
//! [`TypeTable`], each entry once. Malformed or unknown entries become
//! [`Type::Unsupported`] naming what they are, so one odd type never hides
//! a whole function.

use crate::info::{DebugInfo, DieRef};
use crate::types::{
    Bitfield, Encoding, Enum, Enumerator, Member, Qualifier, Record, RecordKind, Type, TypeId,
    TypeTable, Variant, VariantPart,
};

type Entry = gimli::DebuggingInformationEntry<crate::sections::Reader>;

/// Types nest deeper than this only in corrupt files.
const MAX_DEPTH: u32 = 48;

impl DebugInfo {
    /// The type named by attribute `DW_AT_type` of `entry` (in unit
    /// `unit`); `void` when absent.
    pub(crate) fn type_attr(
        &self,
        unit: usize,
        entry: &Entry,
        table: &mut TypeTable,
        depth: u32,
    ) -> TypeId {
        let Some(value) = entry.attr_value(gimli::DW_AT_type) else {
            return self.void(table, unit);
        };
        match self.reference(unit, &value) {
            Some(die) => self.convert(die, table, depth),
            // Never `void` for a type that exists but cannot be reached.
            None => self.unsupported(table, unit, unreachable_type(&value)),
        }
    }

    fn void(&self, table: &mut TypeTable, unit: usize) -> TypeId {
        table.add(Type::Void, self.language(unit))
    }

    fn unsupported(&self, table: &mut TypeTable, unit: usize, name: String) -> TypeId {
        table.add(Type::Unsupported { name }, self.language(unit))
    }

    /// The type of entry `die`, read once per table.
    pub(crate) fn convert(&self, die: DieRef, table: &mut TypeTable, depth: u32) -> TypeId {
        let key = self.global_offset(die);
        if let Some(id) = table.by_entry.get(&key) {
            return *id;
        }
        if depth > MAX_DEPTH {
            return self.unsupported(table, die.unit, "<type nested too deeply>".into());
        }
        let entry = match self.entry(die) {
            Ok(e) => e,
            Err(_) => return self.unsupported(table, die.unit, "<unreadable type>".into()),
        };
        // A declaration standing for a type unit's type (DW_AT_signature).
        if let Some(definition) = entry
            .attr_value(gimli::DW_AT_signature)
            .and_then(|v| self.reference(die.unit, &v))
            .filter(|d| *d != die)
        {
            let id = self.convert(definition, table, depth + 1);
            table.by_entry.insert(key, id);
            return id;
        }
        // A record declared here but defined elsewhere: use the definition.
        if is_declaration(&entry) {
            if let Some(definition) = self.definition_of(die, &entry) {
                let id = self.convert(definition, table, depth + 1);
                table.by_entry.insert(key, id);
                return id;
            }
        }
        // Reserve the id first so that cycles through pointers close.
        let language = self.language(die.unit);
        let id = table.add(Type::Void, language);
        table.by_entry.insert(key, id);
        let ty = self.read_type(die, &entry, table, depth);
        table.set(id, ty);
        id
    }

    fn definition_of(&self, die: DieRef, entry: &Entry) -> Option<DieRef> {
        let name = self
            .index
            .scoped_names
            .get(&self.global_offset(die))
            .cloned()
            .or_else(|| self.string_attr(die.unit, entry, gimli::DW_AT_name))?;
        let keyword = match entry.tag() {
            gimli::DW_TAG_union_type => "union",
            gimli::DW_TAG_enumeration_type => "enum",
            gimli::DW_TAG_class_type => "class",
            _ => "struct",
        };
        let found = self.index.types_by_name.get(&format!("{keyword} {name}"))?;
        (found.defined && found.die != die).then_some(found.die)
    }

    fn name_of(&self, die: DieRef, entry: &Entry) -> Option<String> {
        if self.language(die.unit) == crate::types::Language::Cpp {
            if let Some(q) = self.index.scoped_names.get(&self.global_offset(die)) {
                return Some(q.clone());
            }
        }
        self.string_attr(die.unit, entry, gimli::DW_AT_name)
    }

    fn read_type(&self, die: DieRef, entry: &Entry, table: &mut TypeTable, depth: u32) -> Type {
        let unit = die.unit;
        let next = depth + 1;
        let qualified = |qualifier, table: &mut TypeTable| Type::Qualified {
            qualifier,
            inner: self.type_attr(unit, entry, table, next),
        };
        match entry.tag() {
            gimli::DW_TAG_base_type => {
                let name = self
                    .string_attr(unit, entry, gimli::DW_AT_name)
                    .unwrap_or_else(|| "<unnamed base type>".into());
                let size = udata(entry, gimli::DW_AT_byte_size).unwrap_or(0);
                let encoding = match entry.attr_value(gimli::DW_AT_encoding) {
                    Some(gimli::AttributeValue::Encoding(e)) => encoding(e),
                    _ => Encoding::Other,
                };
                Type::Base {
                    name,
                    size,
                    encoding,
                }
            }
            gimli::DW_TAG_pointer_type => Type::Pointer {
                pointee: self.type_attr(unit, entry, table, next),
            },
            gimli::DW_TAG_reference_type | gimli::DW_TAG_rvalue_reference_type => Type::Reference {
                pointee: self.type_attr(unit, entry, table, next),
                rvalue: entry.tag() == gimli::DW_TAG_rvalue_reference_type,
            },
            gimli::DW_TAG_const_type => qualified(Qualifier::Const, table),
            gimli::DW_TAG_volatile_type => qualified(Qualifier::Volatile, table),
            gimli::DW_TAG_restrict_type => qualified(Qualifier::Restrict, table),
            gimli::DW_TAG_atomic_type => qualified(Qualifier::Atomic, table),
            gimli::DW_TAG_typedef => Type::Typedef {
                name: self
                    .name_of(die, entry)
                    .unwrap_or_else(|| "<unnamed typedef>".into()),
                target: self.type_attr(unit, entry, table, next),
            },
            gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type | gimli::DW_TAG_union_type => {
                Type::Record(self.read_record(die, entry, table, next))
            }
            gimli::DW_TAG_enumeration_type => Type::Enum(self.read_enum(die, entry, table, next)),
            gimli::DW_TAG_array_type => self.read_array(die, entry, table, next),
            gimli::DW_TAG_subroutine_type => {
                let ret = self.type_attr(unit, entry, table, next);
                let mut params = Vec::new();
                let mut variadic = false;
                for (child_die, child) in self.children(die) {
                    match child.tag() {
                        gimli::DW_TAG_formal_parameter => {
                            params.push(self.type_attr(child_die.unit, &child, table, next))
                        }
                        gimli::DW_TAG_unspecified_parameters => variadic = true,
                        _ => {}
                    }
                }
                Type::Function {
                    ret,
                    params,
                    variadic,
                }
            }
            gimli::DW_TAG_unspecified_type => Type::Unsupported {
                name: self
                    .string_attr(unit, entry, gimli::DW_AT_name)
                    .unwrap_or_else(|| "<unspecified type>".into()),
            },
            gimli::DW_TAG_ptr_to_member_type => Type::Unsupported {
                name: "<pointer to member>".into(),
            },
            other => Type::Unsupported {
                name: format!("<{other}>"),
            },
        }
    }

    /// The direct children of `die` (none when unreadable).
    pub(crate) fn children(&self, die: DieRef) -> Vec<(DieRef, Entry)> {
        let mut out = Vec::new();
        let Some(unit) = self.units.get(die.unit) else {
            return out;
        };
        let Ok(mut tree) = unit.unit.entries_tree(Some(die.offset)) else {
            return out;
        };
        let Ok(root) = tree.root() else {
            return out;
        };
        let mut iter = root.children();
        while let Ok(Some(child)) = iter.next() {
            let entry = child.entry().clone();
            out.push((
                DieRef {
                    unit: die.unit,
                    offset: entry.offset(),
                },
                entry,
            ));
        }
        out
    }

    fn read_record(&self, die: DieRef, entry: &Entry, table: &mut TypeTable, depth: u32) -> Record {
        let kind = match entry.tag() {
            gimli::DW_TAG_union_type => RecordKind::Union,
            gimli::DW_TAG_class_type => RecordKind::Class,
            _ => RecordKind::Struct,
        };
        let size = if is_declaration(entry) {
            None
        } else {
            udata(entry, gimli::DW_AT_byte_size)
        };
        let mut pass_by_reference = matches!(
            entry.attr_value(gimli::DW_AT_calling_convention),
            Some(gimli::AttributeValue::CallingConvention(
                gimli::DW_CC_pass_by_reference
            ))
        );
        let mut members = Vec::new();
        let mut variant_part = None;
        for (child_die, child) in self.children(die) {
            match child.tag() {
                // GCC does not always say DW_CC_pass_by_reference: a
                // user-declared destructor makes a class non-trivial for
                // calls, so the caller passes its address.
                gimli::DW_TAG_subprogram
                    if self.language(die.unit) == crate::types::Language::Cpp
                        && !is_artificial(&child)
                        && self
                            .string_attr(die.unit, &child, gimli::DW_AT_name)
                            .is_some_and(|n| n.starts_with('~')) =>
                {
                    pass_by_reference = true;
                }
                gimli::DW_TAG_member | gimli::DW_TAG_inheritance => {
                    if let Some(m) = self.read_member(child_die, &child, table, depth) {
                        members.push(m);
                    }
                }
                gimli::DW_TAG_variant_part => {
                    variant_part = Some(self.read_variant_part(child_die, &child, table, depth));
                }
                _ => {}
            }
        }
        // A member or base that is passed by reference makes the whole so.
        pass_by_reference |= members.iter().any(
            |m| matches!(table.get(table.resolve(m.ty)), Type::Record(r) if r.pass_by_reference),
        );
        Record {
            kind,
            name: self.name_of(die, entry),
            size,
            members,
            variant_part,
            pass_by_reference,
        }
    }

    /// A data member (`None` for static members, which live elsewhere).
    fn read_member(
        &self,
        die: DieRef,
        entry: &Entry,
        table: &mut TypeTable,
        depth: u32,
    ) -> Option<Member> {
        let location = entry.attr_value(gimli::DW_AT_data_member_location);
        let bit_size = udata(entry, gimli::DW_AT_bit_size);
        let data_bit_offset = udata(entry, gimli::DW_AT_data_bit_offset);
        let is_static = matches!(
            entry.attr_value(gimli::DW_AT_external),
            Some(gimli::AttributeValue::Flag(true))
        ) || is_declaration(entry);
        if is_static && location.is_none() && data_bit_offset.is_none() {
            return None;
        }
        let ty = self.type_attr(die.unit, entry, table, depth);
        let byte_offset = match location {
            None => 0,
            Some(v) => match member_offset(&v) {
                Some(o) => o,
                None => {
                    // A virtual base: its offset is only known at run time.
                    let name = self.string_attr(die.unit, entry, gimli::DW_AT_name);
                    return Some(Member {
                        name: name.unwrap_or_default(),
                        ty: self.unsupported(table, die.unit, "<virtual base>".into()),
                        offset: 0,
                        bitfield: None,
                        is_base: true,
                    });
                }
            },
        };
        let bitfield = match (bit_size, data_bit_offset) {
            (Some(bits), Some(start)) => Some(Bitfield {
                bit_offset: start,
                bit_size: bits,
            }),
            (Some(bits), None) => {
                // DWARF 2/3: DW_AT_bit_offset counts from the most
                // significant bit of a storage unit of DW_AT_byte_size bytes.
                let storage = udata(entry, gimli::DW_AT_byte_size)
                    .or_else(|| table.size_of(ty))
                    .unwrap_or(0);
                let from_msb = udata(entry, gimli::DW_AT_bit_offset).unwrap_or(0);
                let from_lsb = storage
                    .saturating_mul(8)
                    .saturating_sub(from_msb.saturating_add(bits));
                Some(Bitfield {
                    bit_offset: byte_offset.saturating_mul(8).saturating_add(from_lsb),
                    bit_size: bits,
                })
            }
            _ => None,
        };
        let offset = match bitfield {
            Some(b) => b.bit_offset / 8,
            None => byte_offset,
        };
        Some(Member {
            name: self
                .string_attr(die.unit, entry, gimli::DW_AT_name)
                .unwrap_or_default(),
            ty,
            offset,
            bitfield,
            is_base: entry.tag() == gimli::DW_TAG_inheritance,
        })
    }

    fn read_variant_part(
        &self,
        die: DieRef,
        entry: &Entry,
        table: &mut TypeTable,
        depth: u32,
    ) -> VariantPart {
        let discriminant_die = entry
            .attr_value(gimli::DW_AT_discr)
            .and_then(|v| self.reference(die.unit, &v));
        let mut discriminant = None;
        let mut variants = Vec::new();
        for (child_die, child) in self.children(die) {
            match child.tag() {
                gimli::DW_TAG_member if Some(child_die) == discriminant_die => {
                    discriminant = self.read_member(child_die, &child, table, depth);
                }
                gimli::DW_TAG_variant => {
                    let value = udata(&child, gimli::DW_AT_discr_value);
                    let members = self
                        .children(child_die)
                        .into_iter()
                        .filter(|(_, e)| e.tag() == gimli::DW_TAG_member)
                        .filter_map(|(d, e)| self.read_member(d, &e, table, depth))
                        .collect();
                    variants.push(Variant {
                        discriminant: value,
                        members,
                    });
                }
                _ => {}
            }
        }
        VariantPart {
            discriminant,
            variants,
        }
    }

    fn read_enum(&self, die: DieRef, entry: &Entry, table: &mut TypeTable, depth: u32) -> Enum {
        let underlying = entry
            .attr_value(gimli::DW_AT_type)
            .is_some()
            .then(|| self.type_attr(die.unit, entry, table, depth));
        let mut enumerators = Vec::new();
        for (_, child) in self.children(die) {
            if child.tag() != gimli::DW_TAG_enumerator {
                continue;
            }
            let Some(name) = self.string_attr(die.unit, &child, gimli::DW_AT_name) else {
                continue;
            };
            let value = match child.attr_value(gimli::DW_AT_const_value) {
                Some(gimli::AttributeValue::Sdata(v)) => v as i128,
                Some(gimli::AttributeValue::Udata(v)) => v as i128,
                Some(gimli::AttributeValue::Data1(v)) => v as i128,
                Some(gimli::AttributeValue::Data2(v)) => v as i128,
                Some(gimli::AttributeValue::Data4(v)) => v as i128,
                Some(gimli::AttributeValue::Data8(v)) => v as i128,
                _ => continue,
            };
            enumerators.push(Enumerator { name, value });
        }
        let signed = match underlying.map(|u| table.get(table.resolve(u))) {
            Some(Type::Base { encoding, .. }) => {
                matches!(encoding, Encoding::Signed | Encoding::SignedChar)
            }
            _ => enumerators.iter().any(|e| e.value < 0),
        };
        let size = udata(entry, gimli::DW_AT_byte_size)
            .or_else(|| underlying.and_then(|u| table.size_of(u)))
            .unwrap_or(4);
        // A fixed-size constant of a signed enum is stored unsigned.
        if signed && (1..=8).contains(&size) {
            let bits = size * 8;
            for e in &mut enumerators {
                if e.value >= 0 && bits < 128 && e.value >> (bits - 1) == 1 {
                    e.value -= 1i128 << bits;
                }
            }
        }
        Enum {
            name: self.name_of(die, entry),
            size,
            signed,
            enumerators,
        }
    }

    fn read_array(&self, die: DieRef, entry: &Entry, table: &mut TypeTable, depth: u32) -> Type {
        let mut element = self.type_attr(die.unit, entry, table, depth);
        let counts: Vec<Option<u64>> = self
            .children(die)
            .into_iter()
            .filter(|(_, e)| e.tag() == gimli::DW_TAG_subrange_type)
            .map(|(_, e)| {
                udata(&e, gimli::DW_AT_count).or_else(|| {
                    let lower = udata(&e, gimli::DW_AT_lower_bound).unwrap_or(0);
                    let upper = udata(&e, gimli::DW_AT_upper_bound)?;
                    upper.checked_sub(lower)?.checked_add(1)
                })
            })
            .collect();
        let Some((outer, inner)) = counts.split_first() else {
            return Type::Array {
                element,
                count: None,
            };
        };
        // `int m[2][3]` is one entry with two subranges: an array of 2
        // arrays of 3.
        for count in inner.iter().rev() {
            element = table.add(
                Type::Array {
                    element,
                    count: *count,
                },
                self.language(die.unit),
            );
        }
        Type::Array {
            element,
            count: *outer,
        }
    }
}

/// What a type reference we cannot follow is shown as.
fn unreachable_type(value: &gimli::AttributeValue<crate::sections::Reader>) -> String {
    match value {
        gimli::AttributeValue::DebugTypesRef(_) => {
            "<type in a type unit that is not in .debug_info>".into()
        }
        gimli::AttributeValue::DebugInfoRefSup(_) => {
            "<type in a supplementary (dwz) file, not supported>".into()
        }
        _ => "<unreadable type reference>".into(),
    }
}

fn is_artificial(entry: &Entry) -> bool {
    matches!(
        entry.attr_value(gimli::DW_AT_artificial),
        Some(gimli::AttributeValue::Flag(true))
    )
}

fn is_declaration(entry: &Entry) -> bool {
    matches!(
        entry.attr_value(gimli::DW_AT_declaration),
        Some(gimli::AttributeValue::Flag(true))
    )
}

/// An unsigned constant attribute.
pub(crate) fn udata(entry: &Entry, name: gimli::DwAt) -> Option<u64> {
    entry.attr_value(name)?.udata_value()
}

/// `DW_AT_data_member_location` as a constant, or the one-operation
/// expression `DW_OP_plus_uconst N` older producers write.
fn member_offset(value: &gimli::AttributeValue<crate::sections::Reader>) -> Option<u64> {
    if let Some(v) = value.udata_value() {
        return Some(v);
    }
    let gimli::AttributeValue::Exprloc(expr) = value else {
        return None;
    };
    let mut ops = expr.clone().operations(gimli::Encoding {
        format: gimli::Format::Dwarf32,
        version: 4,
        address_size: 8,
    });
    match ops.next() {
        Ok(Some(gimli::Operation::PlusConstant { value })) => match ops.next() {
            Ok(None) => Some(value),
            _ => None,
        },
        _ => None,
    }
}

fn encoding(e: gimli::DwAte) -> Encoding {
    match e {
        gimli::DW_ATE_signed => Encoding::Signed,
        gimli::DW_ATE_unsigned => Encoding::Unsigned,
        gimli::DW_ATE_signed_char => Encoding::SignedChar,
        gimli::DW_ATE_unsigned_char => Encoding::UnsignedChar,
        gimli::DW_ATE_boolean => Encoding::Bool,
        gimli::DW_ATE_float => Encoding::Float,
        gimli::DW_ATE_UTF => Encoding::Utf,
        _ => Encoding::Other,
    }
}
