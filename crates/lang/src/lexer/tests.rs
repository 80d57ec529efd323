//! Unit tests of the lexer.

use super::TokenKind::*;
use super::*;

fn kinds(src: &str) -> Vec<TokenKind> {
    match tokenize(src) {
        Ok(toks) => toks.into_iter().map(|t| t.kind).collect(),
        Err(d) => panic!("lex error: {}", d.render("t", src)),
    }
}

fn body(src: &str) -> Vec<TokenKind> {
    // Lex `src` inside a BEGIN body; strip the surrounding tokens.
    let full = format!("BEGIN {{ {src} }}");
    let mut k = kinds(&full);
    k.drain(..2);
    k.truncate(k.len().saturating_sub(2));
    k
}

fn lex_err(src: &str) -> Diagnostic {
    match tokenize(src) {
        Ok(t) => panic!("expected an error, got {t:?}"),
        Err(d) => d,
    }
}

fn ap(raw: &str) -> TokenKind {
    AttachPoint {
        raw: raw.to_string(),
        fields: Vec::new(),
    }
}

fn strip_fields(k: Vec<TokenKind>) -> Vec<TokenKind> {
    k.into_iter()
        .map(|k| match k {
            AttachPoint { raw, .. } => AttachPoint {
                raw,
                fields: Vec::new(),
            },
            k => k,
        })
        .collect()
}

#[test]
fn identifiers_numbers_strings() {
    assert_eq!(
        body("pid foo_1 _x 42 0x1F 017 0 1_000 \"a\\n\\t\\r\\\\\\\"\\'\\0\\x41\\101b\""),
        vec![
            Ident("pid".into()),
            Ident("foo_1".into()),
            Ident("_x".into()),
            Int(42),
            Int(31),
            Int(15),
            Int(0),
            Int(1000),
            Str("a\n\t\r\\\"'\0AAb".into()),
        ]
    );
    assert_eq!(body("18446744073709551615"), vec![Int(u64::MAX)]);
    assert_eq!(body("\"héllo\""), vec![Str("héllo".into())]);
}

#[test]
fn variables_and_maps() {
    assert_eq!(
        body("$x $1 $12 $# @m @ @_a1"),
        vec![
            Var("x".into()),
            Positional(1),
            Positional(12),
            PositionalCount,
            Map("m".into()),
            Map(String::new()),
            Map("_a1".into()),
        ]
    );
}

#[test]
fn operators() {
    let src = "== != <= >= && || << >> += -= *= /= %= &= |= ^= <<= >>= ++ -- ! ~ ? : + - * / % & | ^ < > = . -> ( ) [ ] ; ,";
    let got: Vec<&str> = body(src).iter().map(|k| k.punct_text()).collect();
    let want: Vec<&str> = src.split(' ').collect();
    assert_eq!(got, want);
    // Maximal munch without spaces.
    assert_eq!(
        body("a<<=b"),
        vec![Ident("a".into()), ShlEq, Ident("b".into())]
    );
    assert_eq!(
        body("a+++b"),
        vec![Ident("a".into()), PlusPlus, Plus, Ident("b".into())]
    );
}

#[test]
fn comments_and_shebang() {
    let src =
        "#!/usr/bin/env ustrace\n// c1\n/* c2\n */ BEGIN /* x */ { // y\n 1 /* z */ }\n// end";
    assert_eq!(
        strip_fields(kinds(src)),
        vec![ap("BEGIN"), LBrace, Int(1), RBrace, Eof]
    );
}

#[test]
fn attach_points_and_predicates() {
    let toks = tokenize("usdt:/bin/x:p:n /arg0 > 1/ { }").unwrap_or_default();
    let k: Vec<TokenKind> = toks.iter().map(|t| t.kind.clone()).collect();
    assert_eq!(
        strip_fields(k),
        vec![
            ap("usdt:/bin/x:p:n"),
            Slash,
            Ident("arg0".into()),
            Gt,
            Int(1),
            Slash,
            LBrace,
            RBrace,
            Eof
        ]
    );
    assert_eq!(toks[0].span, Span::new(0, 15));
    match &toks[0].kind {
        AttachPoint { fields, .. } => {
            let f: Vec<&str> = fields.iter().map(|f| f.text.as_str()).collect();
            assert_eq!(f, ["usdt", "/bin/x", "p", "n"]);
            assert_eq!(fields[1].span, Span::new(5, 11));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        strip_fields(kinds("usdt:/bin/x:p:n{}")),
        vec![ap("usdt:/bin/x:p:n"), LBrace, RBrace, Eof]
    );
    assert_eq!(
        strip_fields(kinds("BEGIN,END,\n  i:s:1{} u:a:b { }")),
        vec![
            ap("BEGIN"),
            Comma,
            ap("END"),
            Comma,
            ap("i:s:1"),
            LBrace,
            RBrace,
            ap("u:a:b"),
            LBrace,
            RBrace,
            Eof
        ]
    );
}

#[test]
fn quoted_attach_points() {
    let toks = tokenize("uprobe:\"/path/libstdc++.so\":\"ns::f\" {}").unwrap_or_default();
    match &toks[0].kind {
        AttachPoint { raw, fields } => {
            assert_eq!(raw, "uprobe:/path/libstdc++.so:ns::f");
            let f: Vec<&str> = fields.iter().map(|f| f.text.as_str()).collect();
            assert_eq!(f, ["uprobe", "/path/libstdc++.so", "ns::f"]);
            assert_eq!(fields[2].span, Span::new(28, 35));
        }
        other => panic!("{other:?}"),
    }
    let toks = tokenize("usdt:\"/x/my dir/lib++.so\":p:n {}").unwrap_or_default();
    match &toks[0].kind {
        AttachPoint { fields, .. } => assert_eq!(fields[1].text, "/x/my dir/lib++.so"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn nested_braces_return_to_top_level() {
    assert_eq!(
        strip_fields(kinds("BEGIN { if (1) { x } } usdt:a:b {}")),
        vec![
            ap("BEGIN"),
            LBrace,
            Ident("if".into()),
            LParen,
            Int(1),
            RParen,
            LBrace,
            Ident("x".into()),
            RBrace,
            RBrace,
            ap("usdt:a:b"),
            LBrace,
            RBrace,
            Eof
        ]
    );
}

#[test]
fn errors() {
    let d = lex_err("BEGIN { \"abc }");
    assert_eq!(d.message, "unterminated string");
    assert_eq!(d.span, Span::new(8, 9));
    assert_eq!(
        lex_err("BEGIN { 0x }").message,
        "invalid integer literal `0x`"
    );
    assert_eq!(
        lex_err("BEGIN { 09 }").message,
        "invalid integer literal `09`"
    );
    assert_eq!(
        lex_err("BEGIN { 12ab }").message,
        "invalid integer literal `12ab`"
    );
    assert_eq!(
        lex_err("BEGIN { 99999999999999999999 }").message,
        "integer literal `99999999999999999999` is too large"
    );
    assert_eq!(
        lex_err("BEGIN { \"\\q\" }").message,
        "unknown escape sequence `\\q`"
    );
    assert_eq!(
        lex_err("BEGIN { \"\\x\" }").message,
        "invalid escape sequence `\\x`"
    );
    assert_eq!(
        lex_err("BEGIN { /* }").message,
        "unterminated block comment"
    );
    assert_eq!(
        lex_err("BEGIN { $ }").message,
        "expected a variable name after `$`"
    );
    assert_eq!(
        lex_err("BEGIN { $0 }").message,
        "invalid positional parameter `$0`"
    );
    assert_eq!(lex_err("BEGIN { # }").message, "unexpected character `#`");
    let d = lex_err("BEGIN { é }");
    assert_eq!(d.message, "unexpected character `é`");
    assert_eq!(d.span, Span::new(8, 10));
    assert_eq!(
        lex_err("uprobe:\"/x:f {}").message,
        "unterminated string in attach point"
    );
}

#[test]
fn eof_span_is_after_last_text() {
    let toks = tokenize("BEGIN {\n\n  \n").unwrap_or_default();
    assert_eq!(toks.last().map(|t| t.span), Some(Span::new(7, 7)));
}

#[test]
fn scientific_duration_and_c_suffixed_literals_as_the_manual_reads_them() {
    assert_eq!(body("2e3"), vec![Int(2000)]);
    assert_eq!(body("1e6"), vec![Int(1_000_000)]);
    assert_eq!(body("1_000_123_000"), vec![Int(1_000_123_000)]);
    assert_eq!(body("1m"), vec![Int(60_000_000_000)]);
    assert_eq!(body("5ms"), vec![Int(5_000_000)]);
    assert_eq!(
        body("3us 2ns 1s 1h 1d"),
        vec![
            Int(3_000),
            Int(2),
            Int(1_000_000_000),
            Int(3_600_000_000_000),
            Int(86_400_000_000_000)
        ]
    );
    assert_eq!(
        body("123UL 123U 123LL 0x10ul"),
        vec![Int(123), Int(123), Int(123), Int(16)]
    );
    for (ns, text) in [
        (1_000_000_000, "1s"),
        (250_000, "250us"),
        (7, "7ns"),
        (90_000_000_000, "90s"),
        (0, "0"),
    ] {
        assert_eq!(duration_literal(ns), text);
        assert_eq!(body(text), vec![Int(ns)]);
    }
    let d = lex_err("BEGIN { $x = 1e20; }");
    assert_eq!(d.message, "integer literal `1e20` is too large");
    let d = lex_err("BEGIN { $x = 1e; }");
    assert_eq!(d.message, "invalid integer literal `1e`");
    let d = lex_err("BEGIN { $x = 2xs; }");
    assert_eq!(d.message, "invalid integer literal `2xs`");
}
