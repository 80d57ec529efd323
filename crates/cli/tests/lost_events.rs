//! A full ring buffer: the records that did not fit are counted in BPF (a
//! one-entry array the program increments directly) and reported.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn records_that_do_not_fit_are_counted_as_lost() {
    if !bpf_available("records_that_do_not_fit_are_counted_as_lost") {
        return;
    }
    // Without printf the ring buffer is 64 KiB: 3,000 zero() records of
    // 40 bytes (with the ring's header) cannot all fit, and BEGIN runs
    // before anything drains them. The trace ends by itself when the -c
    // program (released after BEGIN) exits, however long loading takes.
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        "BEGIN { @m = 1; $i = 0; while ($i < 3000) { zero(@m); $i++; } }",
        "-c",
        "/bin/true",
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    let text = stdout(&out);
    let lost: u64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("Lost ")?
                .strip_suffix(" events")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no `Lost N events` line:\n{text}\n{}", stderr(&out)));
    assert!(
        (1000..3000).contains(&lost),
        "{lost} lost of 3000, about 1360 expected:\n{text}"
    );
}
