//! The library's BCC-style USDT API, end to end, on probes this test
//! program declares itself with the `ustrace-usdt` macros.

use std::time::{Duration, Instant};

use ustrace::{Usdt, UsdtEvent};

#[inline(never)]
fn fire(i: u64) {
    let signed = -(i as i64);
    ustrace_usdt::probe!(ustrace_api_test, hit, i, signed);
}

#[inline(never)]
fn fire_guarded(i: u64) -> bool {
    let mut evaluated = false;
    ustrace_usdt::probe_guarded!(ustrace_api_test, guarded, {
        evaluated = true;
        i * 10
    });
    evaluated
}

fn bpf_available() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ci = std::env::var("CI").map(|v| v == "true").unwrap_or(false);
    if !root {
        assert!(!ci, "BPF tests need root in CI");
        eprintln!("skipping: not root, cannot load BPF");
    }
    root
}

#[test]
fn lists_own_probes() {
    let probes = Usdt::for_pid(std::process::id())
        .probes()
        .expect("listing own probes");
    let hit = probes
        .iter()
        .find(|p| p.provider == "ustrace_api_test" && p.name == "hit")
        .expect("hit probe listed");
    assert_eq!(hit.arg_count, 2);
    assert!(!hit.has_semaphore);
    let guarded = probes
        .iter()
        .find(|p| p.name == "guarded")
        .expect("guarded probe listed");
    assert!(guarded.has_semaphore);
}

#[test]
fn enable_probe_rejects_unknown_names() {
    let err = Usdt::for_pid(std::process::id())
        .enable_probe("ustrace_api_test:nope")
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn receives_hits_with_arguments_and_raises_semaphores() {
    if !bpf_available() {
        return;
    }
    let me = std::process::id();
    let usdt = Usdt::for_pid(me)
        .enable_probe("ustrace_api_test:hit")
        .and_then(|u| u.enable_probe("ustrace_api_test:guarded"))
        .expect("enabling probes");
    assert!(!fire_guarded(0), "semaphore must be off before attaching");
    let script = usdt.compile().expect("compiling");
    let mut tracer = script.start().expect("attaching");
    for i in 1..=3 {
        fire(i);
    }
    assert!(fire_guarded(7), "semaphore must be on while attached");
    let mut events: Vec<UsdtEvent> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while events.len() < 4 && Instant::now() < deadline {
        events.extend(tracer.poll(100).expect("polling"));
    }
    let tid = unsafe { libc::gettid() } as u32;
    let hits: Vec<&UsdtEvent> = events
        .iter()
        .filter(|e| e.probe.ends_with(":ustrace_api_test:hit"))
        .collect();
    assert_eq!(hits.len(), 3, "{events:?}");
    for (n, e) in hits.iter().enumerate() {
        let i = n as u64 + 1;
        assert_eq!(e.args, vec![i, (-(i as i64)) as u64]);
        assert_eq!((e.pid, e.tid), (me, tid));
    }
    let guarded: Vec<&UsdtEvent> = events
        .iter()
        .filter(|e| e.probe.ends_with(":guarded"))
        .collect();
    assert_eq!(guarded.len(), 1, "{events:?}");
    assert_eq!(guarded[0].args, vec![70]);
    drop(tracer);
    assert!(!fire_guarded(0), "semaphore must drop after detaching");
}
