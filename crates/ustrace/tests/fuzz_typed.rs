//! Fuzzing typed expressions: random chains of `->`, `.`, `[i]`, `*` and
//! casts over a real program's DWARF types (tests/c/dwarf_types.c), in
//! every place a value can go (printf, print, str, sizeof, offsetof,
//! arithmetic, map keys and values), through parse, resolve, DWARF
//! reading and code generation. Each script compiles or fails with a
//! located error; never a panic or an internal error. Nothing is loaded
//! into the kernel.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use ustrace::{Error, Script, ScriptOptions};

fn program() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-typed");
        ustrace_testkit::build_program(
            "gcc",
            &root.join("tests/c/dwarf_types.c"),
            &dir,
            "dwarf-types",
            &["-g", "-O0"],
        )
    })
}

fn root() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("args.r".to_string()),
        Just("args.pp".to_string()),
        Just("args.names".to_string()),
        Just("args.c".to_string()),
        Just("args.n".to_string()),
        Just("args.nope".to_string()),
        Just("args".to_string()),
        Just("((struct req *)arg0)".to_string()),
        Just("((req_t **)arg1)".to_string()),
        Just("((union value *)arg2)".to_string()),
        Just("((enum color)arg3)".to_string()),
        Just("((struct hdr)arg0)".to_string()),
        Just("((struct nope *)arg0)".to_string()),
        Just("arg0".to_string()),
        Just("$v".to_string()),
        Just("$p".to_string()),
    ]
}

fn step() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("->id".to_string()),
        Just("->name".to_string()),
        Just(".name".to_string()),
        Just("->hdr".to_string()),
        Just(".hdr".to_string()),
        Just(".len".to_string()),
        Just(".flags".to_string()),
        Just(".level".to_string()),
        Just("->next".to_string()),
        Just("->value".to_string()),
        Just(".i".to_string()),
        Just(".d".to_string()),
        Just(".bytes".to_string()),
        Just("->matrix".to_string()),
        Just("->color".to_string()),
        Just("[0]".to_string()),
        Just("[1]".to_string()),
        Just("[100000]".to_string()),
        Just("[$i]".to_string()),
        Just("[-1]".to_string()),
        Just("->nmae".to_string()),
        Just(".0".to_string()),
    ]
}

fn chain() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        root(),
        proptest::collection::vec(step(), 0..5),
    )
        .prop_map(|(deref, r, steps)| {
            let c = format!("{r}{}", steps.concat());
            if deref {
                format!("*{c}")
            } else {
                c
            }
        })
}

fn use_of(chain: String) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(format!("printf(\"%d\\n\", {chain});")),
        Just(format!("printf(\"%s\\n\", {chain});")),
        Just(format!("print({chain});")),
        Just(format!("printf(\"%s\\n\", str({chain}));")),
        Just(format!("printf(\"%d\\n\", sizeof({chain}));")),
        Just(format!("$x = {chain} + 1;")),
        Just(format!("@m[{chain}] = count();")),
        Just(format!("@v = {chain};")),
        Just(format!("if ({chain}) {{ exit(); }}")),
        Just("printf(\"%d\\n\", offsetof(struct req, hdr.level));".to_string()),
        Just("printf(\"%d\\n\", offsetof(struct req, next.id));".to_string()),
        Just("printf(\"%d\\n\", sizeof(struct req) + sizeof(req_t *));".to_string()),
    ]
}

fn script() -> impl Strategy<Value = String> {
    let probe = prop_oneof![Just("uprobe"), Just("uretprobe")];
    let func = prop_oneof![
        Just("handle"),
        Just("mixed"),
        Just("make_req"),
        Just("inspect")
    ];
    (probe, func, chain().prop_flat_map(use_of)).prop_map(|(p, f, stmt)| {
        format!(
            "{p}:{}:{f} {{ $i = 1; $v = 2; $p = args.r; {stmt} }}",
            program().display()
        )
    })
}

fn compile(src: &str) {
    match Script::compile(src, "fuzz.bt", &ScriptOptions::builder().build()) {
        Ok(_) => {}
        Err(Error::Script { summary, .. }) => {
            assert!(
                summary.starts_with("fuzz.bt:"),
                "unlocated error {summary:?} for {src}"
            );
            assert!(
                !summary.contains("internal error"),
                "internal error {summary:?} for {src}"
            );
        }
        Err(Error::Internal(m)) => panic!("internal error {m} for {src}"),
        Err(_) => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn typed_chains_compile_or_fail_with_a_located_error(src in script()) {
        compile(&src);
    }
}

#[test]
fn the_documented_chains_compile() {
    let b = program().display();
    for body in [
        "printf(\"%d %s\\n\", args.r->id, args.r->name);",
        "print(*args.r); print(args); print(args.r->hdr);",
        "printf(\"%d\\n\", ((struct req *)arg0)->hdr.len);",
        "printf(\"%d %s\\n\", args.pp[0]->id, (*args.pp)->next->name);",
        "printf(\"%s %d\\n\", args.c, sizeof(struct req));",
    ] {
        let src = format!("uprobe:{b}:handle {{ {body} }}");
        if let Err(e) = Script::compile(&src, "doc.bt", &ScriptOptions::builder().build()) {
            panic!("{src}: {e}");
        }
    }
}
