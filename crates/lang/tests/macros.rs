//! Macros as bpftrace's manual defines them, expanded by the parser:
//! what the compiler receives, and misuse as one error with a caret.

use ustrace_lang::ast::*;

fn parse(src: &str) -> Script {
    ustrace_lang::parse(src).unwrap_or_else(|d| panic!("{}", d.render("t.bt", src)))
}

fn check_err(src: &str, expected: &str) {
    let d = match ustrace_lang::parse(src) {
        Ok(s) => panic!("expected an error for {src:?}, got {s:?}"),
        Err(d) => d,
    };
    let got = d.render("t.bt", src);
    assert_eq!(got, expected, "\n--- got ---\n{got}");
}

/// The probe's body statements with macros expanded, each as the text
/// its span covers, or a marker for generated nodes.
fn stmts(script: &Script) -> &[Stmt] {
    &script.probes[0].body.stmts
}

#[test]
fn an_expression_parameter_is_inserted_where_named() {
    let s = parse("macro add_one(x) { x + 1 }\nBEGIN { @r = add_one(arg0 * 2); }");
    let StmtKind::Assign { value, .. } = &stmts(&s)[0].kind else {
        panic!("{s:?}")
    };
    let ExprKind::Binary { op, lhs, rhs } = &value.kind else {
        panic!("{value:?}")
    };
    assert_eq!(*op, BinaryOp::Add);
    assert!(matches!(
        lhs.kind,
        ExprKind::Binary {
            op: BinaryOp::Mul,
            ..
        }
    ));
    assert_eq!(rhs.kind, ExprKind::Integer(1));
    assert_eq!(s.macros.len(), 1);
    assert_eq!(s.macros[0].params[0].kind, MacroParamKind::Expr);
}

#[test]
fn variable_and_map_parameters_are_the_callers_and_locals_are_renamed_apart() {
    let src = "macro bump($a, @b) { let $t = 1; $a += $t; @b[$a] = $t; }\n\
               BEGIN { $t = 7; $x = 1; bump($x, @m); bump($x, @m); }";
    let s = parse(src);
    let body = stmts(&s);
    // $t = 7; $x = 1; then two expansions of three statements each.
    assert_eq!(body.len(), 8);
    let names: Vec<String> = body
        .iter()
        .filter_map(|st| match &st.kind {
            StmtKind::Assign { target, .. } => Some(match &target.kind {
                ExprKind::Variable(v) => format!("${v}"),
                ExprKind::Map { name, .. } => format!("@{name}"),
                _ => "?".into(),
            }),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        ["$t", "$x", "$t'm1", "$x", "@m", "$t'm2", "$x", "@m"]
    );
}

#[test]
fn a_zero_parameter_macro_may_be_named_bare_and_a_valued_body_becomes_a_block() {
    let s = parse(
        "macro one() { 1 }\nmacro twice(x) { let $v = x; $v * 2 }\nBEGIN { @a = one; @b = one(); @c = twice(one); }",
    );
    let values: Vec<&Expr> = stmts(&s)
        .iter()
        .map(|st| match &st.kind {
            StmtKind::Assign { value, .. } => value,
            k => panic!("{k:?}"),
        })
        .collect();
    assert_eq!(values[0].kind, ExprKind::Integer(1));
    assert_eq!(values[1].kind, ExprKind::Integer(1));
    let ExprKind::Block { stmts, value } = &values[2].kind else {
        panic!("{:?}", values[2])
    };
    assert_eq!(stmts.len(), 1);
    assert!(matches!(
        value.kind,
        ExprKind::Binary {
            op: BinaryOp::Mul,
            ..
        }
    ));
}

#[test]
fn block_expressions_parse_where_an_expression_may_stand() {
    let s = parse("BEGIN { let $a = { let $b = 1; $b }; @x = { 5 }; }");
    let StmtKind::Assign { value, .. } = &stmts(&s)[0].kind else {
        panic!()
    };
    assert!(matches!(value.kind, ExprKind::Block { .. }));
    let StmtKind::Assign { value, .. } = &stmts(&s)[1].kind else {
        panic!()
    };
    assert_eq!(value.kind, ExprKind::Integer(5));
    check_err(
        "BEGIN { $a = { $b = 1; }; }",
        "t.bt:1:14: error: this block has no value\n  |\n1 | BEGIN { $a = { $b = 1; }; }\n  |              ^^^^^^^^^^^ a block used as an expression ends with an expression and no `;`\n",
    );
}

#[test]
fn wrong_arity_is_an_error_at_the_use() {
    check_err(
        "macro add_one(x) { x + 1 }\nBEGIN { print(add_one(1, 2)); }",
        "t.bt:2:15: error: macro `add_one` takes 1 argument, 2 given\n  |\n2 | BEGIN { print(add_one(1, 2)); }\n  |               ^^^^^^^^^^^^^\n  = note: defined as `macro add_one(x)`\n",
    );
}

#[test]
fn the_manuals_invalid_uses_are_errors_at_the_argument() {
    check_err(
        "macro wrong_parameter_type($x) { $x++ }\nBEGIN { @x = 1; wrong_parameter_type(@x); }",
        "t.bt:2:38: error: macro `wrong_parameter_type` expects a scratch variable (`$name`) for its parameter `$x`\n  |\n2 | BEGIN { @x = 1; wrong_parameter_type(@x); }\n  |                                      ^^\n",
    );
    check_err(
        "macro wrong_parameter_type($x) { $x++ }\nBEGIN { wrong_parameter_type(1 + 1); }",
        "t.bt:2:30: error: macro `wrong_parameter_type` expects a scratch variable (`$name`) for its parameter `$x`\n  |\n2 | BEGIN { wrong_parameter_type(1 + 1); }\n  |                              ^^^^^\n",
    );
    check_err(
        "macro m(@x) { @x++ }\nBEGIN { m(@y[1]); }",
        "t.bt:2:11: error: macro `m` expects a map without keys (`@name`) for its parameter `@x`\n  |\n2 | BEGIN { m(@y[1]); }\n  |           ^^^^^\n",
    );
}

#[test]
fn a_map_not_passed_in_is_an_error_in_the_definition() {
    check_err(
        "macro unhygienic_access() {\n  @x++\n}\nBEGIN { @x = 1; unhygienic_access(); }",
        "t.bt:2:3: error: macro `unhygienic_access` uses the map `@x`, which is not one of its parameters\n  |\n2 |   @x++\n  |   ^^\n  = note: macros see only the maps they are given: add `@x` to its parameters and pass the map\n",
    );
}

#[test]
fn recursion_is_an_error_showing_the_cycle() {
    check_err(
        "macro f(x) { g(x) }\nmacro g(x) { f(x) + 1 }\nBEGIN { print(f(1)); }",
        "t.bt:2:14: error: macro `f` is recursive\n  |\n2 | macro g(x) { f(x) + 1 }\n  |              ^^^^ f -> g -> f\n  = note: a macro may not use itself, directly or through other macros\n",
    );
    check_err(
        "macro f() { f() }\nBEGIN { f(); }",
        "t.bt:1:13: error: macro `f` is recursive\n  |\n1 | macro f() { f() }\n  |             ^^^ f -> f\n  = note: a macro may not use itself, directly or through other macros\n",
    );
}

#[test]
fn a_valueless_macro_used_as_a_value_and_bad_definitions() {
    check_err(
        "macro set($a) { $a = 5; }\nBEGIN { $v = 1; print(set($v)); }",
        "t.bt:2:23: error: macro `set` has no value\n  |\n2 | BEGIN { $v = 1; print(set($v)); }\n  |                       ^^^^^^^ used as a value here\n  = note: `set`'s body ends with `;`: its last expression, without `;`, would be its value\n",
    );
    check_err(
        "macro m(1) { }\nBEGIN { }",
        "t.bt:1:9: error: expected a macro parameter\n  |\n1 | macro m(1) { }\n  |         ^ `$name` (a variable), `@name` (a map) or `name` (an expression)\n",
    );
    check_err(
        "macro m() { 1 }\nmacro m() { 2 }\nBEGIN { }",
        "t.bt:2:7: error: macro `m` is defined twice\n  |\n2 | macro m() { 2 }\n  |       ^\n",
    );
}

#[test]
fn an_expansion_that_doubles_at_each_level_is_refused() {
    let nest = 20;
    let src = format!(
        "macro m(x) {{ x + x }}\nBEGIN {{ @a = {}1{}; }}",
        "m(".repeat(nest),
        ")".repeat(nest)
    );
    let d = ustrace_lang::parse(&src).unwrap_err();
    assert_eq!(d.message, "macro expansion too large");
    // Ten levels (1024 copies of `1`) are fine.
    let src = format!(
        "macro m(x) {{ x + x }}\nBEGIN {{ @a = {}1{}; }}",
        "m(".repeat(10),
        ")".repeat(10)
    );
    parse(&src);
}
