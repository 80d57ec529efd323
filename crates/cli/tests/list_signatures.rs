//! `-lv 'uprobe:PATH:FUNC'`: each parameter with its type, one per line,
//! from the program's DWARF, as bpftrace prints them (compared with
//! bpftrace itself where bpftrace knows the type).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// Builds `src` with `compiler` (g++ or rustc) into the test directory.
fn build_with(compiler: &str, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-dwarf");
    ustrace_testkit::build_program(compiler, &repo().join(src), &dir, name, flags)
}

fn c_types() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_c("dwarf-types", "tests/c/dwarf_types.c", &["-g", "-O0"]))
}

fn list(pattern: &str) -> (String, String) {
    let out = ustrace()
        .args(["-lv", pattern])
        .output()
        .expect("running ustrace");
    assert!(
        out.status.success(),
        "ustrace -lv {pattern}: {}",
        stderr(&out)
    );
    (stdout(&out), stderr(&out))
}

/// bpftrace's `-lv` for `pattern`, when bpftrace is installed.
fn bpftrace_list(pattern: &str) -> Option<String> {
    if !bpftrace_available("bpftrace_list") {
        return None;
    }
    let out = Command::new("bpftrace")
        .args(["-lv", pattern])
        .output()
        .expect("running bpftrace");
    Some(stdout(&out))
}

#[test]
fn c_parameters_one_per_line() {
    let bin = c_types();
    let b = bin.display();
    let (text, _) = list(&format!("uprobe:{b}:handle"));
    assert_eq!(
        text,
        format!(
            "uprobe:{b}:handle\n    struct req* r\n    const char** names\n    req_t** pp\n    \
             enum color c\n    long unsigned int n\n"
        )
    );
    let (text, _) = list(&format!("uprobe:{b}:inspect"));
    assert_eq!(
        text,
        format!(
            "uprobe:{b}:inspect\n    union value v\n    int (*)[3] rows\n    struct hdr* h\n    \
             enum color* colors\n    const struct req* const* list\n"
        )
    );
    // Where bpftrace knows every type, the output is bpftrace's.
    for func in ["handle", "many", "make_req"] {
        let pattern = format!("uprobe:{b}:{func}");
        if let Some(theirs) = bpftrace_list(&pattern) {
            assert_eq!(list(&pattern).0, theirs, "{pattern}");
        }
    }
    // Where bpftrace prints `<unknown type>`, the real type.
    let (text, _) = list(&format!("uprobe:{b}:mixed"));
    assert_eq!(
        text.lines().nth(1),
        Some("    const volatile int* cv"),
        "{text}"
    );
    // uretprobes show the return type.
    let (text, _) = list(&format!("uretprobe:{b}:make_req"));
    assert_eq!(
        text,
        format!("uretprobe:{b}:make_req\n    struct req retval\n")
    );
}

#[test]
fn cpp_method_and_rust_function() {
    let cpp = build_with(
        "g++",
        "dwarf-methods",
        "tests/c/dwarf_methods.cpp",
        &["-g", "-O1"],
    );
    let c = cpp.display();
    let (text, _) = list(&format!("uprobe:{c}:shop::Cart::add"));
    assert_eq!(
        text,
        format!(
            "uprobe:{c}:shop::Cart::add(shop::Item const&, int)\n    shop::Cart* const this\n    \
             const shop::Item& item\n    int quantity\n"
        )
    );
    let (text, _) = list(&format!("uprobe:{c}:shop::largest<int>"));
    assert_eq!(
        text,
        format!("uprobe:{c}:shop::largest<int>(int, int)\n    int a\n    int b\n")
    );

    let rs = build_with(
        "rustc",
        "dwarf-structs-rs",
        "tests/rust/dwarf_structs.rs",
        &["-g", "-O", "--edition", "2021"],
    );
    let r = rs.display();
    let pattern = format!("uprobe:{r}:process_order");
    let (text, _) = list(&pattern);
    assert_eq!(
        text,
        format!(
            "uprobe:{r}:process_order\n    struct Order* order\n    struct &str note\n    \
             struct Shape shape\n"
        )
    );
    if let Some(theirs) = bpftrace_list(&pattern) {
        assert_eq!(text, theirs);
    }
}

#[test]
fn glibc_getaddrinfo_from_libc6_dbg() {
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    let installed = Command::new("dpkg")
        .args(["-s", "libc6-dbg"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        unavailable(
            "glibc_getaddrinfo_from_libc6_dbg",
            "libc6-dbg is not installed (scripts/install-deps.sh)",
        );
        return;
    }
    let pattern = format!("uprobe:{}:getaddrinfo", libc.display());
    let (text, _) = list(&pattern);
    assert_eq!(
        text,
        format!(
            "{pattern}\n    const char* name\n    const char* service\n    \
             const struct addrinfo* hints\n    struct addrinfo** pai\n"
        )
    );
    if let Some(theirs) = bpftrace_list(&pattern) {
        assert_eq!(text, theirs);
    }
    // A bare library name finds the same file.
    let (by_name, _) = list("uprobe:libc:getaddrinfo");
    assert_eq!(
        by_name.lines().skip(1).collect::<Vec<_>>(),
        text.lines().skip(1).collect::<Vec<_>>()
    );
}

#[test]
fn no_debug_information_is_a_warning_naming_the_file() {
    let bin = build_c("dwarf-types-nodebug", "tests/c/dwarf_types.c", &["-O0"]);
    let b = bin.display();
    let (text, warnings) = list(&format!("uprobe:{b}:handle"));
    assert_eq!(text, format!("uprobe:{b}:handle\n"));
    assert_eq!(
        warnings.trim_end(),
        format!(
            "WARNING: {b}: no debug information (DWARF): rebuild it with -g, or install its debug \
             symbols (Debian: the -dbg or -dbgsym package, which puts them under /usr/lib/debug); \
             parameters are not listed"
        )
    );
}
