use super::*;
use crate::{json, render_map, MapEntry, MapStyle, MapValue, Value};
use ustrace_abi::{TseriesAgg, TseriesPoint, WallClock};

/// A series of `values` from epoch `first` on (`None`: no data).
fn series(interval_ns: u64, n: u64, first: u64, values: &[Option<i64>]) -> Tseries {
    Tseries {
        interval_ns,
        num_intervals: n,
        agg: TseriesAgg::Last,
        signed: true,
        clock: WallClock::default(),
        points: values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.map(|value| TseriesPoint {
                    epoch: first + i as u64,
                    value,
                })
            })
            .collect(),
    }
}

fn scalar(t: Tseries) -> Vec<MapEntry> {
    vec![MapEntry {
        key: vec![],
        value: MapValue::Tseries(t),
    }]
}

const MS100: u64 = 100_000_000;

/// bpftrace's manual, docs/stdlib.md, tseries example two (the zigzag),
/// rows from 10:39:49.300 UTC every 100 ms.
#[test]
fn the_manuals_zigzag_graph() {
    let values = [
        -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0, -1, -2, -3, -4,
    ];
    let first = 383_893; // 38389.3 s after midnight, in 100 ms epochs
    let t = series(MS100, 20, first, &values.map(Some));
    let expected = "@:
             -5                                                  5
hh:mm:ss.ms  |___________________________________________________|
10:39:49.300 *                         .                         | -5
10:39:49.400 |    *                    .                         | -4
10:39:49.500 |         *               .                         | -3
10:39:49.600 |              *          .                         | -2
10:39:49.700 |                   *     .                         | -1
10:39:49.800 |                         *                         | 0
10:39:49.900 |                         .    *                    | 1
10:39:50.000 |                         .         *               | 2
10:39:50.100 |                         .              *          | 3
10:39:50.200 |                         .                   *     | 4
10:39:50.300 |                         .                         * 5
10:39:50.400 |                         .                   *     | 4
10:39:50.500 |                         .              *          | 3
10:39:50.600 |                         .         *               | 2
10:39:50.700 |                         .    *                    | 1
10:39:50.800 |                         *                         | 0
10:39:50.900 |                   *     .                         | -1
10:39:51.000 |              *          .                         | -2
10:39:51.100 |         *               .                         | -3
10:39:51.200 |    *                    .                         | -4
             v___________________________________________________v
             -5                                                  5

";
    assert_eq!(render_map("@", &scalar(t)), expected);
}

/// bpftrace's manual, tseries example one (`"min"` of random values).
#[test]
fn the_manuals_min_graph() {
    let values = [0, 0, 1, 2, 1, 0, 1, 0, 1, 0, 2, 0, 0, 1, 1, 1, 0, 2, 1, 1];
    let t = series(MS100, 20, 385_067, &values.map(Some));
    let expected = "@:
             0                                                   2
hh:mm:ss.ms  |___________________________________________________|
10:41:46.700 *                                                   | 0
10:41:46.800 *                                                   | 0
10:41:46.900 |                         *                         | 1
10:41:47.000 |                                                   * 2
10:41:47.100 |                         *                         | 1
10:41:47.200 *                                                   | 0
10:41:47.300 |                         *                         | 1
10:41:47.400 *                                                   | 0
10:41:47.500 |                         *                         | 1
10:41:47.600 *                                                   | 0
10:41:47.700 |                                                   * 2
10:41:47.800 *                                                   | 0
10:41:47.900 *                                                   | 0
10:41:48.000 |                         *                         | 1
10:41:48.100 |                         *                         | 1
10:41:48.200 |                         *                         | 1
10:41:48.300 *                                                   | 0
10:41:48.400 |                                                   * 2
10:41:48.500 |                         *                         | 1
10:41:48.600 |                         *                         | 1
             v___________________________________________________v
             0                                                   2

";
    assert_eq!(render_map("@", &scalar(t)), expected);
}

/// Two keys sharing the map's newest epoch: the older key's graph ends
/// with an interval without data (`-`), and it prints first.
#[test]
fn keyed_maps_share_the_newest_epoch_and_gaps_print_a_dash() {
    let ms = 1_000_000;
    let first = 173_482_611; // 00:11:22.611 UTC
    let old = series(ms, 5, first, &[Some(1), Some(2), Some(3), Some(4), Some(5)]);
    let new = series(
        ms,
        5,
        first + 1,
        &[Some(1), Some(2), Some(3), Some(4), Some(5)],
    );
    let entries = vec![
        MapEntry {
            key: vec![Value::Int(1)],
            value: MapValue::Tseries(new),
        },
        MapEntry {
            key: vec![Value::Int(0)],
            value: MapValue::Tseries(old),
        },
    ];
    let expected = "@m[0]:
             2                                                   5
hh:mm:ss.ms  |___________________________________________________|
00:11:22.612 *                                                   | 2
00:11:22.613 |                *                                  | 3
00:11:22.614 |                                 *                 | 4
00:11:22.615 |                                                   * 5
00:11:22.616 |                                                   | -
             v___________________________________________________v
             2                                                   5

@m[1]:
             1                                                   5
hh:mm:ss.ms  |___________________________________________________|
00:11:22.612 *                                                   | 1
00:11:22.613 |            *                                      | 2
00:11:22.614 |                         *                         | 3
00:11:22.615 |                                      *            | 4
00:11:22.616 |                                                   * 5
             v___________________________________________________v
             1                                                   5

";
    assert_eq!(render_map("@m", &entries), expected);
    assert_eq!(
        json::map("@m", MapStyle::Tseries, &entries),
        "{\"type\": \"tseries\", \"data\": {\"@m\": {\"0\": [\
         {\"interval_start\":\"1970-01-03T00:11:22.612000000\",\"value\":2},\
         {\"interval_start\":\"1970-01-03T00:11:22.613000000\",\"value\":3},\
         {\"interval_start\":\"1970-01-03T00:11:22.614000000\",\"value\":4},\
         {\"interval_start\":\"1970-01-03T00:11:22.615000000\",\"value\":5}], \"1\": [\
         {\"interval_start\":\"1970-01-03T00:11:22.612000000\",\"value\":1},\
         {\"interval_start\":\"1970-01-03T00:11:22.613000000\",\"value\":2},\
         {\"interval_start\":\"1970-01-03T00:11:22.614000000\",\"value\":3},\
         {\"interval_start\":\"1970-01-03T00:11:22.615000000\",\"value\":4},\
         {\"interval_start\":\"1970-01-03T00:11:22.616000000\",\"value\":5}]}}}\n"
    );
}

/// One row: bpftrace shows nanoseconds (no spacing to size the unit from)
/// and widens min/max by one around the single value; seconds-long
/// intervals show no fraction; the wall clock moves the times.
#[test]
fn one_row_units_and_the_wall_clock() {
    let mut t = series(1_000_000_000, 3, 1_000, &[Some(7)]);
    t.clock = WallClock {
        unix_offset_ns: -37_000_000_000,
        local_offset_s: 3600,
    };
    // 1000 s TAI = 963 s Unix = 00:16:03 UTC = 01:16:03 at UTC+1.
    let bounds = format!("6{}8", " ".repeat(51));
    let expected = format!(
        "@:\n{pad} {bounds}\nhh:mm:ss.ns{pad8}|{bar}|\n01:16:03.000000000 |{half}*{half}| 7\n{pad} v{bar}v\n{pad} {bounds}\n\n",
        pad = " ".repeat(18),
        pad8 = " ".repeat(8),
        bar = "_".repeat(51),
        half = " ".repeat(25),
    );
    assert_eq!(render_map("@", &scalar(t.clone())), expected);
    t.points.push(TseriesPoint {
        epoch: 1_002,
        value: 9,
    });
    let text = render_map("@", &scalar(t));
    assert!(text.contains("\nhh:mm:ss |"), "{text}");
    assert!(text.contains("\n01:16:04 |"), "{text}");
    assert!(text.contains(" -\n"), "a gap at 01:16:04: {text}");
}

#[test]
fn microseconds_header_counts_bytes_and_unsigned_values() {
    let mut t = series(1_000, 4, 10, &[Some(0), Some(-1)]);
    t.signed = false;
    let text = render_map("@u", &scalar(t));
    let lines: Vec<&str> = text.lines().collect();
    // "hh:mm:ss.μs" is 12 bytes, padded to 16 bytes.
    assert_eq!(
        lines[2],
        format!("hh:mm:ss.μs    |{}|", "_".repeat(51)),
        "{text}"
    );
    assert!(lines[1].ends_with("18446744073709551615"), "{text}");
    assert!(lines[3].starts_with("00:00:00.000010 *"), "{text}");
    assert!(lines[4].ends_with("* 18446744073709551615"), "{text}");
}

#[test]
fn dates_from_day_numbers() {
    assert_eq!(civil_date(0), (1970, 1, 1));
    assert_eq!(civil_date(2), (1970, 1, 3));
    assert_eq!(civil_date(-1), (1969, 12, 31));
    assert_eq!(civil_date(11_016), (2000, 2, 29));
    assert_eq!(civil_date(20_787), (2026, 11, 30));
    assert_eq!(iso_local(1_500_000_000), "1970-01-01T00:00:01.500000000");
}

#[test]
fn a_key_without_data_in_the_window_shows_its_last_row_empty() {
    let old = series(MS100, 2, 10, &[Some(3)]);
    let new = series(MS100, 2, 20, &[Some(4)]);
    let entries = vec![
        MapEntry {
            key: vec![Value::Str(b"old".to_vec())],
            value: MapValue::Tseries(old),
        },
        MapEntry {
            key: vec![Value::Str(b"new".to_vec())],
            value: MapValue::Tseries(new),
        },
    ];
    let text = render_map("@k", &entries);
    assert!(
        text.starts_with("@k[old]:\n")
            && text.contains(&format!("00:00:02.000000000 |{0}.{0}| -\n", " ".repeat(25))),
        "{text}"
    );
    let j = json::map("@k", MapStyle::Tseries, &entries);
    assert!(j.contains("{\"old\": [], \"new\": [{"), "{j}");
}
