//! Unit tests of the parser: what it refuses, and how (messages, spans,
//! limits on nesting).

use super::tests::{err, ok};
use super::*;

#[test]
fn parse_errors() {
    let cases: &[(&str, &str)] = &[
        ("", "script has no probes"),
        ("// nothing\n", "script has no probes"),
        ("{ }", "empty probe list"),
        (
            "BEGIN",
            "expected `{` or a predicate after attach points, found end of input",
        ),
        ("BEGIN {", "expected `}` after block, found end of input"),
        (
            "BEGIN { x",
            "expected `;` or `}` after statement, found end of input",
        ),
        (
            "BEGIN { x y }",
            "expected `;` or `}` after statement, found `y`",
        ),
        (
            "BEGIN, { }",
            "expected an attach point after `,`, found `{`",
        ),
        ("BEGIN /x { }", "expected `/` after predicate, found `{`"),
        ("BEGIN / / { }", "empty predicate"),
        ("usd:/bin/x:p:n { }", "unknown attach point type `usd`"),
        ("beginn { }", "unknown attach point `beginn`"),
        ("begin:x { }", "`begin` takes no arguments"),
        (
            "kprobe:do_sys_open { }",
            "attach point type `kprobe` is not supported",
        ),
        ("usdt:/bin/x { }", "invalid attach point `usdt:/bin/x`"),
        (
            "usdt:/bin/x:a:b:c { }",
            "invalid attach point `usdt:/bin/x:a:b:c`",
        ),
        ("usdt:/bin/x: { }", "missing usdt probe name"),
        ("uprobe:/bin/x { }", "invalid attach point `uprobe:/bin/x`"),
        ("uprobe::f { }", "missing path in uprobe attach point"),
        ("uprobe:/bin/x:f+z { }", "invalid offset `z` in `f+z`"),
        ("uprobe:/bin/x:0xzz { }", "invalid address `0xzz`"),
        (
            "uretprobe:/bin/x:f+4 { }",
            "uretprobe cannot take an offset or address",
        ),
        ("interval:m:1 { }", "unknown time unit `m`"),
        ("interval:s:x { }", "invalid count `x`"),
        ("interval:s:0 { }", "the count must be positive"),
        (
            "interval:s:99999999999999 { }",
            "period of 99999999999999s is too long",
        ),
        ("profile:hz { }", "invalid attach point `profile:hz`"),
        ("interval:1x { }", "invalid period `1x`"),
        (
            "BEGIN { let $z: uint8 = 300; }",
            "type mismatch for $z: 300 does not fit its declared type `uint8`",
        ),
        (
            "BEGIN { let $z: int16 = -32769; }",
            "type mismatch for $z: -32769 does not fit its declared type `int16`",
        ),
        ("interval:0s { }", "invalid period `0s`"),
        ("BEGIN:x { }", "`BEGIN` takes no arguments"),
        (
            "BEGIN END { }",
            "expected `{` or a predicate after attach points, found attach point `END`",
        ),
        ("BEGIN { 1 + }", "expected expression, found `}`"),
        ("BEGIN { f(1, }", "expected expression, found `}`"),
        (
            "BEGIN { f(1 2) }",
            "expected `,` or `)` in call arguments, found integer `2`",
        ),
        ("BEGIN { @m[] = 1 }", "empty map key"),
        ("BEGIN { (,) }", "expected expression, found `,`"),
        (
            "BEGIN { (1 2) }",
            "expected `,` or `)` in parenthesized expression, found integer `2`",
        ),
        ("BEGIN { 1 = 2 }", "cannot assign to this expression"),
        ("BEGIN { pid++ }", "`++` needs a variable or a map element"),
        ("BEGIN { if $x { } }", "expected `(` after `if`, found `$x`"),
        ("BEGIN { if ($x) $y = 1; }", "expected `{`, found `$y`"),
        (
            "BEGIN { if ($x) { } else $y }",
            "expected `{` or `if` after `else`, found `$y`",
        ),
        ("BEGIN { else { } }", "`else` without a preceding `if`"),
        (
            "BEGIN { unroll($x) { } }",
            "expected an integer literal in `unroll(...)`, found `$x`",
        ),
        ("BEGIN { unroll(101) { } }", "invalid unroll count 101"),
        (
            "BEGIN { return 1 }",
            "expected `;` or `}` after `return`, found integer `1`",
        ),
        (
            "BEGIN { $x = while }",
            "expected expression, found keyword `while`",
        ),
        ("BEGIN { uint8 }", "expected expression, found type `uint8`"),
        (
            "BEGIN { $x. }",
            "expected a field name after `.`, found `}`",
        ),
        (
            "BEGIN { a ? b }",
            "expected `:` in `?:` expression, found `}`",
        ),
        ("BEGIN { } }", "expected an attach point, found `}`"),
        ("BEGIN { \"abc }", "unterminated string"),
        ("BEGIN { 0x }", "invalid integer literal `0x`"),
    ];
    for (src, msg) in cases {
        let d = err(src);
        assert_eq!(&d.message, msg, "for {src:?}");
        assert!(
            d.span.start <= d.span.end && d.span.end <= src.len(),
            "span for {src:?}"
        );
    }
    assert_eq!(
        err("usd:/bin/x:p:n { }").label.as_deref(),
        Some("did you mean `usdt`?")
    );
    assert_eq!(
        err("uprob:/bin/x:f { }").label.as_deref(),
        Some("did you mean `uprobe`?")
    );
    assert_eq!(
        err("intervall:s:1 { }").label.as_deref(),
        Some("did you mean `interval`?")
    );
    assert_eq!(
        err("BEGlN { }").label.as_deref(),
        Some("did you mean `BEGIN`?")
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = format!("BEGIN {{ $x = {}1{} }}", "(".repeat(5000), ")".repeat(5000));
    assert_eq!(err(&src).message, "nesting too deep");
    let src = format!("BEGIN {{ $x = {}1 }}", "-".repeat(5000));
    assert_eq!(err(&src).message, "nesting too deep");
    let src = format!("BEGIN {}{}", "{ if (1) ".repeat(3000), "}".repeat(3000));
    assert_eq!(err(&src).message, "nesting too deep");
    // But reasonable nesting is fine.
    let src = format!("BEGIN {{ $x = {}1{} }}", "(".repeat(50), ")".repeat(50));
    ok(&src);
}

#[test]
fn long_else_if_chains_and_nested_ifs() {
    let mut src = String::from("BEGIN { if ($x == 0) { @a = 0 }");
    for i in 1..500 {
        src.push_str(&format!(" else if ($x == {i}) {{ @a = {i} }}"));
    }
    src.push_str(" else { @a = 9 } }");
    let s = ok(&src);
    let mut depth = 0;
    let mut stmt = &s.probes[0].body.stmts[0];
    while let StmtKind::If {
        else_block: Some(b),
        ..
    } = &stmt.kind
    {
        depth += 1;
        match b.stmts.first() {
            Some(inner) if matches!(inner.kind, StmtKind::If { .. }) => stmt = inner,
            _ => break,
        }
    }
    assert_eq!(depth, 500);
    let src = format!(
        "BEGIN {{ {} $x = 1; {} }}",
        "if (1) { ".repeat(40),
        "} ".repeat(40)
    );
    ok(&src);
}
