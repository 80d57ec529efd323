//! `let` declarations with block scoping (bpftrace's manual): resolved
//! by the parser into plain variables, errors with a caret.

use ustrace_lang::ast::{ExprKind, StmtKind};

fn message(src: &str) -> (String, String) {
    let d = ustrace_lang::parse(src).expect_err(src);
    (d.message.clone(), src[d.span.start..d.span.end].to_string())
}

/// The variable names assigned by the body's top-level statements.
fn assigned(src: &str) -> Vec<String> {
    let s = ustrace_lang::parse(src).unwrap_or_else(|d| panic!("{src}: {}", d.message));
    s.probes[0]
        .body
        .stmts
        .iter()
        .filter_map(|st| match &st.kind {
            StmtKind::Assign { target, .. } => match &target.kind {
                ExprKind::Variable(v) => Some(v.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn declarations_in_inner_blocks_shadow_without_clashing() {
    let src = "BEGIN { let $x = 1; if (1) { let $x = \"s\"; } $y = $x; }";
    let s = ustrace_lang::parse(src).expect("parses");
    let StmtKind::If { then_block, .. } = &s.probes[0].body.stmts[1].kind else {
        panic!("if");
    };
    let StmtKind::Assign { target, .. } = &then_block.stmts[0].kind else {
        panic!("let");
    };
    assert_eq!(target.kind, ExprKind::Variable("x'2".into()));
    let StmtKind::Assign { value, .. } = &s.probes[0].body.stmts[2].kind else {
        panic!("assign");
    };
    // The outer `$x` again after the inner block.
    assert_eq!(value.kind, ExprKind::Variable("x".into()));
    // Every form, and 0.17's undeclared variables alongside.
    assert_eq!(
        assigned("BEGIN { let $a; let $b = 1; let $c: uint8 = 2; let $d: string; $e = 3; }"),
        ["b", "c", "d", "e"]
    );
    // Each probe has its own scopes.
    assert!(ustrace_lang::parse("BEGIN { let $x = 1; } END { let $x = 2; }").is_ok());
}

#[test]
fn misuse_is_one_error_at_the_offending_text() {
    assert_eq!(
        message("BEGIN { let $x = 1; let $x = 2; }"),
        ("`$x` is already declared in this block".into(), "$x".into())
    );
    assert_eq!(
        message("BEGIN { if (1) { let $x = 1; } printf(\"%d\", $x); }"),
        (
            "`$x` is not declared here: its `let` is in a block that has ended".into(),
            "$x".into()
        )
    );
    assert_eq!(
        message("BEGIN { let $x: foo = 1; }"),
        ("unknown type `foo` for a variable".into(), "foo".into())
    );
    assert_eq!(
        message("BEGIN { let $x: = 1; }"),
        ("expected a type after `:`".into(), "=".into())
    );
}
