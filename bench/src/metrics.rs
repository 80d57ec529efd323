//! The `--metrics` rows: milliseconds per scrape of 10,000 map keys, and
//! events per second traced with and without a scraper polling every
//! second. ustrace only (bpftrace has no metrics endpoint).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{median, run_hits, Bench, Fire};

/// A ustrace serving `--metrics` on a free loopback port; stopped when dropped.
struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(ustrace: &Path, script: &str) -> Option<Served> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let child = Command::new(ustrace)
        .env("USTRACE_MAX_MAP_KEYS", "10000")
        .args(["--metrics", &format!("127.0.0.1:{port}"), "-e", script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let served = Served { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while scrape(port).is_none() {
        if Instant::now() > deadline {
            eprintln!("  ustrace --metrics did not start");
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(served)
}

/// One `GET /metrics`: the body.
fn scrape(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    // HTTP/1.0: the body comes whole, not in chunks.
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.split_whitespace()
        .nth(1)
        .filter(|code| *code == "200")
        .map(|_| body.to_string())
}

impl Bench {
    /// 6. The metrics endpoint.
    pub(crate) fn metrics(&mut self) {
        let bin = self.work.join("hits");
        let b = bin.display().to_string();
        // Maps hold 4,096 keys unless USTRACE_MAX_MAP_KEYS says more.
        let script = format!("usdt:{b}:bench:hit {{ @keys[arg0 % 10000] = count(); }}");
        let mut per_scrape = None;
        if let Some(served) = serve(&self.ustrace, &script) {
            run_hits(&bin, 20_000, Fire::Hit);
            let samples = scrape(served.port)
                .map(|t| t.lines().filter(|l| !l.starts_with('#')).count())
                .unwrap_or(0);
            if samples != 10_000 {
                eprintln!("  expected 10,000 samples in a scrape, got {samples}");
            } else {
                let runs = if self.quick { 5 } else { 20 };
                let mut ms = Vec::new();
                for _ in 0..runs {
                    let start = Instant::now();
                    if scrape(served.port).is_some() {
                        ms.push(start.elapsed().as_secs_f64() * 1000.0);
                    }
                }
                per_scrape = median(&mut ms);
            }
        }
        self.push(
            "metrics",
            "one scrape of a 10,000-key count map, median",
            "ms",
            per_scrape,
            None,
        );

        let hits: u64 = if self.quick { 1_000_000 } else { 3_000_000 };
        let script =
            format!("usdt:{b}:bench:hit {{ @calls = count(); @k[arg0 % 4000] = count(); }}");
        // Alternating runs, so that a busy moment of the machine does not
        // fall on one side only; the median of each side.
        let rounds = if self.quick { 1 } else { 3 };
        let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for polled in [false, true] {
                if let Some(r) = self.traced_rate(&script, hits, polled) {
                    rates[usize::from(polled)].push(r);
                }
            }
        }
        let [mut plain, mut scraped] = rates;
        self.push(
            "metrics",
            "events/s traced, no scraper",
            "events/s",
            median(&mut plain),
            None,
        );
        self.push(
            "metrics",
            "events/s traced, scraped every second",
            "events/s",
            median(&mut scraped),
            None,
        );
    }

    /// Events per second the hits program reaches while ustrace traces it
    /// with `--metrics`, with or without a scraper polling every second.
    fn traced_rate(&self, script: &str, hits: u64, polled: bool) -> Option<f64> {
        let bin = self.work.join("hits");
        let served = serve(&self.ustrace, script)?;
        let stop = Arc::new(AtomicBool::new(false));
        let poller = polled.then(|| {
            let stop = Arc::clone(&stop);
            let port = served.port;
            std::thread::spawn(move || {
                let mut scrapes = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    if scrape(port).is_some() {
                        scrapes += 1;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                scrapes
            })
        });
        let rate = run_hits(&bin, hits, Fire::Hit).map(|ns| 1e9 / ns);
        stop.store(true, Ordering::SeqCst);
        if let Some(p) = poller {
            eprintln!("  {} scrapes while tracing", p.join().unwrap_or(0));
        }
        rate
    }
}
