//! bpftrace's helpers of issue 11's second part at compile time: the
//! records they send, what is decided while compiling (fail,
//! static_assert, globmatch's pattern), and misuse as one error pointing
//! at the offending text.

use ustrace_codegen::program::{CompiledScript, FieldKind, PrintfKind};
use ustrace_codegen::CompileOptions;

mod common;

use common::build_with;

fn build(src: &str) -> Result<CompiledScript, (String, String)> {
    build_with(src, &CompileOptions::default())
}

fn error(src: &str) -> (String, String) {
    match build(src) {
        Ok(_) => panic!("{src} compiled"),
        Err(e) => e,
    }
}

#[test]
fn strerror_is_recorded_as_a_number_printed_as_text() {
    let c = build(r#"BEGIN { printf("%s\n", strerror(2)); }"#).expect("compiles");
    assert_eq!(c.printfs[0].args, vec![FieldKind::Strerror]);
    assert_eq!(
        error(r#"BEGIN { printf("%d\n", strerror(2)); }"#).0,
        "printf: %d wants an integer, but this argument is an error text"
    );
}

#[test]
fn join_sends_a_count_and_sixteen_string_slots() {
    let c = build(r#"BEGIN { join(0, ", "); }"#).expect("compiles");
    let def = &c.printfs[0];
    assert_eq!(def.kind, PrintfKind::Join);
    assert_eq!(def.format, ", ");
    let mut want = vec![FieldKind::Int { signed: false }];
    // 1024 bytes each, bpftrace 0.17's element size, whatever max_strlen is.
    want.extend(std::iter::repeat_n(FieldKind::Str(1024), 16));
    assert_eq!(def.args, want);
}

#[test]
fn fail_and_static_assert_stop_only_where_reached() {
    // Never reached: the constant condition is false.
    build(r#"BEGIN { if (1 > 2) { fail("never %s", "shown"); } static_assert(1 < 2, "fine"); }"#)
        .expect("compiles");
    assert_eq!(
        error(r#"BEGIN { if (2 > 1) { fail("reached %d%%", 100); } }"#),
        ("reached 100%".into(), r#"fail("reached %d%%", 100)"#.into())
    );
    assert_eq!(
        error(r#"BEGIN { static_assert(sizeof(int16) == 4, "int16 is 2 bytes"); }"#),
        (
            "int16 is 2 bytes".into(),
            r#"static_assert(sizeof(int16) == 4, "int16 is 2 bytes")"#.into()
        )
    );
}

#[test]
fn globmatch_patterns_are_checked_at_compile_time() {
    let long = format!(
        r#"BEGIN {{ print(globmatch(comm, "{}")); }}"#,
        "a".repeat(64)
    );
    assert_eq!(
        error(&long).0,
        "globmatch(): bad pattern: 64 elements, more than the 63 ustrace compiles"
    );
    assert_eq!(
        error(r#"BEGIN { print(globmatch(comm, "[z-a]")); }"#),
        (
            "globmatch(): bad pattern: the range `z-a` is empty".into(),
            r#""[z-a]""#.into()
        )
    );
}

#[test]
fn macaddr_and_memcmp_refuse_what_does_not_fit() {
    assert_eq!(
        error(r#"BEGIN { print(macaddr(comm)); }"#),
        (
            "macaddr() needs the address of 6 bytes or a 6-byte buffer, not a string".into(),
            "comm".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { print(memcmp(comm, 0, 129)); }"#),
        (
            "memcmp()'s count must be a constant from 1 to 128".into(),
            "129".into()
        )
    );
}
