//! A uprobe and a semaphore-guarded USDT probe at one address. The kernel
//! keeps one uprobe per address and refuses a second consumer with another
//! semaphore (EINVAL): in one script both attach (sharing the semaphore);
//! against another tracer's probe the error explains it.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn program() -> PathBuf {
    build_c_once("same_address", "tests/c/same_address.c", &["-O1", "-g"])
}

/// The address of the USDT probe `same:guarded`, from `ustrace -lv`.
fn probe_address(bin: &str) -> String {
    let out = run_with_timeout(
        {
            let mut c = ustrace();
            c.args(["-lv", &format!("usdt:{bin}:same:guarded")]);
            c
        },
        Duration::from_secs(30),
    );
    let text = stdout(&out);
    let at = text
        .split_whitespace()
        .skip_while(|w| *w != "offset")
        .nth(1)
        .unwrap_or_else(|| panic!("no location in: {text}"));
    at.to_string()
}

fn script(bin: &str, at: &str) -> String {
    format!(
        "usdt:{bin}:same:guarded {{ @usdt = count(); }} \
         uprobe:{bin}:{at} {{ @uprobe = count(); }} \
         uretprobe:{bin}:fire_guarded {{ @ret = count(); }}"
    )
}

#[test]
fn uprobe_and_usdt_at_one_address_both_attach() {
    if !bpf_available("uprobe_and_usdt_at_one_address_both_attach") {
        return;
    }
    let bin = program().display().to_string();
    let at = probe_address(&bin);
    assert!(at.starts_with("0x"), "{at}");
    for extra in [&[][..], &["--perf-attach"][..]] {
        let out = trace_command_with(extra, &script(&bin, &at), &format!("{bin} 37"));
        let text = stdout(&out);
        for map in ["@usdt", "@uprobe", "@ret"] {
            assert!(text.contains(&format!("{map}: 37\n")), "{extra:?}: {text}");
        }
        // The semaphore was raised while attached.
        assert!(text.contains("sem 1\n"), "{text}");
    }
}

#[test]
fn another_tracers_semaphore_at_the_address_is_explained() {
    if !bpf_available("another_tracers_semaphore_at_the_address_is_explained") {
        return;
    }
    let bin = program().display().to_string();
    let at = probe_address(&bin);
    // Fires every millisecond for up to 100 s (killed when done).
    let mut target = Guard(
        Command::new(&bin)
            .args(["100000", "1000"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the program"),
    );
    let pid = target.0.id().to_string();
    let mut lines = BufReader::new(target.0.stdout.take().expect("piped")).lines();
    let mut usdt = ustrace();
    usdt.args([
        "-p",
        &pid,
        "-e",
        &format!("usdt:{bin}:same:guarded {{ @usdt = count(); }}"),
    ]);
    let usdt = spawn(usdt);
    // The program sees its semaphore raised once the USDT probe is on.
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("sem 1"));

    let mut uprobe = ustrace();
    uprobe.args([
        "-p",
        &pid,
        "-e",
        &format!("uprobe:{bin}:{at} {{ @uprobe = count(); }}"),
    ]);
    let out = run_with_timeout(uprobe, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "at offset {at}: Invalid argument (os error 22); the kernel allows one USDT semaphore (ref_ctr_offset) per probe address"
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // The first tracer still works, and its semaphore drops when it ends.
    let first = interrupt_after(usdt, Duration::from_millis(200));
    assert!(first.status.success(), "{}", stderr(&first));
    let count: u64 = stdout(&first)
        .trim()
        .strip_prefix("Attaching 1 probe...")
        .and_then(|t| t.trim().strip_prefix("@usdt: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", stdout(&first)));
    assert!(count > 0);
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("sem 0"));
}
