//! Golden tests: output compared byte for byte with what bpftrace 0.17
//! printed.
//!
//! Each `golden/NAME.bt` was run with bpftrace 0.17 and its standard output,
//! less the `Attaching N probes...` line, stored in `golden/NAME.out`
//! (`golden/regen.sh` does it again). Each test builds the map entries the
//! kernel would hold after the script ran and renders them as bpftrace does
//! at exit: [`EXIT_PREAMBLE`], then every map in name order.
//!
//! `data/glibc_printf.tsv` is the C library's output for many printf
//! conversions (bpftrace formats printf() with snprintf); `data/
//! glibc_printf.c` generates it.

use ustrace_lang::printf::parse_format;
use ustrace_output::{
    hist_bucket, lhist_bucket, render_map, render_map_with_kind, render_printf,
    render_printf_bytes, render_value, MapEntry, MapStyle, MapValue, Value, EXIT_PREAMBLE,
};

macro_rules! golden {
    ($name:literal) => {
        include_str!(concat!("golden/", $name, ".out"))
    };
}

fn s(text: &str) -> Value {
    Value::Str(text.as_bytes().to_vec())
}

fn i(v: i64) -> Value {
    Value::Int(v)
}

fn e(key: Vec<Value>, value: MapValue) -> MapEntry {
    MapEntry { key, value }
}

/// A scalar map's only entry.
fn scalar(value: MapValue) -> Vec<MapEntry> {
    vec![e(vec![], value)]
}

/// Buckets as the kernel holds them after `hist(v)` for each of `values`.
fn buckets(values: impl IntoIterator<Item = i64>, bucket: impl Fn(i64) -> u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for v in values {
        let b = bucket(v);
        match out.iter_mut().find(|(i, _)| *i == b) {
            Some((_, c)) => *c += 1,
            None => out.push((b, 1)),
        }
    }
    out
}

fn hist(values: impl IntoIterator<Item = i64>) -> MapValue {
    MapValue::Hist(buckets(values, hist_bucket))
}

fn lhist(values: impl IntoIterator<Item = i64>, min: i64, max: i64, step: i64) -> MapValue {
    MapValue::Lhist {
        min,
        max,
        step,
        buckets: buckets(values, |v| lhist_bucket(v, min, max, step)),
    }
}

/// `v` repeated `n` times.
fn rep(v: i64, n: usize) -> impl Iterator<Item = i64> {
    std::iter::repeat_n(v, n)
}

/// What bpftrace prints at exit: the preamble, then the maps by name.
fn exit_dump(mut maps: Vec<(&str, Vec<MapEntry>)>) -> String {
    maps.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = EXIT_PREAMBLE.to_string();
    for (name, entries) in &maps {
        out.push_str(&render_map(name, entries));
    }
    out
}

fn printf(fmt: &str, args: &[Value]) -> String {
    match parse_format(fmt) {
        Ok(f) => render_printf(&f, args),
        Err(err) => panic!("{fmt:?}: {err}"),
    }
}

#[track_caller]
fn check(got: String, want: &str) {
    if got != want {
        panic!("output differs from bpftrace\n--- bpftrace\n{want}\n--- ustrace\n{got}\n---");
    }
}

#[test]
fn basic() {
    let maps = vec![
        ("@c", scalar(MapValue::Count(1))),
        ("@s", scalar(MapValue::Sum(5))),
        ("@s2", vec![e(vec![i(1), s("ab")], MapValue::Sum(-3))]),
        ("@m", scalar(MapValue::Min(4))),
        ("@a", scalar(MapValue::Avg { count: 2, sum: 15 })),
        ("@st", scalar(MapValue::Stats { count: 1, sum: 10 })),
        ("@h", scalar(hist([0, 1, 5, 1000, -1]))),
        ("@l", scalar(lhist([15, -5, 150], 0, 100, 10))),
        (
            "@x",
            vec![
                e(vec![s("foo")], MapValue::Int(3)),
                e(vec![s("bar")], MapValue::Int(1)),
            ],
        ),
        ("@i", scalar(MapValue::Int(-5))),
        ("@str", scalar(MapValue::Str(b"hi".to_vec()))),
    ];
    check(exit_dump(maps), golden!("basic"));
}

#[test]
fn no_maps() {
    check(printf("end\n", &[]) + EXIT_PREAMBLE, golden!("no_maps"));
}

#[test]
fn hist_bars() {
    let values = rep(8, 100).chain(rep(1, 37)).chain(rep(100, 3)).chain([0]);
    check(
        exit_dump(vec![("@h", scalar(hist(values)))]),
        golden!("hist_bars"),
    );
}

#[test]
fn hist_bars_fine() {
    let values = rep(2, 52)
        .chain(rep(4, 51))
        .chain(rep(8, 26))
        .chain(rep(16, 27))
        .chain(rep(32, 25))
        .chain([64, 128, 128]);
    check(
        exit_dump(vec![("@h", scalar(hist(values)))]),
        golden!("hist_bars_fine"),
    );
}

#[test]
fn hist_k_m() {
    let h = hist([1023, 1024, 1048576, 1048575]);
    check(exit_dump(vec![("@h", scalar(h))]), golden!("hist_k_m"));
}

#[test]
fn hist_g() {
    let h = hist([1073741824, 2147483648, 4294967295, 536870912]);
    check(exit_dump(vec![("@h", scalar(h))]), golden!("hist_g"));
}

#[test]
fn hist_negative_only() {
    check(
        exit_dump(vec![("@h", scalar(hist([-100, -1])))]),
        golden!("hist_negative_only"),
    );
}

#[test]
fn lhist_trim() {
    let maps = vec![
        ("@l", scalar(lhist([15, 55, 55], 0, 100, 10))),
        ("@one", scalar(lhist([15], 0, 100, 10))),
    ];
    check(exit_dump(maps), golden!("lhist_trim"));
}

#[test]
fn lhist_below() {
    check(
        exit_dump(vec![("@l", scalar(lhist([-1, 55], 0, 100, 10)))]),
        golden!("lhist_below"),
    );
}

#[test]
fn lhist_top() {
    check(
        exit_dump(vec![("@l", scalar(lhist([100, 99], 0, 100, 10)))]),
        golden!("lhist_top"),
    );
}

#[test]
fn lhist_k() {
    check(
        exit_dump(vec![("@l", scalar(lhist([2048, 0, 5000], 0, 4096, 1024)))]),
        golden!("lhist_k"),
    );
}

#[test]
fn lhist_m() {
    let l = lhist([2097152, 0, 9999999], 1048576, 4194304, 1048576);
    check(exit_dump(vec![("@l", scalar(l))]), golden!("lhist_m"));
}

#[test]
fn lhist_partial() {
    let l = lhist([22, 3, 25, 30, -3], 0, 25, 10);
    check(exit_dump(vec![("@l", scalar(l))]), golden!("lhist_partial"));
}

#[test]
fn lhist_odd() {
    check(
        exit_dump(vec![("@l", scalar(lhist([7, 3, 25], 5, 20, 3)))]),
        golden!("lhist_odd"),
    );
}

#[test]
fn sort_str_keys() {
    let kv = [
        ("b", "z"),
        ("a", "y"),
        ("c", "a"),
        ("ab", "q"),
        ("B", "w"),
        ("", "e"),
    ];
    let entries = kv
        .iter()
        .map(|(k, v)| e(vec![s(k)], MapValue::Str(v.as_bytes().to_vec())))
        .collect();
    check(exit_dump(vec![("@x", entries)]), golden!("sort_str_keys"));
}

#[test]
fn sort_int_keys() {
    let kv = [(2, "z"), (-1, "y"), (1, "a"), (256, "q"), (-100, "r")];
    let entries = kv
        .iter()
        .map(|(k, v)| e(vec![i(*k)], MapValue::Str(v.as_bytes().to_vec())))
        .collect();
    check(exit_dump(vec![("@x", entries)]), golden!("sort_int_keys"));
}

#[test]
fn sort_multi_key() {
    let kv = [(2, "b", "z"), (1, "c", "y"), (2, "a", "a"), (1, "a", "q")];
    let entries = kv
        .iter()
        .map(|(k1, k2, v)| e(vec![i(*k1), s(k2)], MapValue::Str(v.as_bytes().to_vec())))
        .collect();
    check(exit_dump(vec![("@x", entries)]), golden!("sort_multi_key"));
}

/// bpftrace orders equal counts in hash-table order, which changes from run
/// to run; only the set of lines and the position of the largest are fixed.
#[test]
fn count_ties() {
    let entries = vec![
        e(vec![i(1)], MapValue::Count(1)),
        e(vec![i(2)], MapValue::Count(1)),
        e(vec![i(3)], MapValue::Count(2)),
        e(vec![i(256)], MapValue::Count(1)),
        e(vec![i(-1)], MapValue::Count(1)),
    ];
    let got = exit_dump(vec![("@c", entries)]);
    let want = golden!("count_ties");
    let sorted = |t: &str| {
        let mut l: Vec<String> = t.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    assert_eq!(sorted(&got), sorted(want));
    assert!(got.ends_with("@c[3]: 2\n"), "{got}");
    assert!(got.starts_with(EXIT_PREAMBLE), "{got}");
    // Ties are ordered by key, as unsigned numbers.
    assert_eq!(
        got,
        "\n\n@c[1]: 1\n@c[2]: 1\n@c[256]: 1\n@c[-1]: 1\n@c[3]: 2\n"
    );
}

#[test]
fn sum_signed() {
    let maps = vec![
        (
            "@c",
            vec![
                e(vec![s("x")], MapValue::Sum(-5)),
                e(vec![s("y")], MapValue::Sum(3)),
                e(vec![s("z")], MapValue::Sum(-100)),
            ],
        ),
        ("@big", scalar(MapValue::Sum(123456789012))),
    ];
    check(exit_dump(maps), golden!("sum_signed"));
}

#[test]
fn min_max() {
    let maps = vec![
        (
            "@c",
            vec![
                e(vec![s("x")], MapValue::Min(-5)),
                e(vec![s("y")], MapValue::Min(3)),
                e(vec![s("z")], MapValue::Min(-100)),
            ],
        ),
        (
            "@d",
            vec![
                e(vec![s("x")], MapValue::Max(5)),
                e(vec![s("y")], MapValue::Max(3)),
                e(vec![s("z")], MapValue::Max(100)),
            ],
        ),
    ];
    check(exit_dump(maps), golden!("min_max"));
}

#[test]
fn avg_stats() {
    let maps = vec![
        (
            "@a",
            vec![
                e(vec![s("x")], MapValue::Avg { count: 2, sum: -15 }),
                e(vec![s("y")], MapValue::Avg { count: 1, sum: 3 }),
                e(vec![s("z")], MapValue::Avg { count: 2, sum: 3 }),
            ],
        ),
        (
            "@s",
            vec![
                e(vec![s("p")], MapValue::Stats { count: 2, sum: -15 }),
                e(vec![s("q")], MapValue::Stats { count: 1, sum: 100 }),
            ],
        ),
    ];
    check(exit_dump(maps), golden!("avg_stats"));
}

#[test]
fn int_values() {
    let maps = vec![
        (
            "@i",
            vec![
                e(vec![s("a")], MapValue::Int(5)),
                e(vec![s("b")], MapValue::Int(-3)),
                e(vec![s("c")], MapValue::Int(0)),
            ],
        ),
        (
            "@u",
            vec![
                e(vec![s("a")], MapValue::UInt(5)),
                e(vec![s("b")], MapValue::UInt(-3i64 as u64)),
            ],
        ),
    ];
    check(exit_dump(maps), golden!("int_values"));
}

#[test]
fn hist_keyed_ties() {
    let entries = vec![
        e(vec![i(1)], hist([1])),
        e(vec![i(256)], hist([1])),
        e(vec![i(2)], hist([1])),
        e(vec![i(-1)], hist([1])),
        e(vec![i(3)], hist([1, 1])),
        e(vec![i(0)], hist([1, 1, 1])),
    ];
    check(exit_dump(vec![("@h", entries)]), golden!("hist_keyed_ties"));
}

#[test]
fn lhist_str_keys() {
    let entries = ["b", "a", "B"]
        .iter()
        .map(|k| e(vec![s(k)], lhist([1], 0, 10, 1)))
        .collect();
    check(exit_dump(vec![("@h", entries)]), golden!("lhist_str_keys"));
}

#[test]
fn stats_ties() {
    let avg = MapValue::Avg { count: 1, sum: 1 };
    let stats = MapValue::Stats { count: 1, sum: 1 };
    let maps = vec![
        (
            "@a",
            [1, 256, 2, -1]
                .iter()
                .map(|k| e(vec![i(*k)], avg.clone()))
                .collect(),
        ),
        (
            "@s",
            [1, 256, 2]
                .iter()
                .map(|k| e(vec![i(*k)], stats.clone()))
                .collect(),
        ),
    ];
    check(exit_dump(maps), golden!("stats_ties"));
}

#[test]
fn hist_multi_key() {
    let entries = vec![
        e(vec![i(1), s("x")], hist([1])),
        e(vec![i(2), s("a")], hist([1, 1])),
    ];
    check(exit_dump(vec![("@h", entries)]), golden!("hist_multi_key"));
}

#[test]
fn empty_keyed() {
    check(exit_dump(vec![("@c", vec![])]), golden!("empty_keyed"));
}

#[test]
fn empty_stats() {
    let mut out = EXIT_PREAMBLE.to_string();
    out += &render_map_with_kind("@a", MapStyle::Stats, &[]);
    out += &render_map_with_kind("@l", MapStyle::Hist, &[]);
    out += &render_map_with_kind("@s", MapStyle::Stats, &[]);
    out += &render_map_with_kind("@t", MapStyle::Plain, &[]);
    check(out, golden!("empty_stats"));
}

#[test]
fn zeroed() {
    let maps = vec![
        ("@h", scalar(MapValue::Hist(vec![(hist_bucket(5), 0)]))),
        ("@c", scalar(MapValue::Count(0))),
    ];
    check(exit_dump(maps), golden!("zeroed"));
}

#[test]
fn print_maps() {
    let c = vec![
        e(vec![i(1)], MapValue::Count(1)),
        e(vec![i(2)], MapValue::Count(2)),
    ];
    let mut out = render_map("@c", &c);
    out += &printf("x\n", &[]);
    out += &render_map("@a", &scalar(MapValue::Avg { count: 1, sum: 3 }));
    out += &printf("y\n", &[]);
    out += &render_map("@h", &scalar(hist([3])));
    out += &printf("z\n", &[]);
    // At exit: all three cleared.
    out += EXIT_PREAMBLE;
    out += &render_map_with_kind("@a", MapStyle::Stats, &[]);
    out += &render_map_with_kind("@c", MapStyle::Plain, &[]);
    out += &render_map_with_kind("@h", MapStyle::Hist, &[]);
    check(out, golden!("print_maps"));
}

#[test]
fn many_keys() {
    let c = (0..20)
        .map(|k| e(vec![i(k)], MapValue::Sum((k * 7919) % 23)))
        .collect();
    let s = (0..20)
        .map(|k| e(vec![i(k)], MapValue::Sum(k * 1_000_000)))
        .collect();
    check(exit_dump(vec![("@c", c), ("@s", s)]), golden!("many_keys"));
}

#[test]
fn big_counts() {
    let h = hist(rep(3, 1000).chain([70000]));
    let l = lhist(0..500, 0, 500, 100);
    check(
        exit_dump(vec![("@h", scalar(h)), ("@l", scalar(l))]),
        golden!("big_counts"),
    );
}

#[test]
fn print_values() {
    let out: String = [i(5), i(-3), s("abc"), Value::UInt(u64::MAX)]
        .iter()
        .map(render_value)
        .collect::<String>()
        + EXIT_PREAMBLE;
    check(out, golden!("print_values"));
}

#[test]
fn printf_ints() {
    let mut out = String::new();
    out += &printf(
        "%d|%u|%x|%X|%o\n",
        &[i(3000000000), i(3000000000), i(-1), i(255), i(8)],
    );
    out += &printf(
        "%d|%d|%u|%x\n",
        &[i(-1), i(4294967301), i(-1), i(4294967301)],
    );
    out += &printf(
        "%ld|%lu|%lx|%llx|%lld|%llu|%hd|%hhd|%hu|%hhx\n",
        &[
            i(3000000000),
            i(-1),
            i(-1),
            i(-1),
            i(-5),
            i(-1),
            i(70000),
            i(300),
            i(-1),
            i(-1),
        ],
    );
    out += &printf(
        "%zd|%zu|%jd|%ju|%zx\n",
        &[i(-1), i(-1), i(-1), i(-1), i(-1)],
    );
    out += &printf(
        "%o|%hx|%llo|%X|%lX|%hhu|%hu\n",
        &[i(8), i(-1), i(8), i(255), i(-1), i(-1), i(70000)],
    );
    check(out + EXIT_PREAMBLE, golden!("printf_ints"));
}

#[test]
fn printf_widths() {
    let mut out = String::new();
    out += &printf(
        "[%-10s][%10s][%.2s][%-5.1s]\n",
        &[s("abc"), s("abc"), s("abc"), s("abc")],
    );
    out += &printf(
        "[%08.3d][%05d][%-5d][%5d][%-010d]\n",
        &[i(7), i(42), i(42), i(42), i(5)],
    );
    out += &printf(
        "[%05s][%-05d][%5c][%.1s][%.0s]\n",
        &[s("ab"), i(42), i(65), s("xyz"), s("xyz")],
    );
    out += &printf("[%10ld][%-12lx][%020lu]\n", &[i(-123), i(48879), i(42)]);
    check(out + EXIT_PREAMBLE, golden!("printf_widths"));
}

#[test]
fn printf_chars() {
    let mut out = String::new();
    out += &printf(
        "%c%c%c|%5c|%-3c|\n",
        &[i(65), i(66), i(256 + 67), i(68), i(69)],
    );
    out += &printf("a%cb|\n", &[i(0)]);
    out += &printf("%p|%p|%20p|%-20p|\n", &[i(0), i(4096), i(255), i(255)]);
    out += &printf("%d %s\n", &[i(1), Value::Str(b"a\0b".to_vec())]);
    out += &printf("a%%b%dc\n", &[i(1)]);
    check(out + EXIT_PREAMBLE, golden!("printf_chars"));
}

/// Decodes the `\xNN` escapes of the table.
fn unescape(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut k = 0;
    while k < b.len() {
        if b[k] == b'\\' && b.get(k + 1) == Some(&b'x') {
            let hex = std::str::from_utf8(&b[k + 2..k + 4]).expect("escape");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            k += 4;
        } else {
            out.push(b[k]);
            k += 1;
        }
    }
    out
}

#[test]
fn printf_matches_glibc() {
    let table = include_str!("data/glibc_printf.tsv");
    let mut cases = 0;
    for line in table.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let [kind, fmt, arg, want] = cols[..] else {
            panic!("bad line {line:?}")
        };
        let format = parse_format(fmt).unwrap_or_else(|err| panic!("{fmt}: {err}"));
        // bpftrace keeps a conversion's output only up to a NUL byte.
        let mut want = unescape(want);
        if let Some(n) = want.iter().position(|&c| c == 0) {
            want.truncate(n);
        }
        let args: Vec<Value> = match kind {
            "I" => {
                let v: u64 = arg.parse().expect("value");
                vec![Value::UInt(v), Value::Int(v as i64)]
            }
            _ => vec![Value::Str(unescape(arg))],
        };
        for a in args {
            let got = render_printf_bytes(&format, std::slice::from_ref(&a));
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "format {fmt:?} with {a:?} (bytes {got:?} vs {want:?})"
            );
            cases += 1;
        }
    }
    assert!(cases > 2000, "only {cases} cases");
}
