//! Values decoded from what the kernel sent, ready to render: printf
//! arguments and map key fields ([`Value`]), map values combined across
//! CPUs ([`MapValue`]) and how a map prints ([`MapStyle`]).

/// One printf argument / map key field as read from the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A string's bytes; anything from the first NUL on is ignored.
    Str(Vec<u8>),
    /// A truth value: `true`/`false` as text, 1/0 as an integer.
    Bool(bool),
    /// A tuple: `(1, abc, (2, 3))` as text.
    Tuple(Vec<Value>),
}

impl Value {
    /// The 64-bit pattern of an integer; `None` for a string.
    pub fn bits(&self) -> Option<u64> {
        match self {
            Value::Int(v) => Some(*v as u64),
            Value::UInt(v) => Some(*v),
            Value::Bool(b) => Some(u64::from(*b)),
            Value::Str(_) | Value::Tuple(_) => None,
        }
    }

    /// The value as bpftrace prints it in a map key or `print()`: signed or
    /// unsigned decimal, or the string up to its first NUL (invalid UTF-8
    /// replaced by U+FFFD).
    pub fn to_text(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::UInt(v) => v.to_string(),
            Value::Str(b) => String::from_utf8_lossy(until_nul(b)).into_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Tuple(items) => tuple_text(items),
        }
    }
}

/// `(a, b, (c, d))`: a tuple as bpftrace prints it (strings without
/// quotes).
pub fn tuple_text(items: &[Value]) -> String {
    let parts: Vec<String> = items.iter().map(Value::to_text).collect();
    format!("({})", parts.join(", "))
}

/// The bytes before the first NUL (all of them if there is none).
pub fn until_nul(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

/// The value of one map entry, already combined across CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapValue {
    /// A signed integer (`@x = -5`).
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A string; printed up to its first NUL.
    Str(Vec<u8>),
    /// A truth value, printed `true`/`false`.
    Bool(bool),
    /// A tuple, printed `(1, abc)`.
    Tuple(Vec<Value>),
    /// `count()`.
    Count(u64),
    /// `sum()`.
    Sum(i64),
    /// `min()`.
    Min(i64),
    /// `max()`.
    Max(i64),
    /// `avg()`: printed as `sum / count` (truncated toward zero; 0 when
    /// `count` is 0).
    Avg {
        /// Number of values.
        count: u64,
        /// Their total.
        sum: i64,
    },
    /// `stats()`: printed as `count C, average A, total S`.
    Stats {
        /// Number of values.
        count: u64,
        /// Their total.
        sum: i64,
    },
    /// hist(): (bucket index, count) pairs, bucket index as returned by hist_bucket().
    /// Indices above 64 are ignored; repeated indices are added up.
    Hist(Vec<(u64, u64)>),
    /// hist(x, k) with k >= 1: (bucket index, count) pairs, bucket index as
    /// returned by fine_hist_bucket(); repeated indices are added up.
    FineHist {
        /// `k`: 2^k buckets per power of two.
        bits: u8,
        /// Non-empty buckets.
        buckets: Vec<(u64, u64)>,
    },
    /// lhist(): (bucket index, count), bucket index as returned by lhist_bucket().
    /// Indices above the top bucket are ignored; repeated indices are added up.
    Lhist {
        /// Lower bound (`lhist`'s second argument).
        min: i64,
        /// Upper bound (third argument).
        max: i64,
        /// Bucket width (fourth argument).
        step: i64,
        /// Non-empty buckets.
        buckets: Vec<(u64, u64)>,
    },
    /// tseries(): the intervals holding data.
    Tseries(crate::tseries::Tseries),
}

/// One map entry: its key fields (empty for a scalar map) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    /// The key fields, in order.
    pub key: Vec<Value>,
    /// The value.
    pub value: MapValue,
}

/// How a map is laid out and sorted, decided by its value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapStyle {
    /// Ints, strings, `count`, `sum`, `min`, `max`.
    Plain,
    /// `avg`, `stats`: a blank line after the map.
    Stats,
    /// `hist`, `lhist`: a blank line after each entry.
    Hist,
    /// `tseries`: a graph per entry, a blank line after each; entries
    /// ordered by their newest interval.
    Tseries,
}

impl MapStyle {
    /// The kind of map a value belongs to.
    pub fn of(value: &MapValue) -> MapStyle {
        match value {
            MapValue::Avg { .. } | MapValue::Stats { .. } => MapStyle::Stats,
            MapValue::Hist(_) | MapValue::FineHist { .. } | MapValue::Lhist { .. } => {
                MapStyle::Hist
            }
            MapValue::Tseries(_) => MapStyle::Tseries,
            _ => MapStyle::Plain,
        }
    }
}
