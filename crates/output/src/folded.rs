//! Folded stacks (`-f folded`): one line per map entry, `frame;frame;... N`,
//! outermost frame first, as flame-graph tools (flamegraph.pl, inferno,
//! speedscope) read them:
//!
//! ```text
//! main;level1;level2;level3 163
//! ```
//!
//! A key field holding a stack (text with one frame per line, as `ustack`
//! renders) contributes its frames, without `+offset`; any other key field
//! contributes its text as one frame (so `@[comm, ustack]` puts the command
//! at the root). The number is the entry's count, sum or value; histograms
//! and strings have none and are skipped. Entries that fold to the same
//! line are summed.

use crate::{MapEntry, MapValue, Value};

/// The folded lines of one map (empty when it has no numeric entries).
pub fn map(entries: &[MapEntry]) -> String {
    // Entries that fold to the same frames (stacks differing only in
    // offsets) are summed, in first-seen order.
    let mut lines: Vec<(String, i128)> = Vec::new();
    for e in entries {
        let Some(n) = number(&e.value) else { continue };
        let mut frames: Vec<String> = Vec::new();
        for k in &e.key {
            match k {
                Value::Str(bytes) if bytes.contains(&b'\n') => {
                    let text = String::from_utf8_lossy(bytes);
                    let mut stack: Vec<String> = text.lines().filter_map(frame_name).collect();
                    stack.reverse();
                    frames.extend(stack);
                }
                other => frames.push(other.to_text().replace(';', ":")),
            }
        }
        if frames.is_empty() {
            frames.push("[no key]".to_string());
        }
        let folded = frames.join(";");
        match lines.iter_mut().find(|(f, _)| *f == folded) {
            Some((_, total)) => *total = total.saturating_add(n),
            None => lines.push((folded, n)),
        }
    }
    lines
        .into_iter()
        .map(|(f, n)| format!("{f} {n}\n"))
        .collect()
}

/// The function of one stack line: `    level3+64` -> `level3`;
/// `\t401136 level3+64 (/bin/x)` -> `level3`; `0x401136` stays.
fn frame_name(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let sym = if line.contains(" (") {
        line.split_whitespace().nth(1).unwrap_or(line)
    } else {
        line
    };
    let name = match sym.rsplit_once('+') {
        Some((name, off)) if off.chars().all(|c| c.is_ascii_digit()) => name,
        _ => sym,
    };
    Some(name.replace(';', ":"))
}

fn number(v: &MapValue) -> Option<i128> {
    match v {
        MapValue::Count(c) | MapValue::UInt(c) => Some(i128::from(*c)),
        MapValue::Sum(s) | MapValue::Int(s) | MapValue::Min(s) | MapValue::Max(s) => {
            Some(i128::from(*s))
        }
        MapValue::Avg { count, .. } | MapValue::Stats { count, .. } => Some(i128::from(*count)),
        MapValue::Bool(b) => Some(i128::from(*b)),
        MapValue::Hist(_)
        | MapValue::FineHist { .. }
        | MapValue::Lhist { .. }
        | MapValue::Tseries(_)
        | MapValue::Str(_)
        | MapValue::Tuple(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_fold_outermost_first() {
        let entries = vec![
            MapEntry {
                key: vec![Value::Str(
                    b"\n    level3+64\n    level2+21\n    main+126\n".to_vec(),
                )],
                value: MapValue::Count(163),
            },
            MapEntry {
                key: vec![
                    Value::Str(b"app".to_vec()),
                    Value::Str(b"\n\t401136 leaf+0 (/bin/x)\n\t401200 main+3 (/bin/x)\n".to_vec()),
                ],
                value: MapValue::Count(2),
            },
            MapEntry {
                key: vec![Value::Int(7)],
                value: MapValue::Hist(vec![(1, 1)]),
            },
        ];
        assert_eq!(map(&entries), "main;level2;level3 163\napp;main;leaf 2\n");
    }

    #[test]
    fn odd_lines_do_not_panic() {
        for l in ["", "+", "a+b", "\t (", "0x10", "x+12"] {
            let _ = frame_name(l);
        }
        assert_eq!(frame_name("x+12").as_deref(), Some("x"));
        assert_eq!(frame_name("0x10").as_deref(), Some("0x10"));
    }
}
