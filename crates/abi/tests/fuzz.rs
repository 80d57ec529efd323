//! The decoder on random and truncated bytes: it never panics, and a
//! record cut short is always an error.

use proptest::prelude::*;
use ustrace_abi::{
    stack_frames, Decoder, FieldKind, PrintfDef, PrintfKind, StackFormat, StackMode, UserMap,
    ValueKind,
};

fn field() -> impl Strategy<Value = FieldKind> {
    prop_oneof![
        any::<bool>().prop_map(|signed| FieldKind::Int { signed }),
        (1usize..40).prop_map(FieldKind::Str),
        Just(FieldKind::ProbeName),
        (1u8..10).prop_map(|depth| FieldKind::UStack(StackMode {
            format: StackFormat::Bpftrace,
            depth
        })),
        Just(FieldKind::USym),
        (1usize..40).prop_map(FieldKind::Buffer),
        (0usize..3).prop_map(FieldKind::Strftime),
        Just(FieldKind::Username),
        Just(FieldKind::Strerror),
        Just(FieldKind::SyscallName),
        Just(FieldKind::Inet),
        (0usize..3, 1usize..300).prop_map(|(index, size)| FieldKind::Record { index, size }),
    ]
}

fn value_kind() -> impl Strategy<Value = ValueKind> {
    prop_oneof![
        any::<bool>().prop_map(|signed| ValueKind::Int { signed }),
        (1usize..40).prop_map(ValueKind::Str),
        Just(ValueKind::Count),
        Just(ValueKind::Sum),
        Just(ValueKind::Min),
        Just(ValueKind::Max),
        Just(ValueKind::Avg),
        Just(ValueKind::Stats),
        Just(ValueKind::Hist),
        (1u8..=5).prop_map(|bits| ValueKind::FineHist { bits }),
        Just(ValueKind::Lhist {
            min: 0,
            max: 100,
            step: 10
        }),
    ]
}

fn layouts(fields: Vec<Vec<FieldKind>>) -> Vec<PrintfDef> {
    fields
        .into_iter()
        .map(|args| {
            PrintfDef::new("x".to_string(), args, PrintfKind::Printf).expect("a literal format")
        })
        .collect()
}

/// A well-formed record for layout `id`: every word small (so probe ids
/// and buffer lengths are in range).
fn valid_record(id: u64, args: &[FieldKind]) -> Vec<u8> {
    let mut rec = id.to_ne_bytes().to_vec();
    for f in args {
        let mut bytes = vec![0u8; f.size()];
        if let FieldKind::Buffer(_) = f {
            bytes[0] = 1;
        }
        rec.extend(bytes);
    }
    rec
}

proptest! {
    #[test]
    fn random_records_never_panic(
        fields in prop::collection::vec(prop::collection::vec(field(), 0..6), 0..4),
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        tag in 0u64..6,
    ) {
        let defs = layouts(fields);
        let d = Decoder::new(&defs, 3);
        let _ = d.record(&bytes);
        let mut tagged = tag.to_ne_bytes().to_vec();
        tagged.extend(&bytes);
        let _ = d.record(&tagged);
        for special in 0xffff_0000u64..0xffff_0008 {
            let mut rec = special.to_ne_bytes().to_vec();
            rec.extend(&bytes);
            let _ = d.record(&rec);
        }
    }

    #[test]
    fn truncated_records_are_errors(
        args in prop::collection::vec(field(), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let defs = layouts(vec![args.clone()]);
        let d = Decoder::new(&defs, 3);
        let rec = valid_record(0, &args);
        prop_assert!(d.record(&rec).is_ok());
        let cut = cut.index(rec.len());
        prop_assert!(d.record(&rec[..cut]).is_err());
    }

    #[test]
    fn random_map_entries_never_panic(
        key in prop::collection::vec(field(), 0..4),
        value in value_kind(),
        raw in prop::collection::vec(
            (
                prop::collection::vec(any::<u8>(), 0..80),
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4),
            ),
            0..5,
        ),
    ) {
        let map = UserMap { name: "@m".to_string(), key, value, value_fields: Vec::new() };
        let _ = Decoder::new(&[], 3).map(&map, &raw);
    }

    #[test]
    fn random_stacks_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..100)) {
        let r = stack_frames(&bytes);
        prop_assert_eq!(r.is_ok(), bytes.len().is_multiple_of(8));
    }
}
