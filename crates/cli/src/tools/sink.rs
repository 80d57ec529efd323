//! Output in BCC's layout for `ustrace tool NAME`: the tools' maps as BCC's
//! tables and log2 histograms, and their raw printf lines (uflow,
//! dbslower) as BCC's columns. Maps named `@_...` are the scripts' own
//! bookkeeping and are not printed.

use std::io::{self, Write};

use ustrace::output::{MapEntry, MapValue, Value};
use ustrace::sink::Sink;
use ustrace::Record;

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
    /// ustat: per-process rates from `@calls` and `@gcs`, a table per
    /// interval (ended by an empty printf line).
    Rates {
        /// The interval in seconds (the divisor of the counts).
        interval: u64,
        /// Print at most this many processes, busiest first.
        max_rows: usize,
    },
}

/// Writes records in BCC's layout.
pub struct BccSink<W: Write> {
    out: W,
    layout: Layout,
    /// `@calls` seen, waiting for `@times` (ucalls prints one table).
    calls: Vec<MapEntry>,
    /// ustat's `@gcs` of the current interval.
    gcs: Vec<MapEntry>,
}

impl<W: Write> BccSink<W> {
    /// A sink writing `layout` to `out`.
    pub fn new(out: W, layout: Layout) -> BccSink<W> {
        BccSink {
            out,
            layout,
            calls: Vec::new(),
            gcs: Vec::new(),
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
                _ => entries.iter().map(|e| log2_hist(&e.value, label)).collect(),
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
                match name {
                    "@calls" => self.calls = entries.to_vec(),
                    "@gcs" => self.gcs = entries.to_vec(),
                    _ => {}
                }
                return Ok(());
            }
            Layout::Flow | Layout::Slower | Layout::Collections { .. } => {
                counts_table(entries, "KEY", 36, "COUNT", None)
            }
        };
        self.out.write_all(text.as_bytes())
    }

    fn printf(&mut self, text: &str, args: &[Value]) -> io::Result<()> {
        let line = match (&self.layout, args) {
            (Layout::Flow, [cpu, pid, tid, us, depth, file, func]) => {
                let arrow = if text.contains(" <- ") { "<-" } else { "->" };
                let depth = int(depth).max(1) as usize;
                format!(
                    "{:<3} {:<6} {:<6} {:<8.3} {}{} {}.{}\n",
                    int(cpu),
                    int(pid),
                    int(tid),
                    int(us) as f64,
                    "  ".repeat(depth - 1),
                    arrow,
                    file.to_text(),
                    func.to_text()
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
                let calls = std::mem::take(&mut self.calls);
                let gcs = std::mem::take(&mut self.gcs);
                rates_table(&calls, &gcs, *interval, *max_rows)
            }
            (Layout::Collections { millis }, [at, took, generation, collected]) => {
                let divisor = if *millis { 1e6 } else { 1e3 };
                format!(
                    "{:<8.3} {:<8.2} gen {} GC collected {} objects\n",
                    int(at) as f64 / 1e9,
                    int(took) as f64 / divisor,
                    int(generation),
                    int(collected)
                )
            }
            _ => text.to_string(),
        };
        self.out.write_all(line.as_bytes())
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
                let first = text.starts_with("Tracing ");
                self.printf(text, args)?;
                if first {
                    if let Some(h) = self.headings() {
                        self.out.write_all(h.as_bytes())?;
                    }
                }
                Ok(())
            }
            Record::Map { name, entries, .. } => self.map(name, entries),
            Record::Exit { .. } => Ok(()),
        }
    }

    fn trace_ended(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn lost_events(&mut self, count: u64) -> io::Result<()> {
        writeln!(self.out, "Possibly lost {count} samples")
    }

    fn flush(&mut self) -> io::Result<()> {
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
fn int(v: &Value) -> i64 {
    v.bits().unwrap_or(0) as i64
}

/// A count, sum or integer map value.
fn scalar(v: &MapValue) -> u64 {
    match v {
        MapValue::Count(c) => *c,
        MapValue::Sum(s) | MapValue::Int(s) | MapValue::Min(s) | MapValue::Max(s) => *s as u64,
        MapValue::UInt(u) => *u,
        MapValue::Avg { count, .. } | MapValue::Stats { count, .. } => *count,
        MapValue::Bool(b) => u64::from(*b),
        MapValue::Str(_) | MapValue::Tuple(_) | MapValue::Hist(_) | MapValue::Lhist { .. } => 0,
    }
}

/// The key fields joined with `.` (ucalls' `FILE.FUNC`).
fn key_text(key: &[Value]) -> String {
    key.iter().map(Value::to_text).collect::<Vec<_>>().join(".")
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

/// ustat's table: the time and load average, then one row per process
/// (`PID CMDLINE METHOD/s GC/s OBJNEW/s CLOAD/s EXC/s THR/s`), busiest
/// first. Python gives no allocation, class-load, exception or thread
/// probes: those columns are 0.
fn rates_table(calls: &[MapEntry], gcs: &[MapEntry], interval: u64, max_rows: usize) -> String {
    let interval = interval.max(1);
    let mut rows: Vec<(i64, String, u64, u64)> = Vec::new();
    for (entries, is_gc) in [(calls, false), (gcs, true)] {
        for e in entries {
            let pid = e.key.first().map_or(0, int);
            let comm = e.key.get(1).map(Value::to_text).unwrap_or_default();
            let n = scalar(&e.value);
            match rows.iter_mut().find(|r| r.0 == pid) {
                Some(r) if is_gc => r.3 += n,
                Some(r) => r.2 += n,
                None if is_gc => rows.push((pid, comm, 0, n)),
                None => rows.push((pid, comm, n, 0)),
            }
        }
    }
    rows.sort_by(|a, b| (b.2 + b.3).cmp(&(a.2 + a.3)).then(a.0.cmp(&b.0)));
    rows.truncate(max_rows);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let clock = std::process::Command::new("date")
        .arg("+%H:%M:%S")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut out = format!(
        "{clock} loadavg: {}

",
        load.trim()
    );
    out.push_str(&format!(
        "{:<6} {:<20} {:<10} {:<6} {:<10} {:<8} {:<6} {:<6}
",
        "PID", "CMDLINE", "METHOD/s", "GC/s", "OBJNEW/s", "CLOAD/s", "EXC/s", "THR/s"
    ));
    for (pid, comm, calls, gcs) in rows {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .ok()
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .replace('\0', " ")
                    .trim()
                    .to_string()
            })
            .filter(|c| !c.is_empty())
            .unwrap_or(comm);
        out.push_str(&format!(
            "{:<6} {:<20} {:<10} {:<6} {:<10} {:<8} {:<6} {:<6}
",
            pid,
            cmdline,
            calls / interval,
            gcs / interval,
            0,
            0,
            0,
            0
        ));
    }
    out.push('\n');
    out
}

/// stackcount: each stack's frames indented by two, then the count by
/// four, ascending by count.
fn stacks(entries: &[MapEntry]) -> String {
    let mut rows: Vec<(&MapEntry, u64)> = entries.iter().map(|e| (e, scalar(&e.value))).collect();
    rows.sort_by_key(|&(_, c)| c);
    let mut out = String::new();
    for (entry, count) in rows {
        for field in &entry.key {
            for frame in field.to_text().lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&format!("  {}\n", frame.trim()));
            }
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
