// Temporary smoke test: hand-built AST + location for /tmp/seed/test-server.
use ustrace_codegen::*;
use ustrace_lang::ast::*;
use ustrace_probes::*;
fn sp() -> Span {
    Span::new(0, 0)
}
fn e(kind: ExprKind) -> Expr {
    Expr { kind, span: sp() }
}
fn main() {
    let pid: u32 = std::env::args().nth(1).unwrap().parse().unwrap();
    let printf = e(ExprKind::Call {
        name: "printf".into(),
        args: vec![
            e(ExprKind::String("%d %s\n".into())),
            e(ExprKind::Builtin("arg0".into())),
            e(ExprKind::Builtin("probe".into())),
        ],
        name_span: sp(),
    });
    let probe = Probe {
        attach_points: vec![AttachPoint {
            raw: "usdt".into(),
            kind: AttachKind::Begin,
            span: sp(),
        }],
        predicate: None,
        body: Block {
            stmts: vec![Stmt {
                kind: StmtKind::Expr(printf),
                span: sp(),
            }],
            span: sp(),
        },
        span: sp(),
    };
    let script = Script {
        probes: vec![probe],
    };
    let spec = ArgSpec {
        size: 4,
        signed: true,
        location: ArgLocation::Memory {
            base: Register::Rbp,
            index: None,
            offset: -4,
        },
    };
    let target = UsdtTarget {
        path: "/tmp/seed/test-server".into(),
        display_path: "/tmp/seed/test-server".into(),
        provider: "test_grp".into(),
        name: "test_idx".into(),
        sites: vec![UsdtSite {
            file_offset: 0x117f,
            semaphore_offset: 0,
            pc: 0x117f,
            args: vec![Ok(spec)],
        }],
    };
    let opts = CompileOptions {
        pid: Some(pid),
        ..Default::default()
    };
    let compiled = compile(&script, &[vec![ResolvedAttach::Usdt(vec![target])]], &opts).unwrap();
    let mut s = ustrace_runtime::Session::load(
        &compiled,
        &ustrace_runtime::SessionOptions {
            pid: Some(pid),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| {
        if let ustrace_runtime::RuntimeError::ProgramLoad { log, .. } = &e {
            eprintln!("{log}");
        }
        panic!("{e}")
    });
    println!("Attaching {} probe...", compiled.attach_count);
    for _ in 0..30 {
        for rec in s.poll(100).unwrap() {
            println!("{:?}", ustrace_runtime::decode(&compiled, &rec));
        }
    }
}
