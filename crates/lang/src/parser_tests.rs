//! Unit tests of the parser.

use super::*;

/// A compact S-expression of an expression, for precedence checks.
fn sx(e: &Expr) -> String {
    use ExprKind as K;
    let list = |v: &[Expr]| v.iter().map(sx).collect::<Vec<_>>().join(" ");
    match &e.kind {
        K::Integer(n) => n.to_string(),
        K::String(s) => format!("{s:?}"),
        K::Builtin(b) => b.clone(),
        K::Positional(n) => format!("${n}"),
        K::PositionalCount => "$#".into(),
        K::Variable(v) => format!("${v}"),
        K::Map { name, keys } if keys.is_empty() => format!("@{name}"),
        K::Map { name, keys } => format!("@{name}[{}]", list(keys)),
        K::Call { name, args, .. } => format!("({name} {})", list(args)).replace(" )", ")"),
        K::Unary { op, operand } => {
            let o = match op {
                UnaryOp::Neg => "neg",
                UnaryOp::Not => "!",
                UnaryOp::BitNot => "~",
                UnaryOp::Deref => "deref",
            };
            format!("({o} {})", sx(operand))
        }
        K::Binary { op, lhs, rhs } => format!("({op:?} {} {})", sx(lhs), sx(rhs)),
        K::Ternary {
            cond,
            then_expr,
            else_expr,
        } => {
            format!("(? {} {} {})", sx(cond), sx(then_expr), sx(else_expr))
        }
        K::Cast { ty, operand } => {
            format!(
                "({}int{} {})",
                if ty.signed { "" } else { "u" },
                ty.size * 8,
                sx(operand)
            )
        }
        K::TypeCast { ty, operand } => format!("(cast<{}> {})", ty.display(), sx(operand)),
        K::SizeofType(ty) => format!("(sizeof<{}>)", ty.display()),
        K::SizeofExpr(e) => format!("(sizeof {})", sx(e)),
        K::Typeof(e) => format!("(typeof {})", sx(e)),
        K::TypeofCast { of, operand } => match operand {
            Some(v) => format!("(cast<typeof {}> {})", sx(of), sx(v)),
            None => format!("(zero<typeof {}>)", sx(of)),
        },
        K::Offsetof { ty, fields } => format!("(offsetof<{}> {})", ty.display(), fields.join(".")),
        K::Tuple(items) => format!("(tuple {})", list(items)),
        K::Block { stmts, value } => format!("(block {} {})", stmts.len(), sx(value)),
        K::IncDec {
            target,
            increment,
            prefix,
        } => {
            let op = if *increment { "++" } else { "--" };
            if *prefix {
                format!("(pre{op} {})", sx(target))
            } else {
                format!("(post{op} {})", sx(target))
            }
        }
        K::Field { base, field } => format!("(. {} {field})", sx(base)),
        K::Index { base, index } => format!("(index {} {})", sx(base), sx(index)),
    }
}

fn ex(src: &str) -> String {
    match parse_expr(src) {
        Ok(e) => sx(&e),
        Err(d) => panic!("{}", d.render("expr", src)),
    }
}

pub(super) fn ok(src: &str) -> Script {
    match parse(src) {
        Ok(s) => s,
        Err(d) => panic!("{}", d.render("t.bt", src)),
    }
}

pub(super) fn err(src: &str) -> Diagnostic {
    match parse(src) {
        Ok(s) => panic!("expected an error for {src:?}, got {s:?}"),
        Err(d) => d,
    }
}

fn kind(ap: &str) -> AttachKind {
    let s = ok(&format!("{ap} {{ }}"));
    s.probes[0].attach_points[0].kind.clone()
}

fn body(src: &str) -> Vec<Stmt> {
    ok(&format!("BEGIN {{ {src} }}"))
        .probes
        .remove(0)
        .body
        .stmts
}

#[test]
fn precedence() {
    assert_eq!(
        ex("1 + 2 * 3 == 7 && !x"),
        "(And (Eq (Add 1 (Mul 2 3)) 7) (! x))"
    );
    assert_eq!(
        ex("a || b && c | d ^ e & f"),
        "(Or a (And b (BitOr c (BitXor d (BitAnd e f)))))"
    );
    assert_eq!(
        ex("a == b < c << d + e * f"),
        "(Eq a (Lt b (Shl c (Add d (Mul e f)))))"
    );
    assert_eq!(
        ex("a != b >= c >> d - e % f"),
        "(Ne a (Ge b (Shr c (Sub d (Mod e f)))))"
    );
    assert_eq!(ex("a <= b > c"), "(Gt (Le a b) c)");
    // A `typeof` cast binds like a cast; tuples of one and no element.
    assert_eq!(
        ex("(typeof($x))a * 2 + sizeof(typeof(@m))"),
        "(Add (Mul (cast<typeof $x> a) 2) (sizeof (typeof @m)))"
    );
    assert_eq!(
        ex("(a,) == ((), (b, c,))"),
        "(Eq (tuple a) (tuple (tuple ) (tuple b c)))"
    );
    // Left associativity.
    assert_eq!(ex("a - b - c"), "(Sub (Sub a b) c)");
    assert_eq!(ex("a / b / c"), "(Div (Div a b) c)");
    // Ternary: lowest, right associative.
    assert_eq!(ex("a || b ? c : d ? e : f"), "(? (Or a b) c (? d e f))");
    assert_eq!(ex("a ? b ? 1 : 2 : 3"), "(? a (? b 1 2) 3)");
    // Parentheses.
    assert_eq!(ex("(1 + 2) * 3"), "(Mul (Add 1 2) 3)");
}

#[test]
fn unary_cast_postfix() {
    assert_eq!(ex("-a * ~b"), "(Mul (neg a) (~ b))");
    assert_eq!(ex("!!x"), "(! (! x))");
    assert_eq!(ex("*arg0 + 1"), "(Add (deref arg0) 1)");
    assert_eq!(ex("(uint8)x + 1"), "(Add (uint8 x) 1)");
    assert_eq!(ex("(int32)arg0"), "(int32 arg0)");
    assert_eq!(ex("(uint64)-1"), "(uint64 (neg 1))");
    assert_eq!(
        ex("(int8)(int16)(uint16)(uint32)(int64)x"),
        "(int8 (int16 (uint16 (uint32 (int64 x)))))"
    );
    assert_eq!(ex("-$x++"), "(neg (post++ $x))");
    assert_eq!(ex("++@c[pid]"), "(pre++ @c[pid])");
    assert_eq!(ex("--$i"), "(pre-- $i)");
    assert_eq!(ex("@x--"), "(post-- @x)");
    assert_eq!(ex("*$p[2]"), "(deref (index $p 2))");
    assert_eq!(ex("$s.a.b"), "(. (. $s a) b)");
    assert_eq!(ex("$s->a"), "(. $s a)");
    assert_eq!(ex("@m[1][2]"), "(index @m[1] 2)");
    // A parenthesized non-type is not a cast.
    assert_eq!(ex("(x) - 1"), "(Sub x 1)");
}

#[test]
fn primaries() {
    assert_eq!(ex("pid"), "pid");
    assert_eq!(ex("$x + $1 + $#"), "(Add (Add $x $1) $#)");
    assert_eq!(ex("@"), "@");
    assert_eq!(ex("@m[tid, comm]"), "@m[tid comm]");
    assert_eq!(ex("(1, \"a\", $x)"), "(tuple 1 \"a\" $x)");
    assert_eq!(ex("printf(\"%d\\n\", arg0)"), "(printf \"%d\\n\" arg0)");
    assert_eq!(ex("count()"), "(count)");
    assert_eq!(ex("str(arg0, 16)"), "(str arg0 16)");
    assert_eq!(ex("0x10 + 010 + 10"), "(Add (Add 16 8) 10)");
    let e = parse_expr("  foo(a, bb)").unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(e.span, Span::new(2, 12));
    match e.kind {
        ExprKind::Call { name_span, .. } => assert_eq!(name_span, Span::new(2, 5)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn statements() {
    let stmts = body("$x = 1; @m[pid] += 2; $x -= 1; $x *= 2; $x /= 2; $x %= 3; $x &= 1; $x |= 1; $x ^= 1; $x <<= 1; $x >>= 1");
    let ops: Vec<Option<BinaryOp>> = stmts
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Assign { op, .. } => *op,
            other => panic!("{other:?}"),
        })
        .collect();
    use BinaryOp::*;
    assert_eq!(
        ops,
        vec![
            None,
            Some(Add),
            Some(Sub),
            Some(Mul),
            Some(Div),
            Some(Mod),
            Some(BitAnd),
            Some(BitOr),
            Some(BitXor),
            Some(Shl),
            Some(Shr)
        ]
    );
    let stmts = body("@x++; delete(@m[1]); break; continue; return;");
    assert!(matches!(
        stmts[0].kind,
        StmtKind::Expr(Expr {
            kind: ExprKind::IncDec { .. },
            ..
        })
    ));
    assert!(
        matches!(&stmts[1].kind, StmtKind::Expr(Expr { kind: ExprKind::Call { name, .. }, .. }) if name == "delete")
    );
    assert_eq!(stmts[2].kind, StmtKind::Break);
    assert_eq!(stmts[3].kind, StmtKind::Continue);
    assert_eq!(stmts[4].kind, StmtKind::Return);
    // Statement spans cover the statement without the `;`.
    let src = "BEGIN { $x = 1 + 2; }";
    assert_eq!(ok(src).probes[0].body.stmts[0].span, Span::new(8, 18));
    // Empty bodies and stray semicolons.
    assert!(body("").is_empty());
    assert_eq!(body(";; $x = 1;; ;").len(), 1);
}

#[test]
fn control_flow() {
    let stmts = body("if ($x > 1) { @a = 1 } else if ($x) { @b = 2; } else { @c = 3 } $y = 1");
    assert_eq!(stmts.len(), 2);
    let StmtKind::If {
        cond,
        then_block,
        else_block: Some(else_block),
    } = &stmts[0].kind
    else {
        panic!("{:?}", stmts[0]);
    };
    assert_eq!(sx(cond), "(Gt $x 1)");
    assert_eq!(then_block.stmts.len(), 1);
    let StmtKind::If {
        else_block: Some(inner_else),
        ..
    } = &else_block.stmts[0].kind
    else {
        panic!("{else_block:?}");
    };
    assert_eq!(inner_else.stmts.len(), 1);

    let stmts = body("while ($i < 10) { $i++; if ($i == 5) { break } } unroll(3) { @n++ }");
    assert!(matches!(&stmts[0].kind, StmtKind::While { body, .. } if body.stmts.len() == 2));
    assert!(matches!(&stmts[1].kind, StmtKind::Unroll { count: 3, body } if body.stmts.len() == 1));
    let stmts = body("if (1) { } ; if (2) { }");
    assert_eq!(stmts.len(), 2);
}

#[test]
fn attach_kinds() {
    let usdt = |p: &str, prov: Option<&str>, n: &str| AttachKind::Usdt {
        path: p.into(),
        provider: prov.map(Into::into),
        name: n.into(),
    };
    assert_eq!(kind("BEGIN"), AttachKind::Begin);
    assert_eq!(kind("END"), AttachKind::End);
    assert_eq!(kind("begin"), AttachKind::Begin);
    assert_eq!(kind("end"), AttachKind::End);
    assert_eq!(kind("usdt:./app::probe2"), usdt("./app", None, "probe2"));
    assert_eq!(kind("usdt:::probe2"), usdt("", None, "probe2"));
    assert_eq!(kind("usdt:./bin/app*::*"), usdt("./bin/app*", None, "*"));
    assert_eq!(
        kind("usdt:/bin/x:prov:name"),
        usdt("/bin/x", Some("prov"), "name")
    );
    assert_eq!(kind("U:/bin/x:name"), usdt("/bin/x", None, "name"));
    assert_eq!(kind("usdt::prov:name"), usdt("", Some("prov"), "name"));
    assert_eq!(kind("usdt:libc:*:set*"), usdt("libc", Some("*"), "set*"));
    assert_eq!(
        kind("usdt:\"/x/lib++.so\":p:n"),
        usdt("/x/lib++.so", Some("p"), "n")
    );
    let up = |p: &str, name: &str, offset: u64, is_return: bool| AttachKind::Uprobe {
        path: p.into(),
        target: UprobeTarget::Symbol {
            name: name.into(),
            offset,
        },
        is_return,
    };
    assert_eq!(kind("uprobe:/bin/x:main"), up("/bin/x", "main", 0, false));
    assert_eq!(kind("u:/bin/x:main+16"), up("/bin/x", "main", 16, false));
    assert_eq!(kind("u:/bin/x:main+0x10"), up("/bin/x", "main", 16, false));
    assert_eq!(kind("uretprobe:libc:malloc"), up("libc", "malloc", 0, true));
    assert_eq!(kind("ur:/bin/x:f*"), up("/bin/x", "f*", 0, true));
    assert_eq!(
        kind("uprobe:\"/path/libstdc++.so\":\"ns::f\""),
        up("/path/libstdc++.so", "ns::f", 0, false)
    );
    assert_eq!(kind("uprobe:/bin/x:ns::f"), up("/bin/x", "ns::f", 0, false));
    assert_eq!(
        kind("uprobe:/bin/x:0x401136"),
        AttachKind::Uprobe {
            path: "/bin/x".into(),
            target: UprobeTarget::Address(0x401136),
            is_return: false
        }
    );
    assert_eq!(
        kind("interval:s:2"),
        AttachKind::Interval {
            period_ns: 2_000_000_000
        }
    );
    assert_eq!(
        kind("interval:ms:100"),
        AttachKind::Interval {
            period_ns: 100_000_000
        }
    );
    assert_eq!(kind("i:us:5"), AttachKind::Interval { period_ns: 5_000 });
    // The manual's C++ language prefix: `uprobe:PATH:cpp:FUNC`.
    assert_eq!(
        kind(r#"uprobe:/bin/x:cpp:"ns::C::m""#),
        AttachKind::Uprobe {
            path: "/bin/x".into(),
            target: UprobeTarget::Symbol {
                name: "ns::C::m".into(),
                offset: 0
            },
            is_return: false
        }
    );
    // bpftrace's manual: `interval:1s`, `interval:1000000000` and
    // `interval:s:1` are the same.
    for one_second in ["interval:1s", "interval:1000000000", "i:1000ms"] {
        assert_eq!(
            kind(one_second),
            AttachKind::Interval {
                period_ns: 1_000_000_000
            }
        );
    }
    assert_eq!(
        kind("profile:10ms"),
        AttachKind::Profile {
            rate: ProfileRate::PeriodNs(10_000_000)
        }
    );
    assert_eq!(
        kind("interval:hz:4"),
        AttachKind::Interval {
            period_ns: 250_000_000
        }
    );
    assert_eq!(
        kind("profile:hz:99"),
        AttachKind::Profile {
            rate: ProfileRate::Hz(99)
        }
    );
    assert_eq!(
        kind("p:s:1"),
        AttachKind::Profile {
            rate: ProfileRate::PeriodNs(1_000_000_000)
        }
    );
    assert_eq!(
        kind("profile:ms:10"),
        AttachKind::Profile {
            rate: ProfileRate::PeriodNs(10_000_000)
        }
    );
    assert_eq!(
        kind("profile:us:100"),
        AttachKind::Profile {
            rate: ProfileRate::PeriodNs(100_000)
        }
    );
}

#[test]
fn reference_script() {
    let src = "usdt:/path/test-server:test_grp:test_idx { printf(\"%d\\n\", arg0); }";
    let s = ok(src);
    assert_eq!(s.probes.len(), 1);
    let p = &s.probes[0];
    assert_eq!(p.span, Span::new(0, src.len()));
    assert_eq!(
        p.attach_points[0].raw,
        "usdt:/path/test-server:test_grp:test_idx"
    );
    assert_eq!(p.attach_points[0].span, Span::new(0, 40));
    assert_eq!(
        p.attach_points[0].kind,
        AttachKind::Usdt {
            path: "/path/test-server".into(),
            provider: Some("test_grp".into()),
            name: "test_idx".into()
        }
    );
    assert!(p.predicate.is_none());
    assert_eq!(p.body.stmts.len(), 1);
    let StmtKind::Expr(e) = &p.body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(sx(e), "(printf \"%d\\n\" arg0)");
}

#[test]
fn latency_idiom() {
    let src = "usdt:B:p:start { @s[tid] = nsecs; } usdt:B:p:done /@s[tid]/ { @lat = hist(nsecs - @s[tid]); delete(@s[tid]); }";
    let s = ok(src);
    assert_eq!(s.probes.len(), 2);
    assert_eq!(
        s.probes[1].predicate.as_ref().map(sx).as_deref(),
        Some("@s[tid]")
    );
    let StmtKind::Assign {
        target,
        op: None,
        value,
    } = &s.probes[1].body.stmts[0].kind
    else {
        panic!()
    };
    assert_eq!(sx(target), "@lat");
    assert_eq!(sx(value), "(hist (Sub nsecs @s[tid]))");
    assert_eq!(s.probes[1].body.stmts.len(), 2);
}

#[test]
fn multi_probe_shebang_comments() {
    let src = "#!/usr/bin/env ustrace\n\
               // count requests\n\
               usdt:/bin/srv:app:req,\n\
               usdt:/bin/srv:app:req2 /* two probes */\n\
               /pid == $1 && (arg0 / 2) > 10/\n\
               {\n  @reqs[probe] = count();\n}\n\
               interval:s:1 { print(@reqs); clear(@reqs) }\n\
               END { printf(\"bye\\n\") }\n";
    let s = ok(src);
    assert_eq!(s.probes.len(), 3);
    assert_eq!(s.probes[0].attach_points.len(), 2);
    assert_eq!(
        s.probes[0].predicate.as_ref().map(sx).as_deref(),
        Some("(And (Eq pid $1) (Gt (Div arg0 2) 10))")
    );
    assert_eq!(s.probes[1].body.stmts.len(), 2);
    assert_eq!(s.probes[2].attach_points[0].kind, AttachKind::End);
    // No whitespace before `{`, predicate without spaces.
    let s = ok("usdt:/bin/x:p:n{}usdt:/bin/x:p:m /arg0/{@[comm]=count()}");
    assert_eq!(s.probes.len(), 2);
    assert_eq!(
        s.probes[1].predicate.as_ref().map(sx).as_deref(),
        Some("arg0")
    );
}

#[test]
fn predicate_division_needs_parentheses() {
    let s = ok("BEGIN /(a / 2) == b[x / 2] && f(x / 2)/ { }");
    assert_eq!(
        s.probes[0].predicate.as_ref().map(sx).as_deref(),
        Some("(And (Eq (Div a 2) (index b (Div x 2))) (f (Div x 2)))")
    );
}

#[test]
fn parse_expr_entry_point() {
    assert_eq!(ex("a ? b : c"), "(? a b c)");
    assert_eq!(
        parse_expr("a b").map_err(|d| d.message),
        Err("expected end of expression, found `b`".to_string())
    );
}

#[test]
fn spans() {
    let src = "BEGIN { if (1) { @a = 1 } else { @b = 2 } }";
    let s = ok(src);
    assert_eq!(s.probes[0].body.span, Span::new(6, src.len()));
    assert_eq!(s.probes[0].body.stmts[0].span, Span::new(8, src.len() - 2));
    let e = parse_expr("(1 + 2) * $x").unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(e.span, Span::new(0, 12));
    let ExprKind::Binary { lhs, .. } = e.kind else {
        panic!()
    };
    assert_eq!(lhs.span, Span::new(0, 7));
}

#[test]
fn labelled_blocks_only_with_parse_labelled() {
    let s = crate::parse_labelled("trace_udst { exit(); } BEGIN { } usdt:/x:p:n, h2 { }").unwrap();
    let kinds: Vec<_> = s
        .probes
        .iter()
        .flat_map(|p| p.attach_points.iter().map(|a| a.kind.clone()))
        .collect();
    assert_eq!(
        kinds[0],
        AttachKind::Label {
            name: "trace_udst".into()
        }
    );
    assert_eq!(kinds[1], AttachKind::Begin);
    assert!(matches!(kinds[2], AttachKind::Usdt { .. }));
    assert_eq!(kinds[3], AttachKind::Label { name: "h2".into() });
    assert_eq!(s.probes[0].attach_points[0].span, Span::new(0, 10));
    // Without labels a bare name stays an unknown attach point.
    let d = err("trace_udst { exit(); }");
    assert!(
        d.message.contains("unknown attach point `trace_udst`"),
        "{}",
        d.message
    );
    // Not an identifier: still an attach-point error.
    assert!(crate::parse_labelled("9abc { }").is_err());
}

#[test]
fn casts_to_program_types() {
    assert_eq!(ex("(struct req *)arg0"), "(cast<struct req*> arg0)");
    assert_eq!(
        ex("((struct req *)arg0)->hdr.len"),
        "(. (. (cast<struct req*> arg0) hdr) len)"
    );
    assert_eq!(ex("(union value **)$p"), "(cast<union value**> $p)");
    assert_eq!(ex("(enum color)arg1"), "(cast<enum color> arg1)");
    assert_eq!(ex("(req_t *)arg0"), "(cast<req_t*> arg0)");
    assert_eq!(ex("(struct req)arg0"), "(cast<struct req> arg0)");
    // Not casts: a product in parentheses, a parenthesized name.
    assert_eq!(ex("(a * b)"), "(Mul a b)");
    assert_eq!(ex("(a) * b"), "(Mul a b)");
    let e = parse_expr("(struct  req *)arg0").expect("parses");
    let ExprKind::TypeCast { ty, .. } = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(
        (ty.name.as_str(), ty.pointers, ty.span),
        ("struct req", 1, Span::new(1, 12))
    );
}

#[test]
fn number_exprs_gives_every_node_its_own_id() {
    let mut s =
        parse("BEGIN /pid > 1/ { @m[1, comm] = count(); if ($x) { printf(\"%d\\n\", -$x + 2); } }")
            .unwrap();
    let mut before = Vec::new();
    crate::ast::visit_exprs(&s, &mut |e| before.push(e.id));
    assert!(before
        .iter()
        .all(|id| *id == crate::ast::ExprId::UNNUMBERED));
    let n = crate::ast::number_exprs(&mut s);
    let mut ids = Vec::new();
    crate::ast::visit_exprs(&s, &mut |e| ids.push(e.id.0));
    assert_eq!(ids, (0..n).collect::<Vec<_>>());
    assert_eq!(n, 14);
}

#[test]
fn sizeof_and_offsetof_of_types_and_expressions() {
    assert_eq!(ex("sizeof(struct req)"), "(sizeof<struct req>)");
    assert_eq!(ex("sizeof(struct req *)"), "(sizeof<struct req*>)");
    assert_eq!(ex("sizeof(req_t)"), "(sizeof<req_t>)");
    assert_eq!(ex("sizeof(uint32)"), "(sizeof<uint32>)");
    assert_eq!(ex("sizeof(args.r->hdr)"), "(sizeof (. (. args r) hdr))");
    assert_eq!(ex("sizeof(1 + 2) * 2"), "(Mul (sizeof (Add 1 2)) 2)");
    assert_eq!(
        ex("offsetof(struct req, hdr)"),
        "(offsetof<struct req> hdr)"
    );
    assert_eq!(ex("offsetof(req_t, hdr.len)"), "(offsetof<req_t> hdr.len)");
    // A function called sizeof without parentheses is a builtin name.
    assert_eq!(ex("sizeof"), "sizeof");
    assert!(parse_expr("offsetof(1, x)").is_err());
    assert!(parse_expr("offsetof(struct req)").is_err());
    assert!(parse_expr("offsetof(struct req, )").is_err());
}

#[test]
fn for_loops_and_block_expressions_parse() {
    let s = parse(
        "BEGIN { for ($i : (1+1)..$n) { } for ($kv : @m) { break; } $a = { let $b = 1; $b }; }",
    )
    .unwrap();
    let stmts = &s.probes[0].body.stmts;
    let iter = |i: usize| match &stmts[i].kind {
        StmtKind::For { iter, .. } => Some((**iter).clone()),
        _ => None,
    };
    assert!(matches!(iter(0), Some(crate::ast::ForIter::Range { .. })));
    assert!(matches!(iter(1), Some(crate::ast::ForIter::Map(_))));
    let StmtKind::Assign { value, .. } = &stmts[2].kind else {
        panic!("{:?}", stmts[2]);
    };
    assert!(matches!(&value.kind, ExprKind::Block { stmts, .. } if stmts.len() == 1));
    // The loop variable belongs to the body.
    assert!(err("BEGIN { for ($i : 0..2) { } print($i); }")
        .message
        .contains("its `let` is in a block that has ended"));
    let d = err("BEGIN { for ($x : $y) { } }");
    assert_eq!(
        d.message,
        "`for` iterates over a map (`@name`) or a range (`start..end`)"
    );
    assert_eq!(d.span, Span::new(18, 20));
    assert!(err("BEGIN { for (i : 0..1) { } }")
        .message
        .contains("expected the loop variable"));
    assert_eq!(
        err("BEGIN { $a = { 1; }; }").message,
        "this block has no value"
    );
}
