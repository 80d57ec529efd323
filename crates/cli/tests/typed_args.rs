//! `args.NAME` in uprobes: parameters by name, found in the program's
//! DWARF, read in the kernel from where the calling convention (or the
//! compiler's location lists) puts them, including stack parameters.

mod common;

use std::time::Duration;

use common::*;

fn program(flags: &[&str], name: &str) -> std::path::PathBuf {
    build_c(name, "tests/c/dwarf_types.c", flags)
}

#[test]
fn parameters_by_name_in_registers_and_on_the_stack() {
    if !bpf_available("parameters_by_name_in_registers_and_on_the_stack") {
        return;
    }
    for (flags, name) in [
        (&["-g", "-O0"][..], "typed-args-O0"),
        (&["-g", "-O2"][..], "typed-args-O2"),
    ] {
        let bin = program(flags, name);
        let b = bin.display();
        let script = format!(
            r#"uprobe:{b}:handle {{ printf("c=%d n=%d r=%d\n", args.c, args.n, args.r != 0); }}
uprobe:{b}:many {{ printf("a=%d f=%d g=%d h=%d\n", args.a, args.f, args.g, args.h); }}
uprobe:{b}:mixed {{ printf("ch=%d uc=%d s=%d ll=%lld\n", args.ch, args.uc, args.s, args.ll); }}"#
        );
        let mut cmd = ustrace();
        cmd.args(["-e", &script, "-c", &format!("{b} 2")]);
        let out = run_with_timeout(cmd, Duration::from_secs(30));
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().filter(|l| l.contains('=')).collect();
        let round = [
            "c=6 n=99 r=1",
            "ch=120 uc=200 s=-5 ll=1099511627776",
            "a=1 f=6 g=7 h=8",
        ];
        let expected: Vec<&str> = round.iter().chain(round.iter()).copied().collect();
        assert_eq!(lines, expected, "{name}:\n{text}");
    }
}

#[test]
fn unreadable_and_unknown_parameters_are_one_line_errors() {
    let bin = program(&["-g", "-O0"], "typed-args-errors");
    let b = bin.display();
    let cases = [
        (
            format!(r#"uprobe:{b}:handle {{ printf("%d\n", args.nam); }}"#),
            "cannot read `args.nam`: function `handle` has no parameter `nam` (it has: r, names, pp, c, n)",
        ),
        (
            format!(r#"uprobe:{b}:mixed {{ printf("%d\n", args.d); }}"#),
            "cannot read `args.d`: parameter `d` of `mixed` (double) cannot be read: passed in \
             %xmm0, which uprobes cannot read",
        ),
        (
            format!(r#"uretprobe:{b}:handle {{ printf("%d\n", args.r); }}"#),
            "cannot read `args.r`: arguments are not available in a uretprobe (use retval)",
        ),
    ];
    for (script, message) in cases {
        let out = ustrace()
            .args(["-e", &script])
            .output()
            .expect("running ustrace");
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.lines().next().unwrap_or_default().ends_with(message),
            "{err}"
        );
        assert!(err.contains('^'), "a caret under the expression: {err}");
    }
    let stripped = program(&["-O0"], "typed-args-nodebug");
    let s = stripped.display();
    let out = ustrace()
        .args([
            "-e",
            &format!(r#"uprobe:{s}:handle {{ printf("%d\n", args.r); }}"#),
        ])
        .output()
        .expect("running ustrace");
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .lines()
            .next()
            .unwrap_or_default()
            .ends_with(&format!(
                "cannot read `args.r`: {s}: no debug information (DWARF): rebuild it with -g, or \
             install its debug symbols (Debian: the -dbg or -dbgsym package, which puts them \
             under /usr/lib/debug)"
            )),
        "{}",
        stderr(&out)
    );
}
