//! Reliability (issue 16): overload. Two producers fire a printf probe as
//! fast as they can; ustrace must account for every event (`received +
//! Lost N = sent`) and keep its resident memory bounded (goal: 32 MB at
//! any offered rate; it swung between 108 and 153 MB before records were
//! taken from the ring buffer in bounded batches).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bpf_available, build_c, ustrace, Guard};

/// Events per producer.
const PER_PRODUCER: u64 = 2_000_000;
const PRODUCERS: u64 = 2;
/// The bound on ustrace's peak RSS.
const MAX_RSS_KB: u64 = 32 * 1024;

fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn overload_loses_exactly_what_it_reports_and_memory_stays_bounded() {
    if !bpf_available("overload_loses_exactly_what_it_reports_and_memory_stays_bounded") {
        return;
    }
    let hits = build_c("rel-hits", "bench/c/hits.c", &["-O2"]);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability");
    std::fs::create_dir_all(&dir).expect("creating the test directory");
    let out = dir.join("overload.out");
    let _ = std::fs::remove_file(&out);
    let script = format!(
        "usdt:{}:bench:hit {{ printf(\"%d %d\\n\", arg0, arg1); }}",
        hits.display()
    );
    let mut tracer = Guard(
        ustrace()
            .args(["-o", &out.display().to_string(), "-e", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting ustrace"),
    );
    // The output file appears once the probes are attached.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "ustrace never attached");
        std::thread::sleep(Duration::from_millis(20));
    }
    let producers: Vec<Guard> = (0..PRODUCERS)
        .map(|_| {
            Guard(
                Command::new(&hits)
                    .arg(PER_PRODUCER.to_string())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("starting a producer"),
            )
        })
        .collect();
    let pid = tracer.0.id();
    let mut peak_kb = 0;
    for mut p in producers {
        loop {
            peak_kb = peak_kb.max(status_kb(pid, "VmHWM:").unwrap_or(0));
            if let Ok(Some(s)) = p.0.try_wait() {
                assert!(s.success(), "a producer failed: {s:?}");
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // Let ustrace catch up, then stop it.
    std::thread::sleep(Duration::from_millis(500));
    peak_kb = peak_kb.max(status_kb(pid, "VmHWM:").unwrap_or(0));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let status = tracer.0.wait().expect("waiting for ustrace");
    assert!(status.success(), "{status:?}");

    let text = std::fs::read_to_string(&out).expect("reading the output");
    let received = text
        .lines()
        .filter(|l| {
            let mut parts = l.split(' ');
            matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None)
                if a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok())
        })
        .count() as u64;
    let lost: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Lost ")?.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    let sent = PER_PRODUCER * PRODUCERS;
    eprintln!("sent {sent}, received {received}, lost {lost}, peak RSS {peak_kb} kB");
    assert_eq!(received + lost, sent, "events unaccounted for");
    assert!(
        peak_kb <= MAX_RSS_KB,
        "ustrace's peak RSS {peak_kb} kB is above {MAX_RSS_KB} kB"
    );
}
