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
    if !ustrace_testkit::bpf_available("receives_hits_with_arguments_and_raises_semaphores") {
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
        events.extend(tracer.poll(Duration::from_millis(100)).expect("polling"));
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

/// The seed's C test-server traced through the API: values increase by one.
#[test]
fn traces_the_seed_test_server() {
    if !ustrace_testkit::bpf_available("traces_the_seed_test_server") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("api-seed");
    std::fs::create_dir_all(&dir).expect("creating the build directory");
    let server = dir.join("test-server");
    let src =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/c/test-server.c");
    let status = std::process::Command::new("gcc")
        .args(["-g", "-fno-omit-frame-pointer", "-O0"])
        .arg(&src)
        .arg("-o")
        .arg(&server)
        .status()
        .expect("running gcc");
    assert!(status.success(), "gcc failed");
    let mut child = std::process::Command::new(&server)
        .arg("2957")
        .spawn()
        .expect("starting test-server");
    let pid = child.id();
    // spawn() returns once exec has begun; wait until the new image is mapped.
    let mapped = Instant::now() + Duration::from_secs(5);
    while Instant::now() < mapped
        && !std::fs::read_to_string(format!("/proc/{pid}/maps"))
            .unwrap_or_default()
            .contains("test-server")
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let result = std::panic::catch_unwind(|| {
        let script = Usdt::for_pid(pid)
            .enable_probe("test_grp:test_idx")
            .expect("enabling")
            .compile()
            .expect("compiling");
        let mut tracer = script.start().expect("attaching");
        let mut values = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(6);
        while values.len() < 3 && Instant::now() < deadline {
            for e in tracer.poll(Duration::from_millis(100)).expect("polling") {
                assert_eq!(e.pid, pid);
                values.push(e.args[0] as i64);
            }
        }
        values
    });
    let _ = child.kill();
    let _ = child.wait();
    let values = result.expect("tracing panicked");
    assert!(values.len() >= 3, "{values:?}");
    assert!(values[0] >= 2958, "{values:?}");
    assert!(values.windows(2).all(|w| w[1] == w[0] + 1), "{values:?}");
}

#[inline(never)]
fn fire_labelled(i: u64) {
    ustrace_usdt::probe!(ustrace_api_test, labelled, i);
}

/// BCC's `fn_name`: a labelled block bound to a probe; every printf carries
/// its context; maps read and cleared while the probes stay attached.
#[test]
fn labelled_block_with_event_context_and_live_maps() {
    if !ustrace_testkit::bpf_available("labelled_block_with_event_context_and_live_maps") {
        return;
    }
    use ustrace::{BlockBinding, Record, Script, ScriptOptions};
    let me = std::process::id();
    let probe = Usdt::for_pid(me)
        .enable_probe("ustrace_api_test:labelled")
        .expect("enabling")
        .enabled()[0]
        .clone();
    let options = ScriptOptions::builder()
        .pid(me)
        .event_context(true)
        .block_bindings(vec![BlockBinding {
            label: "on_hit".into(),
            probes: vec![ustrace::ast::AttachKind::Usdt {
                path: probe.path.clone(),
                provider: Some(probe.provider.clone()),
                name: probe.name.clone(),
            }],
        }])
        .build();
    let src = "on_hit { printf(\"i=%d\\n\", arg0); @n[arg0 % 2] = count(); }";
    let script = Script::compile(src, "t", &options).expect("compiling");
    let mut tracer = script.start().expect("attaching");
    for i in 1..=3 {
        fire_labelled(i);
    }
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while printed.len() < 3 && Instant::now() < deadline {
        for r in tracer.poll(Duration::from_millis(100)).expect("polling") {
            if let Record::Printf {
                text,
                args,
                context,
                format,
            } = r
            {
                let ctx = context.expect("printf context");
                assert_eq!((ctx.pid, ctx.tid), (me, unsafe { libc::gettid() } as u32));
                assert!(ctx.nsecs > 0);
                assert!(ctx.probe.ends_with(":ustrace_api_test:labelled"), "{ctx:?}");
                let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
                assert_eq!(ctx.comm, comm.trim_end());
                assert_eq!(format, "i=%d\n");
                assert_eq!(args.len(), 1);
                printed.push(text);
            }
        }
    }
    assert_eq!(printed, ["i=1\n", "i=2\n", "i=3\n"]);
    let Some(Record::Map { name, entries, .. }) = tracer.read_map("@n").expect("reading @n") else {
        panic!("no map @n")
    };
    assert_eq!(name, "@n");
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(tracer.maps()[0].key_fields, 1);
    assert!(tracer.clear_map("@n"));
    let Some(Record::Map { entries, .. }) = tracer.read_map("@n").expect("reading @n") else {
        panic!("no map @n")
    };
    assert!(entries.is_empty());
    assert!(tracer.read_map("@nope").expect("reading").is_none());
}
