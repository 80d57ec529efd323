//! Deep and long inputs through the whole compiler (parse, resolve, code
//! generation) on a thread with Rust's default 2 MiB stack: each compiles
//! or fails with a located error, never a stack overflow (issue 16, item 1).
//! Only BEGIN probes are used, so nothing touches the kernel.

use ustrace::{Error, Script, ScriptOptions};

/// Compiles `body` inside `BEGIN { ... }` on a 2 MiB thread; returns the
/// error message, if any.
fn compile_body(body: String) -> Result<(), String> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let src = format!("BEGIN {{ {body} exit(); }}");
            match Script::compile(&src, "deep.bt", &ScriptOptions::default()) {
                Ok(_) => Ok(()),
                Err(e @ Error::Script { .. }) => Err(e.render()),
                Err(e) => panic!("not a script error: {e:?}"),
            }
        })
        .expect("spawning a thread")
        .join()
        .expect("the compiler overflowed its stack or panicked")
}

fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

#[test]
fn longest_allowed_chains_compile_or_fail_cleanly() {
    let n = ustrace_lang::parser::MAX_CHAINED + 1;
    for op in ["+", "*", "-", "&", "<<", "==", "&&", "||"] {
        // Some chains fold to constants; others need code and BPF stack
        // per operator, and may be refused for that (with a location).
        for term in ["1", "$v"] {
            let r = compile_body(format!("$v = 3; @x = {};", chain(term, op, n)));
            if let Err(msg) = r {
                let head: String = msg.chars().take(200).collect();
                assert!(msg.starts_with("deep.bt:1:"), "unlocated error: {head}");
                assert!(
                    !msg.contains("-B"),
                    "suggests a flag that does not exist: {head}"
                );
            }
        }
    }
}

#[test]
fn too_long_chains_are_one_located_error() {
    for n in [14_000, 100_000] {
        let msg = compile_body(format!("@x = {};", chain("1", "+", n))).unwrap_err();
        let head: String = msg.chars().take(200).collect();
        assert!(msg.contains("expression too deep (limit"), "{head}");
        assert!(msg.starts_with("deep.bt:1:"), "{head}");
    }
}

#[test]
fn deep_nesting_of_every_kind_fails_cleanly() {
    let cases = [
        format!("@x = {}1{};", "(".repeat(99), ")".repeat(99)),
        format!("@x = {}1;", "-".repeat(99)),
        format!("@x = {}1;", "(int32)".repeat(99)),
        format!("@x = {}1{};", "(1 ? ".repeat(60), " : 2)".repeat(60)),
        format!("{}@x = 1;{}", "if (1) { ".repeat(99), "}".repeat(99)),
        format!(
            "$v = 1; {}@x = 1;{}",
            "if ($v) { ".repeat(99),
            "}".repeat(99)
        ),
        format!("@m[{}1{}] = 1;", "@m[".repeat(90), "]".repeat(90)),
        format!("@x = {}$v{};", "(".repeat(5000), ")".repeat(5000)),
    ];
    for body in cases {
        if let Err(msg) = compile_body(body.clone()) {
            let head: String = msg.chars().take(200).collect();
            assert!(msg.starts_with("deep.bt:1:"), "{head}");
        }
    }
}

mod random_deep {
    use proptest::prelude::*;

    /// Pieces that nest or chain (see the parser's deep_inputs test); the
    /// valid ones among random runs of them exercise code generation.
    const PIECES: &[&str] = &[
        "(", ")", "-", "!", "1", "$v", "+", "*", "&&", "|", "?", ":", "(int32)", "@m[", "]",
    ];

    fn long_soup() -> impl Strategy<Value = String> {
        proptest::collection::vec((0..PIECES.len(), 1usize..300), 1..30).prop_map(|runs| {
            runs.into_iter()
                .map(|(i, n)| PIECES[i].repeat(n))
                .collect::<String>()
        })
    }

    /// Balanced: a chain of `n` terms inside `depth` parentheses.
    fn balanced() -> impl Strategy<Value = String> {
        (1usize..99, 1usize..1000, 0..3usize).prop_map(|(depth, n, op)| {
            let op = ["+", "*", "|"][op];
            format!(
                "{}{}{}",
                "(".repeat(depth),
                vec!["$v"; n].join(op),
                ")".repeat(depth)
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn deep_and_long_soup_compiles_or_fails_cleanly(expr in prop_oneof![long_soup(), balanced()]) {
            if let Err(msg) = super::compile_body(format!("$v = 2; @x = {expr};")) {
                prop_assert!(msg.starts_with("deep.bt:1:"), "{}", msg.chars().take(200).collect::<String>());
            }
        }
    }
}
