//! Property tests of `tseries()` rendering (included by props.rs): any
//! series renders without panicking, with one row per interval of its
//! window at most, each row a 53-column graph with at most one `*`, and
//! JSON listing exactly the rows that hold data.

use proptest::collection::vec;
use proptest::prelude::*;
use ustrace_abi::{Tseries, TseriesAgg, TseriesPoint, WallClock};
use ustrace_output::{json, render_map, MapEntry, MapStyle, MapValue, Value};

/// A series with points near `base` (or anywhere, to reach the limits).
pub fn series() -> impl Strategy<Value = Tseries> {
    let epochs = prop_oneof![
        (0u64..1_000_000, vec(0u64..40, 0..12))
            .prop_map(|(base, offs)| offs.into_iter().map(|o| base + o).collect::<Vec<_>>()),
        vec(any::<u64>(), 0..6),
    ];
    (
        prop_oneof![1u64..2_000, 1_000_000u64..2_000_000_000, any::<u64>()],
        1u64..30,
        any::<bool>(),
        (any::<i64>(), -50_000i64..50_000),
        epochs,
        vec(any::<i64>(), 12),
    )
        .prop_map(
            |(interval_ns, num_intervals, signed, (unix, local), epochs, values)| {
                let mut points: Vec<TseriesPoint> = epochs
                    .into_iter()
                    .zip(values)
                    .map(|(epoch, value)| TseriesPoint { epoch, value })
                    .collect();
                points.sort_by_key(|p| p.epoch);
                points.dedup_by_key(|p| p.epoch);
                Tseries {
                    interval_ns,
                    num_intervals,
                    agg: TseriesAgg::Sum,
                    signed,
                    clock: WallClock {
                        unix_offset_ns: unix,
                        local_offset_s: local,
                    },
                    points,
                }
            },
        )
}

proptest! {
    #[test]
    fn graphs_keep_their_shape(list in vec(series(), 1..4)) {
        let entries: Vec<MapEntry> = list
            .iter()
            .enumerate()
            .map(|(i, t)| MapEntry {
                key: vec![Value::Int(i as i64)],
                value: MapValue::Tseries(t.clone()),
            })
            .collect();
        let text = render_map("@t", &entries);
        let mut rows = 0;
        let mut data_rows = 0;
        for line in text.lines() {
            // A row: time, space, the 53-column graph, space, value or `-`.
            let Some((time, rest)) = line.split_once(' ') else { continue };
            if !time.as_bytes().first().is_some_and(u8::is_ascii_digit) || rest.len() < 55 {
                continue;
            }
            rows += 1;
            let graph = &rest[..53];
            prop_assert!(graph.starts_with(['|', '*']) && graph.ends_with(['|', '*', '.']), "{line}");
            let stars = graph.matches('*').count();
            prop_assert!(stars <= 1, "{line}");
            if stars == 1 {
                data_rows += 1;
            } else {
                prop_assert!(rest.ends_with(" -"), "{line}");
            }
        }
        let most: u64 = list.iter().map(|t| t.num_intervals).sum();
        prop_assert!(rows as u64 <= most, "{rows} rows: {text}");
        let line = json::map("@t", MapStyle::Tseries, &entries);
        prop_assert_eq!(line.matches("interval_start").count(), data_rows, "{} / {}", line, text);
    }
}
