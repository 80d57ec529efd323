//! `tseries()` maps: how their slots are laid out and combined.
//!
//! `@m[k] = tseries(x, interval, n[, agg])` keeps `n` slots per key. The
//! BPF code reads `bpf_ktime_get_tai_ns()`, computes the interval's epoch
//! (`tai_ns / interval`) and uses slot `epoch % n`: the map key is the
//! user's key followed by an 8-byte slot index (like a histogram's
//! bucket). Each slot is per-CPU and holds three words:
//!
//! | offset | word | meaning |
//! |---|---|---|
//! | 0 | value | the last value (`Last`), the total (`Sum`, `Avg`), the extreme (`Min`, `Max`) |
//! | 8 | meta | `Last`: the TAI time of the store; `Avg`: the number of values; `Min`/`Max`: 1 once set |
//! | 16 | epoch | the epoch this slot holds (0: never written) |
//!
//! A slot whose epoch is older than the current one is cleared before it
//! is reused, so older intervals are overwritten. When reading, only the
//! CPUs holding the newest epoch of a slot count; [`reduce_slot`] combines
//! them as the aggregation says.

use crate::{Bytes, DecodeError};

/// Bytes of one slot on one CPU.
pub const TSERIES_SLOT_SIZE: usize = 24;

/// How `tseries()` combines the values stored in one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TseriesAgg {
    /// No aggregation argument: the last value stored wins.
    Last,
    /// `"avg"`: the average (truncated toward zero).
    Avg,
    /// `"max"`: the largest value.
    Max,
    /// `"min"`: the smallest value.
    Min,
    /// `"sum"`: the total.
    Sum,
}

impl TseriesAgg {
    /// The names the fourth argument may take, in the order of the manual.
    pub const NAMES: [&'static str; 4] = ["avg", "max", "min", "sum"];

    /// The aggregation named `name` (one of [`TseriesAgg::NAMES`]).
    pub fn from_name(name: &str) -> Option<TseriesAgg> {
        Some(match name {
            "avg" => TseriesAgg::Avg,
            "max" => TseriesAgg::Max,
            "min" => TseriesAgg::Min,
            "sum" => TseriesAgg::Sum,
            _ => return None,
        })
    }

    /// The name as written in a script (`none` for [`TseriesAgg::Last`]).
    pub fn name(self) -> &'static str {
        match self {
            TseriesAgg::Last => "none",
            TseriesAgg::Avg => "avg",
            TseriesAgg::Max => "max",
            TseriesAgg::Min => "min",
            TseriesAgg::Sum => "sum",
        }
    }
}

/// One interval of a time series: its epoch (TAI nanoseconds divided by
/// the interval) and its value (a signed or unsigned 64-bit pattern, see
/// [`Tseries::signed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TseriesPoint {
    /// The interval's number: its start is `epoch * interval_ns` TAI ns.
    pub epoch: u64,
    /// The combined value.
    pub value: i64,
}

/// How TAI nanoseconds map to the wall clock shown: filled in by the
/// library that reads the map (the decoder leaves both at 0, which shows
/// TAI time as UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WallClock {
    /// Nanoseconds to add to a TAI time to get Unix time (CLOCK_REALTIME
    /// minus CLOCK_TAI: minus the TAI offset, or 0 when none is set).
    pub unix_offset_ns: i64,
    /// Seconds east of UTC of the local time zone.
    pub local_offset_s: i64,
}

impl WallClock {
    /// Unix nanoseconds of TAI time `tai_ns`.
    pub fn unix_ns(self, tai_ns: u64) -> i128 {
        i128::from(tai_ns) + i128::from(self.unix_offset_ns)
    }

    /// Local-time nanoseconds since 1970-01-01 00:00 (local) of TAI time
    /// `tai_ns`: what the time of day and the date are read from.
    pub fn local_ns(self, tai_ns: u64) -> i128 {
        self.unix_ns(tai_ns) + i128::from(self.local_offset_s) * 1_000_000_000
    }
}

/// The value of a `tseries()` map entry: its arguments and the intervals
/// that hold data, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tseries {
    /// The interval length in nanoseconds (> 0).
    pub interval_ns: u64,
    /// How many intervals the map keeps (> 0).
    pub num_intervals: u64,
    /// How values of one interval are combined.
    pub agg: TseriesAgg,
    /// True when the values are signed.
    pub signed: bool,
    /// How times are shown.
    pub clock: WallClock,
    /// The intervals holding data, by epoch, each epoch at most once.
    pub points: Vec<TseriesPoint>,
}

impl Tseries {
    /// The newest epoch holding data (0 when none does).
    pub fn last_epoch(&self) -> u64 {
        self.points.iter().map(|p| p.epoch).max().unwrap_or(0)
    }

    /// Orders two values as the series' signedness says.
    pub fn compare(&self, a: i64, b: i64) -> std::cmp::Ordering {
        if self.signed {
            a.cmp(&b)
        } else {
            (a as u64).cmp(&(b as u64))
        }
    }
}

/// Combines one slot's per-CPU values: only the CPUs holding the newest
/// epoch count. `None` when no CPU ever wrote the slot.
pub fn reduce_slot(
    per_cpu: &[Vec<u8>],
    agg: TseriesAgg,
    signed: bool,
    name: &str,
) -> Result<Option<TseriesPoint>, DecodeError> {
    let mut words = Vec::with_capacity(per_cpu.len());
    for v in per_cpu {
        let b = Bytes::new(v, name);
        let value = b.u64_at(0, "tseries value")? as i64;
        let meta = b.u64_at(8, "tseries meta")?;
        let epoch = b.u64_at(16, "tseries epoch")?;
        if epoch != 0 {
            words.push((value, meta, epoch));
        }
    }
    let Some(latest) = words.iter().map(|w| w.2).max() else {
        return Ok(None);
    };
    let current = words.into_iter().filter(|w| w.2 == latest);
    let order = |a: &i64, b: &i64| {
        if signed {
            a.cmp(b)
        } else {
            (*a as u64).cmp(&(*b as u64))
        }
    };
    let value = match agg {
        TseriesAgg::Last => current.max_by_key(|w| w.1).map_or(0, |w| w.0),
        TseriesAgg::Sum => current.fold(0i64, |t, w| t.wrapping_add(w.0)),
        TseriesAgg::Max => current.map(|w| w.0).max_by(order).unwrap_or(0),
        TseriesAgg::Min => current.map(|w| w.0).min_by(order).unwrap_or(0),
        TseriesAgg::Avg => {
            let (total, count) = current.fold((0i64, 0u64), |(t, c), w| {
                (t.wrapping_add(w.0), c.wrapping_add(w.1))
            });
            match (count, signed) {
                (0, _) => 0,
                (c, true) => total.wrapping_div(c as i64),
                (c, false) => ((total as u64) / c) as i64,
            }
        }
    };
    Ok(Some(TseriesPoint {
        epoch: latest,
        value,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(value: i64, meta: u64, epoch: u64) -> Vec<u8> {
        [value as u64, meta, epoch]
            .iter()
            .flat_map(|w| w.to_ne_bytes())
            .collect()
    }

    fn reduce(agg: TseriesAgg, signed: bool, cpus: &[Vec<u8>]) -> Option<TseriesPoint> {
        reduce_slot(cpus, agg, signed, "test").expect("well-formed")
    }

    #[test]
    fn only_the_newest_epoch_counts() {
        let cpus = [
            slot(5, 1, 10),
            slot(7, 1, 11),
            slot(9, 1, 11),
            slot(0, 0, 0),
        ];
        let p = |value| Some(TseriesPoint { epoch: 11, value });
        assert_eq!(reduce(TseriesAgg::Sum, true, &cpus), p(16));
        assert_eq!(reduce(TseriesAgg::Max, true, &cpus), p(9));
        assert_eq!(reduce(TseriesAgg::Min, true, &cpus), p(7));
        let avg = [slot(10, 2, 4), slot(5, 1, 4)];
        assert_eq!(
            reduce(TseriesAgg::Avg, true, &avg),
            Some(TseriesPoint { epoch: 4, value: 5 })
        );
    }

    #[test]
    fn last_takes_the_latest_store_and_signedness_orders() {
        let cpus = [slot(1, 500, 3), slot(2, 900, 3), slot(3, 700, 3)];
        assert_eq!(
            reduce(TseriesAgg::Last, true, &cpus).map(|p| p.value),
            Some(2)
        );
        let mixed = [slot(-1, 1, 3), slot(2, 1, 3)];
        assert_eq!(
            reduce(TseriesAgg::Max, true, &mixed).map(|p| p.value),
            Some(2)
        );
        assert_eq!(
            reduce(TseriesAgg::Max, false, &mixed).map(|p| p.value),
            Some(-1)
        );
        assert_eq!(
            reduce(TseriesAgg::Avg, true, &[slot(-7, 2, 1)]).map(|p| p.value),
            Some(-3)
        );
    }

    #[test]
    fn unwritten_slots_and_short_values() {
        assert_eq!(reduce(TseriesAgg::Sum, false, &[slot(0, 0, 0)]), None);
        assert!(reduce_slot(&[vec![0u8; 16]], TseriesAgg::Sum, false, "m").is_err());
        assert_eq!(TseriesAgg::from_name("avg"), Some(TseriesAgg::Avg));
        assert_eq!(TseriesAgg::from_name("mean"), None);
        for n in TseriesAgg::NAMES {
            assert_eq!(TseriesAgg::from_name(n).map(TseriesAgg::name), Some(n));
        }
    }
}
