//! Property tests: the parser never panics, and every error points inside
//! the source on character boundaries. Run harder with
//! `PROPTEST_CASES=20000 cargo test -p ustrace-lang --test fuzz`.

use proptest::prelude::*;
use ustrace_lang::ast::Span;

const CORPUS: &[&str] = &[
    "usdt:/path/test-server:test_grp:test_idx { printf(\"%d\\n\", arg0); }",
    "usdt:B:p:start { @s[tid] = nsecs; } usdt:B:p:done /@s[tid]/ { @lat = hist(nsecs - @s[tid]); delete(@s[tid]); }",
    "#!/usr/bin/env ustrace\n// c\nBEGIN { printf(\"hi\\n\"); } /* x */ END { clear(@a) }",
    "uprobe:\"/path/libstdc++.so\":\"ns::f\"+16, ur:/bin/x:main { @[ustack] = count(); }",
    "interval:s:1 { print(@x); } profile:hz:99 /pid == $1/ { @c[comm, tid]++; }",
    "BEGIN { $i = 0; while ($i < 10) { if ($i % 2 == 0) { $i += 1; continue } else if ($i > 5) { break } $i++ } }",
    "BEGIN { unroll(4) { @x = (uint8)-1 + (int32)arg0 * 0x10 >> 2; } $t = (1, \"a\"); return; }",
    "trace_udst { printf(\"%d\\n\", arg0); } h1, usdt:/b:p:n /1/ { }",
    "usdt:/bin/x:n /(arg0 / 2) > 1 && arg1 != 0 ? 1 : 0/ { @m[probe] = ~*$p[1] | !$#; }",
    "config = { max_strlen = 32; stack_mode = perf; print_maps_on_exit = false } BEGIN { exit(); }",
    "BEGIN { let $x = 1; if (true) { let $x: uint8 = 2; let $s: string; } let $y; $y = $x; }",
    "BEGIN { $t = (1, \"a\", (true, 2)); print($t.2.0); print($t[1]); @m[(1, 2)] = (3, false); $b = !(1 < 2); }",
    "BEGIN { for ($i : (-3)..$1) { if ($i == 0) { continue; } for ($kv : @m) { print($kv.0.1); break; } } $n = len(@m) + 1e6; }",
    "macro one() { 1 }\nmacro add_one(x) { x + 1 }\nmacro bump($a, @b) { $a += 1; @b += 1; }\nmacro add_two(x) { add_one(x) + 1 }\nBEGIN { $a = one; bump($a, @b); print(add_two($a)); }",
    "macro twice(x) { let $v = x; { let $w = $v; $w * 2 } }\nBEGIN { @x = twice({ printf(\"hi\"); 2 }); }",
    "let @a = hash(100);\nlet @b = percpulruhash(20);\nBEGIN { @a[1] = 2e3 + 1ms + 123UL + 1_000; @b[tid] = count(); }",
    "usdt:/b:p:n /$# > 1/ { printf(\"%s\\n\", str($1)); }",
    "BEGIN { $a = (1,); $e = (); print((($a, $e), (2, \"x\",)) == (((1,), ()), (2, \"x\"))); print(sizeof((1, \"ab\"))); }",
    "macro z(x) { let $v = x; let $zero: typeof($v); $zero }\nBEGIN { let $y: typeof(@m) = 1; $c = (typeof($y))arg0 + sizeof(typeof(uint16)); print(z(3)); }",
    "let @unused = hash(4);\nBEGIN { { let $a = 1; { print($a); } } { 5 } for ($i : 0..2) { { continue; } } }",
];

fn floor(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn check(src: &str) {
    check_with(src, ustrace_lang::parse);
    check_with(src, ustrace_lang::parse_labelled);
    check_with(src, |s| {
        let options = ustrace_lang::ParseOptions {
            positional: vec!["/bin/x".into(), "f$2".into()],
            ..Default::default()
        };
        ustrace_lang::parse_with(s, &options)
    });
}

fn check_with(
    src: &str,
    parse: fn(&str) -> Result<ustrace_lang::ast::Script, ustrace_lang::Diagnostic>,
) {
    match parse(src) {
        Ok(script) => {
            for p in &script.probes {
                assert!(within(src, p.span), "probe span {:?} in {src:?}", p.span);
                for a in &p.attach_points {
                    assert!(within(src, a.span), "attach span {:?} in {src:?}", a.span);
                }
            }
        }
        Err(d) => {
            assert!(
                within(src, d.span),
                "error span {:?} outside {} bytes: {src:?}",
                d.span,
                src.len()
            );
            let r = d.render("f.bt", src);
            assert!(
                r.starts_with("f.bt:") && r.lines().next().is_some_and(|l| l.contains(": error: "))
            );
        }
    }
}

fn within(src: &str, s: Span) -> bool {
    s.start <= s.end
        && s.end <= src.len()
        && src.is_char_boundary(s.start)
        && src.is_char_boundary(s.end)
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    Replace(usize, char),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_@$#:/{}()\\[\\];,.=+\\-*%&|^!~<>?\"'\\\\ \n\té]{1,6}",
        Just("{".to_string()),
        Just("}".to_string()),
        Just("/".to_string()),
        Just("\"".to_string()),
        Just("/*".to_string()),
        Just("usdt:".to_string()),
        Just("((((".to_string()),
        Just("0x".to_string()),
        Just("(uint8)".to_string()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..8).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), snippet()).prop_map(|(a, s)| Mutation::Insert(a, s)),
        (any::<usize>(), any::<char>()).prop_map(|(a, c)| Mutation::Replace(a, c)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..20).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
    ]
}

fn apply(src: &str, m: &Mutation) -> String {
    let len = src.len().max(1);
    let mut s = src.to_string();
    match m {
        Mutation::Delete(a, n) => {
            let a = floor(&s, a % len);
            let b = floor(&s, a + n);
            s.replace_range(a..b, "");
        }
        Mutation::Insert(a, text) => {
            let a = floor(&s, a % len);
            s.insert_str(a, text);
        }
        Mutation::Replace(a, c) => {
            let a = floor(&s, a % len);
            let b = floor(&s, a + 1).max(a);
            let b = if b == a {
                s[a..].chars().next().map_or(a, |ch| a + ch.len_utf8())
            } else {
                b
            };
            s.replace_range(a..b, &c.to_string());
        }
        Mutation::Truncate(a) => {
            let a = floor(&s, a % len);
            s.truncate(a);
        }
        Mutation::Duplicate(a, n) => {
            let a = floor(&s, a % len);
            let b = floor(&s, a + n);
            let piece = s[a..b].to_string();
            s.insert_str(b, &piece);
        }
    }
    s
}

#[test]
fn corpus_parses() {
    for src in CORPUS {
        if let Err(d) = ustrace_lang::parse_labelled(src) {
            panic!("{}", d.render("corpus", src));
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_strings(src in any::<String>()) {
        check(&src);
    }

    #[test]
    fn script_alphabet(src in "[a-zA-Z0-9_@$#:/{}()\\[\\];,.=+\\-*%&|^!~<>?\"'\\\\ \n\té]{0,120}") {
        check(&src);
    }

    #[test]
    fn mutated_scripts(idx in 0..CORPUS.len(), muts in proptest::collection::vec(mutation(), 1..6)) {
        let mut src = CORPUS[idx].to_string();
        for m in &muts {
            src = apply(&src, m);
        }
        check(&src);
    }
}
