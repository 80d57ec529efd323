//! Fuzzing the compiler: random scripts (from a small grammar of the
//! language, plus raw token soup) go through parse, resolve and code
//! generation. Each must compile or fail with a located error; never panic.
//! Only BEGIN/END/interval probes are used, so nothing touches the kernel.

use proptest::prelude::*;
use ustrace::{Error, Script, ScriptOptions};

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..1000).prop_map(|v| v.to_string()),
        Just("-5".to_string()),
        Just("0x10".to_string()),
        Just("$x".to_string()),
        Just("$y".to_string()),
        Just("@m".to_string()),
        Just("@k[1]".to_string()),
        Just("@t[\"a\", 2]".to_string()),
        Just("pid".to_string()),
        Just("tid".to_string()),
        Just("nsecs".to_string()),
        Just("elapsed".to_string()),
        Just("(comm == \"x\")".to_string()),
        Just("cpu".to_string()),
        Just("rand".to_string()),
        Just("$1".to_string()),
        Just("$#".to_string()),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 24, 3, |inner| {
        let ops = prop_oneof![
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("%"),
            Just("&"),
            Just("|"),
            Just("^"),
            Just("<<"),
            Just(">>"),
            Just("=="),
            Just("!="),
            Just("<"),
            Just(">="),
            Just("&&"),
            Just("||"),
        ];
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(a, o, b)| format!("({a} {o} {b})")),
            inner.clone().prop_map(|a| format!("!{a}")),
            inner.clone().prop_map(|a| format!("-({a})")),
            inner.clone().prop_map(|a| format!("(uint8){a}")),
            inner.clone().prop_map(|a| format!("(int32){a}")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} ? {b} : {c})")),
        ]
    })
}

fn stmt() -> impl Strategy<Value = String> {
    let simple = prop_oneof![
        expr().prop_map(|e| format!("$x = {e};")),
        expr().prop_map(|e| format!("@m = {e};")),
        expr().prop_map(|e| format!("@k[{e}] = count();")),
        expr().prop_map(|e| format!("@h = hist({e});")),
        expr().prop_map(|e| format!("@l = lhist({e}, 0, 100, 10);")),
        expr().prop_map(|e| format!("@s = stats({e});")),
        expr().prop_map(|e| format!("@a[{e}, \"k\"] = avg({e});")),
        expr().prop_map(|e| format!("printf(\"%d %s\\n\", {e}, comm);")),
        expr().prop_map(|e| format!("print({e});")),
        Just("print(comm);".to_string()),
        Just("@str[comm] = count();".to_string()),
        Just("delete(@k[1]);".to_string()),
        Just("clear(@k);".to_string()),
        Just("print(@k);".to_string()),
        Just("$y++;".to_string()),
        Just("@m += 3;".to_string()),
        Just("exit();".to_string()),
        Just("time();".to_string()),
        Just("$t = (1, comm, (true, 2)); print($t.2); print($t);".to_string()),
        Just("for ($i : 0..3) { $x += $i; }".to_string()),
        Just("for ($kv : @t) { $y = $kv.1; print($kv.0.0); }".to_string()),
        Just("print(len(@t)); $b = 1 < 2; if ($b) { print(!$b); }".to_string()),
    ];
    simple.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            (
                expr(),
                proptest::collection::vec(inner.clone(), 0..3),
                proptest::collection::vec(inner.clone(), 0..2)
            )
                .prop_map(|(c, a, b)| format!(
                    "if ({c}) {{ {} }} else {{ {} }}",
                    a.join(" "),
                    b.join(" ")
                )),
            (1u32..4, proptest::collection::vec(inner.clone(), 0..3))
                .prop_map(|(n, b)| format!("unroll({n}) {{ {} }}", b.join(" "))),
            proptest::collection::vec(inner.clone(), 0..3)
                .prop_map(|b| format!("$i = 0; while ($i < 3) {{ $i++; {} }}", b.join(" "))),
            proptest::collection::vec(inner.clone(), 0..3)
                .prop_map(|b| format!("for ($j : 0..$y) {{ {} }}", b.join(" "))),
            proptest::collection::vec(inner.clone(), 0..3)
                .prop_map(|b| format!("{{ let $x = 5; {} }}", b.join(" "))),
        ]
    })
}

/// [`stmt`]s and statements with the constructs of bpftrace's current
/// manual that 0.17 lacks: tuples of one and no element, tuple
/// comparison, `sizeof` of tuples, `typeof`. (A grammar of its own: adding
/// them to `stmt` would change every script the deterministic verifier
/// run draws.)
fn current_stmt() -> impl Strategy<Value = String> {
    prop_oneof![
        stmt(),
        expr().prop_map(|e| format!("print(({e},) == ({e},)); print(sizeof(({e}, \"ab\", ())));")),
        expr().prop_map(|e| format!("print((({e}, true), 1) != (({e}, false), 2));")),
        expr().prop_map(|e| format!("{{ let $w: typeof({e}) = {e}; $w = (typeof($w))({e} + 1); print(sizeof(typeof(@k)) + $w); }}")),
        stmt().prop_map(|s| format!("{{ let $e: typeof(()); {s} }}")),
    ]
}

fn script() -> impl Strategy<Value = String> {
    script_of(stmt().boxed())
}

fn current_script() -> impl Strategy<Value = String> {
    script_of(current_stmt().boxed())
}

fn script_of(stmt: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    // Variables are defined first so that most scripts compile (and reach
    // the verifier); undefined ones are covered by the token soup.
    let block = proptest::collection::vec(stmt, 0..5)
        .prop_map(|s| format!("$x = 1; $y = 2; {}", s.join(" ")));
    let kind = prop_oneof![Just("BEGIN"), Just("END"), Just("interval:ms:100")];
    let pred = proptest::option::of(expr());
    proptest::collection::vec((kind, pred, block), 1..4).prop_map(|probes| {
        // Every map the grammar reads is defined up front.
        let defs = "BEGIN { @m = 0; @k[1] = count(); @t[\"a\", 2] = 0; }\n".to_string();
        defs + &probes
            .into_iter()
            .map(|(k, p, b)| match p {
                Some(p) => format!("{k} /{p}/ {{ {b} }}\n"),
                None => format!("{k} {{ {b} }}\n"),
            })
            .collect::<String>()
    })
}

fn compile(src: &str) {
    let opts = ScriptOptions::builder()
        .positional(vec!["7".to_string()])
        .build();
    match Script::compile(src, "fuzz.bt", &opts) {
        Ok(_) => {}
        Err(Error::Script { summary, .. }) => {
            assert!(
                summary.starts_with("fuzz.bt:"),
                "unlocated error {summary:?} for {src}"
            );
        }
        Err(Error::Internal(m)) => panic!("internal error {m} for {src}"),
        Err(_) => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn generated_scripts_compile_or_fail_cleanly(src in script()) {
        compile(&src);
    }

    #[test]
    fn current_constructs_compile_or_fail_cleanly(src in current_script()) {
        compile(&src);
    }

    #[test]
    fn token_soup_never_panics(src in "(BEGIN|END|\\{|\\}|\\(|\\)|;|@m|\\$x|=|\\+|count\\(\\)|printf|\"%d\"|,| |1|/|\\[|\\]|if|else|while|hist|str|arg0|retval|\\$y|comm){0,30}") {
        compile(&src);
    }
}

/// What compiles must also pass the kernel's verifier and run: 150
/// generated scripts are compiled; each that compiles is loaded, BEGIN and
/// END run and its maps read. Most must get that far, or the test proves
/// little.
#[test]
fn compiled_scripts_pass_the_verifier() {
    load_generated("compiled_scripts_pass_the_verifier", script());
}

/// The same for scripts with the current manual's constructs.
#[test]
fn current_constructs_pass_the_verifier() {
    load_generated("current_constructs_pass_the_verifier", current_script());
}

/// Compiles 150 scripts drawn (deterministically) from `strategy`, loads
/// each that compiles, runs BEGIN and END and reads its maps; at least
/// 100 must get that far.
fn load_generated(test: &str, strategy: impl Strategy<Value = String>) {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    if !ustrace_testkit::bpf_available(test) {
        return;
    }
    let mut runner = TestRunner::deterministic();
    let opts = ScriptOptions::builder()
        .positional(vec!["7".to_string()])
        .build();
    let mut loaded = 0;
    for _ in 0..150 {
        let src = strategy
            .new_tree(&mut runner)
            .expect("generating a script")
            .current();
        let Ok(script) = Script::compile(&src, "fuzz.bt", &opts) else {
            continue;
        };
        let mut tracer = match script.start() {
            Ok(t) => t,
            Err(e) => panic!(
                "the kernel refused a script that compiled:\n{src}\n{}",
                e.render()
            ),
        };
        tracer.begin();
        tracer.poll(std::time::Duration::ZERO).expect("polling");
        tracer.end().expect("ending");
        tracer.final_maps().expect("reading maps");
        loaded += 1;
    }
    assert!(
        loaded >= 100,
        "only {loaded} of 150 generated scripts compiled"
    );
}
