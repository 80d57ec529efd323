//! Reading a script's maps back from the kernel into typed entries that
//! `ustrace-output` renders the way bpftrace prints them.
//!
//! The layouts are the code generator's (see `ustrace_codegen::program`):
//! keys are 8-byte integers, NUL-padded strings and probe ids; a scalar
//! map's key is 8 zero bytes; histogram keys end with an 8-byte bucket
//! index; aggregations are per-CPU and are combined here.

use std::collections::BTreeMap;

use ustrace_codegen::program::{FieldKind, StackMode, UserMap, ValueKind};
use ustrace_output::{MapEntry, MapValue, Value};

/// Decodes the raw `(key, per-CPU values)` pairs of `map` into entries.
/// Histogram buckets of one key are gathered into one entry.
pub(crate) fn decode_entries(
    map: &UserMap,
    raw: &[(Vec<u8>, Vec<Vec<u8>>)],
    probe_names: &[String],
    stack_text: &dyn Fn(i64, u32, StackMode) -> String,
    symbol_text: &dyn Fn(u64, u32) -> String,
) -> Vec<MapEntry> {
    let hist = map.value.is_histogram();
    // Raw key bytes -> (decoded key, (bucket, count) pairs).
    type Buckets = (Vec<Value>, Vec<(u64, u64)>);
    let mut grouped: BTreeMap<Vec<u8>, Buckets> = BTreeMap::new();
    let mut out = Vec::new();
    for (key, values) in raw {
        let (fields_bytes, bucket) = if hist && key.len() >= 8 {
            let (k, b) = key.split_at(key.len() - 8);
            (k, Some(read_u64(b, 0)))
        } else {
            (key.as_slice(), None)
        };
        let fields = decode_key(&map.key, fields_bytes, probe_names, stack_text, symbol_text);
        match bucket {
            Some(b) => {
                let count: u64 = values
                    .iter()
                    .map(|v| read_u64(v, 0))
                    .fold(0u64, u64::wrapping_add);
                let e = grouped
                    .entry(fields_bytes.to_vec())
                    .or_insert_with(|| (fields, Vec::new()));
                e.1.push((b, count));
            }
            None => out.push(MapEntry {
                key: fields,
                value: decode_value(map.value, values),
            }),
        }
    }
    for (_, (key, mut buckets)) in grouped {
        buckets.sort_unstable();
        let value = match map.value {
            ValueKind::Lhist { min, max, step } => MapValue::Lhist {
                min,
                max,
                step,
                buckets,
            },
            _ => MapValue::Hist(buckets),
        };
        out.push(MapEntry { key, value });
    }
    out
}

fn decode_key(
    fields: &[FieldKind],
    bytes: &[u8],
    probe_names: &[String],
    stack_text: &dyn Fn(i64, u32, StackMode) -> String,
    symbol_text: &dyn Fn(u64, u32) -> String,
) -> Vec<Value> {
    let mut at = 0;
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let size = f.size();
        let part = bytes.get(at..at + size).unwrap_or(&[]);
        at += size;
        out.push(match f {
            FieldKind::Int { signed: true } => Value::Int(read_u64(part, 0) as i64),
            FieldKind::Int { signed: false } => Value::UInt(read_u64(part, 0)),
            FieldKind::Str(_) => Value::Str(until_nul(part)),
            FieldKind::Buffer(cap) => {
                let len = (read_u64(part, 0) as usize).min(*cap);
                let bytes = part.get(8..8 + len).unwrap_or(&[]);
                Value::Str(crate::tracer::escape_bytes(bytes).into_bytes())
            }
            FieldKind::Strftime(_) => Value::UInt(read_u64(part, 0)),
            FieldKind::USym => {
                Value::Str(symbol_text(read_u64(part, 0), read_u64(part, 8) as u32).into_bytes())
            }
            FieldKind::UStack(mode) => Value::Str(
                stack_text(read_u64(part, 0) as i64, read_u64(part, 8) as u32, *mode).into_bytes(),
            ),
            FieldKind::ProbeName => {
                let id = read_u64(part, 0) as usize;
                Value::Str(
                    probe_names
                        .get(id)
                        .cloned()
                        .unwrap_or_default()
                        .into_bytes(),
                )
            }
        });
    }
    out
}

fn decode_value(kind: ValueKind, per_cpu: &[Vec<u8>]) -> MapValue {
    let first = per_cpu.first().map(Vec::as_slice).unwrap_or(&[]);
    let sum_at = |off: usize| {
        per_cpu
            .iter()
            .map(|v| read_u64(v, off))
            .fold(0u64, u64::wrapping_add)
    };
    match kind {
        ValueKind::Int { signed: true } => MapValue::Int(read_u64(first, 0) as i64),
        ValueKind::Int { signed: false } => MapValue::UInt(read_u64(first, 0)),
        ValueKind::Str(_) => MapValue::Str(until_nul(first)),
        ValueKind::Count => MapValue::Count(sum_at(0)),
        ValueKind::Sum => MapValue::Sum(sum_at(0) as i64),
        ValueKind::Min | ValueKind::Max => {
            let set = per_cpu
                .iter()
                .filter(|v| read_u64(v, 8) != 0)
                .map(|v| read_u64(v, 0) as i64);
            if kind == ValueKind::Min {
                MapValue::Min(set.min().unwrap_or(0))
            } else {
                MapValue::Max(set.max().unwrap_or(0))
            }
        }
        ValueKind::Avg => MapValue::Avg {
            count: sum_at(0),
            sum: sum_at(8) as i64,
        },
        ValueKind::Stats => MapValue::Stats {
            count: sum_at(0),
            sum: sum_at(8) as i64,
        },
        // Histogram values are handled per bucket by the caller.
        ValueKind::Hist => MapValue::Hist(Vec::new()),
        ValueKind::Lhist { min, max, step } => MapValue::Lhist {
            min,
            max,
            step,
            buckets: Vec::new(),
        },
    }
}

fn read_u64(bytes: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = bytes.get(off..off + 8) {
        b.copy_from_slice(s);
    }
    u64::from_ne_bytes(b)
}

fn until_nul(bytes: &[u8]) -> Vec<u8> {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    bytes[..end].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(v: i64) -> Vec<u8> {
        v.to_ne_bytes().to_vec()
    }

    #[test]
    fn per_cpu_counts_are_summed_and_keys_decoded() {
        let map = UserMap {
            name: "@c".into(),
            key: vec![FieldKind::Str(8), FieldKind::Int { signed: true }],
            value: ValueKind::Count,
        };
        let mut key = b"ab\0\0\0\0\0\0".to_vec();
        key.extend(le(-3));
        let raw = vec![(key, vec![le(2), le(5)])];
        let e = decode_entries(&map, &raw, &[], &|_, _, _| String::new(), &|_, _| {
            String::new()
        });
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].key, vec![Value::Str(b"ab".to_vec()), Value::Int(-3)]);
        assert_eq!(e[0].value, MapValue::Count(7));
    }

    #[test]
    fn min_ignores_cpus_that_never_stored() {
        let map = UserMap {
            name: "@m".into(),
            key: vec![],
            value: ValueKind::Min,
        };
        let cpu = |v: i64, set: i64| [le(v), le(set)].concat();
        let raw = vec![(le(0), vec![cpu(0, 0), cpu(9, 1), cpu(4, 1)])];
        assert_eq!(
            decode_entries(&map, &raw, &[], &|_, _, _| String::new(), &|_, _| {
                String::new()
            })[0]
                .value,
            MapValue::Min(4)
        );
    }

    #[test]
    fn histogram_buckets_are_grouped_per_key() {
        let map = UserMap {
            name: "@h".into(),
            key: vec![FieldKind::Int { signed: false }],
            value: ValueKind::Hist,
        };
        let k = |user: i64, bucket: i64| [le(user), le(bucket)].concat();
        let raw = vec![
            (k(1, 3), vec![le(1), le(1)]),
            (k(2, 2), vec![le(4), le(0)]),
            (k(1, 2), vec![le(0), le(5)]),
        ];
        let mut e = decode_entries(&map, &raw, &[], &|_, _, _| String::new(), &|_, _| {
            String::new()
        });
        e.sort_by(|a, b| format!("{:?}", a.key).cmp(&format!("{:?}", b.key)));
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].value, MapValue::Hist(vec![(2, 5), (3, 2)]));
        assert_eq!(e[1].value, MapValue::Hist(vec![(2, 4)]));
    }

    #[test]
    fn truncated_values_do_not_panic() {
        let map = UserMap {
            name: "@a".into(),
            key: vec![FieldKind::Str(16)],
            value: ValueKind::Avg,
        };
        let raw = vec![(vec![1, 2], vec![vec![1]])];
        assert_eq!(
            decode_entries(&map, &raw, &[], &|_, _, _| String::new(), &|_, _| {
                String::new()
            })
            .len(),
            1
        );
    }
}
