//! Overload: two producers fire a printf probe as fast as they can.
//! Measures what arrived, what was reported lost (their sum must be what
//! was sent), the rate of arrival and the tracer's peak RSS while it ran.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::start_until_ready;

/// What one overload run measured.
pub struct Overload {
    /// Events sent by the producers.
    pub sent: u64,
    /// printf lines in the output.
    pub received: u64,
    /// `Lost N events` in the output.
    pub lost: u64,
    /// Received per second while the producers ran (and the tracer caught up).
    pub received_per_s: f64,
    /// The tracer's VmHWM, in KiB.
    pub peak_rss_kb: u64,
}

fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `tool` on `hits` (bench/c/hits.c) with `producers` producers of
/// `per_producer` events each, output to `out`.
pub fn run(
    tool: &Path,
    hits: &Path,
    out: &Path,
    producers: u64,
    per_producer: u64,
) -> Option<Overload> {
    let _ = std::fs::remove_file(out);
    let script = format!(
        "usdt:{}:bench:hit {{ printf(\"%d %d\\n\", arg0, arg1); }} BEGIN {{ printf(\"ready\\n\"); }}",
        hits.display()
    );
    let mut tracer = start_until_ready(tool, &script, out, Stdio::null())?;
    let pid = tracer.id();
    let start = Instant::now();
    let mut running: Vec<_> = (0..producers)
        .filter_map(|_| {
            Command::new(hits)
                .arg(per_producer.to_string())
                .stdout(Stdio::null())
                .spawn()
                .ok()
        })
        .collect();
    let mut peak = 0;
    while !running.is_empty() {
        peak = peak.max(vm_hwm_kb(pid));
        running.retain_mut(|p| !matches!(p.try_wait(), Ok(Some(_))));
        std::thread::sleep(Duration::from_millis(50));
    }
    // Time to catch up with what is buffered.
    std::thread::sleep(Duration::from_millis(500));
    let wall = start.elapsed().as_secs_f64();
    peak = peak.max(vm_hwm_kb(pid));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let _ = tracer.wait();
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let _ = std::fs::remove_file(out);
    let received = text
        .lines()
        .filter(|l| l.split(' ').count() == 2 && l.chars().all(|c| c.is_ascii_digit() || c == ' '))
        .count() as u64;
    let lost = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("Lost ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    Some(Overload {
        sent: producers * per_producer,
        received,
        lost,
        received_per_s: received as f64 / wall,
        peak_rss_kb: peak,
    })
}
