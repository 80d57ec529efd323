//! `config = { key = value; ... }`: every key bpftrace's manual gives that
//! means something for user-space tracing, and one-line errors with a
//! caret for the rest.

use ustrace_lang::ast::{Config, MissingProbes, StackModeSetting};

fn config(src: &str) -> Config {
    ustrace_lang::parse(src)
        .unwrap_or_else(|d| panic!("{src}: {}", d.render("t.bt", src)))
        .config
}

fn error(src: &str) -> String {
    match ustrace_lang::parse(src) {
        Ok(s) => panic!("expected an error for {src:?}, got {s:?}"),
        Err(d) => d.render("t.bt", src),
    }
}

#[test]
fn every_key_is_read() {
    let c = config(
        "config = { max_strlen = 32; max_map_keys = 100; missing_probes = error; stack_mode = perf; print_maps_on_exit = false; cpp_demangle = true } BEGIN { exit(); }",
    );
    assert_eq!(
        c,
        Config {
            max_strlen: Some(32),
            max_map_keys: Some(100),
            missing_probes: Some(MissingProbes::Error),
            stack_mode: Some(StackModeSetting::Perf),
            print_maps_on_exit: Some(false),
            cpp_demangle: Some(true),
        }
    );
    // `config=` glued, 1/0 for booleans, a trailing `;`, an empty block.
    let c = config("config={ print_maps_on_exit = 0; stack_mode = bpftrace; }\nBEGIN { }");
    assert_eq!(c.print_maps_on_exit, Some(false));
    assert_eq!(c.stack_mode, Some(StackModeSetting::Bpftrace));
    for (word, mode) in [
        ("raw", StackModeSetting::Raw),
        ("build_id", StackModeSetting::BuildId),
    ] {
        let src = format!("config = {{ stack_mode = {word} }} BEGIN {{ }}");
        let script = ustrace_lang::parse(&src).expect("parses");
        assert_eq!(script.config.stack_mode, Some(mode), "{src}");
    }
    assert_eq!(config("config = { } BEGIN { }"), Config::default());
    assert_eq!(config("BEGIN { }"), Config::default());
}

#[test]
fn an_unknown_key_lists_the_known_ones() {
    assert_eq!(
        error("config = { max_strln = 4 } BEGIN { }"),
        "\
t.bt:1:12: error: unknown config key `max_strln`
  |
1 | config = { max_strln = 4 } BEGIN { }
  |            ^^^^^^^^^ did you mean `max_strlen`?
  = note: known keys: max_strlen, max_map_keys, missing_probes, stack_mode, print_maps_on_exit, cpp_demangle, unstable_map_decl, unstable_tseries, unstable_addr
"
    );
}

#[test]
fn bad_values_point_at_the_value() {
    for (src, message, caret) in [
        (
            "config = { max_strlen = perf } BEGIN { }",
            "`max_strlen` takes an integer",
            "perf",
        ),
        (
            "config = { max_strlen = 500 } BEGIN { }",
            "`max_strlen` takes an integer from 1 to 200",
            "500",
        ),
        (
            "config = { max_map_keys = 0 } BEGIN { }",
            "`max_map_keys` takes an integer from 1 to 4294967295",
            "0",
        ),
        (
            "config = { stack_mode = fast } BEGIN { }",
            "`stack_mode` takes bpftrace, perf, raw or build_id",
            "fast",
        ),
        (
            "config = { missing_probes = maybe } BEGIN { }",
            "`missing_probes` takes error, warn or ignore",
            "maybe",
        ),
        (
            "config = { print_maps_on_exit = 2 } BEGIN { }",
            "`print_maps_on_exit` takes true or false (or 1 or 0)",
            "2",
        ),
    ] {
        let d = ustrace_lang::parse(src).expect_err(src);
        assert_eq!(d.message, message, "{src}");
        assert_eq!(&src[d.span.start..d.span.end], caret, "{src}");
    }
    assert!(error("config { max_strlen = 3 } BEGIN { }").contains("expected `=` after `config`"));
    assert!(
        error("config = { max_strlen = 3 max_map_keys = 2 } BEGIN { }")
            .contains("`;` or `}` after a config value")
    );
}

#[test]
fn every_spelling_of_a_key_and_the_new_values() {
    use ustrace_lang::ast::MissingProbes;
    let s = ustrace_lang::parse(
        "config = { BPFTRACE_MISSING_PROBES = warn; CPP_DEMANGLE = false; max_strlen = 16 } BEGIN { }",
    )
    .unwrap();
    assert_eq!(s.config.missing_probes, Some(MissingProbes::Warn));
    assert_eq!(s.config.cpp_demangle, Some(false));
    assert_eq!(s.config.max_strlen, Some(16));
    let s = ustrace_lang::parse("config = { missing_probes = ignore } BEGIN { }").unwrap();
    assert_eq!(s.config.missing_probes, Some(MissingProbes::Ignore));
}

#[test]
fn environment_variables_as_the_manual_maps_them_and_they_win_over_the_block() {
    use ustrace_lang::ast::MissingProbes;
    use ustrace_lang::parser::config_from_env;
    let vars = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    let env = config_from_env(vars(&[
        ("BPFTRACE_MAX_STRLEN", "32"),
        ("BPFTRACE_MISSING_PROBES", "ignore"),
        ("BPFTRACE_CPP_DEMANGLE", "0"),
        ("BPFTRACE_PRINT_MAPS_ON_EXIT", "false"),
        ("BPFTRACE_UNRELATED", "x"),
        ("PATH", "/bin"),
    ]))
    .unwrap();
    assert_eq!(env.max_strlen, Some(32));
    assert_eq!(env.missing_probes, Some(MissingProbes::Ignore));
    assert_eq!(env.cpp_demangle, Some(false));
    assert_eq!(env.print_maps_on_exit, Some(false));
    assert_eq!(
        config_from_env(vars(&[("BPFTRACE_STRLEN", "8")]))
            .unwrap()
            .max_strlen,
        Some(8)
    );
    assert_eq!(
        config_from_env(vars(&[("BPFTRACE_MISSING_PROBES", "sometimes")])).unwrap_err(),
        "BPFTRACE_MISSING_PROBES=\"sometimes\": `missing_probes` takes error, warn or ignore"
    );
    let block = ustrace_lang::parse("config = { max_strlen = 100; max_map_keys = 5 } BEGIN { }")
        .unwrap()
        .config;
    let merged = block.overridden_by(&env);
    assert_eq!(merged.max_strlen, Some(32));
    assert_eq!(merged.max_map_keys, Some(5));
}
