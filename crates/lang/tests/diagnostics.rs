//! Golden tests of rendered parse diagnostics: exact text, carets included.

fn check(src: &str, expected: &str) {
    let d = match ustrace_lang::parse(src) {
        Ok(s) => panic!("expected an error for {src:?}, got {s:?}"),
        Err(d) => d,
    };
    let got = d.render("t.bt", src);
    assert_eq!(
        got, expected,
        "\n--- got ---\n{got}\n--- expected ---\n{expected}"
    );
    // The summary line stands alone.
    assert!(got
        .lines()
        .next()
        .is_some_and(|l| l.starts_with("t.bt:") && l.contains(": error: ")));
}

#[test]
fn unknown_attach_type_with_suggestion() {
    check(
        "usd:/bin/x:p:n { }",
        "\
t.bt:1:1: error: unknown attach point type `usd`
  |
1 | usd:/bin/x:p:n { }
  | ^^^ did you mean `usdt`?
",
    );
}

#[test]
fn unsupported_attach_type() {
    check(
        "BEGIN { }\n\nkprobe:vfs_read { }",
        "\
t.bt:3:1: error: attach point type `kprobe` is not supported
  |
3 | kprobe:vfs_read { }
  | ^^^^^^
  = note: ustrace traces user space: usdt, uprobe, uretprobe, interval, profile, BEGIN, END
",
    );
}

#[test]
fn unclosed_block() {
    check(
        "BEGIN { printf(\"hi\\n\");\n\n",
        "\
t.bt:1:24: error: expected `}` after block, found end of input
  |
1 | BEGIN { printf(\"hi\\n\");
  |                        ^
  = note: the block opened at line 1, column 7 is never closed
",
    );
}

#[test]
fn missing_semicolon() {
    check(
        "usdt:/bin/x:p:n {\n  printf(\"%d\\n\", arg0)\n  @x = 1;\n}",
        "\
t.bt:3:3: error: expected `;` or `}` after statement, found `@x`
  |
3 |   @x = 1;
  |   ^^
",
    );
}

#[test]
fn unterminated_string() {
    check(
        "BEGIN { printf(\"unterminated); }",
        "\
t.bt:1:16: error: unterminated string
  |
1 | BEGIN { printf(\"unterminated); }
  |                ^ this string is never closed
",
    );
}

#[test]
fn invalid_integer_literals() {
    check(
        "BEGIN { $x = 0x; }",
        "\
t.bt:1:14: error: invalid integer literal `0x`
  |
1 | BEGIN { $x = 0x; }
  |              ^^
",
    );
    check(
        "BEGIN { $x = 09; }",
        "\
t.bt:1:14: error: invalid integer literal `09`
  |
1 | BEGIN { $x = 09; }
  |              ^^ `9` is not an octal digit
  = note: a leading `0` makes an octal literal
",
    );
}

#[test]
fn empty_probe_list() {
    check(
        "{ @x = 1; }",
        "\
t.bt:1:1: error: empty probe list
  |
1 | { @x = 1; }
  | ^ expected an attach point before this block
",
    );
    check(
        "BEGIN,\n{ }",
        "\
t.bt:2:1: error: expected an attach point after `,`, found `{`
  |
2 | { }
  | ^
",
    );
}

#[test]
fn empty_script() {
    check(
        "// nothing here\n",
        "\
t.bt:1:16: error: script has no probes
  |
1 | // nothing here
  |                ^
  = note: a probe looks like `usdt:/path/to/bin:provider:name { ... }`
",
    );
}

#[test]
fn attach_point_fields() {
    check(
        "uprobe:/bin/x:f+zz { }",
        "\
t.bt:1:15: error: invalid offset `zz` in `f+zz`
  |
1 | uprobe:/bin/x:f+zz { }
  |               ^^^^ expected a decimal or 0x hexadecimal offset
",
    );
    check(
        "interval:m:1 { }",
        "\
t.bt:1:10: error: unknown time unit `m`
  |
1 | interval:m:1 { }
  |          ^
  = note: expected one of `s`, `ms`, `us`, `hz`
",
    );
    check(
        "usdt:/bin/x {}",
        "\
t.bt:1:1: error: invalid attach point `usdt:/bin/x`
  |
1 | usdt:/bin/x {}
  | ^^^^^^^^^^^
  = note: expected `usdt:PATH:[PROVIDER:]NAME`
",
    );
}

#[test]
fn expressions() {
    check(
        "BEGIN { $x = 1 + ; }",
        "\
t.bt:1:18: error: expected expression, found `;`
  |
1 | BEGIN { $x = 1 + ; }
  |                  ^
",
    );
    check(
        "BEGIN { 1 = 2; }",
        "\
t.bt:1:9: error: cannot assign to this expression
  |
1 | BEGIN { 1 = 2; }
  |         ^ left of `=`
  = note: only variables (`$x`) and map elements (`@m[k]`) can be assigned
",
    );
    check(
        "BEGIN { \"\\q\" }",
        "\
t.bt:1:10: error: unknown escape sequence `\\q`
  |
1 | BEGIN { \"\\q\" }
  |          ^^
  = note: known escapes: \\n \\t \\r \\\\ \\\" \\' \\xNN \\NNN (octal)
",
    );
}

#[test]
fn tabs_and_unicode_columns() {
    check(
        "BEGIN\t{\tif ($x) {\t@a = 1 } else $b = 2 }",
        "t.bt:1:33: error: expected `{` or `if` after `else`, found `$b`\n  |\n1 | BEGIN\t{\tif ($x) {\t@a = 1 } else $b = 2 }\n  |      \t \t         \t              ^^\n",
    );
    check(
        "BEGIN { printf(\"é\") é }",
        "\
t.bt:1:21: error: unexpected character `é`
  |
1 | BEGIN { printf(\"é\") é }
  |                     ^
",
    );
}

#[test]
fn division_in_predicate() {
    check(
        "usdt:/bin/x:p:n /arg0 / 2 > 1/ { }",
        "\
t.bt:1:25: error: expected `{` after predicate, found integer `2`
  |
1 | usdt:/bin/x:p:n /arg0 / 2 > 1/ { }
  |                         ^
  = note: a `/` inside a predicate ends it; write a division in parentheses: `/(a / b) > c/`
",
    );
}
