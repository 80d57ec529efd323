//! The benchmark's hit loop with Rust probes: fires `bench:hit(i, 3i)`
//! (a 1-byte nop followed by a 10-byte nop) N times as fast as it can and
//! prints the nanoseconds per iteration, like the C loop in bench/c/hits.c
//! (sys/sdt.h's single 1-byte nop).
//!
//! ```text
//! cargo run --release -p ustrace-usdt --example bench_hits -- 5000000
//! ```

use std::time::Instant;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let start = Instant::now();
    let mut i = 0u64;
    while i < n {
        ustrace_usdt::probe!(bench, hit, i, i.wrapping_mul(3));
        i = std::hint::black_box(i) + 1;
    }
    let ns = start.elapsed().as_nanos() as f64 / n.max(1) as f64;
    println!("{ns:.2}");
}
