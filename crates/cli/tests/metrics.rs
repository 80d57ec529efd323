//! `--metrics`: a real Prometheus server scrapes ustrace while it traces
//! the test-server, and PromQL sees the count the map holds; the endpoint's
//! text is checked line by line; bad addresses and paths.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// A free loopback port (bound then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `GET path` on 127.0.0.1:port: (status code, headers, body).
fn get(port: u16, path: &str, accept: Option<&str>) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{accept}\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, head.to_string(), body.to_string()))
}

/// Sends `request` as is; the whole answer.
fn raw(port: u16, request: &[u8]) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(request).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The status code of the answer to `request`.
fn raw_status(port: u16, request: &[u8]) -> Option<u16> {
    raw(port, request)?.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `f` every 200 ms until it gives something or `limit` passes.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn prometheus_available(test: &str) -> bool {
    tool_available(test, "prometheus", &["--version"])
}

/// The value of the first sample of an instant query's JSON answer
/// (`"value":[1700000000.123,"42"]`).
fn promql_value(json: &str) -> Option<String> {
    let at = json.find("\"value\":[")?;
    let rest = &json[at..];
    let start = rest.find(",\"")? + 2;
    let end = rest[start..].find('"')? + start;
    Some(rest[start..end].to_string())
}

fn sample_value(exposition: &str, series: &str) -> Option<String> {
    exposition.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')
            .map(str::to_string)
    })
}

#[test]
fn prometheus_scrapes_the_count_the_map_holds() {
    if !bpf_available("prometheus_scrapes_the_count_the_map_holds")
        || !prometheus_available("prometheus_scrapes_the_count_the_map_holds")
    {
        return;
    }
    let server_bin = test_server();
    let server = spawn({
        let mut c = Command::new(&server_bin);
        c.arg("0");
        c
    });
    let pid = server.0.id();
    let port = free_port();
    let script = format!(
        "usdt:{}:test_grp:test_idx {{ @calls = count(); @parity[arg0 % 2] = count(); @idx = hist(arg0); }}",
        server_bin.display()
    );
    let mut cmd = ustrace();
    cmd.args([
        "--metrics",
        &format!("127.0.0.1:{port}"),
        "-p",
        &pid.to_string(),
        "-e",
        &script,
    ]);
    let tracer = spawn(cmd);
    let first = wait_for(Duration::from_secs(60), || {
        get(port, "/metrics", None).filter(|r| r.2.contains("ustrace_calls_total "))
    })
    .expect("ustrace serves /metrics");
    assert_eq!(first.0, 200);
    assert!(
        first
            .1
            .to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        first.1
    );

    // Prometheus on loopback, scraping every second.
    let dir = tempdir("prometheus");
    let prom_port = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: ustrace\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .expect("writing prometheus.yml");
    let prometheus = spawn({
        let mut c = Command::new("prometheus");
        c.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .current_dir(&dir);
        c
    });
    // Let it scrape a few times while events flow, then freeze the server
    // so that the count stops moving.
    let query = "/api/v1/query?query=ustrace_calls_total";
    wait_for(Duration::from_secs(60), || {
        get(prom_port, query, None).and_then(|r| promql_value(&r.2))
    })
    .expect("Prometheus has scraped ustrace");
    // SAFETY: stopping our own child.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_millis(1200));
    let (_, _, text) = get(port, "/metrics", None).expect("a scrape after the stop");
    let ours = sample_value(&text, "ustrace_calls_total").expect("the count in the exposition");
    let theirs = wait_for(Duration::from_secs(60), || {
        get(prom_port, query, None)
            .and_then(|r| promql_value(&r.2))
            .filter(|v| *v == ours)
    });
    assert_eq!(
        theirs.as_deref(),
        Some(ours.as_str()),
        "PromQL ustrace_calls_total vs the endpoint:\n{text}"
    );
    // A keyed series through PromQL as well.
    let parity = sample_value(&text, "ustrace_parity_total{key=\"1\"}").expect("parity 1");
    let q = "/api/v1/query?query=ustrace_parity_total%7Bkey%3D%221%22%7D";
    let theirs = wait_for(Duration::from_secs(60), || {
        get(prom_port, q, None)
            .and_then(|r| promql_value(&r.2))
            .filter(|v| *v == parity)
    });
    assert_eq!(theirs.as_deref(), Some(parity.as_str()));
    // The histogram too, and Prometheus parsed every scrape (it asks for
    // OpenMetrics, whose parser is strict).
    let q = "/api/v1/query?query=ustrace_idx_count";
    let theirs = wait_for(Duration::from_secs(60), || {
        get(prom_port, q, None)
            .and_then(|r| promql_value(&r.2))
            .filter(|v| *v == ours)
    });
    assert_eq!(theirs.as_deref(), Some(ours.as_str()));
    // A parse error would fail every scrape; a scrape that timed out on a
    // loaded machine (900 ms) is followed by clean ones: wait for one.
    let clean = |t: &String| t.contains("\"health\":\"up\"") && t.contains("\"lastError\":\"\"");
    let targets = wait_for(Duration::from_secs(60), || {
        get(prom_port, "/api/v1/targets", None)
            .map(|r| r.2)
            .filter(clean)
    });
    assert!(
        targets.is_some(),
        "{:?}",
        get(prom_port, "/api/v1/targets", None)
    );
    drop(prometheus);

    // The map printed at exit holds the same count.
    let out = interrupt_after(tracer, Duration::ZERO);
    // SAFETY: resuming our own child so that it can be killed cleanly.
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    drop(server);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("@calls: {ours}\n")),
        "{}",
        stdout(&out)
    );

    // Line by line: a count map, a keyed map and a histogram. The server
    // fires consecutive values, so the two parities differ by at most one
    // and add up to the count, and no value is negative or zero.
    let n: u64 = ours.parse().expect("a number");
    let parity_of = |k: &str| -> u64 {
        sample_value(&text, &format!("ustrace_parity_total{{key=\"{k}\"}}"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (even, odd) = (parity_of("0"), parity_of("1"));
    assert_eq!(even + odd, n, "{text}");
    assert!(even.abs_diff(odd) <= 1, "{text}");
    let expected = [
        "# TYPE ustrace_calls_total counter".to_string(),
        format!("ustrace_calls_total {n}"),
        "# TYPE ustrace_idx histogram".to_string(),
        "ustrace_idx_bucket{le=\"-1\"} 0".to_string(),
        "ustrace_idx_bucket{le=\"0\"} 0".to_string(),
        "ustrace_idx_bucket{le=\"1\"} ".to_string(),
        "ustrace_idx_bucket{le=\"3\"} ".to_string(),
        format!("ustrace_idx_bucket{{le=\"+Inf\"}} {n}"),
        format!("ustrace_idx_count {n}"),
        "# TYPE ustrace_parity_total counter".to_string(),
        format!("ustrace_parity_total{{key=\"0\"}} {even}"),
        format!("ustrace_parity_total{{key=\"1\"}} {odd}"),
    ];
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("# HELP")).collect();
    let mut at = 0;
    for want in &expected {
        // A line ending in a space stands for any count.
        let matches = |l: &&str| match want.strip_suffix(' ') {
            Some(prefix) => l.starts_with(&format!("{prefix} ")),
            None => *l == want,
        };
        match lines[at..].iter().position(matches) {
            Some(i) => at += i + 1,
            None => panic!("missing or out of order: {want}\n{text}"),
        }
    }
    let buckets: Vec<u64> = lines
        .iter()
        .filter(|l| l.starts_with("ustrace_idx_bucket"))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()))
        .collect();
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{text}");
    assert!(
        text.contains(&format!("# HELP ustrace_calls_total {script}\n")),
        "{text}"
    );
}

#[test]
fn openmetrics_on_request_and_404_elsewhere() {
    if !bpf_available("openmetrics_on_request_and_404_elsewhere") {
        return;
    }
    let port = free_port();
    let mut cmd = ustrace();
    cmd.args([
        "--metrics",
        &format!("127.0.0.1:{port}"),
        "-e",
        "BEGIN { @started = 1; @name = \"x\"; } interval:ms:100 { @ticks = count(); }",
    ]);
    let tracer = spawn(cmd);
    let (code, head, body) = wait_for(Duration::from_secs(60), || {
        get(
            port,
            "/metrics",
            Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
        )
    })
    .expect("ustrace serves /metrics");
    assert_eq!(code, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(body.contains("# TYPE ustrace_ticks counter\n"), "{body}");
    assert!(body.contains("\nustrace_started 1\n"), "{body}");
    assert!(
        !body.contains("ustrace_name"),
        "strings are left out:\n{body}"
    );
    let (code, _, _) = get(port, "/other", None).expect("an answer");
    assert_eq!(code, 404);
    assert_eq!(
        raw_status(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
        Some(405)
    );
    assert_eq!(raw_status(port, b"\x01\x02 nonsense\r\n\r\n"), Some(400));
    let head = raw(port, b"HEAD /metrics HTTP/1.0\r\n\r\n").unwrap_or_default();
    assert!(
        head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let out = interrupt_after(tracer, Duration::ZERO);
    let err = stderr(&out);
    assert_eq!(
        err.matches("WARNING: map @name holds strings").count(),
        1,
        "{err}"
    );
}

#[test]
fn a_busy_or_bad_address_fails_before_attaching() {
    let holder = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let port = holder.local_addr().expect("its address").port();
    for (addr, says) in [
        (format!("127.0.0.1:{port}"), "in use"),
        ("not-an-address".to_string(), "not an address"),
        ("127.0.0.1".to_string(), "not an address"),
    ] {
        let out = run_with_timeout(
            {
                let mut c = ustrace();
                c.args(["--metrics", &addr, "-e", "BEGIN { printf(\"ran\\n\"); }"]);
                c
            },
            Duration::from_secs(20),
        );
        let err = stderr(&out);
        assert!(!out.status.success(), "{addr}: {err}");
        assert_eq!(err.lines().count(), 1, "{addr}: one line:\n{err}");
        assert!(err.contains(&addr) && err.contains(says), "{addr}: {err}");
        assert!(
            !stdout(&out).contains("Attaching"),
            "{addr}: attached anyway"
        );
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a temporary directory");
    dir
}

#[test]
fn stuck_scrapers_block_neither_tracing_nor_other_scrapes() {
    if !bpf_available("stuck_scrapers_block_neither_tracing_nor_other_scrapes") {
        return;
    }
    let port = free_port();
    let mut cmd = ustrace();
    cmd.args([
        "--metrics",
        &format!("127.0.0.1:{port}"),
        "-e",
        "interval:ms:50 { @ticks = count(); }",
    ]);
    let tracer = spawn(cmd);
    wait_for(Duration::from_secs(60), || get(port, "/metrics", None)).expect("serving");
    // Scrapers that send half a request, and ones that ask and never read.
    let mut stuck = Vec::new();
    for i in 0..6 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
        let request: &[u8] = if i % 2 == 0 {
            b"GET /metr"
        } else {
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        };
        s.write_all(request).expect("writing");
        stuck.push(s);
    }
    let ticks = |text: &str| -> u64 {
        sample_value(text, "ustrace_ticks_total")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // Each scrape answers although six are stuck (a blocked server would
    // leave get() to its 10 s read timeout: None), and tracing goes on: 20
    // ticks a second, so ten more soon (60 s at most on a loaded machine).
    let scrape = || {
        let start = Instant::now();
        let (_, _, text) = get(port, "/metrics", None).expect("a scrape beside stuck ones");
        assert!(start.elapsed() < Duration::from_secs(10));
        text
    };
    let first = scrape();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut second = scrape();
    while ticks(&second) < ticks(&first) + 10 {
        assert!(
            Instant::now() < deadline,
            "tracing stopped beside stuck scrapers:\n{first}\n{second}"
        );
        std::thread::sleep(Duration::from_millis(100));
        second = scrape();
    }
    let out = interrupt_after(tracer, Duration::ZERO);
    drop(stuck);
    assert!(out.status.success(), "{}", stderr(&out));
}
