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

#[test]
fn typeof_is_read_where_a_type_is_written() {
    // let: the value converted to the named type; without one, its zero.
    let ExprKind::TypeofCast { of, operand } =
        value_of_first_assign("BEGIN { let $y: typeof($x) = 300; }")
    else {
        panic!("not a typeof cast")
    };
    assert_eq!(of.kind, ExprKind::Variable("x".into()));
    assert_eq!(operand.map(|o| o.kind), Some(ExprKind::Integer(300)));
    let ExprKind::TypeofCast { of, operand } =
        value_of_first_assign("BEGIN { let $z: typeof(@m); }")
    else {
        panic!("not a typeof cast")
    };
    assert!(matches!(of.kind, ExprKind::Map { .. }));
    assert!(operand.is_none());
    // A cast binds like any cast: tighter than `+`.
    let ExprKind::Binary { lhs, .. } =
        value_of_first_assign("BEGIN { $c = (typeof(@m[1]))arg0 + 1; }")
    else {
        panic!("not a sum")
    };
    let ExprKind::TypeofCast { of, operand } = &lhs.kind else {
        panic!("{lhs:?}")
    };
    assert!(matches!(of.kind, ExprKind::Map { .. }));
    assert_eq!(
        operand.as_ref().map(|o| o.kind.clone()),
        Some(ExprKind::Builtin("arg0".into()))
    );
    // sizeof(typeof(TYPE)): a type name stands for a value of that type.
    let ExprKind::SizeofExpr(inner) =
        value_of_first_assign("BEGIN { $s = sizeof(typeof(uint16)); }")
    else {
        panic!("not sizeof")
    };
    let ExprKind::Typeof(of) = inner.kind else {
        panic!("{inner:?}")
    };
    assert!(matches!(
        of.kind,
        ExprKind::Cast {
            ty: IntType {
                size: 2,
                signed: false
            },
            ..
        }
    ));
}

#[test]
fn typeof_anywhere_else_is_an_error_saying_where_it_goes() {
    assert_eq!(
        rendered_error("BEGIN { print(typeof(1)); }"),
        "t.bt:1:15: error: `typeof(...)` names a type, it has no value\n  |\n1 | BEGIN { print(typeof(1)); }\n  |               ^^^^^^\n  = note: write it as `let $x: typeof(e)`, a cast `(typeof(e)) v` or `sizeof(typeof(e))`\n"
    );
    assert_eq!(
        rendered_error("BEGIN { $o = offsetof(typeof($x), f); }"),
        "t.bt:1:23: error: offsetof() takes a struct or union of the traced program by name, not `typeof(...)`\n  |\n1 | BEGIN { $o = offsetof(typeof($x), f); }\n  |                       ^^^^^^\n"
    );
    assert_eq!(
        rendered_error("BEGIN { let $x: typeof 1; }"),
        "t.bt:1:24: error: expected `(` after `typeof`, found integer `1`\n  |\n1 | BEGIN { let $x: typeof 1; }\n  |                        ^\n"
    );
}
