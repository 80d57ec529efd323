//! `tseries()` at compile time: the map it makes (per-CPU, the key plus a
//! slot index, three-word slots), its value kind with the arguments, and
//! the signedness that unifies across uses.

use ustrace_codegen::program::{CompiledScript, MapKind, MapRole, TseriesAgg, UserMap, ValueKind};
use ustrace_codegen::CompileOptions;

mod common;

use common::build_with;

fn build(src: &str) -> CompiledScript {
    build_with(src, &CompileOptions::default()).unwrap_or_else(|e| panic!("{src}: {e:?}"))
}

fn user_map<'a>(
    c: &'a CompiledScript,
    name: &str,
) -> (&'a ustrace_codegen::program::MapDef, &'a UserMap) {
    c.maps
        .iter()
        .find_map(|m| match &m.role {
            MapRole::User(u) if u.name == name => Some((m, u)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no map {name}"))
}

#[test]
fn a_keyed_series_is_a_per_cpu_map_of_slots() {
    let c = build(r#"BEGIN { @t[pid, comm] = tseries(1, 100ms, 20, "max"); }"#);
    let (def, map) = user_map(&c, "@t");
    assert_eq!(def.kind, MapKind::PerCpuHash);
    // pid (8) + comm (a map string: max_strlen, 64) + the slot index (8);
    // value, meta, epoch.
    assert_eq!((def.key_size, def.value_size), (80, 24));
    assert_eq!(
        map.value,
        ValueKind::Tseries {
            interval_ns: 100_000_000,
            num_intervals: 20,
            agg: TseriesAgg::Max,
            signed: false,
        }
    );
}

#[test]
fn the_default_keeps_the_last_value_and_signed_uses_win() {
    let c = build("BEGIN { @s = tseries(1, 1000, 3); } END { @s = tseries(-1, 1000, 3); }");
    let (def, map) = user_map(&c, "@s");
    assert_eq!((def.key_size, def.value_size), (16, 24));
    assert_eq!(
        map.value,
        ValueKind::Tseries {
            interval_ns: 1000,
            num_intervals: 3,
            agg: TseriesAgg::Last,
            signed: true,
        }
    );
}

#[test]
fn every_aggregation_compiles_with_durations_and_nanoseconds() {
    for agg in ["avg", "max", "min", "sum"] {
        for interval in ["1s", "250us", "100ns", "1000000"] {
            build(&format!(
                r#"BEGIN {{ @t = tseries(nsecs % 7, {interval}, 4, "{agg}"); @k[1] = tseries((int32)-5, {interval}, 2, "{agg}"); }}"#
            ));
        }
    }
}

#[test]
fn element_access_to_a_series_is_refused_at_the_offending_text() {
    let cases = [
        (
            "BEGIN { @t[1] = tseries(1, 1s, 2); if (has_key(@t, 1)) { exit(); } }",
            "has_key() of @t, which holds tseries(x, 1s, 2), is not supported",
            "@t, 1",
        ),
        (
            "BEGIN { @t[1] = tseries(1, 1s, 2); delete(@t, 1); }",
            "delete() of an element of tseries(x, 1s, 2) is not supported; use clear()",
            "delete(@t, 1)",
        ),
        (
            r#"BEGIN { @t[1] = tseries(1, 1s, 2, "min"); for ($kv : @t) { exit(); } }"#,
            "`for` over @t, which holds tseries(x, 1s, 2, \"min\"): only count() and sum() maps can be iterated among aggregations",
            "@t",
        ),
        (
            "BEGIN { @t = tseries(1, 1s, 2); $x = @t + 1; }",
            "map @t holds tseries(x, 1s, 2) which cannot be read in a probe",
            "@t",
        ),
        (
            "BEGIN { @h[1] = hist(1); if (has_key(@h[1])) { exit(); } }",
            "has_key() of @h, which holds hist(), is not supported",
            "@h[1]",
        ),
    ];
    for (src, message, at) in cases {
        match build_with(src, &CompileOptions::default()) {
            Ok(_) => panic!("{src} compiled"),
            Err(e) => assert_eq!(e, (message.to_string(), at.to_string()), "{src}"),
        }
    }
}
