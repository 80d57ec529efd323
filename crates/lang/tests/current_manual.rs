//! Constructs of bpftrace's current manual as the parser reads them: bare
//! blocks, unused map declarations, tuples of one and no element, `typeof`.

use ustrace_lang::ast::*;

fn parse(src: &str) -> Script {
    ustrace_lang::parse(src).unwrap_or_else(|d| panic!("{}", d.render("t.bt", src)))
}

fn rendered_error(src: &str) -> String {
    match ustrace_lang::parse(src) {
        Ok(s) => panic!("expected an error for {src:?}, got {s:?}"),
        Err(d) => d.render("t.bt", src),
    }
}

#[test]
fn a_bare_block_is_a_statement_with_its_own_scope() {
    let s = parse("BEGIN { let $a = 1; { let $a = 2; print($a); } print($a); }");
    let body = &s.probes[0].body.stmts;
    assert_eq!(body.len(), 3);
    let StmtKind::Block(inner) = &body[1].kind else {
        panic!("{:?}", body[1].kind)
    };
    let StmtKind::Assign { target, .. } = &inner.stmts[0].kind else {
        panic!("{inner:?}")
    };
    // The inner `$a` is another variable; the outer one is read after.
    assert_eq!(target.kind, ExprKind::Variable("a'2".into()));
    let StmtKind::Expr(Expr {
        kind: ExprKind::Call { args, .. },
        ..
    }) = &body[2].kind
    else {
        panic!("{:?}", body[2])
    };
    assert_eq!(args[0].kind, ExprKind::Variable("a".into()));
}

#[test]
fn bare_blocks_nest_need_no_semicolon_and_may_end_with_a_value() {
    let s = parse("BEGIN { { { 1 } } { printf(\"x\"); } $x = 1 }");
    let body = &s.probes[0].body.stmts;
    assert!(matches!(body[0].kind, StmtKind::Block(_)));
    assert!(matches!(body[1].kind, StmtKind::Block(_)));
    assert!(matches!(body[2].kind, StmtKind::Assign { .. }));
}

#[test]
fn a_let_inside_a_bare_block_ends_with_it() {
    assert_eq!(
        rendered_error("BEGIN { { let $b = 1; } $c = $b; }"),
        "t.bt:1:30: error: `$b` is not declared here: its `let` is in a block that has ended\n  |\n1 | BEGIN { { let $b = 1; } $c = $b; }\n  |                              ^^\n"
    );
}

#[test]
fn map_declarations_no_probe_names_are_unused() {
    let s = parse(
        "let @a = hash(1);\nlet @b = lruhash(2);\nlet @c = hash(3);\nBEGIN { @b[1] = 1; for ($kv : @c) { } }",
    );
    let unused: Vec<&str> = unused_map_decls(&s)
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(unused, vec!["a"]);
}

#[test]
fn a_valued_bare_block_last_in_its_block_is_that_blocks_value() {
    let s = parse("macro f(x) { let $v = x; { let $w = $v; $w * 2 } }\nBEGIN { @r = f(3); }");
    let StmtKind::Assign { value, .. } = &s.probes[0].body.stmts[0].kind else {
        panic!("{s:?}")
    };
    let ExprKind::Block { stmts, value } = &value.kind else {
        panic!("{value:?}")
    };
    // `let $v = 3;`, then the inner block as the value.
    assert_eq!(stmts.len(), 1);
    assert!(matches!(value.kind, ExprKind::Block { .. }), "{value:?}");
}

fn value_of_first_assign(src: &str) -> ExprKind {
    let s = parse(src);
    match &s.probes[0].body.stmts[0].kind {
        StmtKind::Assign { value, .. } => value.kind.clone(),
        other => panic!("{other:?}"),
    }
}

fn tuple_len(kind: &ExprKind) -> Option<usize> {
    match kind {
        ExprKind::Tuple(items) => Some(items.len()),
        _ => None,
    }
}

#[test]
fn a_trailing_comma_makes_a_one_element_tuple_and_empty_parens_the_empty_one() {
    assert_eq!(
        tuple_len(&value_of_first_assign("BEGIN { $a = (1,); }")),
        Some(1)
    );
    assert_eq!(
        tuple_len(&value_of_first_assign("BEGIN { $a = (); }")),
        Some(0)
    );
    assert_eq!(
        tuple_len(&value_of_first_assign("BEGIN { $a = (1, 2,); }")),
        Some(2)
    );
    assert_eq!(
        tuple_len(&value_of_first_assign("BEGIN { $a = (1); }")),
        None
    );
    let ExprKind::Tuple(items) = value_of_first_assign("BEGIN { $a = ((1,), ()); }") else {
        panic!("not a tuple")
    };
    assert_eq!(tuple_len(&items[0].kind), Some(1));
    assert_eq!(tuple_len(&items[1].kind), Some(0));
    // A predicate's `/` still ends it after a tuple.
    let s = parse("BEGIN /(1,) == (1,)/ { }");
    assert!(s.probes[0].predicate.is_some());
}

#[test]
fn a_lone_comma_in_parentheses_is_an_error() {
    assert_eq!(
        rendered_error("BEGIN { $a = (,); }"),
        "t.bt:1:15: error: expected expression, found `,`\n  |\n1 | BEGIN { $a = (,); }\n  |               ^\n"
    );
}
