//! Deep and long inputs: the parser answers with an error naming the
//! limit, never a stack overflow (issue 16, item 1). Each test runs on a
//! thread with a small stack, like a library user's worker thread.

use ustrace_lang::parser::MAX_CHAINED;

/// Runs `f` on a thread with a 2 MiB stack (Rust's default for spawned threads).
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawning a thread")
        .join()
        .expect("the parser overflowed or panicked")
}

fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

fn parse_body(expr: String) -> Result<(), String> {
    small_stack(move || {
        let src = format!("BEGIN {{ @x = {expr}; exit(); }}");
        ustrace_lang::parse(&src).map(|_| ()).map_err(|d| d.message)
    })
}

#[test]
fn long_operator_chains_are_refused_with_the_limit() {
    let limit = format!("expression too deep (limit {MAX_CHAINED})");
    for op in ["+", "*", "-", "&&", "|", "<<", "=="] {
        for n in [MAX_CHAINED + 2, 14_000, 200_000] {
            assert_eq!(
                parse_body(chain("1", op, n)),
                Err(limit.clone()),
                "{op} x {n}"
            );
        }
        assert_eq!(
            parse_body(chain("1", op, MAX_CHAINED + 1)),
            Ok(()),
            "{op} at the limit"
        );
    }
}

#[test]
fn long_postfix_chains_are_refused_with_the_limit() {
    let limit = format!("expression too deep (limit {MAX_CHAINED})");
    let index = format!("@m{}", "[1]".repeat(50_000));
    assert_eq!(parse_body(index), Err(limit.clone()));
    let fields = format!("$t{}", ".a".repeat(50_000));
    assert_eq!(parse_body(fields), Err(limit));
}

#[test]
fn deep_nesting_is_refused() {
    for (open, close) in [("(", ")"), ("-", ""), ("!", ""), ("(uint8)", "")] {
        let src = format!("{}1{}", open.repeat(100_000), close.repeat(100_000));
        let err = parse_body(src).expect_err("deep nesting parsed");
        assert_eq!(err, "nesting too deep", "{open}");
    }
    let blocks = format!("{}{}", "if (1) { ".repeat(50_000), "}".repeat(50_000));
    let err =
        small_stack(move || ustrace_lang::parse(&format!("BEGIN {{ {blocks} }}")).map(|_| ()));
    assert_eq!(
        err.map_err(|d| d.message),
        Err("nesting too deep".to_string())
    );
}

#[test]
fn many_short_expressions_are_fine() {
    // The limit is per expression, not per script.
    let body = (0..3000)
        .map(|i| format!("@x{i} = 1 + 2 + 3;"))
        .collect::<String>();
    let ok = small_stack(move || ustrace_lang::parse(&format!("BEGIN {{ {body} }}")).is_ok());
    assert!(ok);
}

mod random_deep {
    use proptest::prelude::*;

    /// Pieces that nest or chain: random sequences of them make long and
    /// deep (and mostly malformed) expressions.
    const PIECES: &[&str] = &[
        "(", ")", "-", "!", "~", "1", "$x", "+", "*", "<<", "&&", "[1]", ".a", "?", ":", "(uint8)",
        "@m[", "]", ",", "++",
    ];

    fn long_soup() -> impl Strategy<Value = String> {
        proptest::collection::vec((0..PIECES.len(), 1usize..400), 1..40).prop_map(|runs| {
            runs.into_iter()
                .map(|(i, n)| PIECES[i].repeat(n))
                .collect::<String>()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn deep_and_long_soup_never_overflows(expr in long_soup()) {
            // small_stack panics if the parser overflowed or panicked; an
            // error must point inside the source.
            let src = format!("BEGIN {{ @x = {expr}; }}");
            let len = src.len();
            let error_span = super::small_stack(move || {
                ustrace_lang::parse(&src).err().map(|d| (d.span.start, d.span.end))
            });
            if let Some((start, end)) = error_span {
                prop_assert!(start <= end && end <= len, "span {start}..{end} of {len} bytes");
            }
        }
    }
}
