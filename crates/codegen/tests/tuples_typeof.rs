//! Tuples of one and no element, tuple comparison and `sizeof` of tuples,
//! and `typeof`, at compile time: layouts, and misuse as one error at the
//! offending text.

use ustrace_codegen::program::{CompiledScript, FieldKind, MapRole, ValueKind};
use ustrace_codegen::CompileOptions;

mod common;

fn build(src: &str) -> Result<CompiledScript, (String, String)> {
    common::build_with(src, &CompileOptions::default())
}

fn error(src: &str) -> (String, String) {
    match build(src) {
        Ok(_) => panic!("{src} compiled"),
        Err(e) => e,
    }
}

fn map_layout(c: &CompiledScript, name: &str) -> (Vec<FieldKind>, ValueKind) {
    c.maps
        .iter()
        .find_map(|m| match &m.role {
            MapRole::User(u) if u.name == name => Some((u.key.clone(), u.value)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no map {name}"))
}

#[test]
fn one_element_and_empty_tuples_are_values() {
    let src = r#"BEGIN { $a = (1,); $e = (); print($a); print($e); @k[(5,)] = (7,); @n[1, ()] = ((2,), ()); }"#;
    let c = build(src).unwrap_or_else(|e| panic!("{e:?}"));
    let int = FieldKind::Int { signed: false };
    // (The full-map warning of each map update is a record of its own.)
    let fields: Vec<&Vec<FieldKind>> = c
        .printfs
        .iter()
        .filter(|p| !matches!(p.kind, ustrace_codegen::program::PrintfKind::Warning { .. }))
        .map(|p| &p.args)
        .collect();
    assert_eq!(
        fields,
        vec![&vec![FieldKind::Tuple(1), int], &vec![FieldKind::Tuple(0)]]
    );
    // `@k[(5,)]` is `@k[5]`, as `@m[(a, b)]` is `@m[a, b]`.
    assert_eq!(
        map_layout(&c, "@k"),
        (vec![int], ValueKind::Tuple { size: 8 })
    );
    assert_eq!(
        map_layout(&c, "@n"),
        (vec![int, FieldKind::Tuple(0)], ValueKind::Tuple { size: 8 })
    );
}

#[test]
fn tuple_misuse_is_one_error_at_the_offending_text() {
    assert_eq!(
        error(r#"BEGIN { print((1, 2) == (1, "a")); }"#),
        (
            "tuples compared with `==` must have the same element types: (uint64, uint64) and (uint64, string)".into(),
            r#"(1, 2) == (1, "a")"#.into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { $t = (1, true); if ($t != (1, 2)) { } }"#),
        (
            "tuples compared with `!=` must have the same element types: (uint64, bool) and (uint64, uint64)".into(),
            "$t != (1, 2)".into()
        )
    );
    assert_eq!(
        error("BEGIN { print((1, 2) < (1, 2)); }"),
        (
            "tuples compare with `==` and `!=` only".into(),
            "(1, 2) < (1, 2)".into()
        )
    );
    assert_eq!(
        error("BEGIN { print((1,) == 1); }"),
        (
            "cannot compare a (uint64) with a uint64".into(),
            "(1,) == 1".into()
        )
    );
    assert_eq!(
        error("BEGIN { print((ustack, 1) == (ustack, 1)); }").0,
        "tuples holding stacks, symbols or other printed-later values do not compare: (ustack, uint64)"
    );
    assert_eq!(
        error("BEGIN { @m[()] = 1; }"),
        (
            "an empty tuple `()` cannot be a whole map key: it has no bytes".into(),
            "()".into()
        )
    );
    assert_eq!(
        error("BEGIN { @m = (); }"),
        (
            "an empty tuple `()` has no bytes to store in a map".into(),
            "@m = ()".into()
        )
    );
    assert_eq!(
        error("BEGIN { $e = (); print($e.0); }"),
        ("the empty tuple `()` has no elements".into(), "$e.0".into())
    );
    assert_eq!(
        error("BEGIN { print(sizeof((1, ustack))); }").0,
        "sizeof() of a tuple holding (uint64, ustack) is not supported (only integers, bools, strings and tuples of those)"
    );
}

#[test]
fn typeof_names_the_type_of_variables_maps_and_map_keys() {
    let c = build(
        r#"BEGIN { @m[1, "a"] = (uint16)5; $x = (int8)-1; let $y: typeof($x) = 300; let $k: typeof(@m); let $v: typeof(@m[1, "a"]); @out = ($y, $k, $v); $b = (typeof(true))7; @b = $b; }"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let (_, value) = map_layout(&c, "@out");
    // ($y: int64, $k: (uint64, string), $v: uint64): 8 + 8 + 64 + 8.
    assert_eq!(value, ValueKind::Tuple { size: 88 });
    assert_eq!(map_layout(&c, "@b").1, ValueKind::Bool);
}

#[test]
fn typeof_misuse_is_one_error_at_the_offending_text() {
    assert_eq!(
        error(r#"BEGIN { let $a: typeof(1) = "s"; }"#),
        (
            "cannot convert a string to the type typeof() names, uint64".into(),
            "\"s\"".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { let $t: typeof((1, "x")) = (1, 2); }"#),
        (
            "cannot convert a (uint64, uint64) to the type typeof() names, (uint64, string)".into(),
            "(1, 2)".into()
        )
    );
    assert_eq!(
        error("BEGIN { let $a: typeof(ustack); }"),
        (
            "a variable of this type (ustack) cannot start empty: give it a value, `let $x: typeof(e) = v;`".into(),
            "ustack".into()
        )
    );
    assert_eq!(
        error("BEGIN { let $a: typeof(printf(\"x\")) = 1; }"),
        (
            "this expression has no type: it has no value".into(),
            "printf(\"x\")".into()
        )
    );
    assert_eq!(
        error("BEGIN { let $a: typeof(@nope); }"),
        (
            "undefined map @nope: it is never assigned".into(),
            "@nope".into()
        )
    );
}

/// Helper calls to `bpf_map_lookup_percpu_elem` in the compiled programs.
fn percpu_lookups(c: &CompiledScript) -> usize {
    let call = ustrace_codegen::insn::call(ustrace_codegen::insn::helper::MAP_LOOKUP_PERCPU_ELEM);
    c.programs
        .iter()
        .flat_map(|p| &p.insns)
        .filter(|i| i.code == call.code && i.imm == call.imm && i.src == call.src)
        .count()
}

#[test]
fn a_loop_over_a_count_map_adds_up_every_possible_cpu() {
    let src = "BEGIN { @c[1] = count(); for ($kv : @c) { print($kv.1); } }";
    for (possible, online) in [(4, 2), (1, 1), (64, 3)] {
        let opts = CompileOptions {
            possible_cpus: possible,
            ncpus: online,
            ..CompileOptions::default()
        };
        let c = common::build_with(src, &opts).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(percpu_lookups(&c), possible as usize);
    }
}
