//! The one decoder for bytes the kernel sends back: ring buffer records,
//! map keys and values, stack frames and per-CPU counters.
//!
//! Every read goes through [`Bytes`], which checks the bounds and names what
//! it was reading, so short or malformed input is a [`DecodeError`] saying
//! which part of which record was wrong, never zeros and never a panic.

use std::collections::BTreeMap;

use crate::layout::{
    FieldKind, PrintfDef, StackMode, UserMap, ValueKind, TAG_CLEAR_MAP, TAG_EXIT, TAG_PRINTF_LIMIT,
    TAG_PRINT_MAP, TAG_ZERO_MAP,
};
use crate::value::{until_nul, MapValue};

/// Bytes the kernel sent that do not match their layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A field runs past the end of the bytes.
    #[error("{source_name}: {field} needs {needed} bytes at offset {offset}, but it has {len}")]
    Short {
        /// What was being decoded (`printf record 3`, `map @x key`...).
        source_name: String,
        /// The field that did not fit.
        field: &'static str,
        /// Where the field starts.
        offset: usize,
        /// Its size.
        needed: usize,
        /// How many bytes there were in all.
        len: usize,
    },
    /// A record's tag is neither a printf id nor a known action.
    #[error(
        "ring buffer record with unknown tag {tag:#x} (the script has {printfs} printf layouts)"
    )]
    UnknownTag {
        /// The tag.
        tag: u64,
        /// How many printf layouts the script has.
        printfs: usize,
    },
    /// A probe id that the script does not have.
    #[error("{source_name}: probe id {id}, but the script has {count} probes")]
    UnknownProbe {
        /// What was being decoded.
        source_name: String,
        /// The id.
        id: u64,
        /// How many probes the script has.
        count: usize,
    },
    /// A `buf()` length larger than the buffer.
    #[error("{source_name}: buffer length {len} exceeds its capacity {capacity}")]
    BufferLength {
        /// What was being decoded.
        source_name: String,
        /// The length read.
        len: u64,
        /// The buffer's capacity.
        capacity: usize,
    },
    /// A map entry without any value.
    #[error("map {map}: an entry has no value")]
    NoValue {
        /// The map's name.
        map: String,
    },
    /// Bytes that must be whole 8-byte words are not.
    #[error("{source_name}: {len} bytes is not a whole number of 8-byte words")]
    NotWords {
        /// What was being decoded.
        source_name: String,
        /// How many bytes there were.
        len: usize,
    },
}

/// A bounds-checked view of untrusted bytes, named for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a> {
    data: &'a [u8],
    name: &'a str,
}

impl<'a> Bytes<'a> {
    /// A view of `data`, called `name` in errors.
    pub fn new(data: &'a [u8], name: &'a str) -> Bytes<'a> {
        Bytes { data, name }
    }

    /// How many bytes there are.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The `size` bytes at `offset`, or an error naming `field`.
    pub fn slice(
        &self,
        offset: usize,
        size: usize,
        field: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        offset
            .checked_add(size)
            .and_then(|end| self.data.get(offset..end))
            .ok_or_else(|| DecodeError::Short {
                source_name: self.name.to_string(),
                field,
                offset,
                needed: size,
                len: self.data.len(),
            })
    }

    /// The native-endian 8-byte word at `offset`, or an error naming `field`.
    pub fn u64_at(&self, offset: usize, field: &'static str) -> Result<u64, DecodeError> {
        let word = self.slice(offset, 8, field)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(word);
        Ok(u64::from_ne_bytes(b))
    }

    fn error_name(&self) -> String {
        self.name.to_string()
    }
}

/// One decoded field of a record or map key, as the kernel wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// An integer and whether it is signed.
    Int {
        /// The 64 bits.
        value: i64,
        /// Signedness (for printing).
        signed: bool,
    },
    /// String bytes, up to (not including) the first NUL.
    Str(Vec<u8>),
    /// A probe id (an index into the script's probe names).
    Probe(usize),
    /// `usym(addr)`: an address in process `pid`.
    USym {
        /// The address.
        addr: u64,
        /// The process it belongs to.
        pid: u32,
    },
    /// `buf()` bytes (as many as were read).
    Buffer(Vec<u8>),
    /// `strftime()`: `CLOCK_MONOTONIC` nanoseconds and the index of its
    /// format among the script's strftime formats.
    Strftime {
        /// Format index.
        format: usize,
        /// Nanoseconds (the clock of `nsecs`).
        ns: u64,
    },
    /// A user stack: its id in the stack map (negative when the kernel
    /// could not take it), the pid its addresses belong to, and how to
    /// print it.
    UStack {
        /// Stack id from `bpf_get_stackid`.
        id: i64,
        /// Process the addresses belong to.
        pid: u32,
        /// Printing mode.
        mode: StackMode,
    },
}

/// One ring buffer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A printf-like call: the id of its layout and its arguments.
    Printf {
        /// Index into the script's printf layouts.
        id: usize,
        /// The arguments.
        args: Vec<FieldValue>,
    },
    /// `print(@map, top, div)`: print the map now.
    PrintMap {
        /// Index into the script's maps.
        map: usize,
        /// Only the top N entries (0 = all).
        top: u64,
        /// Divide values by this (0 = 1).
        div: u64,
    },
    /// `clear(@map)`.
    ClearMap {
        /// Index into the script's maps.
        map: usize,
    },
    /// `zero(@map)`.
    ZeroMap {
        /// Index into the script's maps.
        map: usize,
    },
    /// `exit(code)` was called.
    Exit {
        /// The exit code.
        code: i64,
    },
}

/// One map entry decoded with its layout: key fields as the kernel wrote
/// them (naming stacks and probes is the caller's job) and the value
/// combined across CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedEntry {
    /// The key fields (empty for a scalar map).
    pub key: Vec<FieldValue>,
    /// The value; histogram buckets of one key are gathered in one entry.
    pub value: MapValue,
}

/// Decodes what a script's programs send back, with its layouts.
#[derive(Debug, Clone, Copy)]
pub struct Decoder<'a> {
    printfs: &'a [PrintfDef],
    probe_count: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder for a script with these printf layouts and this many
    /// probe names (probe ids must be below it).
    pub fn new(printfs: &'a [PrintfDef], probe_count: usize) -> Decoder<'a> {
        Decoder {
            printfs,
            probe_count,
        }
    }

    /// Decodes one ring buffer record: an 8-byte tag, then the fields its
    /// layout says.
    pub fn record(&self, record: &[u8]) -> Result<Event, DecodeError> {
        let bytes = Bytes::new(record, "ring buffer record");
        let tag = bytes.u64_at(0, "tag")?;
        let word = |at: usize, field: &'static str| bytes.u64_at(at, field);
        match tag {
            TAG_EXIT => Ok(Event::Exit {
                code: word(8, "exit code")? as i64,
            }),
            TAG_PRINT_MAP => Ok(Event::PrintMap {
                map: word(8, "map id")? as usize,
                top: word(16, "top")?,
                div: word(24, "divisor")?,
            }),
            TAG_CLEAR_MAP => Ok(Event::ClearMap {
                map: word(8, "map id")? as usize,
            }),
            TAG_ZERO_MAP => Ok(Event::ZeroMap {
                map: word(8, "map id")? as usize,
            }),
            id if id < TAG_PRINTF_LIMIT && (id as usize) < self.printfs.len() => {
                let def = &self.printfs[id as usize];
                let name = format!("printf record {id}");
                // The kernel submits the whole reserved record, padding
                // included: anything shorter is malformed.
                let whole = Bytes::new(record, &name).slice(0, def.record_size(), "record")?;
                let args = self.fields(&def.args, Bytes::new(&whole[8..], &name))?;
                Ok(Event::Printf {
                    id: id as usize,
                    args,
                })
            }
            tag => Err(DecodeError::UnknownTag {
                tag,
                printfs: self.printfs.len(),
            }),
        }
    }

    /// Decodes consecutive fields laid out as `fields` from the start of
    /// `bytes` (bytes after the last field are ignored).
    pub fn fields(
        &self,
        fields: &[FieldKind],
        bytes: Bytes<'_>,
    ) -> Result<Vec<FieldValue>, DecodeError> {
        let mut at = 0;
        let mut out = Vec::with_capacity(fields.len());
        for &field in fields {
            out.push(self.field(field, bytes, at)?);
            at += field.size();
        }
        Ok(out)
    }

    fn field(
        &self,
        field: FieldKind,
        bytes: Bytes<'_>,
        at: usize,
    ) -> Result<FieldValue, DecodeError> {
        Ok(match field {
            FieldKind::Int { signed } => FieldValue::Int {
                value: bytes.u64_at(at, "integer")? as i64,
                signed,
            },
            FieldKind::Str(n) => FieldValue::Str(until_nul(bytes.slice(at, n, "string")?).to_vec()),
            FieldKind::ProbeName => {
                let id = bytes.u64_at(at, "probe id")?;
                if id >= self.probe_count as u64 {
                    return Err(DecodeError::UnknownProbe {
                        source_name: bytes.error_name(),
                        id,
                        count: self.probe_count,
                    });
                }
                FieldValue::Probe(id as usize)
            }
            FieldKind::USym => FieldValue::USym {
                addr: bytes.u64_at(at, "usym address")?,
                pid: bytes.u64_at(at + 8, "usym pid")? as u32,
            },
            FieldKind::Buffer(capacity) => {
                let len = bytes.u64_at(at, "buffer length")?;
                if len > capacity as u64 {
                    return Err(DecodeError::BufferLength {
                        source_name: bytes.error_name(),
                        len,
                        capacity,
                    });
                }
                FieldValue::Buffer(bytes.slice(at + 8, len as usize, "buffer bytes")?.to_vec())
            }
            FieldKind::Strftime(format) => FieldValue::Strftime {
                format,
                ns: bytes.u64_at(at, "strftime nanoseconds")?,
            },
            FieldKind::UStack(mode) => FieldValue::UStack {
                id: bytes.u64_at(at, "stack id")? as i64,
                pid: bytes.u64_at(at + 8, "stack pid")? as u32,
                mode,
            },
        })
    }

    /// Decodes the raw `(key, per-CPU values)` pairs of `map` (one value
    /// for maps that are not per-CPU). Aggregations are combined across
    /// CPUs; histogram buckets of one key are gathered into one entry.
    pub fn map(
        &self,
        map: &UserMap,
        raw: &[(Vec<u8>, Vec<Vec<u8>>)],
    ) -> Result<Vec<DecodedEntry>, DecodeError> {
        let key_name = format!("map {} key", map.name);
        let value_name = format!("map {} value", map.name);
        // Histograms: raw key bytes -> (decoded key, (bucket, count) pairs).
        type Buckets = (Vec<FieldValue>, Vec<(u64, u64)>);
        let mut grouped: BTreeMap<&[u8], Buckets> = BTreeMap::new();
        let mut out = Vec::new();
        for (key, values) in raw {
            if values.is_empty() {
                return Err(DecodeError::NoValue {
                    map: map.name.clone(),
                });
            }
            let key_bytes = Bytes::new(key, &key_name);
            let fields = self.fields(&map.key, key_bytes)?;
            if map.value.is_histogram() {
                let body = map.key_body_size();
                let bucket = key_bytes.u64_at(body, "histogram bucket")?;
                let count = sum_words(values, 0, &value_name, "count")?;
                let user_key = key_bytes.slice(0, body, "key fields")?;
                grouped
                    .entry(user_key)
                    .or_insert_with(|| (fields, Vec::new()))
                    .1
                    .push((bucket, count));
            } else {
                out.push(DecodedEntry {
                    key: fields,
                    value: value(map.value, values, &value_name)?,
                });
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
            out.push(DecodedEntry { key, value });
        }
        Ok(out)
    }
}

/// Combines one entry's per-CPU values (one for maps that are not per-CPU;
/// not histograms, whose buckets [`Decoder::map`] gathers).
fn value(kind: ValueKind, per_cpu: &[Vec<u8>], name: &str) -> Result<MapValue, DecodeError> {
    let first = Bytes::new(per_cpu.first().map_or(&[][..], Vec::as_slice), name);
    Ok(match kind {
        ValueKind::Int { signed: true } => MapValue::Int(first.u64_at(0, "integer")? as i64),
        ValueKind::Int { signed: false } => MapValue::UInt(first.u64_at(0, "integer")?),
        ValueKind::Str(n) => MapValue::Str(until_nul(first.slice(0, n, "string")?).to_vec()),
        ValueKind::Count => MapValue::Count(sum_words(per_cpu, 0, name, "count")?),
        ValueKind::Sum => MapValue::Sum(sum_words(per_cpu, 0, name, "sum")? as i64),
        ValueKind::Min | ValueKind::Max => {
            // Each CPU keeps {value, set flag}: only CPUs that stored count.
            let mut set = Vec::with_capacity(per_cpu.len());
            for v in per_cpu {
                let b = Bytes::new(v, name);
                let value = b.u64_at(0, "value")? as i64;
                if b.u64_at(8, "set flag")? != 0 {
                    set.push(value);
                }
            }
            if kind == ValueKind::Min {
                MapValue::Min(set.into_iter().min().unwrap_or(0))
            } else {
                MapValue::Max(set.into_iter().max().unwrap_or(0))
            }
        }
        ValueKind::Avg => MapValue::Avg {
            count: sum_words(per_cpu, 0, name, "count")?,
            sum: sum_words(per_cpu, 8, name, "sum")? as i64,
        },
        ValueKind::Stats => MapValue::Stats {
            count: sum_words(per_cpu, 0, name, "count")?,
            sum: sum_words(per_cpu, 8, name, "sum")? as i64,
        },
        ValueKind::Hist => MapValue::Hist(Vec::new()),
        ValueKind::Lhist { min, max, step } => MapValue::Lhist {
            min,
            max,
            step,
            buckets: Vec::new(),
        },
    })
}

/// The wrapping sum of the word at `offset` of every per-CPU value.
fn sum_words(
    per_cpu: &[Vec<u8>],
    offset: usize,
    name: &str,
    field: &'static str,
) -> Result<u64, DecodeError> {
    per_cpu.iter().try_fold(0u64, |total, v| {
        Ok(total.wrapping_add(Bytes::new(v, name).u64_at(offset, field)?))
    })
}

/// Splits `bytes` into native-endian 8-byte words (a per-CPU counter, a
/// stack's return addresses); an error unless the length is a multiple of 8.
pub fn words(bytes: &[u8], name: &str) -> Result<Vec<u64>, DecodeError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(DecodeError::NotWords {
            source_name: name.to_string(),
            len: bytes.len(),
        });
    }
    let view = Bytes::new(bytes, name);
    (0..bytes.len() / 8)
        .map(|i| view.u64_at(i * 8, "word"))
        .collect()
}

/// The return addresses of a stack as the stack map holds them: 8-byte
/// words, innermost first, ending at the first zero.
pub fn stack_frames(bytes: &[u8]) -> Result<Vec<u64>, DecodeError> {
    let mut frames = words(bytes, "stack trace")?;
    if let Some(end) = frames.iter().position(|&a| a == 0) {
        frames.truncate(end);
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::PrintfKind;

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
                value: MapValue::Count(7)
            }]
        );
    }

    #[test]
    fn min_ignores_cpus_that_never_stored() {
        let map = UserMap {
            name: "@m".into(),
            key: vec![],
            value: ValueKind::Min,
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
        };
        let k = |user: i64, bucket: i64| [w(user), w(bucket)].concat();
        let scalar = UserMap {
            name: "@s".into(),
            key: vec![],
            value: ValueKind::Hist,
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
}
