//! The value types of today's bpftrace language at compile time: bools,
//! and later tuples, loops and `sizeof`. Each compiles in its documented
//! forms into the record and map layouts user space prints from, and
//! misuse is one error pointing at the text.

use ustrace_codegen::program::{CompiledScript, FieldKind, MapRole, ValueKind};
use ustrace_codegen::CompileOptions;

mod common;

fn build(src: &str) -> Result<CompiledScript, (String, String)> {
    common::build_with(src, &CompileOptions::default())
}

fn compiled(src: &str) -> CompiledScript {
    build(src).unwrap_or_else(|e| panic!("{src}: {e:?}"))
}

fn error(src: &str) -> (String, String) {
    match build(src) {
        Ok(_) => panic!("{src} compiled"),
        Err(e) => e,
    }
}

/// The key fields and value kind of script map `name`.
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
fn comparisons_not_and_literals_are_bools() {
    let c = compiled(
        r#"BEGIN { print(true); print(1 < 2); print(!5); print(comm == "x"); print(pid > 1 && tid > 1); print(has_key(@m, 1)); print(strcontains(comm, "a")); @m[1] = 2; }"#,
    );
    // Every print() record carries one bool field.
    // (The full-map warning of each map update is a record of its own.)
    let fields: Vec<&Vec<FieldKind>> = c
        .printfs
        .iter()
        .filter(|p| !matches!(p.kind, ustrace_codegen::program::PrintfKind::Warning { .. }))
        .map(|p| &p.args)
        .collect();
    assert_eq!(fields, vec![&vec![FieldKind::Bool]]);
    assert_eq!(c.printfs[0].format, "%s\n");
}

#[test]
fn bools_are_map_keys_values_and_variables() {
    let c = compiled(r#"BEGIN { @a[true] = false; $b = 1 > 0; @c[$b, 5] = $b; }"#);
    assert_eq!(
        map_layout(&c, "@a"),
        (vec![FieldKind::Bool], ValueKind::Bool)
    );
    assert_eq!(
        map_layout(&c, "@c"),
        (
            vec![FieldKind::Bool, FieldKind::Int { signed: false }],
            ValueKind::Bool
        )
    );
}

#[test]
fn bools_work_where_integers_do() {
    // Conditions take bools or integers; printf's integer conversions print
    // a bool as 1/0; a bool counts as 0/1 in arithmetic and aggregations;
    // an integer variable or map (0.17 scripts) takes a bool.
    for src in [
        r#"BEGIN { if (true) { exit(); } if (5) { exit(); } while (false) { } }"#,
        r#"BEGIN { printf("%d %x %u\n", true, 1 == 1, !0); }"#,
        r#"BEGIN { $x = true + 1; @s = sum(1 < 2); @n = count(); $y = (int64)false; }"#,
        r#"BEGIN { $i = 0; $i = 1 > 0; @m = 5; @m = pid == 1; }"#,
        r#"BEGIN { $t = pid > 1 ? true : false; $u = pid > 1 ? 1 : 0; }"#,
    ] {
        if let Err(e) = build(src) {
            panic!("{src}: {e:?}");
        }
    }
}

#[test]
fn constant_conditions_fold_to_bools() {
    // `if (true)` and `!0` are constants: no comparison is emitted, only
    // the ring buffer calls of print.
    let c = compiled(r#"BEGIN { if (!0 && true) { print(1); } }"#);
    assert_eq!(c.printfs.len(), 1);
}

#[test]
fn bool_misuse_is_one_error_at_the_offending_text() {
    assert_eq!(
        error(r#"BEGIN { if ("abc") { exit(); } }"#),
        (
            "a condition must be a bool or an integer, not a string".into(),
            "\"abc\"".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { $b = true; $b = 5; }"#),
        (
            "type mismatch for `$b`: it holds bool but this is uint64".into(),
            "5".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { @a = true; @a = 5; }"#).0,
        "map @a holds a bool but is used here as an integer"
    );
    assert_eq!(
        error(r#"BEGIN { @a[true] = 1; @a[5] = 1; }"#).0,
        "map @a is used with different key types: first [bool], here [uint64]"
    );
}

#[test]
fn tuples_are_values_keys_and_map_values() {
    let c = compiled(
        r#"BEGIN { $t = (1, "a", (2, 3)); print($t); print($t.0); print($t.2.1); print($t[1]); @k[(1, 2)] = 1; @k[3, 4] = 2; @n[1, (2, "x")] = 1; @v[1] = (pid, "b"); @v[2] = (5, comm); $x = @v[1].0; }"#,
    );
    let s = FieldKind::Str(64);
    let int = |signed| FieldKind::Int { signed };
    // print($t): a tuple header, then the elements (strings at the map
    // string size), the nested tuple with its own header.
    assert_eq!(
        c.printfs[0].args,
        vec![
            FieldKind::Tuple(3),
            int(false),
            s,
            FieldKind::Tuple(2),
            int(false),
            int(false)
        ]
    );
    assert_eq!(c.printfs[0].format, "%s\n");
    // `@k[(1, 2)]` is `@k[1, 2]`; a nested tuple key keeps its header.
    assert_eq!(map_layout(&c, "@k").0, vec![int(false), int(false)]);
    assert_eq!(
        map_layout(&c, "@n").0,
        vec![int(false), FieldKind::Tuple(2), int(false), s]
    );
    let v = c
        .maps
        .iter()
        .find_map(|m| match &m.role {
            MapRole::User(u) if u.name == "@v" => Some(u.clone()),
            _ => None,
        })
        .expect("@v");
    assert_eq!(v.value, ValueKind::Tuple { size: 72 });
    assert_eq!(v.value_fields, vec![FieldKind::Tuple(2), int(false), s]);
}

#[test]
fn tuple_misuse_is_one_error_at_the_offending_text() {
    assert_eq!(
        error(r#"BEGIN { $t = (1, "a"); print($t.2); }"#),
        (
            "tuple index 2 is out of range: the tuple has 2 elements (0..1)".into(),
            "$t.2".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { $t = (1, 2); $i = 1; print($t[$i]); }"#),
        (
            "a tuple index must be an integer constant".into(),
            "$i".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { $x = 5; print($x.0); }"#),
        (
            "`.N` reads an element of a tuple, but this is a uint64".into(),
            "$x".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { $t = (1, 2); $t = (1, "a"); }"#).0,
        "type mismatch for `$t`: it holds tuple but this is tuple"
    );
    assert_eq!(
        error(r#"BEGIN { @m = (1, ustack); }"#).0,
        "a tuple stored in a map may hold integers, bools, strings and tuples of those only"
    );
    assert_eq!(
        error(r#"BEGIN { printf("%d\n", (1, 2)); }"#),
        (
            "printf: %d wants an integer, but this argument is a tuple".into(),
            "(1, 2)".into()
        )
    );
}

/// The subprograms (`BPF_PSEUDO_FUNC` loads) a compiled program references.
fn callbacks(c: &CompiledScript) -> usize {
    c.programs[0]
        .insns
        .iter()
        .filter(|i| i.code == 0x18 && i.src == 4)
        .count()
}

#[test]
fn for_loops_become_callbacks() {
    // One callback per loop, nested loops included; `len()` adds its own.
    let body = r#"{ $n += $i; for ($kv : @m) { $n += $kv.0.0 + $kv.1.0; if ($kv.0.1 == "a") { break; } } continue; } print($n); print(len(@m)); }"#;
    let c = compiled(&format!(
        r#"BEGIN {{ @m[1, "a"] = (2, "b"); $n = 0; $k = 10; for ($i : 0..$k) {body}"#
    ));
    assert_eq!(callbacks(&c), 3);
    // A constant range with a small body runs inline: no callback of its
    // own, and no `bpf_loop` call.
    let c = compiled(&format!(
        r#"BEGIN {{ @m[1, "a"] = (2, "b"); $n = 0; for ($i : 0..10) {body}"#
    ));
    assert_eq!(callbacks(&c), 2);
    let c = compiled(r#"BEGIN { $s = 0; for ($i : 0..100) { $s = ($s * 33) ^ $i; } print($s); }"#);
    assert_eq!(callbacks(&c), 0);
    let bpf_loop = c.programs[0]
        .insns
        .iter()
        .filter(|i| i.code == 0x85 && i.src == 0 && i.imm == 181)
        .count();
    assert_eq!(bpf_loop, 0);
    // Without loops nothing changes: no callback.
    assert_eq!(callbacks(&compiled(r#"BEGIN { $x = 1; print($x); }"#)), 0);
}

#[test]
fn for_loop_variables_have_the_manuals_types() {
    // A range gives integers (signed when an end is); a map gives
    // (key, value), the key a tuple of its fields when there are several.
    for src in [
        r#"BEGIN { for ($i : (-3)..3) { $j = $i * 2; } }"#,
        r#"BEGIN { @m[1] = "x"; for ($kv : @m) { $k = $kv.0 + 1; printf("%s\n", $kv.1); } }"#,
        r#"BEGIN { @m[1, "a"] = true; for ($kv : @m) { if ($kv.1) { printf("%d %s\n", $kv.0.0, $kv.0.1); } } }"#,
        r#"BEGIN { for ($i : 0..ncpus) { return; } $a = 1; for ($i : 0..$a) { exit(); } }"#,
    ] {
        if let Err(e) = build(src) {
            panic!("{src}: {e:?}");
        }
    }
}

#[test]
fn for_misuse_is_one_error_at_the_offending_text() {
    assert_eq!(
        error(r#"BEGIN { @s = 1; for ($kv : @s) { } }"#),
        (
            "`for` over @s, a scalar map: it has no keys to iterate".into(),
            "@s".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { @c[1] = avg(1); for ($kv : @c) { } }"#),
        (
            "`for` over @c, which holds avg(): only count() and sum() maps can be iterated among aggregations".into(),
            "@c".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { for ($i : 0.."a") { } }"#),
        (
            "expected an integer here, found a string".into(),
            "\"a\"".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { @m[1] = 1; for ($kv : @m) { print($kv.2); } }"#).1,
        "$kv.2"
    );
    assert_eq!(
        error(r#"BEGIN { for ($kv : @nope) { } }"#),
        ("undefined map @nope".into(), "@nope".into())
    );
    assert_eq!(
        error(r#"BEGIN { $x = len(5); }"#),
        ("expected a map (@name)".into(), "5".into())
    );
}

#[test]
fn block_expressions_run_their_statements_and_give_their_value() {
    // `{ ...; value }` is never folded to a constant: its statements run.
    let c = compiled(
        r#"BEGIN { $a = { printf("hi\n"); 5 }; $b = { let $x = 1; $x + 1 }; print({ true }); }"#,
    );
    assert_eq!(c.printfs.len(), 2);
    assert_eq!(c.printfs[1].args, vec![FieldKind::Bool]);
    assert_eq!(
        error(r#"BEGIN { $a = { $s = "s"; $s } + 1; }"#),
        (
            "type mismatch: this operand is a string but the operator needs integers".into(),
            "{ $s = \"s\"; $s }".into()
        )
    );
}

#[test]
fn sizeof_knows_ustraces_own_types() {
    let c = compiled(r#"BEGIN { @a = sizeof(true); @b = sizeof((uint16)1); @c = sizeof(int32); }"#);
    assert_eq!(map_layout(&c, "@a").1, ValueKind::Int { signed: false });
    assert!(build(r#"BEGIN { $x = sizeof(1 > 0) + 1e3; }"#).is_ok());
}
