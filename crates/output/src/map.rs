//! Rendering maps the way bpftrace 0.17 prints them, at exit and for
//! `print(@m)`.
//!
//! # Layout
//!
//! Each entry is `@name[key1, key2]: value` (no brackets without keys);
//! entries are separated by newlines and the map ends with a newline:
//!
//! * plain maps (ints, strings, `count`, `sum`, `min`, `max`): one line per
//!   entry, nothing after the last one;
//! * `avg` and `stats` maps: one line per entry (`@s: count 2, average 3,
//!   total 7` for stats), then one blank line after the whole map;
//! * `hist` and `lhist` maps: `@h[key]: ` on its own line, then the
//!   histogram lines, then a blank line after each entry.
//!
//! An empty map prints just a newline (two for avg/stats: see [`MapStyle`]).
//! (A scalar `count()` map holding nothing prints `@c: 0` in bpftrace 0.17:
//! the library that reads maps hands such a map one entry, 0.)
//!
//! # Order
//!
//! * int, `count`, `sum`, `min`, `max` maps: by value, ascending (signed
//!   for `Int`/`Sum`/`Min`/`Max`, unsigned for `UInt`/`Count`);
//! * string-valued maps: by key: field by field, integers as unsigned
//!   64-bit numbers (so `-1` sorts after `256`), strings byte-wise;
//! * `avg`/`stats` maps: by average; `hist`/`lhist` maps: by the total of
//!   their buckets. Ties are ordered like bpftrace's raw keys: integers by
//!   their little-endian bytes (so `256` comes before `1`), strings
//!   byte-wise.
//!
//! bpftrace breaks ties among plain maps in hash-table order, which cannot
//! be reproduced; they are ordered by key as for string-valued maps.
//!
//! # Histograms
//!
//! A histogram prints the buckets from the first non-empty one to the last
//! one (`lhist` likewise, including its `(..., min)` and `[max, ...)`
//! buckets), each as a 16-column left-aligned label, an 8-column
//! right-aligned count, and a bar of up to 52 `@` scaled to the largest
//! bucket (computed in `f32` and truncated, as bpftrace does). `hist`
//! labels are powers of two with `K`, `M`, `G`, `T` suffixes (`[1K, 2K)`);
//! `lhist` labels use `K`/`M` for multiples of 1024 / 1048576. All-zero
//! histograms print no lines.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::{tuple_text, until_nul, MapEntry, MapStyle, MapValue, Value};

/// What bpftrace prints at exit before the maps (two newlines).
pub const EXIT_PREAMBLE: &str = "\n\n";

/// Number of `hist()` buckets: indices 0 to 64 (see [`hist_bucket`]).
pub const HIST_BUCKETS: usize = 65;

/// Most inner `lhist()` buckets rendered as a dense range. bpftrace rejects
/// more than this; a map with more (which only a hand-built [`MapValue`]
/// can have) prints only its non-empty buckets.
pub const LHIST_MAX_BUCKETS: u64 = 1000;

/// Renders one map the way bpftrace 0.17 prints it at exit / for print(@m), including the trailing blank line bpftrace emits after each map.
///
/// (bpftrace emits that blank line only after avg/stats maps and after each
/// histogram entry; see the [module docs](self).) The kind of map is taken
/// from the first entry; an empty map renders as `"\n"`, which is right for
/// every kind but avg/stats (use [`render_map_with_kind`] for those).
pub fn render_map(name: &str, entries: &[MapEntry]) -> String {
    let kind = entries
        .first()
        .map_or(MapStyle::Plain, |e| MapStyle::of(&e.value));
    render_map_with_kind(name, kind, entries)
}

/// Like [`render_map`] with the kind of map given, which matters only when
/// `entries` is empty: an empty avg/stats map prints `"\n\n"`, any other
/// `"\n"`.
pub fn render_map_with_kind(name: &str, kind: MapStyle, entries: &[MapEntry]) -> String {
    let mut sorted: Vec<&MapEntry> = entries.iter().collect();
    sort_entries(kind, &mut sorted);
    let last_epoch = crate::tseries::last_epoch(&sorted);
    let mut out = String::new();
    for (i, e) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(name);
        out.push_str(&key_text(&e.key));
        if let MapValue::Tseries(t) = &e.value {
            // Today's bpftrace: `@m[k]:` alone on its line, then the graph.
            out.push_str(":\n");
            crate::tseries::render_graph(&mut out, t, last_epoch);
            continue;
        }
        out.push_str(": ");
        render_value_into(&mut out, &e.value);
    }
    out.push('\n');
    if kind == MapStyle::Stats {
        out.push('\n');
    }
    out
}

/// Log2 bucket used by the BPF code: 0 for v < 0, 1 for v == 0, 2 + floor(log2(v)) for v >= 1.
pub fn hist_bucket(v: i64) -> u64 {
    match v {
        i64::MIN..=-1 => 0,
        0 => 1,
        _ => 2 + u64::from(63 - v.leading_zeros()),
    }
}

/// Linear bucket used by the BPF code: 0 for v < min, 1 + (v - min) / step for min <= v < max, and (max - min) / step + 1 for v >= max (the "at or above max" bucket).
///
/// With `n` = [`lhist_inner_buckets`]: values in `[min, max)` go to
/// `1 + (v - min) / step`, which never exceeds `n + 1`, so when `max - min`
/// is not a multiple of `step` the last partial range shares the top bucket
/// (labelled `[max, ...)`), exactly as in bpftrace. A `step <= 0` or
/// `max <= min` (which bpftrace rejects) gives `n = 0`: bucket 0 below `min`,
/// bucket 1 otherwise.
pub fn lhist_bucket(v: i64, min: i64, max: i64, step: i64) -> u64 {
    if v < min {
        return 0;
    }
    let top = lhist_inner_buckets(min, max, step).saturating_add(1);
    if v >= max || step <= 0 {
        return top;
    }
    let inner = (i128::from(v) - i128::from(min)) / i128::from(step);
    u64::try_from(inner).map_or(top, |i| i.saturating_add(1).min(top))
}

/// The number of inner `lhist` buckets: `(max - min) / step`, or 0 when
/// `step <= 0` or `max <= min`. Bucket 0 is below `min`, buckets 1 to `n`
/// are the inner ones, bucket `n + 1` is at or above `max`.
pub fn lhist_inner_buckets(min: i64, max: i64, step: i64) -> u64 {
    if step <= 0 || max <= min {
        return 0;
    }
    let n = (i128::from(max) - i128::from(min)) / i128::from(step);
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `[k1, k2]`, or nothing for a scalar map.
fn key_text(key: &[Value]) -> String {
    if key.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = key.iter().map(Value::to_text).collect();
    format!("[{}]", parts.join(", "))
}

/// Appends the text after `@name[key]: `.
fn render_value_into(out: &mut String, value: &MapValue) {
    match value {
        MapValue::Int(v) | MapValue::Sum(v) | MapValue::Min(v) | MapValue::Max(v) => {
            let _ = write!(out, "{v}");
        }
        MapValue::UInt(v) | MapValue::Count(v) => {
            let _ = write!(out, "{v}");
        }
        MapValue::Str(b) => out.push_str(&String::from_utf8_lossy(until_nul(b))),
        MapValue::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        MapValue::Tuple(items) => out.push_str(&tuple_text(items)),
        MapValue::Avg { count, sum } => {
            let _ = write!(out, "{}", average(*count, *sum));
        }
        MapValue::Stats { count, sum } => {
            let _ = write!(
                out,
                "count {}, average {}, total {}",
                *count as i64,
                average(*count, *sum),
                sum
            );
        }
        MapValue::Hist(buckets) => {
            out.push('\n');
            render_hist(out, buckets);
        }
        MapValue::FineHist { bits, buckets } => {
            out.push('\n');
            crate::fine_hist::render_fine_hist(out, *bits, buckets);
        }
        MapValue::Lhist {
            min,
            max,
            step,
            buckets,
        } => {
            out.push('\n');
            render_lhist(out, *min, *max, *step, buckets);
        }
        MapValue::Tseries(t) => {
            out.push('\n');
            crate::tseries::render_graph(out, t, t.last_epoch());
        }
    }
}

/// bpftrace's average: the count read as a signed number, integer division
/// truncating toward zero, 0 for no values.
pub(crate) fn average(count: u64, sum: i64) -> i64 {
    let count = count as i64;
    if count == 0 {
        0
    } else {
        sum.wrapping_div(count)
    }
}

/// A `hist` map's counts per log2 bucket, with the first and last
/// non-empty bucket; `None` when all are empty. Shared by text and JSON.
pub(crate) fn hist_counts(buckets: &[(u64, u64)]) -> Option<([u64; HIST_BUCKETS], usize, usize)> {
    let mut counts = [0u64; HIST_BUCKETS];
    for &(i, c) in buckets {
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| counts.get_mut(i)) {
            *slot = slot.saturating_add(c);
        }
    }
    let first = counts.iter().position(|&c| c > 0)?;
    let last = counts.iter().rposition(|&c| c > 0)?;
    Some((counts, first, last))
}

/// An `lhist` map's non-zero counts per bucket index up to `top` (the
/// `[max, ...)` bucket). Shared by text and JSON.
pub(crate) fn lhist_counts(buckets: &[(u64, u64)], top: u64) -> BTreeMap<u64, u64> {
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    for &(i, c) in buckets {
        if i <= top && c > 0 {
            let slot = counts.entry(i).or_insert(0);
            *slot = slot.saturating_add(c);
        }
    }
    counts
}

/// The `hist` lines (each ending in a newline); nothing when all are zero.
fn render_hist(out: &mut String, buckets: &[(u64, u64)]) {
    let Some((counts, first, last)) = hist_counts(buckets) else {
        return;
    };
    let max = counts.iter().copied().max().unwrap_or(0);
    for (i, &count) in counts.iter().enumerate().take(last + 1).skip(first) {
        let label = match i {
            0 => "(..., 0)".to_string(),
            1 => "[0]".to_string(),
            2 => "[1]".to_string(),
            _ => format!("[{}, {})", hist_label(i - 2), hist_label(i - 1)),
        };
        hist_line(out, &label, count, max);
    }
}

/// `2^power` with a `K`/`M`/`G`/`T` suffix (`1K`, `512M`, `1024T`).
fn hist_label(power: usize) -> String {
    let (power, suffix) = match power {
        40.. => (power - 40, "T"),
        30.. => (power - 30, "G"),
        20.. => (power - 20, "M"),
        10.. => (power - 10, "K"),
        _ => (power, ""),
    };
    match 1u64.checked_shl(u32::try_from(power).unwrap_or(u32::MAX)) {
        Some(v) => format!("{v}{suffix}"),
        None => format!("2^{power}{suffix}"),
    }
}

/// The `lhist` lines (each ending in a newline); nothing when all are zero.
fn render_lhist(out: &mut String, min: i64, max: i64, step: i64, buckets: &[(u64, u64)]) {
    let n = lhist_inner_buckets(min, max, step);
    let top = n.saturating_add(1);
    let counts = lhist_counts(buckets, top);
    let (Some((&first, _)), Some((&last, _))) = (counts.first_key_value(), counts.last_key_value())
    else {
        return;
    };
    let peak = counts.values().copied().max().unwrap_or(0);
    let label = |i: u64| -> String {
        if i == 0 {
            format!("(..., {})", lhist_label(i128::from(min)))
        } else if i == top {
            format!("[{}, ...)", lhist_label(i128::from(max)))
        } else {
            let lo = i128::from(i - 1)
                .saturating_mul(i128::from(step))
                .saturating_add(i128::from(min));
            let hi = lo.saturating_add(i128::from(step));
            format!("[{}, {})", lhist_label(lo), lhist_label(hi))
        }
    };
    if n <= LHIST_MAX_BUCKETS {
        for i in first..=last {
            let count = counts.get(&i).copied().unwrap_or(0);
            hist_line(out, &label(i), count, peak);
        }
    } else {
        for (&i, &count) in &counts {
            hist_line(out, &label(i), count, peak);
        }
    }
}

/// A bound as `lhist` prints it: `0`, `3M` for multiples of 1048576, `2K`
/// for multiples of 1024, else the number.
fn lhist_label(v: i128) -> String {
    const KILO: i128 = 1024;
    const MEGA: i128 = 1024 * 1024;
    if v == 0 {
        "0".to_string()
    } else if v % MEGA == 0 {
        format!("{}M", v / MEGA)
    } else if v % KILO == 0 {
        format!("{}K", v / KILO)
    } else {
        v.to_string()
    }
}

/// One histogram line: label, count, bar.
pub(crate) fn hist_line(out: &mut String, label: &str, count: u64, max: u64) {
    const BAR: usize = 52;
    let bar = if max == 0 {
        0
    } else {
        // bpftrace: `int bar_width = count / (float)max * 52;`
        ((count as f32 / max as f32 * BAR as f32) as usize).min(BAR)
    };
    let _ = writeln!(out, "{label:<16}{count:>8} |{:<BAR$}|", "@".repeat(bar));
}

/// Sorts entries in the order bpftrace prints them (text and JSON alike).
pub(crate) fn sort_for_output(kind: MapStyle, entries: &mut [&MapEntry]) {
    sort_entries(kind, entries);
}

/// Sorts entries as bpftrace does (see the module docs).
fn sort_entries(kind: MapStyle, entries: &mut [&MapEntry]) {
    match kind {
        MapStyle::Plain => {
            let by_key = entries.iter().all(|e| matches!(e.value, MapValue::Str(_)));
            if by_key {
                entries.sort_by(|a, b| key_order(&a.key, &b.key));
            } else {
                entries.sort_by(|a, b| {
                    rank(&a.value)
                        .cmp(&rank(&b.value))
                        .then_with(|| key_order(&a.key, &b.key))
                });
            }
        }
        MapStyle::Tseries => {
            crate::tseries::sort(entries, |a, b| raw_key_order(&a.key, &b.key));
        }
        MapStyle::Stats | MapStyle::Hist => {
            entries.sort_by(|a, b| {
                rank(&a.value)
                    .cmp(&rank(&b.value))
                    .then_with(|| raw_key_order(&a.key, &b.key))
            });
        }
    }
}

/// The number bpftrace sorts a map's entries by (value, average, or a
/// histogram's total count).
pub fn rank(value: &MapValue) -> i128 {
    match value {
        MapValue::Int(v) | MapValue::Sum(v) | MapValue::Min(v) | MapValue::Max(v) => i128::from(*v),
        MapValue::UInt(v) | MapValue::Count(v) => i128::from(*v),
        MapValue::Avg { count, sum } | MapValue::Stats { count, sum } => {
            i128::from(average(*count, *sum))
        }
        MapValue::Hist(b)
        | MapValue::FineHist { buckets: b, .. }
        | MapValue::Lhist { buckets: b, .. } => b
            .iter()
            .fold(0i128, |acc, &(_, c)| acc.saturating_add(i128::from(c))),
        MapValue::Bool(b) => i128::from(*b),
        MapValue::Tseries(t) => i128::from(t.last_epoch()),
        MapValue::Str(_) | MapValue::Tuple(_) => 0,
    }
}

/// bpftrace's key order for maps sorted by key: field by field, integers as
/// unsigned 64-bit numbers, strings byte-wise up to the NUL, integers
/// before strings, shorter keys first.
fn key_order(a: &[Value], b: &[Value]) -> Ordering {
    field_order(a, b, |x, y| bits(x).cmp(&bits(y)))
}

/// The order of bpftrace's raw keys: integers by their little-endian bytes.
fn raw_key_order(a: &[Value], b: &[Value]) -> Ordering {
    field_order(a, b, |x, y| {
        bits(x).to_le_bytes().cmp(&bits(y).to_le_bytes())
    })
}

/// Keys in the order a reader expects: field by field, integers by their
/// value (signed ones as signed: `-1` before `0`, `11` before `104`),
/// strings byte-wise up to the NUL, integers before strings, shorter keys
/// first. For tables whose ties bpftrace (or BCC) leaves in hash order.
pub fn numeric_key_order(a: &[Value], b: &[Value]) -> Ordering {
    let number = |v: &Value| match v {
        Value::Int(v) => i128::from(*v),
        other => i128::from(bits(other)),
    };
    field_order(a, b, |x, y| number(x).cmp(&number(y)))
}

/// An integer field's 64-bit pattern (0 for a tuple).
fn bits(v: &Value) -> u64 {
    v.bits().unwrap_or(0)
}

fn field_order(
    a: &[Value],
    b: &[Value],
    int_order: impl Fn(&Value, &Value) -> Ordering,
) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Value::Str(x), Value::Str(y)) => until_nul(x).cmp(until_nul(y)),
            (Value::Str(_), _) => Ordering::Greater,
            (_, Value::Str(_)) => Ordering::Less,
            _ => int_order(x, y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_key_order_reads_numbers_as_numbers() {
        let mut keys = vec![
            vec![Value::UInt(104)],
            vec![Value::Str(b"a".to_vec())],
            vec![Value::UInt(11)],
            vec![Value::Int(-1)],
            vec![Value::UInt(u64::MAX)],
            vec![Value::Int(0), Value::Str(b"b\0x".to_vec())],
            vec![Value::Int(0), Value::Str(b"a".to_vec())],
        ];
        keys.sort_by(|a, b| numeric_key_order(a, b));
        assert_eq!(
            keys,
            vec![
                vec![Value::Int(-1)],
                vec![Value::Int(0), Value::Str(b"a".to_vec())],
                vec![Value::Int(0), Value::Str(b"b\0x".to_vec())],
                vec![Value::UInt(11)],
                vec![Value::UInt(104)],
                vec![Value::UInt(u64::MAX)],
                vec![Value::Str(b"a".to_vec())],
            ]
        );
    }

    #[test]
    fn hist_buckets() {
        assert_eq!(hist_bucket(i64::MIN), 0);
        assert_eq!(hist_bucket(-1), 0);
        assert_eq!(hist_bucket(0), 1);
        assert_eq!(hist_bucket(1), 2);
        assert_eq!(hist_bucket(2), 3);
        assert_eq!(hist_bucket(3), 3);
        assert_eq!(hist_bucket(4), 4);
        assert_eq!(hist_bucket(1023), 11);
        assert_eq!(hist_bucket(1024), 12);
        assert_eq!(hist_bucket(i64::MAX), 64);
    }

    #[test]
    fn lhist_buckets() {
        assert_eq!(lhist_bucket(-5, 0, 100, 10), 0);
        assert_eq!(lhist_bucket(0, 0, 100, 10), 1);
        assert_eq!(lhist_bucket(15, 0, 100, 10), 2);
        assert_eq!(lhist_bucket(99, 0, 100, 10), 10);
        assert_eq!(lhist_bucket(100, 0, 100, 10), 11);
        assert_eq!(lhist_bucket(150, 0, 100, 10), 11);
        // (max - min) not a multiple of step: the last partial range shares the top bucket.
        assert_eq!(lhist_inner_buckets(0, 25, 10), 2);
        assert_eq!(lhist_bucket(19, 0, 25, 10), 2);
        assert_eq!(lhist_bucket(22, 0, 25, 10), 3);
        assert_eq!(lhist_bucket(25, 0, 25, 10), 3);
        // Nonsense parameters do not panic.
        assert_eq!(lhist_bucket(5, 0, 10, 0), 1);
        assert_eq!(lhist_bucket(5, 10, 0, 1), 0);
        assert_eq!(lhist_bucket(i64::MAX - 1, i64::MIN, i64::MAX, 1), u64::MAX);
        assert_eq!(lhist_bucket(0, i64::MIN, i64::MAX, i64::MAX), 2);
    }

    #[test]
    fn labels() {
        assert_eq!(hist_label(0), "1");
        assert_eq!(hist_label(9), "512");
        assert_eq!(hist_label(10), "1K");
        assert_eq!(hist_label(20), "1M");
        assert_eq!(hist_label(30), "1G");
        assert_eq!(hist_label(40), "1T");
        assert_eq!(hist_label(50), "1024T");
        assert_eq!(hist_label(63), "8388608T");
        assert_eq!(lhist_label(0), "0");
        assert_eq!(lhist_label(1024), "1K");
        assert_eq!(lhist_label(3 * 1024 * 1024), "3M");
        assert_eq!(lhist_label(-2048), "-2K");
        assert_eq!(lhist_label(1000), "1000");
    }

    #[test]
    fn top_hist_bucket_labels() {
        let mut out = String::new();
        render_hist(&mut out, &[(hist_bucket(i64::MAX), 1)]);
        assert_eq!(
            out,
            format!(
                "{:<16}{:>8} |{}|\n",
                "[4194304T, 8388608T)",
                1,
                "@".repeat(52)
            )
        );
    }

    #[test]
    fn empty_maps() {
        assert_eq!(render_map("@c", &[]), "\n");
        assert_eq!(render_map_with_kind("@a", MapStyle::Stats, &[]), "\n\n");
        assert_eq!(render_map_with_kind("@h", MapStyle::Hist, &[]), "\n");
    }

    #[test]
    fn kinds() {
        assert_eq!(MapStyle::of(&MapValue::Count(1)), MapStyle::Plain);
        assert_eq!(
            MapStyle::of(&MapValue::Avg { count: 1, sum: 1 }),
            MapStyle::Stats
        );
        assert_eq!(MapStyle::of(&MapValue::Hist(vec![])), MapStyle::Hist);
    }

    #[test]
    fn averages() {
        assert_eq!(average(0, 5), 0);
        assert_eq!(average(2, -15), -7);
        assert_eq!(average(u64::MAX, i64::MIN), i64::MIN);
    }
}
