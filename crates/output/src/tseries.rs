//! `tseries()` maps as today's bpftrace prints them: a text graph per
//! entry, and `{"interval_start": ..., "value": ...}` lists in JSON.
//!
//! # Which intervals
//!
//! The newest epoch holding data in the whole map is the last row of every
//! entry; each entry shows the `num_intervals` epochs up to it, starting
//! at its own first epoch holding data in that window (an entry with
//! nothing in the window shows one row, the last). Epochs without data
//! print `-` (text) or are left out (JSON). Keyed maps are ordered by each
//! entry's newest epoch, oldest first (ties by key).
//!
//! # The graph
//!
//! ```text
//!              -5                                                  5
//! hh:mm:ss.ms  |___________________________________________________|
//! 10:39:49.300 *                         .                         | -5
//! 10:39:49.800 |                         *                         | 0
//! 10:39:50.300 |                         .                         * 5
//!              v___________________________________________________v
//!              -5                                                  5
//! ```
//!
//! The graph is 53 columns wide. Above and below it: the smallest value
//! left-aligned in 21 columns and the largest right-aligned in 32 (one
//! less and one more when they are equal). A value's `*` sits at
//! `52 * (v - min) / (max - min)` (single-precision float, truncated; the
//! middle column when min = max); when 0 lies strictly between min and
//! max, a `.` marks column `53 * -min / (max - min)`. Times are local
//! wall-clock times of day, with the fraction of a second that the
//! interval needs: none from 1 s up, milliseconds (`hh:mm:ss.ms`) from
//! 1 ms, microseconds (`hh:mm:ss.μs`) from 1 µs, else nanoseconds; a graph
//! of one row shows nanoseconds (bpftrace derives the unit from the
//! spacing of the rows). Header widths count bytes, as bpftrace's do, so
//! the `μs` header is one column shorter on screen.

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::{MapEntry, MapValue};
use ustrace_abi::Tseries;

/// Width of the graph, both bars included.
const GRAPH_WIDTH: usize = 53;
/// Columns of the smallest value's label.
const LABEL_PADDING: usize = 21;

/// The newest epoch holding data among `entries`' time series.
pub(crate) fn last_epoch(entries: &[&MapEntry]) -> u64 {
    entries
        .iter()
        .filter_map(|e| match &e.value {
            MapValue::Tseries(t) => Some(t.last_epoch()),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The newest epoch of one entry (0 for other values): the sort key.
pub(crate) fn entry_epoch(value: &MapValue) -> u64 {
    match value {
        MapValue::Tseries(t) => t.last_epoch(),
        _ => 0,
    }
}

/// One row of the graph: the epoch and its value, if any.
type Row = (u64, Option<i64>);

/// The rows shown of `t` when the map's newest epoch is `last`.
fn rows(t: &Tseries, last: u64) -> Vec<Row> {
    let window = t.num_intervals.max(1);
    let first_in_window = last.saturating_sub(window - 1);
    let start = t
        .points
        .iter()
        .map(|p| p.epoch)
        .filter(|e| (first_in_window..=last).contains(e))
        .min()
        .unwrap_or(last);
    (start..=last)
        .map(|epoch| {
            let value = t.points.iter().find(|p| p.epoch == epoch).map(|p| p.value);
            (epoch, value)
        })
        .collect()
}

/// A value as text, by the series' signedness.
fn value_text(t: &Tseries, v: i64) -> String {
    if t.signed {
        v.to_string()
    } else {
        (v as u64).to_string()
    }
}

/// `a - b` as a wide integer, by the series' signedness.
fn distance(t: &Tseries, a: i64, b: i64) -> i128 {
    let wide = |v: i64| {
        if t.signed {
            i128::from(v)
        } else {
            i128::from(v as u64)
        }
    };
    wide(a) - wide(b)
}

/// The fraction digits shown for spacing `ns` and the header's name for
/// them (bpftrace's display units).
fn time_unit(ns: u64) -> (usize, &'static str) {
    match ns {
        1_000_000_000.. => (0, ""),
        1_000_000.. => (3, ".ms"),
        1_000.. => (6, ".μs"),
        _ => (9, ".ns"),
    }
}

/// `hh:mm:ss` and `digits` digits of the second's fraction of a local
/// time given in nanoseconds since the (local) epoch.
fn time_of_day(local_ns: i128, digits: usize) -> String {
    let secs = local_ns.div_euclid(1_000_000_000);
    let frac = local_ns.rem_euclid(1_000_000_000);
    let day = secs.rem_euclid(86_400);
    let mut s = format!("{:02}:{:02}:{:02}", day / 3600, day / 60 % 60, day % 60);
    if digits > 0 {
        let scaled = frac / 10i128.pow(9 - digits as u32);
        let _ = write!(s, ".{scaled:0digits$}");
    }
    s
}

/// `text` padded with spaces to `width` bytes (C++ `setw` counts bytes).
fn pad_bytes_left(text: &str, width: usize) -> String {
    let mut s = text.to_string();
    s.extend(std::iter::repeat_n(' ', width.saturating_sub(text.len())));
    s
}

/// Steps `v` one toward the bottom of its type, unless it is there.
fn step_down(t: &Tseries, v: i64) -> i64 {
    match t.signed {
        true if v > i64::MIN => v - 1,
        false if v as u64 > 0 => ((v as u64) - 1) as i64,
        _ => v,
    }
}

/// Steps `v` one toward the top of its type, unless it is there.
fn step_up(t: &Tseries, v: i64) -> i64 {
    match t.signed {
        true if v < i64::MAX => v + 1,
        false if (v as u64) < u64::MAX => ((v as u64) + 1) as i64,
        _ => v,
    }
}

/// Renders the graph of `t` (every line ending in a newline) when the
/// map's newest epoch is `last`.
pub(crate) fn render_graph(out: &mut String, t: &Tseries, last: u64) {
    let rows = rows(t, last);
    let values = rows.iter().filter_map(|r| r.1);
    let smallest = values.clone().min_by(|a, b| t.compare(*a, *b));
    let largest = values.max_by(|a, b| t.compare(*a, *b));
    let (mut min, mut max) = (smallest.unwrap_or(0), largest.unwrap_or(0));
    if min == max {
        min = step_down(t, min);
        max = step_up(t, max);
    }
    let spacing = if rows.len() > 1 { t.interval_ns } else { 0 };
    let (digits, unit) = time_unit(spacing);
    let time_size = 8 + if digits > 0 { 1 + digits } else { 0 };
    let bounds = format!(
        "{:<LABEL_PADDING$}{:>width$}",
        value_text(t, min),
        value_text(t, max),
        width = GRAPH_WIDTH - LABEL_PADDING
    );
    let _ = writeln!(out, "{}{bounds}", " ".repeat(time_size + 1));
    let header = format!("hh:mm:ss{unit}");
    let _ = writeln!(
        out,
        "{}|{}|",
        pad_bytes_left(&header, time_size + 1),
        "_".repeat(GRAPH_WIDTH - 2)
    );
    let span = distance(t, max, min);
    let zero_column = if min_below_zero(t, min) && max_above_zero(t, max) {
        (GRAPH_WIDTH as f32 * (-distance(t, min, 0)) as f32 / span as f32) as usize
    } else {
        0
    };
    for (epoch, value) in rows {
        let start_ns = epoch.saturating_mul(t.interval_ns);
        let mut line = vec![b' '; GRAPH_WIDTH];
        line[0] = b'|';
        line[GRAPH_WIDTH - 1] = b'|';
        if zero_column > 0 {
            line[zero_column.min(GRAPH_WIDTH - 1)] = b'.';
        }
        let time = time_of_day(t.clock.local_ns(start_ns), digits);
        match value {
            Some(v) => {
                let column = if min == max {
                    (GRAPH_WIDTH / 2) as f32
                } else {
                    (GRAPH_WIDTH - 1) as f32 * distance(t, v, min) as f32 / span as f32
                };
                let column = (column as i64).clamp(0, GRAPH_WIDTH as i64 - 1) as usize;
                line[column] = b'*';
                let _ = writeln!(
                    out,
                    "{time} {} {}",
                    String::from_utf8_lossy(&line),
                    value_text(t, v)
                );
            }
            None => {
                let _ = writeln!(out, "{time} {} -", String::from_utf8_lossy(&line));
            }
        }
    }
    let mut bottom = "_".repeat(GRAPH_WIDTH - 2);
    bottom.insert(0, 'v');
    bottom.push('v');
    let _ = writeln!(out, "{} {bottom}", " ".repeat(time_size));
    let _ = writeln!(out, "{} {bounds}", " ".repeat(time_size));
}

fn min_below_zero(t: &Tseries, min: i64) -> bool {
    t.signed && min < 0
}

fn max_above_zero(t: &Tseries, max: i64) -> bool {
    distance(t, max, 0) > 0
}

/// Orders entries by their newest epoch, oldest first, ties by `tie`.
pub(crate) fn sort(entries: &mut [&MapEntry], tie: impl Fn(&MapEntry, &MapEntry) -> Ordering) {
    entries.sort_by(|a, b| {
        entry_epoch(&a.value)
            .cmp(&entry_epoch(&b.value))
            .then_with(|| tie(a, b))
    });
}

/// The JSON list of `t`'s intervals holding data in the window ending at
/// `last`: `[{"interval_start":"2026-11-30T14:11:07.000000000","value":5},...]`
/// (local time, as bpftrace writes timestamps).
pub(crate) fn json(t: &Tseries, last: u64) -> String {
    let items: Vec<String> = rows(t, last)
        .into_iter()
        .filter_map(|(epoch, v)| {
            let start = t.clock.local_ns(epoch.saturating_mul(t.interval_ns));
            v.map(|v| {
                format!(
                    "{{\"interval_start\":\"{}\",\"value\":{}}}",
                    iso_local(start),
                    value_text(t, v)
                )
            })
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// `YYYY-MM-DDThh:mm:ss.nnnnnnnnn` of local nanoseconds since the epoch.
fn iso_local(local_ns: i128) -> String {
    let secs = local_ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_date(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{}", time_of_day(local_ns, 9))
}

/// The proleptic Gregorian date of `days` since 1970-01-01, computed by
/// counting 400-year eras (146097 days each) from 0000-03-01, so that the
/// leap day ends each year of the count.
fn civil_date(days: i64) -> (i64, u32, u32) {
    // Days since 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 153 days per five months.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[path = "tseries_tests.rs"]
mod tests;
