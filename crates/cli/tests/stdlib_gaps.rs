//! The smaller differences from bpftrace's current manual closed after
//! issue 11's stdlib parts: `globmatch` with a pattern known only at run
//! time, `memcmp` of integers, `strcap` of scratch variables, `len()` of
//! a stack in a variable, the "Return value discarded" warning, `join`'s
//! element length, `delete()`'s bool result. Run for real (BPF loaded),
//! exact outputs.

mod common;

use std::path::PathBuf;

use common::*;

/// tests/c/glob_pairs.c: `pair(pattern, text)` for each row of its table.
fn glob_pairs() -> PathBuf {
    build_c_once("glob_pairs", "tests/c/glob_pairs.c", &["-g", "-O0"])
}

/// The kernel's glob_match (lib/glob.c), which bpftrace's run-time
/// matcher copies, written from its definition: one level of backtrack to
/// the last `*`, `\x` a literal `x`, a class without its `]` a literal
/// `[`, and the string's end in no class.
fn kernel_glob(pat: &[u8], s: &[u8]) -> bool {
    let at = |b: &[u8], i: usize| b.get(i).copied().unwrap_or(0);
    let (mut p, mut i) = (0usize, 0usize);
    let mut back: Option<(usize, usize)> = None;
    loop {
        let c = at(s, i);
        i += 1;
        let mut d = at(pat, p);
        p += 1;
        let ok = match d {
            b'?' => {
                if c == 0 {
                    return false;
                }
                true
            }
            b'*' => {
                if at(pat, p) == 0 {
                    return true;
                }
                i -= 1;
                back = Some((p, i));
                true
            }
            b'[' if c != 0 && class_at(pat, p).is_some() => {
                let (members, negated, end) = class_at(pat, p).unwrap_or_default();
                let hit = members.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                if hit != negated {
                    p = end;
                    true
                } else {
                    false
                }
            }
            b'[' if c == 0 => return false,
            _ => {
                if d == b'\\' {
                    d = at(pat, p);
                    p += 1;
                }
                if c == d && d == 0 {
                    return true;
                }
                c == d
            }
        };
        if !ok {
            let Some((bp, bs)) = back else {
                return false;
            };
            if c == 0 {
                return false;
            }
            p = bp;
            i = bs + 1;
            back = Some((bp, bs + 1));
        }
    }
}

/// A character class: its spans, whether it is negated, and the pattern
/// position past its `]`.
type Class = (Vec<(u8, u8)>, bool, usize);

/// The class starting at `p` (just past its `[`); None when it has no
/// `]`.
fn class_at(pat: &[u8], p: usize) -> Option<Class> {
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let negated = at(p) == b'!';
    let mut k = p + usize::from(negated);
    let mut spans = Vec::new();
    let mut a = at(k);
    k += 1;
    loop {
        if a == 0 {
            return None;
        }
        let mut b = a;
        if at(k) == b'-' && at(k + 1) != b']' {
            b = at(k + 1);
            if b == 0 {
                return None;
            }
            k += 2;
        }
        spans.push((a, b));
        a = at(k);
        k += 1;
        if a == b']' {
            return Some((spans, negated, k));
        }
    }
}

#[test]
fn the_reference_matcher_reads_the_manual_right() {
    for (p, s, want) in [
        ("ba*", "bash", true),
        ("*[!/]", "/usr/bin/", false),
        ("*[!/]", "/usr/bin", true),
        ("[]a]b", "]b", true),
        ("a\\*", "a*", true),
        ("a\\*", "ab", false),
        ("a[b", "a[b", true),
        ("[a-c]x", "bx", true),
        ("[a-]x", "-x", true),
        ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "aXbYbZ", false),
    ] {
        assert_eq!(kernel_glob(p.as_bytes(), s.as_bytes()), want, "{p} ~ {s}");
    }
}

#[test]
fn globmatch_with_a_run_time_pattern_agrees_with_the_kernels_matcher() {
    // Patterns (held in a variable, so compiled as run-time patterns) and
    // strings from a fixed pseudo-random sequence; the alphabet has
    // malformed classes and escapes too.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let pieces = [
        "a", "b", "?", "*", "[ab]", "[!a]", "[a-c]", "c", "[", "]", "\\*", "[]b]", "-",
    ];
    let mut cases = Vec::new();
    while cases.len() < 48 {
        let pattern: String = (0..next(7)).map(|_| pieces[next(pieces.len())]).collect();
        let text: String = (0..next(9))
            .map(|_| ["a", "b", "c", "*", "[", "]", "-"][next(7)])
            .collect();
        let want = kernel_glob(pattern.as_bytes(), text.as_bytes());
        cases.push((pattern, text, want));
    }
    let calls: Vec<String> = cases
        .iter()
        .map(|(p, t, _)| {
            let p = p.replace('\\', "\\\\");
            format!(r#"$p = "{p}"; printf("%d", globmatch("{t}", $p));"#)
        })
        .collect();
    let script = format!(r#"BEGIN {{ {} printf("\n"); exit(); }}"#, calls.join(" "));
    let Some(out) = run_script(
        "globmatch_with_a_run_time_pattern_agrees_with_the_kernels_matcher",
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
fn globmatch_takes_patterns_from_probe_arguments_and_maps() {
    let bin = glob_pairs();
    let script = format!(
        r#"BEGIN {{ @pat = "*.so.[0-9]"; }}
           uprobe:{b}:pair {{ printf("%s %s %d %d\n", str(arg0), str(arg1),
             globmatch(str(arg1), str(arg0)), globmatch(str(arg1), @pat)); }}"#,
        b = bin.display()
    );
    if !bpf_available("globmatch_takes_patterns_from_probe_arguments_and_maps") {
        return;
    }
    let out = trace_command(&script, &bin.display().to_string());
    assert_eq!(
        out,
        "Attaching 2 probes...\n\
         lib*.so.[0-9] libc.so.6 1 1\n\
         lib*.so.[0-9] libc.so.x 0 0\n\
         *[!/] /usr/bin/ 0 0\n\
         /usr/*/python3.? /usr/bin/python3.11 0 0\n\
         /usr/*/python3.?? /usr/bin/python3.11 1 0\n\
         []a]b ]b 1 0\n\
         a\\* a* 1 0\n\
         a[b a[b 1 0\n\n\n@pat: *.so.[0-9]\n"
    );
}

#[test]
fn memcmp_compares_the_bytes_of_integer_values() {
    // bpftrace compares the values' own bytes (little-endian, as wide as
    // the type); `argN` is an integer, so only its 8 bytes are compared.
    let bin = build_c_once("stdlib_helpers", "tests/c/stdlib_helpers.c", &["-g", "-O0"]);
    let script = format!(
        r#"BEGIN {{ printf("%d %d %d %d %d\n", memcmp(0x0102, 0x0102, 8), memcmp(0x0102, 0x0103, 1),
             memcmp(0x0201, 0x0101, 2), memcmp((uint8)5, (uint8)7, 1), memcmp(true, 1, 1)); }}
           uprobe:{b}:compare {{ printf("%d %d\n", memcmp(arg0, arg0, 8), memcmp(arg0 | 1, arg0 & ~1, 1)); }}"#,
        b = bin.display()
    );
    if !bpf_available("memcmp_compares_the_bytes_of_integer_values") {
        return;
    }
    let out = trace_command(&script, &bin.display().to_string());
    assert_eq!(out, "Attaching 2 probes...\n0 -1 1 -2 0\n0 1\n0 1\n\n\n");
    // More bytes than the integer holds is refused at the argument.
    let mut cmd = ustrace();
    cmd.args(["-e", "BEGIN { $x = memcmp((uint16)1, 2, 3); }"]);
    let out = run_with_timeout(cmd, std::time::Duration::from_secs(60));
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        "stdin:1:21: error: memcmp() compares 3 bytes, but this integer holds 2\n  |\n1 | BEGIN { $x = memcmp((uint16)1, 2, 3); }\n  |                     ^^^^^^^^^\n"
    );
}

#[test]
fn strcap_of_a_variable_is_the_size_of_its_largest_value() {
    // bpftrace types `$a = "abc"` as string[4] and grows a variable's
    // type to its largest string; strcap() is that size, not the buffer's.
    let Some(out) = run_script(
        "strcap_of_a_variable_is_the_size_of_its_largest_value",
        r#"BEGIN { $a = "abc"; $b = comm; $d = "ab"; $d = "abcdefgh";
                   printf("%d %d %d %d\n", strcap($a), strcap($b), strcap($d), strcap("xy"));
                   exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n4 16 9 3\n\n\n");
}

#[test]
fn len_of_a_stack_in_a_variable_counts_its_frames() {
    let bin = build_c_once("nested_calls", "tests/c/nested_calls.c", &["-g", "-O0"]);
    if !bpf_available("len_of_a_stack_in_a_variable_counts_its_frames") {
        return;
    }
    let script = format!(
        r#"uprobe:{b}:mid,uprobe:{b}:leaf {{ $s = ustack; $two = ustack(2);
             printf("%s %d %d\n", func, len($s), len($two)); print($s); }}"#,
        b = bin.display()
    );
    let out = trace_command(&script, &bin.display().to_string());
    // Each record: "FUNC LEN 2", a blank line, one line per frame of $s,
    // a blank line.
    let mut depths = Vec::new();
    let mut lines = out.lines().skip(1);
    while let Some(head) = lines.next() {
        let fields: Vec<&str> = head.split(' ').collect();
        let [func, len, two] = fields[..] else {
            break;
        };
        assert_eq!(two, "2", "{out}");
        assert_eq!(lines.next(), Some(""), "{out}");
        let frames: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
        assert_eq!(
            frames.first().map(|f| f.trim()),
            Some(format!("{func}+0").as_str()),
            "{out}"
        );
        assert_eq!(len.parse::<usize>().ok(), Some(frames.len()), "{out}");
        depths.push((func.to_string(), frames.len()));
    }
    assert_eq!(depths.len(), 2, "{out}");
    assert_eq!(depths[0].0, "mid", "{out}");
    assert_eq!(depths[1], ("leaf".to_string(), depths[0].1 + 1), "{out}");
    // Not a stack: one line with a caret.
    let mut cmd = ustrace();
    cmd.args(["-e", "BEGIN { $s = 1; print(len($s)); }"]);
    let out = run_with_timeout(cmd, std::time::Duration::from_secs(60));
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        "stdin:1:27: error: len() takes a map or a stack, not uint64\n  |\n1 | BEGIN { $s = 1; print(len($s)); }\n  |                           ^^\n"
    );
}

#[test]
fn a_discarded_value_is_warned_about_as_bpftrace_words_it() {
    let Some((out, err)) = run_script_with_stderr(
        "a_discarded_value_is_warned_about_as_bpftrace_words_it",
        r#"BEGIN { @m[1] = 1; $x = 1; strlen("abc"); $x++; has_key(@m, 1); printf("ok\n"); delete(@m, 1); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\nok\n\n\n\n");
    let line = r#"BEGIN { @m[1] = 1; $x = 1; strlen("abc"); $x++; has_key(@m, 1); printf("ok\n"); delete(@m, 1); exit(); }"#;
    // strlen(...) at columns 28-41, has_key(...) at 49-63; $x++ and
    // delete() give none.
    let warning = |from: usize, to: usize| {
        format!(
            "WARNING: stdin:1:{from}-{to}: Return value discarded.\n  |\n1 | {line}\n  | {}{}\n",
            " ".repeat(from - 1),
            "^".repeat(to - from)
        )
    };
    assert_eq!(err, format!("{}{}", warning(28, 41), warning(49, 63)));
    // --no-warnings silences it.
    let mut cmd = ustrace();
    cmd.args(["--no-warnings", "-e", r#"BEGIN { strlen("abc"); exit(); }"#]);
    let out = run_with_timeout(cmd, std::time::Duration::from_secs(60));
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
}

#[test]
fn delete_says_whether_the_key_was_there() {
    // bpftrace's stdlib.md: `bool delete(map m, mapkey k)`, false when
    // the key was not there; a bare `delete(...);` is not warned about.
    let script = r#"BEGIN { @a[1] = 1; @a[2] = 2; @a[3] = 3; @s = 5;
        if (delete(@a, 2)) { printf("deleted 2\n"); }
        if (!delete(@a, 2)) { printf("2 was gone\n"); }
        $d = delete(@a, (3)); printf("d %d\n", $d);
        print((delete(@a[1]), delete(@a[1])));
        delete(@a, 7); delete(@a[8]);
        $e = delete(@s); print($e); print(delete(@s));
        @s = 1; exit(); }"#;
    let Some((out, err)) =
        run_script_with_stderr("delete_says_whether_the_key_was_there", script, &[])
    else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\ndeleted 2\n2 was gone\nd 1\n(true, false)\ntrue\nfalse\n\n\n\n@s: 1\n"
    );
    assert_eq!(err, "");
}

#[test]
fn integer_literals_are_64_bit_as_documented() {
    // docs/language.md ("Integer literal types, precisely"): ustrace keeps
    // literals 64-bit where bpftrace gives them their smallest type; a
    // cast gives bpftrace's widths.
    let Some(out) = run_script(
        "integer_literals_are_64_bit_as_documented",
        r#"BEGIN { printf("%d %d %d %d %d\n", sizeof(1), sizeof(-1), sizeof((1, 2)),
                   sizeof(((uint8)1, (uint8)2)), sizeof(1000)); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n8 8 16 2 8\n\n\n");
}
