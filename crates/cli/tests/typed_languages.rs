//! Typed expressions in C++ (a method's `this`, a class by reference, a
//! namespace, a template by its demangled name), Rust (a struct by
//! reference, `&str` as pointer and length, a struct by value in
//! registers and returned in registers) and glibc (`getaddrinfo`'s
//! arguments through Debian's libc6-dbg debug file): loaded into the
//! kernel, run on real processes, exact values.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

fn build_with(compiler: &str, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-typed");
    ustrace_testkit::build_program(compiler, &repo().join(src), &dir, name, flags)
}

/// Runs `script` on `command`; returns the output lines holding `=`.
fn traced_lines(script: &str, command: &str) -> Vec<String> {
    let mut cmd = ustrace();
    cmd.args(["-e", script, "-c", command]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("WARNING"), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .filter(|l| l.contains('=') && !l.starts_with("rc="))
        .map(str::to_string)
        .collect()
}

#[test]
fn cpp_method_this_reference_and_template() {
    if !bpf_available("cpp_method_this_reference_and_template") {
        return;
    }
    let bin = build_with(
        "g++",
        "typed-methods",
        "tests/c/dwarf_methods.cpp",
        &["-g", "-O1"],
    );
    let b = bin.display();
    let script = format!(
        r#"uprobe:{b}:shop::Cart::add {{
  printf("count=%d total=%d id=%d label=%s q=%d\n", args.this->count, args.this->total,
         args.item.id, str(args.item.label), args.quantity);
}}
uprobe:{b}:shop::largest<int> {{ printf("a=%d b=%d\n", args.a, args.b); }}
uretprobe:{b}:shop::largest<int> {{ printf("max=%d\n", retval); }}"#
    );
    let lines = traced_lines(&script, &format!("{b} 2"));
    assert_eq!(
        lines,
        [
            "count=0 total=0 id=42 label=apple q=3",
            "a=4 b=11",
            "max=11",
            "count=3 total=126 id=42 label=apple q=3",
            "a=4 b=11",
            "max=11",
        ]
    );
}

#[test]
fn rust_structs_str_slices_and_values_in_registers() {
    if !bpf_available("rust_structs_str_slices_and_values_in_registers") {
        return;
    }
    let bin = build_with(
        "rustc",
        "typed-structs-rs",
        "tests/rust/dwarf_structs.rs",
        &["-g", "-O", "--edition", "2021"],
    );
    let b = bin.display();
    let script = format!(
        r#"uprobe:{b}:process_order {{
  printf("id=%d customer=%s at=%d,%d note=%s/%d\n", args.order->id,
         str(args.order->customer.data_ptr, args.order->customer.length),
         args.order->at.x, args.order->at.y,
         str(args.note.data_ptr, args.note.length), args.note.length);
}}
uprobe:{b}:move_point {{ printf("p=%d,%d dx=%d\n", args.p.x, args.p.y, args.dx); }}
uretprobe:{b}:move_point {{ printf("moved=%d,%d\n", retval.x, retval.y); }}"#
    );
    let lines = traced_lines(&script, &format!("{b} 1"));
    assert_eq!(
        lines,
        [
            "id=7 customer=ada at=1,2 note=fast/4",
            "p=3,4 dx=2",
            "moved=5,4"
        ]
    );
}

#[test]
fn glibc_getaddrinfo_through_its_debug_file() {
    let test = "glibc_getaddrinfo_through_its_debug_file";
    if !bpf_available(test) {
        return;
    }
    if !Path::new("/usr/lib/debug/.build-id").exists() {
        unavailable(
            test,
            "libc6-dbg is not installed (scripts/install-deps.sh installs it)",
        );
        return;
    }
    let bin = build_c("typed-resolver", "tests/c/resolver.c", &["-O0"]);
    let b = bin.display();
    let script = r#"uprobe:libc:getaddrinfo {
  printf("name=%s service=%s family=%d socktype=%d flags=%d\n", str(args.name),
         str(args.service), args.hints->ai_family, args.hints->ai_socktype, args.hints->ai_flags);
}
uretprobe:libc:getaddrinfo { printf("ret=%d\n", retval); }"#;
    let lines = traced_lines(script, &format!("{b} 2"));
    let round = [
        "name=127.0.0.1 service=80 family=2 socktype=1 flags=4",
        "ret=0",
    ];
    assert_eq!(lines, [round, round].concat());

    // The manual page calls it `node`; glibc's source calls it `name`.
    let out = ustrace()
        .args([
            "-e",
            r#"uprobe:libc:getaddrinfo { printf("%s\n", str(args.node)); }"#,
        ])
        .output()
        .expect("running ustrace");
    assert!(!out.status.success());
    assert!(
        stderr(&out).lines().next().unwrap_or_default().ends_with(
            "cannot read `args.node`: function `getaddrinfo` has no parameter `node` (it has: name, service, hints, pai)"
        ),
        "{}",
        stderr(&out)
    );
}
