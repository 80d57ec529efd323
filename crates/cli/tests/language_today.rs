//! Today's bpftrace helpers run for real (BPF loaded, output checked
//! against what bpftrace's manual says they give).

mod common;

use std::time::Duration;

use common::*;

#[test]
fn string_functions_give_the_manuals_values() {
    // strstr: index of the first occurrence or -1; strcontains: 1 or 0;
    // strncmp: 0 when equal up to n; strlen: the length.
    let Some(out) = run_script(
        "string_functions_give_the_manuals_values",
        r#"BEGIN { printf("%d %d %d %d\n", strstr("hello world", "wor"), strstr("hello", "xyz"), strstr("aab", "ab"), strstr("abc", "")); printf("%d %d %d\n", strcontains(comm, "trace"), strcontains("abc", "abcd"), strcontains("abc", "c")); printf("%d %d %d\n", strncmp(comm, "ustrX", 4), strncmp(comm, "ustrX", 5), strncmp("ab", "ab", 10)); printf("%d %d %d\n", strlen(comm), strlen("hello"), strlen(str(0))); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\n6 -1 1 0\n1 0 1\n0 1 0\n7 5 0\n\n\n"
    );
}

/// The online CPU count, from /sys (ranges such as "0-3,6").
fn online_cpus() -> usize {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").expect("cpu/online");
    text.trim()
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().expect("cpu") - a.parse::<usize>().expect("cpu") + 1,
            None => 1,
        })
        .sum()
}

#[test]
fn bswap_ncpus_probetype_and_booleans() {
    let Some(out) = run_script(
        "bswap_ncpus_probetype_and_booleans",
        r#"BEGIN { printf("%x %x %lx %d\n", bswap((uint16)0x1234), bswap((uint32)0x12345678), bswap(0x0102030405060708), bswap((uint8)0x12)); printf("%s %d %d\n", probetype, true, false); } interval:ms:10 { printf("%s %d\n", probetype(), ncpus); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(
        out,
        format!(
            "Attaching 2 probes...\n3412 78563412 807060504030201 18\nspecial 1 0\ninterval {}\n\n\n",
            online_cpus()
        )
    );
}

#[test]
fn has_key_and_delete_take_the_map_and_the_key() {
    let Some(out) = run_script(
        "has_key_and_delete_take_the_map_and_the_key",
        r#"BEGIN { @m[1] = 10; @m[2] = 20; @k[1, "a"] = 5; printf("%d %d %d\n", has_key(@m, 1), has_key(@m, 3), has_key(@k, (1, "a"))); delete(@m, 1); delete(@k, (1, "a")); printf("%d %d %d\n", has_key(@m, 1), has_key(@m[2]), has_key(@k, (1, "a"))); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n1 0 1\n0 1 0\n\n\n\n@m[2]: 20\n");
}

#[test]
fn a_config_block_sets_map_size_and_exit_printing() {
    if !bpf_available("a_config_block_sets_map_size_and_exit_printing") {
        return;
    }
    // max_map_keys = 2: the third key is dropped and reported.
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        "config = { max_map_keys = 2 } BEGIN { @m[1] = 1; @m[2] = 2; @m[3] = 3; exit(); }",
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Attaching 1 probe...\n\n\n@m[1]: 1\n@m[2]: 2\n"
    );
    assert!(
        stderr(&out).contains(
            "WARNING: Map full; can't update element. Try increasing max_map_keys config"
        ),
        "{}",
        stderr(&out)
    );
    // print_maps_on_exit = false: nothing printed at exit.
    let Some(out) = run_script(
        "a_config_block_sets_map_size_and_exit_printing",
        "config = { print_maps_on_exit = false; } BEGIN { @m[1] = 1; printf(\"x\\n\"); exit(); }",
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\nx\n\n\n");
}

#[test]
fn a_bad_config_key_is_one_line_with_a_caret() {
    let mut cmd = ustrace();
    cmd.args(["-e", "config = { max_strln = 4 } BEGIN { exit(); }"]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.starts_with("stdin:1:12: error: unknown config key `max_strln`"),
        "{err}"
    );
    assert!(
        err.contains("known keys: max_strlen, max_map_keys"),
        "{err}"
    );
}

#[test]
fn let_declarations_are_block_scoped() {
    let Some(out) = run_script(
        "let_declarations_are_block_scoped",
        r#"BEGIN { let $x = 1; if (true) { let $x = "in"; printf("%s\n", $x); } printf("%d\n", $x); let $y: uint8 = (uint8)257; let $z: string; let $w; $w = 5; printf("%d [%s] %d\n", $y, $z, $w); $i = 0; while ($i < 2) { let $t = $i * 10; printf("t=%d\n", $t); $i++; } exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\nin\n1\n1 [] 5\nt=0\nt=10\n\n\n");
}
