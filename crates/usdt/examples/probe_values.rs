//! Fires probes with known argument values, for checking what tracers read.
//!
//! ```text
//! cargo run -p ustrace-usdt --example probe_values -- [COUNT] [INTERVAL_MS]
//! ```
//!
//! Fires each probe COUNT times (default 1), every INTERVAL_MS milliseconds
//! (default 0), then prints how many times the guarded probe's arguments
//! were evaluated. Its probes:
//!
//! * `values:widths(i8, u8, i16, u16, i32, u32, i64, u64, isize, usize,
//!   bool, char)`: `-1 255 -300 65535 -70000 4000000000
//!   -9223372036854775808 18446744073709551615 -5 5 1 122`, whatever COUNT.
//! * `values:text(str, len, round)`: a pointer to the NUL-terminated
//!   `hello from rust`, its length (15) and the round (0, 1, ...).
//! * `values:guarded(round, traced)`: guarded; `traced` is
//!   `ustrace_usdt::enabled!(values, guarded)` read just before, so 1.
//!
//! ```text
//! ustrace -e 'usdt:PATH:values:text { printf("%s %d\n", str(arg0), arg2); }' -c 'PATH 3'
//! ```

use std::hint::black_box;

#[inline(never)]
fn widths() {
    ustrace_usdt::probe!(
        values,
        widths,
        black_box(-1i8),
        black_box(255u8),
        black_box(-300i16),
        black_box(65535u16),
        black_box(-70000i32),
        black_box(4_000_000_000u32),
        black_box(i64::MIN),
        black_box(u64::MAX),
        black_box(-5isize),
        black_box(5usize),
        black_box(true),
        black_box('z'),
    );
}

#[inline(never)]
fn text(round: u64) {
    let message = c"hello from rust";
    ustrace_usdt::probe!(
        values,
        text,
        message.as_ptr(),
        message.to_bytes().len(),
        round
    );
}

#[inline(never)]
fn guarded(round: u64, evaluated: &mut u64) {
    let traced = ustrace_usdt::enabled!(values, guarded);
    ustrace_usdt::probe_guarded!(values, guarded, round, {
        *evaluated += 1;
        traced
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let interval: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut evaluated = 0;
    for round in 0..count {
        widths();
        text(round);
        guarded(round, &mut evaluated);
        if interval > 0 {
            std::thread::sleep(std::time::Duration::from_millis(interval));
        }
    }
    println!("probe_values: {count} rounds, guarded arguments evaluated {evaluated} times");
}
