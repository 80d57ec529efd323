//! bpftrace names ustrace refuses say why, at the name, as a function call
//! and as a bare name, from the one table (crates/codegen/src/builtins/unsupported.rs).

use ustrace_codegen::{compile, CompileOptions, ResolvedAttach, UNSUPPORTED};

/// The message and the text under the caret.
fn error(src: &str) -> (String, String) {
    let script = ustrace_lang::parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    let resolved = vec![vec![ResolvedAttach::Begin]; script.probes.len()];
    match compile(&script, &resolved, &CompileOptions::default()) {
        Ok(_) => panic!("{src} compiled"),
        Err(e) => (e.message, src[e.span.start..e.span.end].to_string()),
    }
}

#[test]
fn kstack_says_why_at_its_name() {
    assert_eq!(
        error("BEGIN { @[kstack()] = count(); }"),
        (
            "`kstack` is known in bpftrace but not supported by ustrace: kernel stacks: ustrace traces user space (use ustack)".into(),
            "kstack".into()
        )
    );
    assert_eq!(
        error("BEGIN { printf(\"%d\\n\", kstack); }"),
        (
            "`kstack` is known in bpftrace but not supported by ustrace: kernel stacks: ustrace traces user space (use ustack)".into(),
            "kstack".into()
        )
    );
}

#[test]
fn every_refused_name_gives_its_reason_as_a_call_and_as_a_variable() {
    for u in UNSUPPORTED {
        let expected = format!(
            "`{}` is known in bpftrace but not supported by ustrace: {}",
            u.name, u.reason
        );
        let call = format!("BEGIN {{ $x = {}(1); }}", u.name);
        assert_eq!(
            error(&call),
            (expected.clone(), u.name.to_string()),
            "{call}"
        );
        let bare = format!("BEGIN {{ $x = {}; }}", u.name);
        assert_eq!(error(&bare), (expected, u.name.to_string()), "{bare}");
    }
}

#[test]
fn names_bpftrace_does_not_know_stay_unknown() {
    assert_eq!(
        error("BEGIN { $x = nosuchfn(1); }"),
        ("unknown function `nosuchfn`".into(), "nosuchfn".into())
    );
}
