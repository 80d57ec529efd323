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
use crate::tseries::{reduce_slot, Tseries, TseriesPoint, WallClock};
use crate::value::{until_nul, MapValue, Value};
use crate::{Bytes, DecodeError};

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
    /// A truth value.
    Bool(bool),
    /// A tuple's elements.
    Tuple(Vec<FieldValue>),
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
    /// `username`: a user id.
    Username(u32),
    /// `strerror()`: an error number.
    Strerror(i32),
    /// `syscall_name()`: a system call number.
    SyscallName(i64),
    /// `ntop()`: an IPv4 (4 bytes) or IPv6 (16 bytes) address.
    Inet(std::net::IpAddr),
    /// The bytes of a program type's value and the index of its type.
    Record {
        /// Index of its type (`CompiledScript::record_types`).
        index: usize,
        /// Its bytes.
        bytes: Vec<u8>,
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
    /// For a [`ValueKind::Named`] map an empty string, to be replaced by
    /// the text of [`DecodedEntry::named`].
    pub value: MapValue,
    /// The stack or symbol of a [`ValueKind::Named`] value; `None` for
    /// every other kind.
    pub named: Option<FieldValue>,
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
        let mut next = 0;
        let mut out = Vec::with_capacity(fields.len());
        while next < fields.len() {
            out.push(self.next_field(fields, &mut next, bytes, &mut at)?);
        }
        Ok(out)
    }

    /// Decodes the value whose layout starts at `fields[*next]` (a tuple
    /// header takes its elements too), advancing `next` past its fields and
    /// `at` past its bytes.
    fn next_field(
        &self,
        fields: &[FieldKind],
        next: &mut usize,
        bytes: Bytes<'_>,
        at: &mut usize,
    ) -> Result<FieldValue, DecodeError> {
        let field = fields[*next];
        *next += 1;
        if let FieldKind::Tuple(n) = field {
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                if *next >= fields.len() {
                    return Err(DecodeError::TupleLayout {
                        source_name: bytes.error_name(),
                    });
                }
                items.push(self.next_field(fields, next, bytes, at)?);
            }
            return Ok(FieldValue::Tuple(items));
        }
        let value = self.field(field, bytes, *at)?;
        *at += field.size();
        Ok(value)
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
            FieldKind::Bool => FieldValue::Bool(bytes.u64_at(at, "bool")? != 0),
            // Headers are read by `next_field`.
            FieldKind::Tuple(_) => FieldValue::Tuple(Vec::new()),
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
            FieldKind::Username => FieldValue::Username(bytes.u64_at(at, "user id")? as u32),
            FieldKind::Strerror => FieldValue::Strerror(bytes.u64_at(at, "error number")? as i32),
            FieldKind::SyscallName => {
                FieldValue::SyscallName(bytes.u64_at(at, "system call number")? as i64)
            }
            FieldKind::Inet => {
                let family = bytes.u64_at(at, "address family")?;
                let raw = bytes.slice(at + 8, 16, "address")?;
                let mut b = [0u8; 16];
                b.copy_from_slice(raw);
                FieldValue::Inet(if family == crate::AF_INET6 {
                    std::net::IpAddr::from(b)
                } else {
                    std::net::IpAddr::from([b[0], b[1], b[2], b[3]])
                })
            }
            FieldKind::Strftime(format) => FieldValue::Strftime {
                format,
                ns: bytes.u64_at(at, "strftime nanoseconds")?,
            },
            FieldKind::Record { index, size } => FieldValue::Record {
                index,
                bytes: bytes.slice(at, size, "record")?.to_vec(),
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
        // Time series: raw key bytes -> (decoded key, written slots).
        type Slots = (Vec<FieldValue>, Vec<TseriesPoint>);
        let mut series: BTreeMap<&[u8], Slots> = BTreeMap::new();
        let mut out = Vec::new();
        for (key, values) in raw {
            if values.is_empty() {
                return Err(DecodeError::NoValue {
                    map: map.name.clone(),
                });
            }
            let key_bytes = Bytes::new(key, &key_name);
            let fields = self.fields(&map.key, key_bytes)?;
            if let ValueKind::Tseries { agg, signed, .. } = map.value {
                let body = map.key_body_size();
                let user_key = key_bytes.slice(0, body, "key fields")?;
                let point = reduce_slot(values, agg, signed, &value_name)?;
                let entry = series
                    .entry(user_key)
                    .or_insert_with(|| (fields, Vec::new()));
                entry.1.extend(point);
            } else if map.value.is_histogram() {
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
                let mut named = None;
                let value = match map.value {
                    ValueKind::Tuple { .. } => self.tuple_value(map, values, &value_name)?,
                    ValueKind::Named(kind) => {
                        let first = values.first().map_or(&[][..], Vec::as_slice);
                        named = self
                            .fields(&[kind], Bytes::new(first, &value_name))?
                            .into_iter()
                            .next();
                        MapValue::Str(Vec::new())
                    }
                    kind => value(kind, values, &value_name)?,
                };
                out.push(DecodedEntry {
                    key: fields,
                    value,
                    named,
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
                ValueKind::FineHist { bits } => MapValue::FineHist { bits, buckets },
                _ => MapValue::Hist(buckets),
            };
            out.push(DecodedEntry {
                key,
                value,
                named: None,
            });
        }
        if let ValueKind::Tseries {
            interval_ns,
            num_intervals,
            agg,
            signed,
        } = map.value
        {
            // A key none of whose slots was written (after zero()) shows
            // nothing, as a cleared one.
            for (_, (key, mut points)) in series.into_iter().filter(|s| !s.1 .1.is_empty()) {
                // Slots of an old epoch and a new one never share an
                // index, but a slot overwritten twice keeps only one.
                points.sort_unstable_by_key(|p| p.epoch);
                points.dedup_by_key(|p| p.epoch);
                let value = MapValue::Tseries(Tseries {
                    interval_ns,
                    num_intervals,
                    agg,
                    signed,
                    clock: WallClock::default(),
                    points,
                });
                out.push(DecodedEntry {
                    key,
                    value,
                    named: None,
                });
            }
        }
        Ok(out)
    }
}

impl Decoder<'_> {
    /// A tuple map value: its elements, which the compiler limits to
    /// integers, bools, strings and tuples of those.
    fn tuple_value(
        &self,
        map: &UserMap,
        values: &[Vec<u8>],
        name: &str,
    ) -> Result<MapValue, DecodeError> {
        let first = Bytes::new(values.first().map_or(&[][..], Vec::as_slice), name);
        let decoded = self.fields(&map.value_fields, first)?;
        match decoded.into_iter().next().map(plain_value) {
            Some(Some(Value::Tuple(items))) => Ok(MapValue::Tuple(items)),
            _ => Err(DecodeError::TupleLayout {
                source_name: name.to_string(),
            }),
        }
    }
}

/// The printable value of a decoded field that needs no session state
/// (no probe names, stacks or symbols): `None` for those.
pub fn plain_value(f: FieldValue) -> Option<Value> {
    Some(match f {
        FieldValue::Int {
            value,
            signed: true,
        } => Value::Int(value),
        FieldValue::Int {
            value,
            signed: false,
        } => Value::UInt(value as u64),
        FieldValue::Str(s) => Value::Str(s),
        FieldValue::Bool(b) => Value::Bool(b),
        FieldValue::Tuple(items) => Value::Tuple(
            items
                .into_iter()
                .map(plain_value)
                .collect::<Option<Vec<_>>>()?,
        ),
        _ => return None,
    })
}

/// Combines one entry's per-CPU values (one for maps that are not per-CPU;
/// not histograms, whose buckets [`Decoder::map`] gathers).
fn value(kind: ValueKind, per_cpu: &[Vec<u8>], name: &str) -> Result<MapValue, DecodeError> {
    let first = Bytes::new(per_cpu.first().map_or(&[][..], Vec::as_slice), name);
    Ok(match kind {
        ValueKind::Int { signed: true } => MapValue::Int(first.u64_at(0, "integer")? as i64),
        ValueKind::Int { signed: false } => MapValue::UInt(first.u64_at(0, "integer")?),
        ValueKind::Str(n) => MapValue::Str(until_nul(first.slice(0, n, "string")?).to_vec()),
        ValueKind::Bool => MapValue::Bool(first.u64_at(0, "bool")? != 0),
        // Decoded with the map's value fields by `Decoder::tuple_value`.
        ValueKind::Tuple { .. } => MapValue::Tuple(Vec::new()),
        // Decoded as a field by `Decoder::map`, named by the caller.
        ValueKind::Named(_) => MapValue::Str(Vec::new()),
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
        ValueKind::FineHist { bits } => MapValue::FineHist {
            bits,
            buckets: Vec::new(),
        },
        ValueKind::Lhist { min, max, step } => MapValue::Lhist {
            min,
            max,
            step,
            buckets: Vec::new(),
        },
        // Gathered slot by slot by `Decoder::map`.
        ValueKind::Tseries {
            interval_ns,
            num_intervals,
            agg,
            signed,
        } => MapValue::Tseries(Tseries {
            interval_ns,
            num_intervals,
            agg,
            signed,
            clock: WallClock::default(),
            points: Vec::new(),
        }),
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
