//! The decoder on well-formed and malformed records and map entries.

use ustrace_abi::{
    stack_frames, DecodeError, DecodedEntry, Decoder, Event, FieldKind, FieldValue, MapValue,
    PrintfDef, PrintfKind, UserMap, ValueKind, TAG_EXIT,
};

fn w(v: i64) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn decoder_with(args: Vec<FieldKind>) -> Vec<PrintfDef> {
    vec![PrintfDef::new("%d %s\n".into(), args, PrintfKind::Printf).expect("format")]
}

#[test]
fn printf_record_fields_are_read_in_order() {
    let defs = decoder_with(vec![FieldKind::Int { signed: true }, FieldKind::Str(8)]);
    let d = Decoder::new(&defs, 0);
    let rec = [w(0), w(-7), b"hi\0xxxxx".to_vec()].concat();
    assert_eq!(
        d.record(&rec),
        Ok(Event::Printf {
            id: 0,
            args: vec![
                FieldValue::Int {
                    value: -7,
                    signed: true
                },
                FieldValue::Str(b"hi".to_vec())
            ]
        })
    );
}

#[test]
fn short_records_name_the_field() {
    let defs = decoder_with(vec![FieldKind::Int { signed: true }, FieldKind::Str(8)]);
    let d = Decoder::new(&defs, 0);
    let rec = [w(0), w(1), b"hi".to_vec()].concat();
    let err = d.record(&rec).unwrap_err();
    assert_eq!(
        err.to_string(),
        "printf record 0: record needs 24 bytes at offset 0, but it has 18"
    );
    assert!(matches!(
        d.record(&w(TAG_EXIT as i64)),
        Err(DecodeError::Short {
            field: "exit code",
            ..
        })
    ));
    assert!(matches!(d.record(&[1, 2]), Err(DecodeError::Short { .. })));
}

#[test]
fn unknown_tags_probes_and_long_buffers_are_errors() {
    let defs = decoder_with(vec![FieldKind::ProbeName]);
    let d = Decoder::new(&defs, 2);
    assert!(matches!(
        d.record(&[w(5), w(0)].concat()),
        Err(DecodeError::UnknownTag { tag: 5, .. })
    ));
    assert!(matches!(
        d.record(&[w(0), w(2)].concat()),
        Err(DecodeError::UnknownProbe { id: 2, .. })
    ));
    let defs = decoder_with(vec![FieldKind::Buffer(8)]);
    let d = Decoder::new(&defs, 0);
    assert!(matches!(
        d.record(&[w(0), w(9), w(0)].concat()),
        Err(DecodeError::BufferLength { len: 9, .. })
    ));
    assert_eq!(
        d.record(&[w(0), w(2), b"ab\0\0\0\0\0\0".to_vec()].concat()),
        Ok(Event::Printf {
            id: 0,
            args: vec![FieldValue::Buffer(b"ab".to_vec())]
        })
    );
}

#[test]
fn per_cpu_counts_are_summed_and_keys_decoded() {
    let map = UserMap {
        name: "@c".into(),
        key: vec![FieldKind::Str(8), FieldKind::Int { signed: true }],
        value: ValueKind::Count,
        value_fields: Vec::new(),
    };
    let key = [b"ab\0\0\0\0\0\0".to_vec(), w(-3)].concat();
    let e = Decoder::new(&[], 0)
        .map(&map, &[(key, vec![w(2), w(5)])])
        .expect("decodes");
    assert_eq!(
        e,
        vec![DecodedEntry {
            key: vec![
                FieldValue::Str(b"ab".to_vec()),
                FieldValue::Int {
                    value: -3,
                    signed: true
                }
            ],
            value: MapValue::Count(7),
            named: None
        }]
    );
}

#[test]
fn min_ignores_cpus_that_never_stored() {
    let map = UserMap {
        name: "@m".into(),
        key: vec![],
        value: ValueKind::Min,
        value_fields: Vec::new(),
    };
    let cpu = |v: i64, set: i64| [w(v), w(set)].concat();
    let raw = vec![(w(0), vec![cpu(0, 0), cpu(9, 1), cpu(4, 1)])];
    let e = Decoder::new(&[], 0).map(&map, &raw).expect("decodes");
    assert_eq!(e[0].value, MapValue::Min(4));
}

#[test]
fn histogram_buckets_are_grouped_per_key() {
    let map = UserMap {
        name: "@h".into(),
        key: vec![FieldKind::Int { signed: false }],
        value: ValueKind::Hist,
        value_fields: Vec::new(),
    };
    let k = |user: i64, bucket: i64| [w(user), w(bucket)].concat();
    let scalar = UserMap {
        name: "@s".into(),
        key: vec![],
        value: ValueKind::Hist,
        value_fields: Vec::new(),
    };
    let e = Decoder::new(&[], 0)
        .map(&scalar, &[(k(0, 4), vec![w(3)])])
        .expect("decodes");
    assert_eq!(e[0].value, MapValue::Hist(vec![(4, 3)]));
    let raw = vec![
        (k(1, 3), vec![w(1), w(1)]),
        (k(2, 2), vec![w(4), w(0)]),
        (k(1, 2), vec![w(0), w(5)]),
    ];
    let e = Decoder::new(&[], 0).map(&map, &raw).expect("decodes");
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].value, MapValue::Hist(vec![(2, 5), (3, 2)]));
    assert_eq!(e[1].value, MapValue::Hist(vec![(2, 4)]));
}

#[test]
fn truncated_map_bytes_are_errors_not_zeros() {
    let map = UserMap {
        name: "@a".into(),
        key: vec![FieldKind::Str(16)],
        value: ValueKind::Avg,
        value_fields: Vec::new(),
    };
    let d = Decoder::new(&[], 0);
    assert!(matches!(
        d.map(&map, &[(vec![1, 2], vec![vec![0; 16]])]),
        Err(DecodeError::Short { .. })
    ));
    assert!(matches!(
        d.map(&map, &[(vec![0; 16], vec![vec![1]])]),
        Err(DecodeError::Short { field: "count", .. })
    ));
    assert!(matches!(
        d.map(&map, &[(vec![0; 16], vec![])]),
        Err(DecodeError::NoValue { .. })
    ));
}

#[test]
fn stack_frames_end_at_the_first_zero() {
    let bytes = [w(0x10), w(0x20), w(0), w(0x30)].concat();
    assert_eq!(stack_frames(&bytes), Ok(vec![0x10, 0x20]));
    assert!(matches!(
        stack_frames(&[0; 12]),
        Err(DecodeError::NotWords { len: 12, .. })
    ));
}

#[test]
fn reads_past_the_end_or_at_huge_offsets_are_named_errors() {
    let bytes = ustrace_abi::Bytes::new(&[1, 2, 3], "test bytes");
    assert_eq!(bytes.slice(1, 2, "pair"), Ok(&[2u8, 3][..]));
    let err = bytes.u64_at(0, "word").unwrap_err();
    assert_eq!(
        err.to_string(),
        "test bytes: word needs 8 bytes at offset 0, but it has 3"
    );
    assert!(bytes.slice(usize::MAX, 2, "wrapping").is_err());
}
