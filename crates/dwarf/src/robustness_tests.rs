//! Arbitrary type graphs (cycles, huge sizes and offsets, self-nesting
//! records, recursive function types: what a corrupt file can describe)
//! through every query: never a panic, never a hang.

use proptest::prelude::*;

use crate::abi::assign;
use crate::types::{
    Bitfield, Encoding, Enum, Enumerator, Language, Member, Qualifier, Record, RecordKind, Type,
    TypeId, TypeTable,
};

/// Up to this many types; references are any id below it (so cycles and
/// dangling ids both occur).
const TYPES: u32 = 8;

fn id() -> impl Strategy<Value = TypeId> {
    (0..TYPES + 2).prop_map(TypeId)
}

fn member() -> impl Strategy<Value = Member> {
    (
        "[a-c]{0,1}",
        id(),
        any::<u64>(),
        proptest::option::of((any::<u64>(), 0u64..80)),
    )
        .prop_map(|(name, ty, offset, bits)| Member {
            name,
            ty,
            offset: offset % 4096,
            bitfield: bits.map(|(bit_offset, bit_size)| Bitfield {
                bit_offset: bit_offset % (1 << 20),
                bit_size,
            }),
            is_base: false,
        })
}

fn ty() -> impl Strategy<Value = Type> {
    prop_oneof![
        Just(Type::Void),
        (any::<u64>(), 0usize..8).prop_map(|(size, e)| Type::Base {
            name: "b".into(),
            size: size % 20,
            encoding: [
                Encoding::Signed,
                Encoding::Unsigned,
                Encoding::SignedChar,
                Encoding::UnsignedChar,
                Encoding::Bool,
                Encoding::Float,
                Encoding::Utf,
                Encoding::Other
            ][e],
        }),
        any::<u64>().prop_map(|size| Type::Base {
            name: "huge".into(),
            size,
            encoding: Encoding::Signed,
        }),
        id().prop_map(|pointee| Type::Pointer { pointee }),
        (id(), any::<bool>()).prop_map(|(pointee, rvalue)| Type::Reference { pointee, rvalue }),
        (
            prop::collection::vec(member(), 0..5),
            proptest::option::of(any::<u64>()),
            any::<bool>()
        )
            .prop_map(|(members, size, union)| Type::Record(Record {
                kind: if union {
                    RecordKind::Union
                } else {
                    RecordKind::Struct
                },
                name: Some("r".into()),
                size,
                members,
                variant_part: None,
                pass_by_reference: false,
            })),
        (any::<u64>(), any::<bool>(), any::<i64>()).prop_map(|(size, signed, v)| Type::Enum(
            Enum {
                name: None,
                size,
                signed,
                enumerators: vec![Enumerator {
                    name: "E".into(),
                    value: v as i128,
                }],
            }
        )),
        id().prop_map(|target| Type::Typedef {
            name: "t".into(),
            target
        }),
        (id(), proptest::option::of(any::<u64>()))
            .prop_map(|(element, count)| Type::Array { element, count }),
        id().prop_map(|inner| Type::Qualified {
            qualifier: Qualifier::Const,
            inner
        }),
        (id(), prop::collection::vec(id(), 0..6), any::<bool>()).prop_map(
            |(ret, params, variadic)| Type::Function {
                ret,
                params,
                variadic
            }
        ),
    ]
}

fn table(types: Vec<Type>, cpp: bool) -> TypeTable {
    let mut t = TypeTable::new();
    let language = if cpp { Language::Cpp } else { Language::C };
    for ty in types {
        t.add(ty, language);
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_query_is_total(
        types in prop::collection::vec(ty(), 1..TYPES as usize),
        cpp in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        params in prop::collection::vec(id(), 0..10),
        ret in id(),
        rust in any::<bool>(),
    ) {
        let t = table(types, cpp);
        for i in 0..TYPES + 2 {
            let id = TypeId(i);
            let _ = t.name(id);
            let _ = t.size_of(id);
            let _ = t.resolve(id);
            let _ = t.member(id, "a");
            let _ = t.member_names(id);
            let _ = t.enumerator_name(id, 0);
            prop_assert!(t.format_value(id, &bytes).len() < 70 * 1024);
        }
        let language = if rust { Language::Rust } else { Language::C };
        let (locations, _) = assign(&t, &params, ret, language);
        prop_assert_eq!(locations.len(), params.len());
        for (loc, p) in locations.iter().zip(&params) {
            let _ = loc.arg_spec(&t, *p);
            let _ = loc.to_string();
        }
    }
}
