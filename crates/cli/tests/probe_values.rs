//! `probe` as a map value, as a map key and read back in a probe: the
//! probe's number is stored and user space names it in full, so a probe
//! whose name is longer than max_strlen (64 bytes: a program deep in a
//! directory tree) is printed whole, as bpftrace prints it.

mod common;

use std::path::Path;

use common::*;

#[test]
fn probe_names_longer_than_max_strlen_are_stored_and_printed_whole() {
    if !bpf_available("probe_names_longer_than_max_strlen_are_stored_and_printed_whole") {
        return;
    }
    let built = build_c_once(
        "stacks",
        "tests/c/stacks.c",
        &["-O0", "-g", "-fno-omit-frame-pointer"],
    );
    // The order of a `for` over a hash map is the kernel's: one key is
    // printed.
    // A path of more than 64 bytes whatever the checkout's.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("a-directory-whose-name-alone-is-longer-than-max-strlen-of-sixty-four-bytes");
    std::fs::create_dir_all(&dir).expect("creating the long directory");
    let bin = dir.join("stacks");
    std::fs::copy(&built, &bin).expect("copying the test program");
    let probe = format!("uprobe:{}:leaf", bin.display());
    assert!(probe.len() > 64);
    let script = format!(
        r#"{probe} {{ @p = probe; @q[arg0] = probe; @c[probe] = count(); $x = @p; printf("%s|%s\n", $x, @q[arg0]); }}
        END {{ for ($kv : @q) {{ if ($kv.0 == 1) {{ printf("%d %s\n", $kv.0, $kv.1); }} }} }}"#
    );
    let out = trace_command(&script, &format!("{} 2", bin.display()));
    assert_eq!(
        out,
        format!(
            "Attaching 2 probes...\n{probe}|{probe}\n{probe}|{probe}\n1 {probe}\n\n\n@c[{probe}]: 2\n@p: {probe}\n@q[0]: {probe}\n@q[1]: {probe}\n"
        )
    );
}
