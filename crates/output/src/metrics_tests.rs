use super::*;
use crate::hist_bucket;

fn entry(key: Vec<Value>, value: MapValue) -> MapEntry {
    MapEntry { key, value }
}

fn one(name: &str, metric: MetricType, entries: &[MapEntry], format: Exposition) -> String {
    render(
        &[MetricMap {
            name,
            help: "@x = count();",
            metric,
            entries,
        }],
        format,
    )
}

#[test]
fn scalar_count_map_is_a_counter_with_total_suffix() {
    let e = [entry(vec![], MapValue::Count(42))];
    assert_eq!(
        one("@", MetricType::Counter, &e, Exposition::Prometheus),
        "# HELP ustrace_map_total @x = count();\n\
         # TYPE ustrace_map_total counter\n\
         ustrace_map_total 42\n"
    );
    assert_eq!(
        one("@", MetricType::Counter, &e, Exposition::OpenMetrics),
        "# HELP ustrace_map @x = count();\n\
         # TYPE ustrace_map counter\n\
         ustrace_map_total 42\n\
         # EOF\n"
    );
}

#[test]
fn keyed_map_has_sorted_escaped_labels() {
    let e = [
        entry(
            vec![Value::Str(b"b\"q\\".to_vec()), Value::Int(-2)],
            MapValue::Sum(-7),
        ),
        entry(
            vec![Value::Str(b"a".to_vec()), Value::UInt(3)],
            MapValue::Sum(5),
        ),
    ];
    let text = one("@bytes", MetricType::Gauge, &e, Exposition::Prometheus);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "# HELP ustrace_bytes @x = count();",
            "# TYPE ustrace_bytes gauge",
            "ustrace_bytes{key0=\"a\",key1=\"3\"} 5",
            "ustrace_bytes{key0=\"b\\\"q\\\\\",key1=\"-2\"} -7",
        ]
    );
}

#[test]
fn stack_keys_become_one_frame_per_line() {
    let e = [entry(
        vec![Value::Str(b"\n    leaf+4\n    main+30\n".to_vec())],
        MapValue::Count(9),
    )];
    let text = one("@s", MetricType::Counter, &e, Exposition::Prometheus);
    assert!(
        text.contains("ustrace_s_total{key=\"leaf+4\\nmain+30\"} 9\n"),
        "{text}"
    );
}

#[test]
fn hist_buckets_are_cumulative_with_inclusive_integer_bounds() {
    // Values: -5, 0, 1, 2, 3, 3, 100 (bucket of 100 is [64, 128) -> le 127).
    let mut buckets: Vec<(u64, u64)> = Vec::new();
    for v in [-5i64, 0, 1, 2, 3, 3, 100] {
        buckets.push((hist_bucket(v), 1));
    }
    let e = [entry(vec![Value::UInt(7)], MapValue::Hist(buckets))];
    let text = one("@lat", MetricType::Histogram, &e, Exposition::Prometheus);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "# HELP ustrace_lat @x = count();",
            "# TYPE ustrace_lat histogram",
            "ustrace_lat_bucket{key=\"7\",le=\"-1\"} 1",
            "ustrace_lat_bucket{key=\"7\",le=\"0\"} 2",
            "ustrace_lat_bucket{key=\"7\",le=\"1\"} 3",
            "ustrace_lat_bucket{key=\"7\",le=\"3\"} 6",
            "ustrace_lat_bucket{key=\"7\",le=\"7\"} 6",
            "ustrace_lat_bucket{key=\"7\",le=\"15\"} 6",
            "ustrace_lat_bucket{key=\"7\",le=\"31\"} 6",
            "ustrace_lat_bucket{key=\"7\",le=\"63\"} 6",
            "ustrace_lat_bucket{key=\"7\",le=\"127\"} 7",
            "ustrace_lat_bucket{key=\"7\",le=\"+Inf\"} 7",
            "ustrace_lat_count{key=\"7\"} 7",
        ]
    );
}

#[test]
fn hist_keys_share_the_bucket_set_of_the_map() {
    let e = [
        entry(vec![Value::Int(1)], MapValue::Hist(vec![(1, 2)])),
        entry(vec![Value::Int(2)], MapValue::Hist(vec![(3, 1)])),
    ];
    let text = one("@h", MetricType::Histogram, &e, Exposition::OpenMetrics);
    for key in ["1", "2"] {
        let n = text
            .lines()
            .filter(|l| l.starts_with(&format!("ustrace_h_bucket{{key=\"{key}\"")))
            .count();
        assert_eq!(n, 5, "buckets -1, 0, 1, 3, +Inf for key {key}:\n{text}");
    }
    assert!(
        text.contains("ustrace_h_bucket{key=\"1\",le=\"3.0\"} 2\n"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn lhist_bounds_and_top_bucket() {
    // lhist(x, 0, 30, 10): buckets (<0), [0,10), [10,20), [20,30), [30,...).
    let e = [entry(
        vec![],
        MapValue::Lhist {
            min: 0,
            max: 30,
            step: 10,
            buckets: vec![(1, 2), (3, 1), (4, 5)],
        },
    )];
    let text = one("@l", MetricType::Histogram, &e, Exposition::Prometheus);
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        samples,
        [
            "ustrace_l_bucket{le=\"-1\"} 0",
            "ustrace_l_bucket{le=\"9\"} 2",
            "ustrace_l_bucket{le=\"19\"} 2",
            "ustrace_l_bucket{le=\"29\"} 3",
            "ustrace_l_bucket{le=\"+Inf\"} 8",
            "ustrace_l_count 8",
        ]
    );
}

#[test]
fn avg_and_stats_are_summaries_with_a_mean() {
    let e = [
        entry(vec![Value::Int(1)], MapValue::Avg { count: 4, sum: 10 }),
        entry(vec![Value::Int(2)], MapValue::Avg { count: 0, sum: 0 }),
    ];
    let text = one("@a", MetricType::Summary, &e, Exposition::Prometheus);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "# HELP ustrace_a @x = count();",
            "# TYPE ustrace_a summary",
            "ustrace_a_count{key=\"1\"} 4",
            "ustrace_a_sum{key=\"1\"} 10",
            "ustrace_a_count{key=\"2\"} 0",
            "ustrace_a_sum{key=\"2\"} 0",
            "# HELP ustrace_a_mean @x = count(); (mean)",
            "# TYPE ustrace_a_mean gauge",
            "ustrace_a_mean{key=\"1\"} 2.5",
            "ustrace_a_mean{key=\"2\"} NaN",
        ]
    );
}

#[test]
fn help_is_escaped_per_format() {
    let e = [entry(vec![], MapValue::Int(1))];
    let map = MetricMap {
        name: "@x",
        help: "printf(\"a\\n\"); @x = 1;",
        metric: MetricType::Gauge,
        entries: &e,
    };
    let text = render(&[map], Exposition::Prometheus);
    assert!(
        text.starts_with("# HELP ustrace_x printf(\"a\\\\n\"); @x = 1;\n"),
        "{text}"
    );
    let text = render(&[map], Exposition::OpenMetrics);
    assert!(
        text.starts_with("# HELP ustrace_x printf(\\\"a\\\\n\\\"); @x = 1;\n"),
        "{text}"
    );
}

#[test]
fn negotiation_follows_accept_quality() {
    use Exposition::*;
    assert_eq!(Exposition::negotiate(None), Prometheus);
    assert_eq!(Exposition::negotiate(Some("*/*")), Prometheus);
    assert_eq!(
        Exposition::negotiate(Some(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )),
        OpenMetrics
    );
    assert_eq!(
        Exposition::negotiate(Some("application/openmetrics-text;q=0.2, text/plain")),
        Prometheus
    );
    assert_eq!(Exposition::negotiate(Some(",;q=x,;;")), Prometheus);
}

#[test]
fn strings_and_clashes_are_reported_once() {
    let maps = [
        ("@name", None),
        ("@a", Some(MetricType::Summary)),
        ("@a_mean", Some(MetricType::Gauge)),
        ("@c", Some(MetricType::Counter)),
        ("@c_total", Some(MetricType::Gauge)),
        ("@ok", Some(MetricType::Gauge)),
    ];
    let bad: Vec<usize> = unexposable(&maps).into_iter().map(|(i, _)| i).collect();
    assert_eq!(bad, [0, 2, 4]);
    assert!(unexposable(&maps)[0].1.contains("@name holds strings"));
}

#[test]
fn family_names() {
    assert_eq!(family_name("@"), "ustrace_map");
    assert_eq!(family_name("@lat_us"), "ustrace_lat_us");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any label text renders to one sample line whose value part
        /// parses back, whatever the bytes.
        #[test]
        fn any_key_gives_one_well_formed_line(key in proptest::collection::vec(any::<u8>(), 0..40), n in any::<u64>()) {
            let e = [entry(vec![Value::Str(key)], MapValue::Count(n))];
            let text = one("@k", MetricType::Counter, &e, Exposition::Prometheus);
            let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
            prop_assert_eq!(samples.len(), 1);
            let value = samples[0].rsplit_once(' ').map(|(_, v)| v.to_string());
            prop_assert_eq!(value, Some(n.to_string()));
        }

        /// Any Accept header gets an answer; only one naming OpenMetrics
        /// gets OpenMetrics.
        #[test]
        fn any_accept_header(accept in ".{0,80}") {
            let f = Exposition::negotiate(Some(&accept));
            if !accept.to_ascii_lowercase().contains("application/openmetrics-text") {
                prop_assert_eq!(f, Exposition::Prometheus);
            }
        }

        /// Histogram counts stay cumulative and end at the total.
        #[test]
        fn buckets_are_monotonic(values in proptest::collection::vec(any::<i64>(), 0..50)) {
            let buckets: Vec<(u64, u64)> = values.iter().map(|v| (hist_bucket(*v), 1)).collect();
            let e = [entry(vec![], MapValue::Hist(buckets))];
            let text = one("@h", MetricType::Histogram, &e, Exposition::Prometheus);
            let counts: Vec<u64> = text
                .lines()
                .filter(|l| l.starts_with("ustrace_h_bucket"))
                .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()))
                .collect();
            prop_assert!(counts.windows(2).all(|w| w[0] <= w[1]));
            prop_assert_eq!(counts.last().copied(), Some(values.len() as u64));
        }
    }
}
