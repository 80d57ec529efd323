//! bpftrace's `-f json` output: one JSON object per line (NDJSON), in the
//! schema bpftrace 0.17 prints:
//!
//! ```text
//! {"type": "attached_probes", "data": {"probes": 1}}
//! {"type": "printf", "data": "hi 1\n"}
//! {"type": "map", "data": {"@x": {"1,a": 5}}}
//! {"type": "hist", "data": {"@h": [{"min": 4, "max": 7, "count": 1}]}}
//! {"type": "stats", "data": {"@st": {"count": 1, "average": 4, "total": 4}}}
//! {"type": "lost_events", "data": {"events": 3}}
//! {"type": "tseries", "data": {"@t": [{"interval_start":"2026-11-30T14:11:07.000000000","value":5}]}}
//! ```
//!
//! Keys of keyed maps are their fields joined by `,`; avg maps are of type
//! `stats` with the average as value; histograms list their buckets from
//! the first to the last non-empty one (`min` left out below zero or below
//! an lhist's min, `max` left out at or above an lhist's max); time series
//! (today's bpftrace's `tseries` type) list their intervals holding data,
//! each with its local start time (see `crate::tseries`). An empty map
//! prints nothing. Entries come in the text output's order.

use std::fmt::Write;

use crate::map::{average, hist_counts, lhist_counts, lhist_inner_buckets, sort_for_output};
use crate::{until_nul, MapEntry, MapStyle, MapValue, Value};

/// A JSON string literal for `s` (quotes included).
pub fn json_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `{"type": "attached_probes", ...}`.
pub fn attached_probes(n: usize) -> String {
    format!("{{\"type\": \"attached_probes\", \"data\": {{\"probes\": {n}}}}}\n")
}

/// `{"type": "printf", "data": TEXT}`.
pub fn printf(text: &str) -> String {
    format!(
        "{{\"type\": \"printf\", \"data\": {}}}\n",
        json_string(text)
    )
}

/// `{"type": "lost_events", ...}`.
pub fn lost_events(n: u64) -> String {
    format!("{{\"type\": \"lost_events\", \"data\": {{\"events\": {n}}}}}\n")
}

/// One map as a JSON line (empty for an empty map).
pub fn map(name: &str, kind: MapStyle, entries: &[MapEntry]) -> String {
    if entries.is_empty() {
        return String::new();
    }
    let mut sorted: Vec<&MapEntry> = entries.iter().collect();
    sort_for_output(kind, &mut sorted);
    let ty = match entries[0].value {
        MapValue::Avg { .. } | MapValue::Stats { .. } => "stats",
        MapValue::Hist(_) | MapValue::FineHist { .. } | MapValue::Lhist { .. } => "hist",
        MapValue::Tseries(_) => "tseries",
        _ => "map",
    };
    let last_epoch = crate::tseries::last_epoch(&sorted);
    let value_json = |v: &MapValue| match v {
        MapValue::Tseries(t) => crate::tseries::json(t, last_epoch),
        other => value_json(other),
    };
    let scalar = sorted.len() == 1 && sorted[0].key.is_empty();
    let body = if scalar {
        value_json(&sorted[0].value)
    } else {
        let parts: Vec<String> = sorted
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    json_string(&key_json(&e.key)),
                    value_json(&e.value)
                )
            })
            .collect();
        format!("{{{}}}", parts.join(", "))
    };
    format!(
        "{{\"type\": \"{ty}\", \"data\": {{{}: {body}}}}}\n",
        json_string(name)
    )
}

fn key_json(key: &[Value]) -> String {
    key.iter().map(Value::to_text).collect::<Vec<_>>().join(",")
}

/// A tuple as a JSON array (strings quoted, booleans and numbers bare).
fn json_tuple(items: &[Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|v| match v {
            Value::Str(b) => json_string(&String::from_utf8_lossy(until_nul(b))),
            Value::Tuple(inner) => json_tuple(inner),
            other => other.to_text(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

fn value_json(v: &MapValue) -> String {
    match v {
        MapValue::Int(x) | MapValue::Sum(x) | MapValue::Min(x) | MapValue::Max(x) => x.to_string(),
        MapValue::UInt(x) | MapValue::Count(x) => x.to_string(),
        MapValue::Str(b) => json_string(&String::from_utf8_lossy(until_nul(b))),
        MapValue::Bool(b) => b.to_string(),
        MapValue::Tuple(items) => json_tuple(items),
        MapValue::Avg { count, sum } => average(*count, *sum).to_string(),
        MapValue::Stats { count, sum } => format!(
            "{{\"count\": {}, \"average\": {}, \"total\": {sum}}}",
            *count as i64,
            average(*count, *sum)
        ),
        MapValue::Hist(buckets) => hist_json(buckets),
        MapValue::FineHist { bits, buckets } => fine_hist_json(*bits, buckets),
        MapValue::Lhist {
            min,
            max,
            step,
            buckets,
        } => lhist_json(*min, *max, *step, buckets),
        MapValue::Tseries(t) => crate::tseries::json(t, t.last_epoch()),
    }
}

fn bucket(min: Option<i128>, max: Option<i128>, count: u64) -> String {
    let mut parts = Vec::new();
    if let Some(m) = min {
        parts.push(format!("\"min\": {m}"));
    }
    if let Some(m) = max {
        parts.push(format!("\"max\": {m}"));
    }
    parts.push(format!("\"count\": {count}"));
    format!("{{{}}}", parts.join(", "))
}

fn hist_json(buckets: &[(u64, u64)]) -> String {
    let Some((counts, first, last)) = hist_counts(buckets) else {
        return "[]".to_string();
    };
    let items: Vec<String> = (first..=last)
        .map(|i| {
            let (lo, hi) = match i {
                0 => (None, Some(-1)),
                1 => (Some(0), Some(0)),
                _ => {
                    let lo = 1i128 << (i - 2);
                    (Some(lo), Some(lo * 2 - 1))
                }
            };
            bucket(lo, hi, counts[i])
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// `hist(x, k)`: each non-empty bucket between the first and the last,
/// with its inclusive bounds.
fn fine_hist_json(bits: u8, buckets: &[(u64, u64)]) -> String {
    let mut counts = std::collections::BTreeMap::<u64, u64>::new();
    for &(i, c) in buckets.iter().filter(|b| b.1 > 0) {
        *counts.entry(i).or_insert(0) += c;
    }
    let (Some((&first, _)), Some((&last, _))) = (counts.first_key_value(), counts.last_key_value())
    else {
        return "[]".to_string();
    };
    let items: Vec<String> = (first..=last)
        .map(|i| {
            let (lo, hi) = crate::fine_hist::fine_hist_range(i, bits);
            bucket(lo, Some(hi), counts.get(&i).copied().unwrap_or(0))
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn lhist_json(min: i64, max: i64, step: i64, buckets: &[(u64, u64)]) -> String {
    let top = lhist_inner_buckets(min, max, step).saturating_add(1);
    let counts = lhist_counts(buckets, top);
    let (Some((&first, _)), Some((&last, _))) = (counts.first_key_value(), counts.last_key_value())
    else {
        return "[]".to_string();
    };
    let items: Vec<String> = (first..=last)
        .map(|i| {
            let count = counts.get(&i).copied().unwrap_or(0);
            if i == 0 {
                bucket(None, Some(i128::from(min) - 1), count)
            } else if i == top {
                bucket(Some(i128::from(max)), None, count)
            } else {
                let lo = i128::from(i - 1) * i128::from(step) + i128::from(min);
                bucket(Some(lo), Some(lo + i128::from(step) - 1), count)
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_keyed_and_string_maps() {
        let e = |key: Vec<Value>, value| MapEntry { key, value };
        assert_eq!(
            map("@c", MapStyle::Plain, &[e(vec![], MapValue::Count(1))]),
            "{\"type\": \"map\", \"data\": {\"@c\": 1}}\n"
        );
        assert_eq!(
            map(
                "@x",
                MapStyle::Plain,
                &[e(
                    vec![Value::Int(1), Value::Str(b"a".to_vec())],
                    MapValue::Int(5)
                )]
            ),
            "{\"type\": \"map\", \"data\": {\"@x\": {\"1,a\": 5}}}\n"
        );
        assert_eq!(map("@e", MapStyle::Plain, &[]), "");
    }

    #[test]
    fn histograms_match_bpftrace() {
        let h = MapEntry {
            key: vec![],
            value: MapValue::Hist(vec![(0, 1), (1, 1), (2, 1)]),
        };
        assert_eq!(
            map("@h", MapStyle::Hist, &[h]),
            "{\"type\": \"hist\", \"data\": {\"@h\": [{\"max\": -1, \"count\": 1}, {\"min\": 0, \"max\": 0, \"count\": 1}, {\"min\": 1, \"max\": 1, \"count\": 1}]}}\n"
        );
        let l = MapEntry {
            key: vec![],
            value: MapValue::Lhist {
                min: 0,
                max: 10,
                step: 5,
                buckets: vec![(0, 1), (3, 1)],
            },
        };
        assert_eq!(
            map("@l", MapStyle::Hist, &[l]),
            "{\"type\": \"hist\", \"data\": {\"@l\": [{\"max\": -1, \"count\": 1}, {\"min\": 0, \"max\": 4, \"count\": 0}, {\"min\": 5, \"max\": 9, \"count\": 0}, {\"min\": 10, \"count\": 1}]}}\n"
        );
    }

    #[test]
    fn a_hist_with_k_lists_inclusive_bounds() {
        let h = MapEntry {
            key: vec![],
            value: MapValue::FineHist {
                bits: 1,
                buckets: vec![(0, 1), (5, 2)],
            },
        };
        assert_eq!(
            map("@h", MapStyle::Hist, &[h]),
            "{\"type\": \"hist\", \"data\": {\"@h\": [{\"max\": -1, \"count\": 1}, {\"min\": 0, \"max\": 0, \"count\": 0}, {\"min\": 1, \"max\": 1, \"count\": 0}, {\"min\": 2, \"max\": 2, \"count\": 0}, {\"min\": 3, \"max\": 3, \"count\": 0}, {\"min\": 4, \"max\": 5, \"count\": 2}]}}\n"
        );
    }
}
