//! Property tests: rendering never panics, whatever the kernel (or a bug)
//! hands over.

use proptest::collection::{btree_set, vec};
use proptest::prelude::*;
use ustrace_lang::printf::{
    parse_format, Conversion, ConversionKind, FormatString, Segment, MAX_WIDTH,
};
use ustrace_output::{
    hist_bucket, lhist_bucket, lhist_inner_buckets, render_map, render_map_with_kind,
    render_printf, MapEntry, MapStyle, MapValue, Value,
};

#[path = "props_tseries/mod.rs"]
mod tseries_props;

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::UInt),
        vec(any::<u8>(), 0..24).prop_map(Value::Str),
    ]
}

fn size() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        Just(None),
        (0usize..40).prop_map(Some),
        any::<usize>().prop_map(Some)
    ]
}

fn conversion() -> impl Strategy<Value = Conversion> {
    let kind = prop_oneof![
        Just(ConversionKind::SignedDecimal),
        Just(ConversionKind::UnsignedDecimal),
        Just(ConversionKind::Hex { upper: false }),
        Just(ConversionKind::Hex { upper: true }),
        Just(ConversionKind::Octal),
        Just(ConversionKind::Char),
        Just(ConversionKind::Str),
        Just(ConversionKind::Pointer),
    ];
    let length = prop_oneof![
        Just(""),
        Just("hh"),
        Just("h"),
        Just("l"),
        Just("ll"),
        Just("z"),
        Just("j"),
        Just("q")
    ];
    ("[-0+ #]{0,6}", size(), size(), length, kind).prop_map(
        |(flags, width, precision, length, kind)| Conversion {
            flags,
            width,
            precision,
            length: length.to_string(),
            kind,
        },
    )
}

fn format() -> impl Strategy<Value = FormatString> {
    let segment = prop_oneof![
        any::<String>().prop_map(Segment::Literal),
        conversion().prop_map(Segment::Conversion)
    ];
    vec(segment, 0..8).prop_map(|segments| FormatString { segments })
}

fn bucket_index() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..70, 0u64..1010, any::<u64>()]
}

fn count() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..100, any::<u64>(), Just(u64::MAX)]
}

fn bound() -> impl Strategy<Value = i64> {
    prop_oneof![
        -50i64..2000,
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0)
    ]
}

fn map_value() -> impl Strategy<Value = MapValue> {
    prop_oneof![
        any::<i64>().prop_map(MapValue::Int),
        any::<u64>().prop_map(MapValue::UInt),
        vec(any::<u8>(), 0..24).prop_map(MapValue::Str),
        any::<u64>().prop_map(MapValue::Count),
        any::<i64>().prop_map(MapValue::Sum),
        any::<i64>().prop_map(MapValue::Min),
        any::<i64>().prop_map(MapValue::Max),
        (any::<u64>(), any::<i64>()).prop_map(|(count, sum)| MapValue::Avg { count, sum }),
        (any::<u64>(), any::<i64>()).prop_map(|(count, sum)| MapValue::Stats { count, sum }),
        vec((bucket_index(), count()), 0..12).prop_map(MapValue::Hist),
        (
            bound(),
            bound(),
            bound(),
            vec((bucket_index(), count()), 0..12)
        )
            .prop_map(|(min, max, step, buckets)| MapValue::Lhist {
                min,
                max,
                step,
                buckets
            }),
        tseries_props::series().prop_map(MapValue::Tseries),
    ]
}

fn entry() -> impl Strategy<Value = MapEntry> {
    (vec(value(), 0..4), map_value()).prop_map(|(key, value)| MapEntry { key, value })
}

proptest! {
    #[test]
    fn printf_never_panics(f in format(), args in vec(value(), 0..10)) {
        let out = render_printf(&f, &args);
        // Each conversion is at most MAX_WIDTH plus a sign, prefix and 64 digits.
        let literal: usize = f.segments.iter().map(|s| match s {
            Segment::Literal(l) => l.len(),
            Segment::Conversion(_) => 0,
        }).sum();
        // Lossy replacement may grow each byte to three.
        prop_assert!(out.len() <= 3 * (literal + f.segments.len() * (MAX_WIDTH + 100)));
    }

    #[test]
    fn parsed_printf_never_panics(text in any::<String>(), args in vec(value(), 0..10)) {
        if let Ok(f) = parse_format(&text) {
            let _ = render_printf(&f, &args);
        }
    }

    #[test]
    fn printf_like_text_never_panics(text in "([a-z%0-9.#+ lhzjdiuxXocsp-]|é){0,30}", args in vec(value(), 0..10)) {
        if let Ok(f) = parse_format(&text) {
            let _ = render_printf(&f, &args);
        }
    }

    #[test]
    fn map_never_panics(entries in vec(entry(), 0..6), name in "@[a-z]{0,5}") {
        let out = render_map(&name, &entries);
        prop_assert!(out.ends_with('\n'));
        for kind in [MapStyle::Plain, MapStyle::Stats, MapStyle::Hist] {
            let _ = render_map_with_kind(&name, kind, &entries);
        }
    }

    #[test]
    fn map_order_does_not_depend_on_input_order(
        keys in btree_set(any::<i64>(), 0..8),
        values in vec(map_value(), 8),
    ) {
        let entries: Vec<MapEntry> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| MapEntry { key: vec![Value::Int(*k)], value: v.clone() })
            .collect();
        let mut reversed = entries.clone();
        reversed.reverse();
        let kind = entries.first().map_or(MapStyle::Plain, |e| MapStyle::of(&e.value));
        prop_assert_eq!(
            render_map_with_kind("@m", kind, &entries),
            render_map_with_kind("@m", kind, &reversed)
        );
    }

    #[test]
    fn hist_bucket_is_monotonic(a in any::<i64>(), b in any::<i64>()) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(hist_bucket(lo) <= hist_bucket(hi));
        prop_assert!(hist_bucket(hi) <= 64);
    }

    #[test]
    fn lhist_bucket_in_range(v in bound(), min in bound(), max in bound(), step in bound()) {
        let b = lhist_bucket(v, min, max, step);
        let top = lhist_inner_buckets(min, max, step).saturating_add(1);
        prop_assert!(b <= top);
        prop_assert_eq!(b == 0, v < min);
        if v >= max && v >= min {
            prop_assert_eq!(b, top);
        }
    }

    #[test]
    fn lhist_bucket_matches_definition(v in -100i64..300, min in 0i64..50, span in 1i64..200, step in 1i64..40) {
        let max = min + span;
        let n = (max - min) / step;
        let want = if v < min {
            0
        } else if v >= max {
            n + 1
        } else {
            (1 + (v - min) / step).min(n + 1)
        };
        prop_assert_eq!(lhist_bucket(v, min, max, step), want as u64);
    }
}
