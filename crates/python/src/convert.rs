//! Library values to Python values: printf arguments, map keys and map
//! values (hist/lhist as bucket lists, stats as tuples, tseries as
//! `(start, value)` lists).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use pyo3::IntoPyObjectExt;

use ustrace::output::{MapEntry, MapValue, Value};

/// A printf argument: `int`, `bool`, `str` (valid UTF-8 up to the first
/// NUL), or `bytes` otherwise; a `tuple` of those for a tuple.
pub(crate) fn value(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    match v {
        Value::Int(i) => i.into_py_any(py),
        Value::UInt(u) => u.into_py_any(py),
        Value::Bool(b) => b.into_py_any(py),
        Value::Tuple(items) => tuple(py, items),
        Value::Str(bytes) => {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            match std::str::from_utf8(&bytes[..end]) {
                Ok(s) => s.into_py_any(py),
                Err(_) => Ok(PyBytes::new(py, &bytes[..end]).into_any().unbind()),
            }
        }
    }
}

/// A map key: `None` for a scalar map, the value for one field, a tuple
/// for several.
fn key(py: Python<'_>, fields: &[Value]) -> PyResult<Py<PyAny>> {
    match fields {
        [] => Ok(py.None()),
        [one] => value(py, one),
        many => tuple(py, many),
    }
}

/// A Python tuple of the values.
fn tuple(py: Python<'_>, items: &[Value]) -> PyResult<Py<PyAny>> {
    let items = items
        .iter()
        .map(|f| value(py, f))
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, items)?.into_py_any(py)
}

/// A map value: an `int` (count, sum, min, max, avg, plain integers), a
/// `str`, `(count, average, total)` for stats, and for hist/lhist a list
/// of `(low, high, count)` buckets with a count above 0, bounds inclusive,
/// `None` for an open end; for tseries a list of `(start, value)` per
/// interval holding data, oldest first, `start` in Unix nanoseconds.
fn map_value(py: Python<'_>, v: &MapValue) -> PyResult<Py<PyAny>> {
    match v {
        MapValue::Int(i) | MapValue::Sum(i) | MapValue::Min(i) | MapValue::Max(i) => {
            i.into_py_any(py)
        }
        MapValue::UInt(u) | MapValue::Count(u) => u.into_py_any(py),
        MapValue::Str(s) => value(py, &Value::Str(s.clone())),
        MapValue::Bool(b) => b.into_py_any(py),
        MapValue::Tuple(items) => tuple(py, items),
        MapValue::Avg { count, sum } => average(*count, *sum).into_py_any(py),
        MapValue::Stats { count, sum } => (*count, average(*count, *sum), *sum).into_py_any(py),
        MapValue::Hist(buckets) => buckets
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|&(b, n)| {
                let (lo, hi) = hist_range(b);
                (lo, hi, n)
            })
            .collect::<Vec<_>>()
            .into_py_any(py),
        MapValue::FineHist { bits, buckets } => buckets
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|&(b, n)| {
                let (lo, hi) = ustrace::output::fine_hist_range(b, *bits);
                let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
                (lo.map(clamp), Some(clamp(hi)), n)
            })
            .collect::<Vec<_>>()
            .into_py_any(py),
        MapValue::Lhist {
            min,
            max,
            step,
            buckets,
        } => buckets
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|&(b, n)| {
                let (lo, hi) = lhist_range(b, *min, *max, *step);
                (lo, hi, n)
            })
            .collect::<Vec<_>>()
            .into_py_any(py),
        MapValue::Tseries(t) => t
            .points
            .iter()
            .map(|p| {
                let start = t.clock.unix_ns(p.epoch.saturating_mul(t.interval_ns));
                let start = i64::try_from(start).unwrap_or(i64::MAX);
                if t.signed {
                    (start, p.value).into_py_any(py)
                } else {
                    (start, p.value as u64).into_py_any(py)
                }
            })
            .collect::<PyResult<Vec<_>>>()?
            .into_py_any(py),
    }
}

/// `avg()` as bpftrace prints it: truncated toward zero, 0 for no values.
fn average(count: u64, sum: i64) -> i64 {
    if count == 0 {
        0
    } else {
        (i128::from(sum) / i128::from(count)) as i64
    }
}

/// The values of log2 bucket `b` (see `ustrace::output::hist_bucket`).
fn hist_range(b: u64) -> (Option<i64>, Option<i64>) {
    match b {
        0 => (None, Some(-1)),
        1 => (Some(0), Some(0)),
        _ => {
            let power = (b - 2).min(62) as u32;
            let lo = 1i64 << power;
            let hi = if power >= 62 { i64::MAX } else { (lo << 1) - 1 };
            (Some(lo), Some(hi))
        }
    }
}

/// The values of linear bucket `b` (see `ustrace::output::lhist_bucket`).
fn lhist_range(b: u64, min: i64, max: i64, step: i64) -> (Option<i64>, Option<i64>) {
    let inner = ustrace::output::lhist_inner_buckets(min, max, step);
    if b == 0 {
        return (None, Some(min.saturating_sub(1)));
    }
    if b > inner {
        return (Some(max), None);
    }
    let lo = min.saturating_add((b as i64 - 1).saturating_mul(step));
    (Some(lo), Some(lo.saturating_add(step).saturating_sub(1)))
}

/// A map's entries as Python: the value itself for a scalar map (`None`
/// when unset), a dict `{key: value}` otherwise.
pub(crate) fn map_entries(
    py: Python<'_>,
    key_fields: usize,
    entries: &[MapEntry],
) -> PyResult<Py<PyAny>> {
    if key_fields == 0 {
        return match entries.first() {
            Some(e) => map_value(py, &e.value),
            None => Ok(py.None()),
        };
    }
    let dict = PyDict::new(py);
    for e in entries {
        dict.set_item(key(py, &e.key)?, map_value(py, &e.value)?)?;
    }
    dict.into_py_any(py)
}
