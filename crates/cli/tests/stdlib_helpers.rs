//! bpftrace's stdlib helpers of issue 11's second part (numaid, strerror,
//! macaddr, memcmp, globmatch, join, find, fail, static_assert), run for
//! real (BPF loaded) with the output bpftrace's manual gives, or bpftrace
//! 0.17 prints where it has the helper.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;

/// tests/c/stdlib_helpers.c: calls `mac()`, `args(argv)` and
/// `compare()` (twice).
fn helpers() -> PathBuf {
    build_c_once("stdlib_helpers", "tests/c/stdlib_helpers.c", &["-g", "-O0"])
}

/// `ustrace -e SCRIPT -c COMMAND`'s stdout; None when BPF cannot run
/// here (outside CI).
fn trace(test: &str, script: &str, command: &str) -> Option<String> {
    if !bpf_available(test) {
        return None;
    }
    Some(trace_command(script, command))
}

/// The error of a script ustrace refuses (the run must fail).
fn refused(script: &str) -> String {
    let mut cmd = ustrace();
    cmd.args(["-e", script]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(!out.status.success(), "{script} was accepted");
    stderr(&out)
}

#[test]
fn numaid_and_strerror_print_as_bpftrace_does() {
    // bpftrace 0.17 prints exactly these lines for the same script (its
    // strerror() is glibc's text; this machine has one NUMA node).
    let Some(out) = run_script(
        "numaid_and_strerror_print_as_bpftrace_does",
        r#"BEGIN { printf("%d\n", numaid); printf("%s|\n", strerror(1)); print(strerror(2));
                   printf("%s\n", strerror(200)); printf("%s\n", strerror(-1));
                   $e = strerror(13); @e[$e] = count(); exit(); }"#,
        &[],
    ) else {
        return;
    };
    let nodes = std::fs::read_to_string("/sys/devices/system/node/online").unwrap_or_default();
    assert_eq!(
        nodes.trim(),
        "0",
        "the expected output assumes one NUMA node"
    );
    assert_eq!(
        out,
        "Attaching 1 probe...\n0\nOperation not permitted|\nNo such file or directory\n\
         Unknown error 200\nUnknown error -1\n\n\n@e[Permission denied]: 1\n"
    );
}

#[test]
fn macaddr_prints_six_bytes_of_user_memory_as_the_manual_does() {
    let bin = helpers();
    let script = format!(
        r#"uprobe:{b}:mac {{ printf("SRC %s, DST %s\n", macaddr(arg0), macaddr(buf(arg0, 6)));
             @[macaddr(arg0)] = count(); }}"#,
        b = bin.display()
    );
    let Some(out) = trace(
        "macaddr_prints_six_bytes_of_user_memory_as_the_manual_does",
        &script,
        &bin.display().to_string(),
    ) else {
        return;
    };
    // The bytes tests/c/stdlib_helpers.c passes are the manual's sample.
    assert_eq!(
        out,
        "Attaching 1 probe...\nSRC 18:C0:4D:08:2E:BB, DST 18:C0:4D:08:2E:BB\n\n\n@[18:C0:4D:08:2E:BB]: 1\n"
    );
}

#[test]
fn memcmp_compares_strings_buffers_and_typed_pointers() {
    let bin = helpers();
    // compare("abcdef", "abcxyz"), then compare("abcdef", "abcdef").
    let script = format!(
        r#"uprobe:{b}:compare {{ printf("%d %d %d %d %d\n", memcmp(str(arg0), str(arg1), 4),
             memcmp(buf(arg0, 3), buf(arg1, 3), 3), memcmp(buf(arg1, 6), buf(arg0, 6), 6),
             memcmp(buf(arg0, 8), "abc", 3), memcmp(args.a, args.b, 6)); }}"#,
        b = bin.display()
    );
    let Some(out) = trace(
        "memcmp_compares_strings_buffers_and_typed_pointers",
        &script,
        &bin.display().to_string(),
    ) else {
        return;
    };
    // 'd' - 'x' = -20.
    assert_eq!(out, "Attaching 1 probe...\n-20 0 20 0 -20\n0 0 0 0 0\n\n\n");
}

#[test]
fn globmatch_matches_whole_strings_as_the_manual_defines() {
    let bin = helpers();
    // compare("abcdef", "abcxyz"), then compare("abcdef", "abcdef").
    let script = format!(
        r#"BEGIN {{ printf("%d %d %d %d %d %d\n", globmatch("bash", "ba*"), globmatch("xbash", "ba*"),
             globmatch("dash", "[!a-c]ash"), globmatch("/usr/lib/libc.so.6", "/usr/*/lib?.so.[0-9]"),
             globmatch("ab", "a**b"), globmatch("a/b", "a?b")); }}
           uprobe:{b}:compare {{ printf("%d %d %d\n", globmatch(str(arg0), "*[a-c]*[!x]*?*[d-f]"),
             globmatch(str(arg1), "abc[x-z]??"), globmatch(str(arg1), "abc")); }}"#,
        b = bin.display()
    );
    let Some(out) = trace(
        "globmatch_matches_whole_strings_as_the_manual_defines",
        &script,
        &bin.display().to_string(),
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 2 probes...\n1 0 1 1 1 1\n1 1 0\n1 0 0\n\n\n"
    );
}

#[test]
fn join_prints_argv_as_bpftrace_does() {
    let bin = helpers();
    let numbers: Vec<String> = (1..=20).map(|n| n.to_string()).collect();
    let command = format!("{} {}", bin.display(), numbers.join(" "));
    let script = format!(
        r#"uprobe:{b}:args {{ join(arg0); join(arg0, ","); }}"#,
        b = bin.display()
    );
    let Some(out) = trace("join_prints_argv_as_bpftrace_does", &script, &command) else {
        return;
    };
    // What bpftrace 0.17 prints for the same script and command: 16
    // elements at most, each of up to 1023 bytes (and its NUL).
    let argv0 = bin.display().to_string();
    let first16 = format!("{argv0} {}", numbers[..15].join(" "));
    assert_eq!(
        out,
        format!(
            "Attaching 1 probe...\n{first16}\n{}\n\n\n",
            first16.replace(' ', ",")
        )
    );
    // An element longer than that is cut (1023 bytes and the NUL), as
    // bpftrace 0.17 cuts it, whatever max_strlen is; an empty separator.
    let (mid, long) = ("y".repeat(100), "x".repeat(1500));
    let script = format!(
        r#"uprobe:{b}:args {{ join(arg0, ""); }}"#,
        b = bin.display()
    );
    let out = trace_command(&script, &format!("{} {mid} {long} b", bin.display()));
    assert_eq!(
        out,
        format!("Attaching 1 probe...\n{argv0}{mid}{}b\n\n\n", &long[..1023])
    );
}

#[test]
fn find_copies_the_value_of_a_key_it_finds() {
    let bin = helpers();
    // The manual's example (in BEGIN), a tuple key, a miss that leaves the
    // variable alone; then a counter kept with find() across two calls.
    let script = format!(
        r#"BEGIN {{ @map[2] = (1, "hello"); let $val; if (find(@map, 2, $val)) {{ print($val); }}
             @s[1, "a"] = 5; $x = 0; if (find(@s, (1, "a"), $x)) {{ printf("%d\n", $x); }}
             $y = 7; if (!find(@s, (2, "b"), $y)) {{ printf("miss %d\n", $y); }} clear(@map); clear(@s); }}
           uprobe:{b}:compare {{ if (find(@n, 1, $c)) {{ @n[1] = $c + 1; }} else {{ @n[1] = 1; }} }}"#,
        b = bin.display()
    );
    let Some(out) = trace(
        "find_copies_the_value_of_a_key_it_finds",
        &script,
        &bin.display().to_string(),
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 2 probes...\n(1, hello)\n5\nmiss 7\n\n\n\n@n[1]: 2\n\n"
    );
}

/// The manual's `fail()` example, with a print after it.
const FAIL_EXAMPLE: &str = r#"BEGIN { if ($1 < 2) { fail("Expected the first positional param to be greater than 1. Got %d", $1); } printf("ok %d\n", $1); exit(); }"#;

#[test]
fn fail_stops_the_compilation_only_where_it_is_reached() {
    // $1 = 5: the branch is never taken, the script runs.
    let Some(out) = run_script(
        "fail_stops_the_compilation_only_where_it_is_reached",
        FAIL_EXAMPLE,
        &["5"],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\nok 5\n\n\n");
    // $1 = 1: the manual's message, at the call, and no program loaded.
    let mut cmd = ustrace();
    cmd.args(["-e", FAIL_EXAMPLE, "1"]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!(
            "stdin:1:23: error: Expected the first positional param to be greater than 1. Got 1\n  |\n1 | {FAIL_EXAMPLE}\n  |                       {}\n",
            "^".repeat(76)
        )
    );
}

#[test]
fn static_assert_fails_the_build_on_a_false_constant() {
    let script = r#"BEGIN { static_assert(sizeof(int32) == 4, "int32 is 4 bytes"); static_assert($# >= 1, "need an argument"); printf("%d\n", $#); exit(); }"#;
    let Some(out) = run_script(
        "static_assert_fails_the_build_on_a_false_constant",
        script,
        &["one"],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n1\n\n\n");
    assert_eq!(
        refused(script),
        format!(
            "stdin:1:64: error: need an argument\n  |\n1 | {script}\n  |                                                                {}\n",
            "^".repeat(42)
        )
    );
}

/// Glob matching written from the manual's definition, on the pattern
/// text (None: the pattern has a `[` without its `]`).
fn glob_reference(p: &[u8], s: &[u8]) -> Option<bool> {
    let Some((&c, rest)) = p.split_first() else {
        return Some(s.is_empty());
    };
    match c {
        b'*' => {
            let mut any = false;
            for i in 0..=s.len() {
                any |= glob_reference(rest, &s[i..])?;
            }
            Some(any)
        }
        b'[' => {
            let negated = rest.first() == Some(&b'!');
            let body = if negated { &rest[1..] } else { rest };
            // The class ends at the first `]` after its first member.
            let close = body.iter().skip(1).position(|&b| b == b']')? + 1;
            let (class, after) = (&body[..close], &body[close + 1..]);
            let Some((&ch, tail)) = s.split_first() else {
                // Still check the rest of the pattern is well formed.
                glob_reference(after, b"")?;
                return Some(false);
            };
            let mut member = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    member |= (class[i]..=class[i + 2]).contains(&ch);
                    i += 3;
                } else {
                    member |= class[i] == ch;
                    i += 1;
                }
            }
            let rest_matches = glob_reference(after, tail)?;
            Some(member != negated && rest_matches)
        }
        _ => {
            let tail_ok = glob_reference(rest, s.get(1..).unwrap_or(b""))?;
            Some(s.first().is_some_and(|&h| c == b'?' || h == c) && tail_ok)
        }
    }
}

#[test]
fn globmatch_in_bpf_agrees_with_a_reference_matcher() {
    // Patterns and strings from a fixed pseudo-random sequence.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut cases = Vec::new();
    while cases.len() < 40 {
        let pattern: String = (0..next(9))
            .map(|_| ["a", "b", "?", "*", "[ab]", "[!a]", "[a-c]", "c"][next(8)])
            .collect();
        let text: String = (0..next(9))
            .map(|_| ["a", "b", "c", "d"][next(4)])
            .collect();
        let want = glob_reference(pattern.as_bytes(), text.as_bytes()).expect("well formed");
        cases.push((pattern, text, want));
    }
    let calls: Vec<String> = cases
        .iter()
        .map(|(p, t, _)| format!(r#"printf("%d", globmatch("{t}", "{p}"));"#))
        .collect();
    let script = format!(r#"BEGIN {{ {} printf("\n"); exit(); }}"#, calls.join(" "));
    let Some(out) = run_script(
        "globmatch_in_bpf_agrees_with_a_reference_matcher",
        &script,
        &[],
    ) else {
        return;
    };
    let want: String = cases.iter().map(|c| if c.2 { '1' } else { '0' }).collect();
    assert!(want.contains('1') && want.contains('0'), "{want}");
    assert_eq!(
        out,
        format!("Attaching 1 probe...\n{want}\n\n\n"),
        "{cases:?}"
    );
}

#[test]
fn misuse_is_one_line_with_a_caret() {
    let cases = [
        (
            r#"BEGIN { $x = memcmp("abc", "abcd", 5); }"#,
            "stdin:1:21: error: memcmp() compares 5 bytes, but this string holds 4\n  |\n1 | BEGIN { $x = memcmp(\"abc\", \"abcd\", 5); }\n  |                     ^^^^^\n",
        ),
        (
            r#"BEGIN { $x = memcmp(1, 2, pid); }"#,
            "stdin:1:27: error: memcmp()'s count must be a constant from 1 to 128\n  |\n1 | BEGIN { $x = memcmp(1, 2, pid); }\n  |                           ^^^\n",
        ),
        (
            r#"BEGIN { $x = macaddr(buf(0, 8)); }"#,
            "stdin:1:22: error: macaddr() needs the address of 6 bytes or a 6-byte buffer, not a buffer of another size\n  |\n1 | BEGIN { $x = macaddr(buf(0, 8)); }\n  |                      ^^^^^^^^^\n",
        ),
        (
            r#"BEGIN { print(strerror("EPERM")); }"#,
            "stdin:1:24: error: expected an integer here, found a string\n  |\n1 | BEGIN { print(strerror(\"EPERM\")); }\n  |                        ^^^^^^^\n",
        ),
        (
            r#"BEGIN { print(globmatch("abc", 5)); }"#,
            "stdin:1:32: error: expected a string, got uint64\n  |\n1 | BEGIN { print(globmatch(\"abc\", 5)); }\n  |                                ^\n",
        ),
        (
            r#"BEGIN { print(globmatch("abc", "[a-")); }"#,
            "stdin:1:32: error: globmatch(): bad pattern: a `[` without its `]`\n  |\n1 | BEGIN { print(globmatch(\"abc\", \"[a-\")); }\n  |                                ^^^^^\n",
        ),
        (
            r#"BEGIN { fail("bad %d", pid); }"#,
            "stdin:1:24: error: fail()'s argument must be a literal (it is evaluated at compile time)\n  |\n1 | BEGIN { fail(\"bad %d\", pid); }\n  |                        ^^^\n",
        ),
        (
            r#"BEGIN { static_assert(pid > 1, "x"); }"#,
            "stdin:1:23: error: static_assert()'s condition must be known at compile time\n  |\n1 | BEGIN { static_assert(pid > 1, \"x\"); }\n  |                       ^^^^^^^\n",
        ),
        (
            r#"BEGIN { join(comm); }"#,
            "stdin:1:14: error: join() needs the address of a `char *` array (an integer such as arg1), not a string\n  |\n1 | BEGIN { join(comm); }\n  |              ^^^^\n",
        ),
        (
            r#"BEGIN { join(0, comm); }"#,
            "stdin:1:17: error: join()'s separator must be a string literal\n  |\n1 | BEGIN { join(0, comm); }\n  |                 ^^^^\n",
        ),
        (
            r#"BEGIN { @a = 1; $v = 0; if (find(@a, 1, $v)) { } }"#,
            "stdin:1:34: error: find(): @a is a scalar map (it has no keys)\n  |\n1 | BEGIN { @a = 1; $v = 0; if (find(@a, 1, $v)) { } }\n  |                                  ^^\n",
        ),
        (
            r#"BEGIN { @a[1] = 1; if (find(@a, 1, 5)) { } }"#,
            "stdin:1:36: error: find()'s third argument must be a variable ($name) to receive the value\n  |\n1 | BEGIN { @a[1] = 1; if (find(@a, 1, 5)) { } }\n  |                                    ^\n",
        ),
    ];
    for (script, want) in cases {
        assert_eq!(refused(script), want, "{script}");
    }
}

#[test]
fn syscall_name_names_x86_64_system_calls_in_every_place() {
    let Some(out) = run_script(
        "syscall_name_names_x86_64_system_calls_in_every_place",
        r#"BEGIN { printf("%s %s %s|%s\n", syscall_name(0), syscall_name(257), syscall_name(-1), syscall_name(400));
                   print(syscall_name(59)); $s = syscall_name(1); printf("%s\n", $s);
                   @n[syscall_name(60)] = count(); exit(); }"#,
        &[],
    ) else {
        return;
    };
    // Numbers without a call (-1, 400: a hole in the table) print as
    // themselves.
    assert_eq!(
        out,
        "Attaching 1 probe...\nread openat -1|400\nexecve\nwrite\n\n\n@n[exit]: 1\n"
    );
    assert_eq!(
        refused("BEGIN { print(syscall_name()); }"),
        "stdin:1:15: error: syscall_name() takes one system call number: syscall_name(0)\n  |\n1 | BEGIN { print(syscall_name()); }\n  |               ^^^^^^^^^^^^^^\n"
    );
}
