//! A leaf function that keeps data in the x86-64 red zone (the 128 bytes
//! below %rsp that leaf functions may use without moving %rsp) fires a
//! probe 1,000,000 times while traced, and computes the same result as
//! untraced. A uprobe that pushed anything below %rsp (as the kernel's
//! reverted nop5 optimization could) would corrupt it.

use std::time::{Duration, Instant};

use ustrace::{Record, Script, ScriptOptions};

/// Mixes eight values kept in a stack array (in the red zone: this function
/// makes no calls, so it never moves %rsp), firing a probe every round.
#[inline(never)]
fn red_zone_leaf(rounds: u64) -> u64 {
    let mut acc = [1u64, 2, 3, 4, 5, 6, 7, 8];
    let p = acc.as_mut_ptr();
    let mut i = 0u64;
    while i < rounds {
        // SAFETY: (i & 7) < 8 = acc.len().
        unsafe {
            let slot = p.add((i & 7) as usize);
            *slot = (*slot ^ i).rotate_left(7);
        }
        ustrace_usdt::probe!(ustrace_red_zone, round, i);
        // Keep the array in memory across the probe.
        std::hint::black_box(p);
        i += 1;
    }
    acc.iter().fold(0, |a, b| a ^ b)
}

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run as root"
        );
        eprintln!("skipping: not root, cannot load BPF");
    }
    root
}

/// The disassembly of `red_zone_leaf` in this test binary.
fn disassembly() -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(&exe)
        .output()
        .expect("running objdump (Debian package binutils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = text
        .lines()
        .position(|l| l.contains("13red_zone_leaf17h") && l.ends_with(">:"))
        .expect("red_zone_leaf in the disassembly");
    text.lines()
        .skip(start + 1)
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_leaf_really_uses_the_red_zone() {
    let code = disassembly();
    let lines: Vec<&str> = code.lines().collect();
    assert!(
        !lines.iter().any(|l| l.contains("call")),
        "not a leaf:\n{code}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("push") || (l.contains("sub ") && l.trim_end().ends_with(",%rsp"))),
        "moves %rsp:\n{code}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("-0x") && l.contains("(%rsp")),
        "no red-zone access:\n{code}"
    );
    // The probe site inside it: the nop + nop10 sequence.
    assert!(
        lines
            .windows(2)
            .any(|w| w[0].trim_end().ends_with("nop") && w[1].contains("nopw")),
        "{code}"
    );
}

#[test]
fn traced_red_zone_leaf_computes_the_same_result() {
    if !root() {
        return;
    }
    const ROUNDS: u64 = 1_000_000;
    let untraced = red_zone_leaf(ROUNDS);
    let me = std::process::id();
    let script = Script::compile(
        "usdt:*:ustrace_red_zone:round { @c = count(); }",
        "red_zone.bt",
        &ScriptOptions {
            pid: Some(me),
            ..Default::default()
        },
    )
    .expect("compiling");
    let mut tracer = script.start().expect("attaching");
    let traced = red_zone_leaf(ROUNDS);
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        tracer.poll(50).expect("polling");
    }
    tracer.end().expect("ending");
    let maps: Vec<String> = tracer
        .final_maps()
        .into_iter()
        .filter_map(|r| match r {
            Record::Map { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(
        traced, untraced,
        "the traced run computed a different result"
    );
    assert_eq!(maps, ["@c: 1000000\n"], "every round must be seen");
}
