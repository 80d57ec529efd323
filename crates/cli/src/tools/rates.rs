//! The tables of ustat (per-process rates) and uobjnew (allocations per
//! class) in BCC's layout.

use ustrace::output::{MapEntry, Value};

use super::sink::{int, scalar};

/// ustat's columns: the map each one counts, and its heading and width.
const RATE_COLUMNS: [(&str, &str, usize); 6] = [
    ("@calls", "METHOD/s", 10),
    ("@gcs", "GC/s", 6),
    ("@objnew", "OBJNEW/s", 10),
    ("@cloads", "CLOAD/s", 8),
    ("@excs", "EXC/s", 6),
    ("@threads", "THR/s", 6),
];

/// One process's row: PID, its name, and a count per column.
struct RateRow {
    pid: i64,
    comm: String,
    counts: [u64; 6],
}

/// ustat's table: the time and load average, then one row per process
/// (`PID CMDLINE METHOD/s GC/s OBJNEW/s CLOAD/s EXC/s THR/s`) from the
/// interval's maps (`held`, by name), busiest first, the command line cut
/// to 20 characters as BCC does. A runtime without
/// probes for a column (Python's allocations, ...) leaves it 0.
pub fn rates_table(held: &[(String, Vec<MapEntry>)], interval: u64, max_rows: usize) -> String {
    let interval = interval.max(1);
    let mut rows: Vec<RateRow> = Vec::new();
    for (name, entries) in held {
        let Some(column) = RATE_COLUMNS.iter().position(|(m, _, _)| m == name) else {
            continue;
        };
        for e in entries {
            let pid = e.key.first().map_or(0, int);
            let n = scalar(&e.value);
            let index = match rows.iter().position(|r| r.pid == pid) {
                Some(i) => i,
                None => {
                    let comm = e.key.get(1).map(Value::to_text).unwrap_or_default();
                    rows.push(RateRow {
                        pid,
                        comm,
                        counts: [0; 6],
                    });
                    rows.len() - 1
                }
            };
            rows[index].counts[column] += n;
        }
    }
    rows.sort_by(|a, b| {
        let total = |r: &RateRow| r.counts.iter().sum::<u64>();
        total(b).cmp(&total(a)).then(a.pid.cmp(&b.pid))
    });
    rows.truncate(max_rows);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let clock = std::process::Command::new("date")
        .arg("+%H:%M:%S")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut out = format!("{clock} loadavg: {}\n\n", load.trim());
    out.push_str(&format!("{:<6} {:<20}", "PID", "CMDLINE"));
    for (_, heading, width) in RATE_COLUMNS {
        out.push_str(&format!(" {heading:<width$}"));
    }
    out.push('\n');
    for row in rows {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", row.pid))
            .ok()
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .replace('\0', " ")
                    .trim()
                    .to_string()
            })
            .filter(|c| !c.is_empty())
            .unwrap_or(row.comm);
        // BCC prints the first 20 characters.
        let cmdline: String = cmdline.chars().take(20).collect();
        out.push_str(&format!("{:<6} {:<20}", row.pid, cmdline));
        for (count, (_, _, width)) in row.counts.iter().zip(RATE_COLUMNS) {
            out.push_str(&format!(" {:<width$}", count / interval));
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// uobjnew's table: `NAME/TYPE  # ALLOCS  # BYTES`, ascending by bytes
/// then allocations (by allocations with `-C`), the `top` largest only.
/// Key fields are joined with a space (`block size 64`).
pub fn allocs_table(
    allocs: &[MapEntry],
    bytes: &[MapEntry],
    top_count: Option<usize>,
    top_size: Option<usize>,
) -> String {
    let name = |key: &[Value]| key.iter().map(Value::to_text).collect::<Vec<_>>().join(" ");
    let mut rows: Vec<(String, u64, u64)> = allocs
        .iter()
        .map(|e| {
            let key = name(&e.key);
            let size = bytes
                .iter()
                .find(|b| b.key == e.key)
                .map_or(0, |b| scalar(&b.value));
            (key, scalar(&e.value), size)
        })
        .filter(|r| r.1 > 0)
        .collect();
    if top_count.is_some() {
        rows.sort_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)));
    } else {
        rows.sort_by(|a, b| a.2.cmp(&b.2).then(a.1.cmp(&b.1)).then(a.0.cmp(&b.0)));
    }
    if let Some(n) = top_count.or(top_size) {
        let skip = rows.len().saturating_sub(n);
        rows.drain(..skip);
    }
    let mut out = format!(
        "\n{:<30} {:>8} {:>12}\n",
        "NAME/TYPE", "# ALLOCS", "# BYTES"
    );
    for (key, count, size) in rows {
        out.push_str(&format!("{key:<30} {count:>8} {size:>12}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ustrace::output::MapValue;

    fn entry(key: &str, value: MapValue) -> MapEntry {
        MapEntry {
            key: vec![Value::Str(key.as_bytes().to_vec())],
            value,
        }
    }

    #[test]
    fn allocs_pair_counts_with_bytes() {
        let allocs = [
            entry("Widget", MapValue::Count(300)),
            entry("String", MapValue::Count(2)),
        ];
        let bytes = [
            entry("Widget", MapValue::Sum(9600)),
            entry("String", MapValue::Sum(20)),
        ];
        let text = allocs_table(&allocs, &bytes, None, None);
        assert_eq!(
            text,
            format!(
                "\n{:<30} {:>8} {:>12}\n{:<30} {:>8} {:>12}\n{:<30} {:>8} {:>12}\n",
                "NAME/TYPE", "# ALLOCS", "# BYTES", "String", 2, 20, "Widget", 300, 9600
            )
        );
        let top = allocs_table(&allocs, &bytes, Some(1), None);
        assert!(top.contains("Widget") && !top.contains("String"), "{top}");
    }

    #[test]
    fn rates_divide_by_the_interval() {
        let key = vec![Value::UInt(7), Value::Str(b"app".to_vec())];
        let held = vec![
            (
                "@calls".to_string(),
                vec![MapEntry {
                    key: key.clone(),
                    value: MapValue::Count(500),
                }],
            ),
            (
                "@excs".to_string(),
                vec![MapEntry {
                    key,
                    value: MapValue::Count(10),
                }],
            ),
        ];
        let text = rates_table(&held, 5, 20);
        let row = text
            .lines()
            .find(|l| l.starts_with("7 "))
            .expect("a row for PID 7");
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols, ["7", "app", "100", "0", "0", "0", "2", "0"]);
    }
}
