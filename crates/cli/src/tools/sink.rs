//! Output in BCC's layout for `ustrace tool NAME`: the tools' maps as BCC's
//! tables and log2 histograms, and their raw printf lines (uflow,
//! dbslower) as BCC's columns. Maps named `@_...` are the scripts' own
//! bookkeeping and are not printed.

use std::io::{self, Write};

use ustrace::output::{MapEntry, MapValue, Value};
use ustrace::sink::Sink;
use ustrace::Record;

use super::rates;
use super::spec::argdist::{render as render_distribution, Distribution};

/// How a tool's records are laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// funccount: `FUNC  COUNT`, ascending by count.
    Counts {
        /// The first column's heading (`FUNC`, `METHOD`).
        heading: &'static str,
        /// Width of the first column.
        width: usize,
        /// The second column's heading.
        count_heading: &'static str,
        /// Print only the N largest (BCC's `-T`).
        top: Option<usize>,
    },
    /// funclatency, dbstat: a log2 histogram labelled `label`; with
    /// `average`, funclatency's `avg = ...` line from the `@stats` map.
    Hist {
        /// The unit or heading (`usecs`, `query latency (ms)`).
        label: String,
        /// The unit word for the average line, when printed.
        average: Option<&'static str>,
    },
    /// ucalls: `METHOD  # CALLS [TIME (us)]` from `@calls` and `@times`.
    Calls {
        /// The time column's heading, when latencies are traced.
        time_heading: Option<&'static str>,
        /// Print only the N most called (BCC's `-T`).
        top: Option<usize>,
    },
    /// uflow: indented `-> FILE.FUNC` lines.
    Flow,
    /// dbslower: `TIME(s) PID MS QUERY`.
    Slower,
    /// ugc: `START TIME (us) DESCRIPTION`, times in ms with `millis`.
    Collections {
        /// Durations in milliseconds (BCC's `-m`).
        millis: bool,
    },
    /// stackcount: each stack's frames, then its count.
    Stacks,
    /// uobjnew: `NAME/TYPE  # ALLOCS  # BYTES` from `@allocs` and
    /// `@bytes`.
    Allocs {
        /// Only the N classes with the most allocations (BCC's `-C`).
        top_count: Option<usize>,
        /// Only the N classes with the most bytes (BCC's `-S`).
        top_size: Option<usize>,
    },
    /// uthreads: `TIME ID TYPE DESCRIPTION`.
    Threads,
    /// ustat: per-process rates from `@calls`, `@gcs`, `@objnew`,
    /// `@cloads`, `@excs` and `@threads`, a table per interval (ended by an
    /// empty printf line).
    Rates {
        /// The interval in seconds (the divisor of the counts).
        interval: u64,
        /// Print at most this many processes, busiest first.
        max_rows: usize,
    },
    /// argdist: each specifier's counts or histogram, after the time the
    /// script prints every interval.
    Distributions {
        /// How each map prints.
        dists: Vec<Distribution>,
        /// Print only the N largest counts (BCC's `-T`).
        top: Option<usize>,
    },
    /// trace: the script's lines as they are.
    Lines,
}

/// Writes records in BCC's layout.
pub struct BccSink<W: Write> {
    out: W,
    layout: Layout,
    /// `@calls` seen, waiting for `@times` (ucalls prints one table).
    calls: Vec<MapEntry>,
    /// ustat's maps of the current interval, by name; uobjnew's `@allocs`
    /// waiting for `@bytes`.
    held: Vec<(String, Vec<MapEntry>)>,
    /// True once the script's `Tracing ...` line (and the headings) are out.
    started: bool,
    /// Lines that came before the `Tracing ...` line, printed after it.
    pending: String,
}

impl<W: Write> BccSink<W> {
    /// A sink writing `layout` to `out`.
    pub fn new(out: W, layout: Layout) -> BccSink<W> {
        BccSink {
            out,
            layout,
            calls: Vec::new(),
            held: Vec::new(),
            started: false,
            pending: String::new(),
        }
    }

    fn map(&mut self, name: &str, entries: &[MapEntry]) -> io::Result<()> {
        if name.starts_with("@_") {
            return Ok(());
        }
        let text = match &self.layout {
            Layout::Counts {
                heading,
                width,
                count_heading,
                top,
            } => counts_table(entries, heading, *width, count_heading, *top),
            Layout::Hist { label, average } => match (name, average) {
                ("@stats", Some(unit)) => average_line(entries, unit),
                ("@stats", None) => String::new(),
                _ => entries
                    .iter()
                    .map(|e| match e.key.as_slice() {
                        // funclatency -F: BCC's section per function.
                        [func, pid] => format!(
                            "\nFunction = {} [{}]\n{}",
                            func.to_text(),
                            pid.to_text(),
                            log2_hist(&e.value, label)
                        ),
                        _ => log2_hist(&e.value, label),
                    })
                    .collect(),
            },
            Layout::Calls { time_heading, top } => {
                if name == "@calls" && time_heading.is_some() {
                    // Printed with the times, which follow.
                    self.calls = entries.to_vec();
                    return Ok(());
                }
                if name == "@times" && time_heading.is_none() {
                    return Ok(());
                }
                let (calls, times) = if name == "@times" {
                    (std::mem::take(&mut self.calls), entries.to_vec())
                } else {
                    (entries.to_vec(), Vec::new())
                };
                calls_table(&calls, &times, *time_heading, *top)
            }
            Layout::Stacks => stacks(entries),
            Layout::Rates { .. } => {
                // Kept until the interval's empty line.
                self.held.push((name.to_string(), entries.to_vec()));
                return Ok(());
            }
            Layout::Allocs {
                top_count,
                top_size,
            } => {
                if name == "@allocs" {
                    self.held = vec![(name.to_string(), entries.to_vec())];
                    return Ok(());
                }
                let allocs = std::mem::take(&mut self.held)
                    .into_iter()
                    .next()
                    .map(|(_, e)| e)
                    .unwrap_or_default();
                rates::allocs_table(&allocs, entries, *top_count, *top_size)
            }
            Layout::Distributions { dists, top } => match dists.iter().find(|d| d.map == name) {
                Some(d) => render_distribution(d, entries, *top),
                None => String::new(),
            },
            Layout::Lines => String::new(),
            Layout::Flow | Layout::Slower | Layout::Collections { .. } | Layout::Threads => {
                counts_table(entries, "KEY", 36, "COUNT", None)
            }
        };
        self.out.write_all(text.as_bytes())
    }

    /// A printf record as the layout's line.
    fn printf_line(&mut self, text: &str, args: &[Value]) -> String {
        match (&self.layout, args) {
            (Layout::Flow, [cpu, pid, tid, us, depth, file, func]) => {
                let arrow = if text.contains(" <- ") { "<-" } else { "->" };
                let depth = int(depth).max(1) as usize;
                format!(
                    "{:<3} {:<6} {:<6} {:<8.3} {}{} {}\n",
                    int(cpu),
                    int(pid),
                    int(tid),
                    int(us) as f64,
                    "  ".repeat(depth - 1),
                    arrow,
                    key_text(&[file.clone(), func.clone()])
                )
            }
            (Layout::Slower, [elapsed, pid, us, query]) => format!(
                "{:<14.6} {:<7} {:>8.3} {}\n",
                int(elapsed) as f64 / 1e9,
                int(pid),
                int(us) as f64 / 1e3,
                query.to_text()
            ),
            (Layout::Rates { interval, max_rows }, []) if text == "\n" => {
                let held = std::mem::take(&mut self.held);
                rates::rates_table(&held, *interval, *max_rows)
            }
            (Layout::Collections { millis }, [at, took, rest @ ..]) => {
                let divisor = if *millis { 1e6 } else { 1e3 };
                let description = match rest {
                    [generation, collected] => format!(
                        "gen {} GC collected {} objects",
                        int(generation),
                        int(collected)
                    ),
                    other => other
                        .iter()
                        .map(Value::to_text)
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                format!(
                    "{:<8.3} {:<8.2} {description}\n",
                    int(at) as f64 / 1e9,
                    int(took) as f64 / divisor,
                )
            }
            (Layout::Threads, [at, pid, tid, kind, description]) => format!(
                "{:<8.3} {:<16} {:<8} {:<30}\n",
                int(at) as f64 / 1e9,
                format!("{}/{}", int(pid), int(tid)),
                kind.to_text(),
                description.to_text()
            ),
            _ => text.to_string(),
        }
    }

    /// The column headings printed before the first line (uflow,
    /// dbslower).
    fn headings(&self) -> Option<String> {
        match self.layout {
            Layout::Flow => Some(format!(
                "{:<3} {:<6} {:<6} {:<8} {}\n",
                "CPU", "PID", "TID", "TIME(us)", "METHOD"
            )),
            Layout::Slower => Some(format!(
                "{:<14} {:<7} {:>8} {}\n",
                "TIME(s)", "PID", "MS", "QUERY"
            )),
            Layout::Collections { millis } => Some(format!(
                "{:<8} {:<8} {:<40}\n",
                "START",
                if millis { "TIME (ms)" } else { "TIME (us)" },
                "DESCRIPTION"
            )),
            Layout::Threads => Some(format!(
                "{:<8} {:<16} {:<8} {:<30}\n",
                "TIME", "ID", "TYPE", "DESCRIPTION"
            )),
            _ => None,
        }
    }
}

impl<W: Write> Sink for BccSink<W> {
    fn begin(&mut self, _attached_probes: usize) -> io::Result<()> {
        Ok(())
    }

    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Printf { text, args, .. } => {
                let line = self.printf_line(text, args);
                if text.starts_with("Tracing ") {
                    self.out.write_all(line.as_bytes())?;
                    if let Some(h) = self.headings() {
                        self.out.write_all(h.as_bytes())?;
                    }
                    self.started = true;
                    let pending = std::mem::take(&mut self.pending);
                    return self.out.write_all(pending.as_bytes());
                }
                if !self.started && self.headings().is_some() {
                    // An event read before BEGIN's line: kept for after
                    // the headings.
                    self.pending.push_str(&line);
                    return Ok(());
                }
                self.out.write_all(line.as_bytes())
            }
            Record::Map { name, entries, .. } => self.map(name, entries),
            Record::Exit { .. } => Ok(()),
            Record::Message { text, .. } => io::stderr().write_all(text.as_bytes()),
        }
    }

    fn trace_ended(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn lost_events(&mut self, count: u64) -> io::Result<()> {
        writeln!(self.out, "Possibly lost {count} samples")
    }

    fn flush(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.out.write_all(pending.as_bytes())?;
        // A ucalls run that ended before `@times` was printed.
        if !self.calls.is_empty() {
            if let Layout::Calls { top, .. } = self.layout {
                let calls = std::mem::take(&mut self.calls);
                let text = calls_table(&calls, &[], Some("TIME"), top);
                self.out.write_all(text.as_bytes())?;
            }
        }
        self.out.flush()
    }
}

/// An integer argument (0 for a string).
pub(super) fn int(v: &Value) -> i64 {
    v.bits().unwrap_or(0) as i64
}

/// A count, sum or integer map value.
pub(super) fn scalar(v: &MapValue) -> u64 {
    match v {
        MapValue::Count(c) => *c,
        MapValue::Sum(s) | MapValue::Int(s) | MapValue::Min(s) | MapValue::Max(s) => *s as u64,
        MapValue::UInt(u) => *u,
        MapValue::Avg { count, .. } | MapValue::Stats { count, .. } => *count,
        MapValue::Bool(b) => u64::from(*b),
        MapValue::Str(_)
        | MapValue::Tuple(_)
        | MapValue::Hist(_)
        | MapValue::FineHist { .. }
        | MapValue::Lhist { .. }
        | MapValue::Tseries(_) => 0,
    }
}

/// The key fields joined with `.` (ucalls' `FILE.FUNC`).
/// Empty fields (PHP's class of a plain function) are left out.
pub(super) fn key_text(key: &[Value]) -> String {
    key.iter()
        .map(Value::to_text)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// Entries by ascending value, keeping the `top` largest.
fn ascending(entries: &[MapEntry], top: Option<usize>) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = entries
        .iter()
        .map(|e| (key_text(&e.key), scalar(&e.value)))
        .filter(|(_, v)| *v > 0)
        .collect();
    rows.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    if let Some(n) = top {
        let skip = rows.len().saturating_sub(n);
        rows.drain(..skip);
    }
    rows
}

/// funccount's table.
fn counts_table(
    entries: &[MapEntry],
    heading: &str,
    width: usize,
    count_heading: &str,
    top: Option<usize>,
) -> String {
    let mut out = format!("\n{heading:<width$} {count_heading:>8}\n");
    for (key, value) in ascending(entries, top) {
        out.push_str(&format!("{key:<width$} {value:>8}\n"));
    }
    out
}

/// ucalls' table: calls, and total time when traced.
fn calls_table(
    calls: &[MapEntry],
    times: &[MapEntry],
    time_heading: Option<&str>,
    top: Option<usize>,
) -> String {
    let mut out = match time_heading {
        Some(t) => format!("\n{:<50} {:>8} {:>8}\n", "METHOD", "# CALLS", t),
        None => format!("\n{:<50} {:>8}\n", "METHOD", "# CALLS"),
    };
    for (method, count) in ascending(calls, top) {
        match time_heading {
            Some(_) => {
                let time = times
                    .iter()
                    .find(|e| key_text(&e.key) == method)
                    .map_or(0, |e| scalar(&e.value));
                out.push_str(&format!("{method:<50} {count:>8} {:>8.2}\n", time as f64));
            }
            None => out.push_str(&format!("{method:<50} {count:>8}\n")),
        }
    }
    out
}

/// BCC's log2 histogram: rows `low -> high : count |stars|` from the
/// first bucket to the last non-empty one.
pub fn log2_hist(value: &MapValue, label: &str) -> String {
    let MapValue::Hist(buckets) = value else {
        return String::new();
    };
    // bpftrace's bucket k >= 2 holds [2^(k-2), 2^(k-1)); BCC's slot i holds
    // [2^(i-1), 2^i - 1], with 0 in slot 1.
    let mut slots = [0u64; 65];
    for &(k, count) in buckets {
        let slot = match k {
            0 => continue,
            1 => 1,
            k if k < 65 => k as usize - 1,
            _ => continue,
        };
        slots[slot] += count;
    }
    let Some(last) = slots.iter().rposition(|&c| c > 0) else {
        return String::new();
    };
    let max = slots.iter().copied().max().unwrap_or(0);
    let (mut out, width, stars_max) = if last <= 32 {
        (
            format!("     {label:<19} : count     distribution\n"),
            10,
            40,
        )
    } else {
        (
            format!("               {label:<29} : count     distribution\n"),
            20,
            20,
        )
    };
    for (i, &count) in slots.iter().enumerate().take(last + 1).skip(1) {
        let high: u64 = if i >= 64 { u64::MAX } else { (1u64 << i) - 1 };
        let mut low = (high >> 1) + 1;
        if low == high {
            low -= 1;
        }
        out.push_str(&format!(
            "{low:>width$} -> {high:<width$} : {count:<8} |{:<stars_max$}|\n",
            stars(count, max, stars_max)
        ));
    }
    out
}

/// BCC's bar: `width * count / max` stars.
fn stars(count: u64, max: u64, width: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let n = ((width as u128 * count as u128) / max as u128) as usize;
    "*".repeat(n.min(width))
}

/// funclatency's `avg = A UNIT, total: T UNIT, count: C` line.
fn average_line(entries: &[MapEntry], unit: &str) -> String {
    entries
        .iter()
        .filter_map(|e| match e.value {
            MapValue::Stats { count, sum } if count > 0 => Some(format!(
                "\navg = {} {unit}, total: {sum} {unit}, count: {count}\n\n",
                sum / count as i64
            )),
            _ => None,
        })
        .collect()
}

/// stackcount: each stack's frames indented by two, with -P the process
/// (`    COMM [PID]`), then the count by four, ascending by count.
fn stacks(entries: &[MapEntry]) -> String {
    let mut rows: Vec<(&MapEntry, u64)> = entries.iter().map(|e| (e, scalar(&e.value))).collect();
    rows.sort_by_key(|&(_, c)| c);
    let mut out = String::new();
    for (entry, count) in rows {
        let (stack, process) = match entry.key.as_slice() {
            [stack, comm, pid] => (Some(stack), Some((comm, pid))),
            [stack, ..] => (Some(stack), None),
            [] => (None, None),
        };
        if let Some(stack) = stack {
            for frame in stack.to_text().lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&format!("  {}\n", frame.trim()));
            }
        }
        if let Some((comm, pid)) = process {
            out.push_str(&format!("    {} [{}]\n", comm.to_text(), pid.to_text()));
        }
        out.push_str(&format!("    {count}\n\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hist_rows_follow_bcc() {
        // Values 0, 1, 1, 5 and 5: bpftrace buckets 1, 2, 2, 4, 4.
        let h = MapValue::Hist(vec![(1, 1), (2, 2), (4, 2)]);
        let text = log2_hist(&h, "usecs");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "     usecs               : count     distribution"
        );
        assert_eq!(
            lines[1],
            format!("{:>10} -> {:<10} : {:<8} |{}|", 0, 1, 3, "*".repeat(40))
        );
        assert_eq!(
            lines[2],
            format!("{:>10} -> {:<10} : {:<8} |{:40}|", 2, 3, 0, "")
        );
        assert_eq!(
            lines[3],
            format!("{:>10} -> {:<10} : {:<8} |{:<40}|", 4, 7, 2, "*".repeat(26))
        );
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn counts_are_ascending_and_topped() {
        let e = |k: &str, c| MapEntry {
            key: vec![Value::Str(k.as_bytes().to_vec())],
            value: MapValue::Count(c),
        };
        let text = counts_table(
            &[e("b", 9), e("a", 3), e("c", 5)],
            "FUNC",
            36,
            "COUNT",
            Some(2),
        );
        assert_eq!(
            text,
            format!(
                "\n{:<36} {:>8}\n{:<36} {:>8}\n{:<36} {:>8}\n",
                "FUNC", "COUNT", "c", 5, "b", 9
            )
        );
    }
}
