//! Today's bpftrace helpers (issue 11) at compile time: each compiles in
//! its documented forms, and misuse is one error pointing at the text.

use ustrace_codegen::program::CompiledScript;
use ustrace_codegen::CompileOptions;

mod common;

use common::build_with;

/// Compiles `src` for a machine with 6 CPUs.
fn build(src: &str) -> Result<CompiledScript, (String, String)> {
    let opts = CompileOptions {
        ncpus: 6,
        ..CompileOptions::default()
    };
    build_with(src, &opts)
}

fn error(src: &str) -> (String, String) {
    match build(src) {
        Ok(_) => panic!("{src} compiled"),
        Err(e) => e,
    }
}

#[test]
fn every_new_helper_compiles_in_its_documented_forms() {
    for src in [
        r#"BEGIN { printf("%d %d\n", strlen(comm), strlen("abc")); }"#,
        r#"BEGIN { printf("%d\n", strncmp(comm, "bash", 4)); }"#,
        r#"BEGIN { printf("%d %d\n", strstr(comm, "sh"), strcontains(comm, "")); }"#,
        r#"BEGIN { printf("%x %x\n", bswap((uint16)0x1234), bswap(pid)); }"#,
        r#"BEGIN { printf("%d %d\n", ncpus, ncpus()); }"#,
        r#"BEGIN { printf("%s %s\n", probetype, probetype()); }"#,
        r#"BEGIN { @m[1] = 1; @k[1, "a"] = 2; if (has_key(@m, 1) && has_key(@k, (1, "a"))) { delete(@m, 1); delete(@k, (1, "a")); } }"#,
        r#"BEGIN { @m[1] = 1; if (has_key(@m[1])) { delete(@m[1]); } }"#,
        r#"BEGIN { $t = true; if ($t != false) { exit(); } }"#,
    ] {
        if let Err(e) = build(src) {
            panic!("{src}: {e:?}");
        }
    }
}

#[test]
fn constants_fold_where_bpftrace_folds_them() {
    // `ncpus` and `probetype` are compile-time constants: a printf of
    // them needs no helper call besides the ring buffer's.
    let c = build(r#"BEGIN { printf("%d %s\n", ncpus, probetype); }"#).expect("compiles");
    assert_eq!(c.printfs.len(), 1);
    assert!(error(r#"BEGIN { $x = ncpus(1); }"#)
        .0
        .contains("no argument"));
}

#[test]
fn misuse_is_one_error_at_the_offending_text() {
    assert_eq!(
        error(r#"BEGIN { $x = strstr(comm, 5); }"#),
        ("expected a string, got uint64".into(), "5".into())
    );
    assert_eq!(
        error(r#"BEGIN { $x = strlen(5); }"#),
        ("expected a string, got uint64".into(), "5".into())
    );
    assert_eq!(
        error(r#"BEGIN { $x = strncmp(comm, "a", pid); }"#),
        (
            "expected a non-negative integer constant".into(),
            "pid".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { @s = 1; $x = has_key(@s, 1); }"#),
        (
            "has_key(): @s is a scalar map (it has no keys)".into(),
            "@s, 1".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { @m[1] = 1; $x = has_key(@m[1], 2); }"#),
        (
            "give the whole map (@m) and the key as the second argument".into(),
            "@m[1]".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { @m[1] = 1; delete(@m, "a"); }"#),
        ("map @m has keys [uint64]".into(), "@m, \"a\"".into())
    );
    assert_eq!(
        error(r#"BEGIN { delete(@m, 1, 2); }"#).0,
        "delete() takes a map and a key: delete(@m, key), or delete(@m[key])"
    );
    assert_eq!(
        error(r#"BEGIN { $x = bswap("a"); }"#).1,
        "\"a\"".to_string()
    );
}
