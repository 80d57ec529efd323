//! Maps as Prometheus metrics (`--metrics`): the text exposition format
//! 0.0.4 and OpenMetrics 1.0, chosen by the scraper's `Accept` header.
//!
//! # Names
//!
//! Map `@name` is the metric family `ustrace_name`; the anonymous map `@`
//! is `ustrace_map`. Key fields are labels: `key` for a single key,
//! `key0`, `key1`, ... for several. Strings, symbols and stacks are label
//! text (a stack's frames one per line, indentation removed), escaped as
//! the format requires.
//!
//! # Types
//!
//! | map value | metric |
//! |---|---|
//! | `count()` | counter; the sample is `ustrace_name_total` in both formats (OpenMetrics requires the suffix; the text format uses the same name so that a series does not change name with the format) |
//! | `sum()`, `min()`, `max()`, integers | gauge |
//! | `avg()`, `stats()` | summary (`_count`, `_sum`), plus the gauge `ustrace_name_mean` |
//! | `hist()`, `lhist()` | histogram: cumulative `_bucket{le=...}`, `+Inf`, `_count`; no `_sum` (the BPF side keeps only bucket counts) |
//! | strings | none: such maps are left out (see [`MetricType::of_value`]) |
//!
//! A `hist()` bucket `[2^k, 2^(k+1))` of integers has the inclusive upper
//! bound `le="2^(k+1)-1"`; the negative bucket is `le="-1"`, zero's is
//! `le="0"`. An `lhist(x, min, max, step)` bucket `[a, a+step)` is
//! `le="a+step-1"`, and the `[max, ...)` bucket only `+Inf`. Every bucket
//! from the first up to the highest non-empty one of the whole map is
//! written, for every key, so that all series of a map share one set.
//!
//! ```
//! use ustrace_output::metrics::{render, Exposition, MetricMap, MetricType};
//! use ustrace_output::{MapEntry, MapValue, Value};
//!
//! let entries = vec![MapEntry { key: vec![Value::Str(b"GET".to_vec())], value: MapValue::Count(3) }];
//! let map = MetricMap { name: "@calls", help: "@calls[str(arg0)] = count();", metric: MetricType::Counter, entries: &entries };
//! let text = render(&[map], Exposition::Prometheus);
//! let lines: Vec<&str> = text.lines().collect();
//! assert_eq!(lines, [
//!     "# HELP ustrace_calls_total @calls[str(arg0)] = count();",
//!     "# TYPE ustrace_calls_total counter",
//!     "ustrace_calls_total{key=\"GET\"} 3",
//! ]);
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::map::{lhist_inner_buckets, HIST_BUCKETS};
use crate::{MapEntry, MapValue, Value};

/// Which exposition format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposition {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics text 1.0.0 (ends with `# EOF`).
    OpenMetrics,
}

impl Exposition {
    /// The format an `Accept` header asks for: OpenMetrics when
    /// `application/openmetrics-text` has a higher quality (`q=`) than any
    /// other type the header accepts, the Prometheus text format otherwise.
    pub fn negotiate(accept: Option<&str>) -> Exposition {
        let Some(accept) = accept else {
            return Exposition::Prometheus;
        };
        let mut open_metrics = -1.0f64;
        let mut other = -1.0f64;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f64>().ok())
                .unwrap_or(1.0);
            if media == "application/openmetrics-text" {
                open_metrics = open_metrics.max(q);
            } else if !media.is_empty() {
                other = other.max(q);
            }
        }
        if open_metrics > 0.0 && open_metrics >= other {
            Exposition::OpenMetrics
        } else {
            Exposition::Prometheus
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Exposition::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The metric type a map becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `count()`.
    Counter,
    /// Integers, `sum()`, `min()`, `max()`.
    Gauge,
    /// `avg()`, `stats()`: count and sum, plus a `_mean` gauge.
    Summary,
    /// `hist()`, `lhist()`.
    Histogram,
}

impl MetricType {
    /// The metric type of a map holding `value`; `None` for strings and
    /// tuples, which cannot be a metric, and time series (already a
    /// series over time, which a scraper builds itself).
    pub fn of_value(value: &MapValue) -> Option<MetricType> {
        Some(match value {
            MapValue::Count(_) => MetricType::Counter,
            MapValue::Int(_)
            | MapValue::UInt(_)
            | MapValue::Sum(_)
            | MapValue::Min(_)
            | MapValue::Max(_) => MetricType::Gauge,
            MapValue::Avg { .. } | MapValue::Stats { .. } => MetricType::Summary,
            MapValue::Hist(_) | MapValue::FineHist { .. } | MapValue::Lhist { .. } => {
                MetricType::Histogram
            }
            // A graph over time is no one sample: not exported.
            MapValue::Str(_) | MapValue::Tuple(_) | MapValue::Tseries(_) => return None,
            MapValue::Bool(_) => MetricType::Gauge,
        })
    }

    /// The names this type's samples take for family `family` (used to
    /// find two maps that would clash).
    pub fn sample_names(self, family: &str) -> Vec<String> {
        match self {
            MetricType::Counter => vec![format!("{family}_total")],
            MetricType::Gauge => vec![family.to_string()],
            MetricType::Summary => vec![
                format!("{family}_count"),
                format!("{family}_sum"),
                format!("{family}_mean"),
            ],
            MetricType::Histogram => vec![
                format!("{family}_bucket"),
                format!("{family}_count"),
                format!("{family}_sum"),
            ],
        }
    }
}

/// The metric family of map `map_name` (`@x` -> `ustrace_x`, `@` ->
/// `ustrace_map`). Characters a metric name cannot hold become `_`.
pub fn family_name(map_name: &str) -> String {
    let bare = map_name.trim_start_matches('@');
    let bare = if bare.is_empty() { "map" } else { bare };
    let mut out = String::from("ustrace_");
    out.extend(bare.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    out
}

/// One map to expose.
#[derive(Debug, Clone, Copy)]
pub struct MetricMap<'a> {
    /// The map's name, with `@`.
    pub name: &'a str,
    /// The `# HELP` text: the script line that fills the map.
    pub help: &'a str,
    /// What it becomes.
    pub metric: MetricType,
    /// Its entries, as read now.
    pub entries: &'a [MapEntry],
}

/// Renders `maps` in `format`. Entries whose value does not fit the map's
/// metric type (which only a hand-built entry can have) are left out.
pub fn render(maps: &[MetricMap<'_>], format: Exposition) -> String {
    let mut out = String::new();
    for map in maps {
        render_map(&mut out, map, format);
    }
    if format == Exposition::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn render_map(out: &mut String, map: &MetricMap<'_>, format: Exposition) {
    let family = family_name(map.name);
    let mut entries: Vec<(String, &MapEntry)> = map
        .entries
        .iter()
        .filter(|e| MetricType::of_value(&e.value) == Some(map.metric))
        .map(|e| (labels(&e.key), e))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    match map.metric {
        MetricType::Counter => {
            // The text format names the family after its one sample.
            let head = match format {
                Exposition::Prometheus => format!("{family}_total"),
                Exposition::OpenMetrics => family.clone(),
            };
            header(out, &head, map.help, "counter", format);
            for (labels, e) in &entries {
                if let MapValue::Count(c) = e.value {
                    sample(out, &format!("{family}_total"), labels, &c.to_string());
                }
            }
        }
        MetricType::Gauge => {
            header(out, &family, map.help, "gauge", format);
            for (labels, e) in &entries {
                let v = match e.value {
                    MapValue::Int(v) | MapValue::Sum(v) | MapValue::Min(v) | MapValue::Max(v) => {
                        v.to_string()
                    }
                    MapValue::UInt(v) => v.to_string(),
                    _ => continue,
                };
                sample(out, &family, labels, &v);
            }
        }
        MetricType::Summary => {
            header(out, &family, map.help, "summary", format);
            for (labels, e) in &entries {
                if let Some((count, sum)) = count_and_sum(&e.value) {
                    sample(out, &format!("{family}_count"), labels, &count.to_string());
                    sample(out, &format!("{family}_sum"), labels, &sum.to_string());
                }
            }
            let mean = format!("{family}_mean");
            let help = format!("{} (mean)", map.help);
            header(out, &mean, &help, "gauge", format);
            for (labels, e) in &entries {
                if let Some((count, sum)) = count_and_sum(&e.value) {
                    sample(out, &mean, labels, &float(sum as f64 / count as f64));
                }
            }
        }
        MetricType::Histogram => {
            header(out, &family, map.help, "histogram", format);
            let top = entries
                .iter()
                .filter_map(|(_, e)| highest_bucket(&e.value))
                .max();
            for (labels, e) in &entries {
                histogram(out, &family, labels, &e.value, top, format);
            }
        }
    }
}

fn count_and_sum(v: &MapValue) -> Option<(u64, i64)> {
    match *v {
        MapValue::Avg { count, sum } | MapValue::Stats { count, sum } => Some((count, sum)),
        _ => None,
    }
}

/// The `_bucket`, `+Inf` and `_count` samples of one histogram entry, with
/// buckets `0..=top` (see the module docs).
fn histogram(
    out: &mut String,
    family: &str,
    labels: &str,
    value: &MapValue,
    top: Option<u64>,
    format: Exposition,
) {
    let (buckets, last) = match value {
        MapValue::Hist(b) => (b, HIST_BUCKETS as u64 - 1),
        MapValue::FineHist { bits, buckets } => (buckets, (64 - u64::from(*bits)) << bits),
        MapValue::Lhist {
            min,
            max,
            step,
            buckets,
        } => (
            buckets,
            lhist_inner_buckets(*min, *max, *step).saturating_add(1),
        ),
        _ => return,
    };
    let bound = |i: u64| match *value {
        MapValue::Lhist { min, max, step, .. } => lhist_upper_bound(i, min, max, step),
        MapValue::FineHist { bits, .. } => Some(crate::fine_hist::fine_hist_range(i, bits).1),
        _ => hist_upper_bound(i),
    };
    let mut counts = vec![0u64; top.map_or(0, |t| t.min(last) as usize + 1)];
    let mut total = 0u64;
    for &(i, c) in buckets {
        if i > last {
            continue;
        }
        total = total.saturating_add(c);
        if let Some(slot) = counts.get_mut(i as usize) {
            *slot = slot.saturating_add(c);
        }
    }
    let name = format!("{family}_bucket");
    let mut cumulative = 0u64;
    for (i, c) in counts.iter().enumerate() {
        cumulative = cumulative.saturating_add(*c);
        let Some(le) = bound(i as u64) else { break };
        let le = match format {
            Exposition::Prometheus => le.to_string(),
            Exposition::OpenMetrics => format!("{le}.0"),
        };
        sample(
            out,
            &name,
            &with_label(labels, "le", &le),
            &cumulative.to_string(),
        );
    }
    sample(
        out,
        &name,
        &with_label(labels, "le", "+Inf"),
        &total.to_string(),
    );
    sample(out, &format!("{family}_count"), labels, &total.to_string());
}

/// The largest bucket index of a histogram value that holds something.
fn highest_bucket(v: &MapValue) -> Option<u64> {
    let buckets = match v {
        MapValue::Hist(b) => b,
        MapValue::FineHist { buckets, .. } | MapValue::Lhist { buckets, .. } => buckets,
        _ => return None,
    };
    buckets.iter().filter(|b| b.1 > 0).map(|b| b.0).max()
}

/// Inclusive upper bound of `hist()` bucket `i` (see [`crate::hist_bucket`]).
fn hist_upper_bound(i: u64) -> Option<i128> {
    match i {
        0 => Some(-1),
        1 => Some(0),
        2..=64 => Some((1i128 << (i - 1)) - 1),
        _ => None,
    }
}

/// Inclusive upper bound of `lhist()` bucket `i`; `None` for the top
/// (`[max, ...)`) bucket (see [`crate::lhist_bucket`]).
fn lhist_upper_bound(i: u64, min: i64, max: i64, step: i64) -> Option<i128> {
    let inner = lhist_inner_buckets(min, max, step);
    if i > inner {
        return None;
    }
    Some(i128::from(min) + i128::from(i) * i128::from(step.max(1)) - 1)
}

/// `# HELP` and `# TYPE` of one family.
fn header(out: &mut String, family: &str, help: &str, kind: &str, format: Exposition) {
    let help = escape(help, format == Exposition::OpenMetrics);
    let _ = writeln!(out, "# HELP {family} {help}");
    let _ = writeln!(out, "# TYPE {family} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: &str) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// `key="..."` or `key0="...",key1="..."` (without braces); empty for a
/// scalar map.
fn labels(key: &[Value]) -> String {
    let mut out = String::new();
    for (i, k) in key.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if key.len() == 1 {
            out.push_str("key");
        } else {
            let _ = write!(out, "key{i}");
        }
        out.push_str("=\"");
        out.push_str(&escape(&label_text(k), true));
        out.push('"');
    }
    out
}

fn with_label(labels: &str, name: &str, value: &str) -> String {
    if labels.is_empty() {
        format!("{name}=\"{value}\"")
    } else {
        format!("{labels},{name}=\"{value}\"")
    }
}

/// A key field as label text: a stack's frames one per line without
/// indentation, anything else as it prints in a map key.
fn label_text(v: &Value) -> String {
    let text = v.to_text();
    if !text.contains('\n') {
        return text;
    }
    let frames: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    frames.join("\n")
}

/// Escapes `\`, newline and (in label values and OpenMetrics HELP) `"`.
fn escape(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// A float as both formats write it (`NaN`, `+Inf`, `-Inf`, or Rust's
/// shortest round-trip decimal).
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

/// The maps of `maps` (name, metric type) that cannot be exposed, each
/// with the one-line reason: strings, tuples, time series, and maps whose sample names clash
/// with an earlier map's. The renderer must be given only the others.
pub fn unexposable(maps: &[(&str, Option<MetricType>)]) -> Vec<(usize, String)> {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for (i, (name, metric)) in maps.iter().enumerate() {
        let Some(metric) = metric else {
            out.push((
                i,
                format!("map {name} holds strings, tuples or a time series, which cannot be a metric: it is left out of --metrics"),
            ));
            continue;
        };
        let family = family_name(name);
        let mut names = metric.sample_names(&family);
        names.push(family.clone());
        if let Some(clash) = names.iter().find(|n| taken.contains(*n)) {
            out.push((
                i,
                format!("map {name} would be metric {clash}, which an earlier map already is: it is left out of --metrics"),
            ));
            continue;
        }
        taken.extend(names);
    }
    out
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
