//! A program with USDT probes to try tracers on.
//!
//! ```text
//! cargo run -p ustrace-usdt --example probe_demo -- [COUNT] [INTERVAL_MS]
//! ```
//!
//! Fires `demo:tick` every INTERVAL_MS milliseconds (default 1000), COUNT
//! times (default 10; 0 runs until killed). Its probes:
//!
//! * `demo:tick(i, -i, ptr)`: unsigned counter, signed negation, pointer
//!   to a NUL-terminated message (`str(arg2)` in bpftrace).
//! * `demo:checksum(sum, len)`: guarded by the semaphore of
//!   `demo:checksum`, so the checksum is only computed while a tracer is
//!   attached.
//! * `demo:report(ticks, traced_ticks)`: guarded by a declared semaphore that
//!   the loop also tests itself.
//!
//! Try, while it runs:
//!
//! ```text
//! readelf -n target/debug/examples/probe_demo
//! ustrace -p PID 'usdt:demo:tick { print(arg0, arg1, str(arg2)) }'
//! bpftrace -p PID -e 'usdt:*:demo:tick { printf("%d %d %s\n", arg0, arg1, str(arg2)); }'
//! ```

use std::time::Duration;

ustrace_usdt::declare_semaphore!(
    /// Enabled while `demo:report` is traced.
    static REPORT
);

/// A deliberately slow function, standing for an expensive probe argument.
fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let interval: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    println!("probe_demo: pid {}", std::process::id());

    let mut traced_ticks = 0u64;
    let mut i = 0u64;
    while count == 0 || i < count {
        let message = format!("tick {i}\0");
        let ptr = message.as_ptr();
        ustrace_usdt::probe!(demo, tick, i, -(i as i64), ptr);

        ustrace_usdt::probe_guarded!(demo, checksum, checksum(message.as_bytes()), message.len());

        if REPORT.is_enabled() {
            traced_ticks += 1;
            ustrace_usdt::probe_guarded!(semaphore = REPORT, demo, report, i, traced_ticks);
        }

        i += 1;
        std::thread::sleep(Duration::from_millis(interval));
    }
    println!("probe_demo: {i} ticks, {traced_ticks} with demo:report traced");
}
