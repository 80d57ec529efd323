//! `-f svg` and `-f pprof` of a python3.11 CPU profile: the SVG parses as
//! XML and names the interpreter loop; `go tool pprof -top` reads the
//! profile and lists it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const SCRIPT: &str = "profile:hz:199 /pid == cpid/ { @[ustack] = count(); }";
/// 1.5 s of the interpreter's own CPU time (not of the wall clock, which a
/// loaded machine fills with other work).
const LOOP: &str = "import time\nt = time.process_time()\ndef f(n):\n    return sum(i * i for i in range(n))\nwhile time.process_time() - t < 1.5:\n    f(1000)\n";
const INTERPRETER_LOOP: &str = "_PyEval_EvalFrameDefault";

fn dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pictures");
    std::fs::create_dir_all(&d).expect("creating the test directory");
    d
}

/// Profiles python3.11 running a loop for 1.5 s of CPU time with `-f
/// format -o out`.
fn profile_python(format: &str, out: &Path) {
    let script = dir().join(format!("loop-{format}.py"));
    std::fs::write(&script, LOOP).expect("writing the python loop");
    let mut cmd = ustrace();
    cmd.args(["-f", format, "-o"])
        .arg(out)
        .args(["-e", SCRIPT, "-c"])
        .arg(format!("python3.11 {}", script.display()));
    let o = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(o.status.success(), "stderr: {}", stderr(&o));
}

#[test]
fn svg_of_a_python_profile_is_xml_naming_the_interpreter_loop() {
    let test = "svg_of_a_python_profile_is_xml_naming_the_interpreter_loop";
    if !bpf_available(test) || !tool_available(test, "python3.11", &["--version"]) {
        return;
    }
    let out = dir().join("python.svg");
    profile_python("svg", &out);
    let svg = std::fs::read_to_string(&out).expect("the SVG");
    let mut reader = quick_xml::Reader::from_str(&svg);
    let mut titles = Vec::new();
    let mut in_title = false;
    let mut root = None;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                if root.is_none() {
                    root = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                }
                in_title = e.name().as_ref() == b"title";
            }
            Ok(quick_xml::events::Event::Text(t)) if in_title => {
                titles.push(String::from_utf8_lossy(t.as_ref()).into_owned());
            }
            Ok(quick_xml::events::Event::End(_)) => in_title = false,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("the SVG is not XML at {}: {e}", reader.buffer_position()),
        }
    }
    assert_eq!(root.as_deref(), Some("svg"));
    assert!(
        titles.iter().any(|t| t.starts_with(INTERPRETER_LOOP)),
        "no frame named {INTERPRETER_LOOP}: {titles:?}"
    );
    assert!(
        svg.contains("profile:hz:199 /pid == cpid/"),
        "the script is the title"
    );
}

#[test]
fn pprof_of_a_python_profile_is_read_by_go_tool_pprof() {
    let test = "pprof_of_a_python_profile_is_read_by_go_tool_pprof";
    if !bpf_available(test)
        || !tool_available(test, "python3.11", &["--version"])
        || !tool_available(test, "go", &["version"])
    {
        return;
    }
    let out = dir().join("python.pb.gz");
    profile_python("pprof", &out);
    let o = Command::new("go")
        .args(["tool", "pprof", "-top"])
        .arg(&out)
        .env("HOME", dir())
        .output()
        .expect("running go tool pprof");
    let text = stdout(&o);
    assert!(o.status.success(), "go tool pprof: {}", stderr(&o));
    assert!(text.contains("Type: samples"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_end().ends_with(INTERPRETER_LOOP)),
        "{text}"
    );
    // Build ids and files come through (-traces prints them per mapping is
    // not available; the header names the main mapping's file and id).
    assert!(text.contains("Build ID: "), "{text}");
}

#[test]
fn pictures_need_a_stack_keyed_map() {
    let o = run_with_timeout(
        {
            let mut c = ustrace();
            c.args(["-f", "svg", "-e", "BEGIN { @x = count(); exit(); }"]);
            c
        },
        Duration::from_secs(20),
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("keyed by ustack"), "{err}");
}

#[test]
fn several_stack_maps_need_a_file_and_get_one_each() {
    let test = "several_stack_maps_need_a_file_and_get_one_each";
    if !bpf_available(test) {
        return;
    }
    let script = "profile:hz:199 /pid == cpid/ { @a[ustack] = count(); @[ustack(3)] = count(); }";
    let busy = "/bin/sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'";
    let o = run_with_timeout(
        {
            let mut c = ustrace();
            c.args(["-f", "pprof", "-e", script, "-c", busy]);
            c
        },
        Duration::from_secs(20),
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("give -o FILE"), "{}", stderr(&o));
    let out = dir().join("two.svg");
    let o = run_with_timeout(
        {
            let mut c = ustrace();
            c.args(["-f", "svg", "-o"])
                .arg(&out)
                .args(["-e", script, "-c", busy]);
            c
        },
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["two.a.svg", "two.map.svg"] {
        let svg = std::fs::read_to_string(dir().join(name)).unwrap_or_default();
        assert!(svg.starts_with("<?xml"), "{name}: {}", stderr(&o));
    }
}
