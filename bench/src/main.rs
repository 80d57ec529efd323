//! Side-by-side benchmark of ustrace and bpftrace on this machine, in one
//! run: start-up, attach, cost per probe hit (whole and in-BPF), event
//! throughput and footprint. Prints a table of both tools and their ratio,
//! and writes bench/results/latest.json.
//!
//! Usage: ustrace-bench [--quick] [--ustrace PATH] [--bpftrace PATH]
//! Run as root. It is a benchmark, never a test: nothing here fails on slowness.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod measure;
mod metrics;
mod overload;
mod unwind;

pub(crate) use measure::*;

/// One benchmark section.
type Section = fn(&mut Bench);

/// One measured row: a name, both values and the unit.
struct Row {
    section: &'static str,
    name: String,
    unit: &'static str,
    ustrace: Option<f64>,
    bpftrace: Option<f64>,
}

struct Bench {
    ustrace: PathBuf,
    bpftrace: PathBuf,
    work: PathBuf,
    quick: bool,
    rows: Vec<Row>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    Ustrace,
    Bpftrace,
}

fn main() {
    // bpftrace makes one BPF program per USDT location and refuses more than
    // 512 by default; the attach benchmark needs 1,000.
    std::env::set_var("BPFTRACE_MAX_BPF_PROGS", "4096");
    std::env::set_var("BPFTRACE_MAX_PROBES", "4096");
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut ustrace = root.join("target/release/ustrace");
    let mut bpftrace = PathBuf::from("/usr/bin/bpftrace");
    let mut quick = false;
    // `--only SECTION` (startup, attach, jvm, hits, rust, throughput,
    // overload, metrics, unwind, footprint) runs one section.
    let mut only: Option<String> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--only" => only = args.next(),
            "--ustrace" => ustrace = args.next().map(PathBuf::from).unwrap_or(ustrace),
            "--bpftrace" => bpftrace = args.next().map(PathBuf::from).unwrap_or(bpftrace),
            other => {
                eprintln!("ustrace-bench: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    for (name, p) in [("ustrace", &ustrace), ("bpftrace", &bpftrace)] {
        if !p.exists() {
            eprintln!("ustrace-bench: {name} not found at {} (build with cargo build --release, apt-get install bpftrace)", p.display());
            std::process::exit(2);
        }
    }
    let work = root.join("target/bench");
    let _ = std::fs::create_dir_all(&work);
    let mut b = Bench {
        ustrace,
        bpftrace,
        work,
        quick,
        rows: Vec::new(),
    };
    b.build_programs();
    let want = |s: &str| only.as_deref().is_none_or(|o| o == s);
    let sections: [(&str, Section); 10] = [
        ("startup", Bench::startup),
        ("attach", Bench::attach_many),
        ("jvm", Bench::attach_jvm),
        ("hits", Bench::hit_costs),
        ("rust", Bench::rust_probe_costs),
        ("throughput", Bench::throughput),
        ("overload", Bench::overload),
        ("unwind", Bench::stack_walks),
        ("metrics", Bench::metrics),
        ("footprint", Bench::footprint),
    ];
    for (name, section) in sections {
        if want(name) {
            section(&mut b);
        }
    }
    // A partial run does not replace the full results.
    let file = match &only {
        Some(name) => format!("only-{name}.json"),
        None => "latest.json".to_string(),
    };
    b.report(&root, &file);
}

impl Bench {
    fn tool(&self, t: Tool) -> &Path {
        match t {
            Tool::Ustrace => &self.ustrace,
            Tool::Bpftrace => &self.bpftrace,
        }
    }

    fn build_programs(&self) {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("c");
        for (c, out) in [("hits.c", "hits"), ("many.c", "many")] {
            let st = Command::new("gcc")
                .args(["-O2", "-g"])
                .arg(src.join(c))
                .arg("-o")
                .arg(self.work.join(out))
                .status();
            if !matches!(st, Ok(s) if s.success()) {
                eprintln!("ustrace-bench: cannot build {c} (gcc and systemtap-sdt-dev needed)");
                std::process::exit(2);
            }
        }
    }

    fn push(
        &mut self,
        section: &'static str,
        name: &str,
        unit: &'static str,
        u: Option<f64>,
        b: Option<f64>,
    ) {
        eprintln!("  {section}: {name}: ustrace {u:?} bpftrace {b:?} {unit}");
        self.rows.push(Row {
            section,
            name: name.to_string(),
            unit,
            ustrace: u,
            bpftrace: b,
        });
    }

    /// 1. Start-up: `BEGIN { exit(); }`, median wall time and peak RSS.
    fn startup(&mut self) {
        let runs = if self.quick { 5 } else { 11 };
        let mut res = Vec::new();
        for t in [Tool::Ustrace, Tool::Bpftrace] {
            let mut times = Vec::new();
            let mut rss = Vec::new();
            for _ in 0..runs {
                if let Some((wall, kb)) = run_measured(self.tool(t), &["-e", "BEGIN { exit(); }"]) {
                    times.push(wall * 1000.0);
                    rss.push(kb as f64 / 1024.0);
                }
            }
            res.push((median(&mut times), median(&mut rss)));
        }
        self.push(
            "start-up",
            "BEGIN { exit(); } wall time (median)",
            "ms",
            res[0].0,
            res[1].0,
        );
        self.push(
            "start-up",
            "BEGIN { exit(); } peak RSS (median)",
            "MiB",
            res[0].1,
            res[1].1,
        );
    }

    /// 2. Attach 1,000 distinct probes, then exit (run time minus start-up).
    fn attach_many(&mut self) {
        let bin = self.work.join("many");
        let mut child = match Command::new(&bin).stdout(Stdio::null()).spawn() {
            Ok(c) => c,
            Err(_) => return,
        };
        let script = format!(
            "usdt:{}:many:* {{ @c = count(); }} BEGIN {{ exit(); }}",
            bin.display()
        );
        let runs = if self.quick { 3 } else { 5 };
        let mut res = Vec::new();
        for t in [Tool::Ustrace, Tool::Bpftrace] {
            let mut times = Vec::new();
            for _ in 0..runs {
                if let Some((wall, _)) = run_measured(self.tool(t), &["-e", &script]) {
                    times.push(wall * 1000.0);
                    // bpftrace needs minutes here; one run says enough.
                    if wall > 10.0 {
                        break;
                    }
                }
            }
            res.push(median(&mut times));
        }
        // Detach alone: attach for good (no exit), wait for "Attaching" and
        // the programs, then time SIGINT -> exit (detach, END, maps, exit).
        let mut detach = Vec::new();
        let keep = format!("usdt:{}:many:* {{ @c = count(); }}", bin.display());
        for t in [Tool::Ustrace, Tool::Bpftrace] {
            detach.push(time_detach(
                self.tool(t),
                &keep,
                &self.work.join("detach.out"),
            ));
        }
        let _ = child.kill();
        let _ = child.wait();
        self.push(
            "attach",
            "1,000 probes: detach and exit after SIGINT",
            "ms",
            detach[0],
            detach[1],
        );
        self.push(
            "attach",
            "1,000 probes: start, attach, detach, exit",
            "ms",
            res[0],
            res[1],
        );
    }

    /// 2b. Attach to every probe of OpenJDK's libjvm.so in a running java.
    fn attach_jvm(&mut self) {
        let jvm = "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so";
        let java = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java";
        if !Path::new(jvm).exists() || !Path::new(java).exists() {
            eprintln!("  attach: skipping libjvm.so (openjdk-17 not installed)");
            return;
        }
        let src = self.work.join("Sleep.java");
        let _ = std::fs::write(
            &src,
            "public class Sleep { public static void main(String[] a) throws Exception { Thread.sleep(600000); } }\n",
        );
        let Ok(mut child) = Command::new(java)
            .arg(&src)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            return;
        };
        // Wait until the JVM has mapped libjvm.so.
        let maps = format!("/proc/{}/maps", child.id());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline
            && !std::fs::read_to_string(&maps)
                .unwrap_or_default()
                .contains("libjvm.so")
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let pid = child.id().to_string();
        let script = format!("usdt:{jvm}:* {{ @c = count(); }} BEGIN {{ exit(); }}");
        let runs = if self.quick { 3 } else { 5 };
        let mut res = Vec::new();
        for t in [Tool::Ustrace, Tool::Bpftrace] {
            let mut times = Vec::new();
            for _ in 0..runs {
                if let Some((wall, _)) = run_measured(self.tool(t), &["-e", &script, "-p", &pid]) {
                    times.push(wall * 1000.0);
                    if wall > 10.0 {
                        break;
                    }
                }
            }
            res.push(median(&mut times));
        }
        let _ = child.kill();
        let _ = child.wait();
        self.push(
            "attach",
            "all probes of libjvm.so in a running java: start, attach, detach, exit",
            "ms",
            res[0],
            res[1],
        );
    }

    /// 3b. The same hit loop with ustrace-usdt's Rust probes (a 1-byte nop
    /// then a 10-byte nop) next to sys/sdt.h's 1-byte nop, untraced and
    /// traced with `{ }` by each tool.
    fn rust_probe_costs(&mut self) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = self.work.join("rust-target");
        let built = Command::new("cargo")
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "ustrace-usdt",
                "--example",
                "bench_hits",
            ])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(&root)
            .status();
        if !matches!(built, Ok(s) if s.success()) {
            eprintln!("  cost per hit: cannot build the Rust probe loop (cargo build failed)");
            return;
        }
        let rust = target.join("release/examples/bench_hits");
        let c = self.work.join("hits");
        let n: u64 = if self.quick { 1_000_000 } else { 5_000_000 };
        for (label, bin) in [("Rust probe (nop + nop10)", &rust), ("C probe (nop)", &c)] {
            let untraced = run_hits(bin, n, Fire::Hit);
            self.push(
                "cost per hit",
                &format!("{label}: untraced"),
                "ns/hit",
                untraced,
                untraced,
            );
            let out = self.work.join("rust.out");
            let script = format!(
                "usdt:{}:bench:hit {{ }} BEGIN {{ printf(\"ready\\n\"); }}",
                bin.display()
            );
            let mut whole = Vec::new();
            for t in [Tool::Ustrace, Tool::Bpftrace] {
                let r = traced(self.tool(t), &script, &out, || run_hits(bin, n, Fire::Hit));
                whole.push(r.and_then(|r| r.result));
            }
            self.push(
                "cost per hit",
                &format!("{label}: traced {{ }}"),
                "ns/hit",
                whole[0],
                whole[1],
            );
            let _ = std::fs::remove_file(&out);
        }
    }

    /// 3. Cost per probe hit, whole (ns per loop iteration) and in BPF.
    fn hit_costs(&mut self) {
        let n: u64 = if self.quick { 1_000_000 } else { 5_000_000 };
        let bin = self.work.join("hits");
        for (label, fire) in [
            ("untraced loop", Fire::Hit),
            ("untraced loop (string argument)", Fire::Named),
        ] {
            let untraced = run_hits(&bin, n, fire);
            self.push("cost per hit", label, "ns/hit", untraced, untraced);
        }
        let _ = std::fs::write("/proc/sys/kernel/bpf_stats_enabled", "1");
        let b = bin.display().to_string();
        let out = self.work.join("printf.out");
        let hit = |body: &str| format!("usdt:{b}:bench:hit {{ {body} }}");
        // (label, ustrace's script, bpftrace's when it differs, what fires)
        let rows: Vec<(&str, String, Option<String>, Fire)> = vec![
            ("{ }", hit(""), None, Fire::Hit),
            ("{ @c = count(); }", hit("@c = count();"), None, Fire::Hit),
            ("{ @[arg0 % 16] = count(); }", hit("@[arg0 % 16] = count();"), None, Fire::Hit),
            ("{ @h = hist(arg1); }", hit("@h = hist(arg1);"), None, Fire::Hit),
            ("printf to a file", hit("printf(\"%d %d\\n\", arg0, arg1);"), None, Fire::Hit),
            (
                "latency idiom (start/done)",
                format!(
                    "usdt:{b}:bench:start {{ @s[tid] = nsecs; }} usdt:{b}:bench:done /@s[tid]/ {{ @lat = hist(nsecs - @s[tid]); delete(@s[tid]); }}"
                ),
                None,
                Fire::Latency,
            ),
            (
                "{ @[str(arg1)] = count(); } (string argument)",
                format!("usdt:{b}:bench:named {{ @[str(arg1)] = count(); }}"),
                None,
                Fire::Named,
            ),
            // bpftrace 0.17 has no `for`: the same 100 iterations as a
            // `while` loop (ustrace runs this constant range inline too,
            // as a bounded loop). The body is a hash step
            // with no closed form: with `$s += $i * arg0` LLVM replaced
            // bpftrace's loop by its sum formula.
            (
                "100-iteration loop: for ($i : 0..100) / while in bpftrace",
                hit("$s = arg0; for ($i : 0..100) { $s = ($s * 33) ^ $i; } @s = sum($s);"),
                Some(hit(
                    "$i = 0; $s = arg0; while ($i < 100) { $s = ($s * 33) ^ $i; $i++; } @s = sum($s);",
                )),
                Fire::Hit,
            ),
        ];
        for (label, script, bpftrace_script, fire) in rows {
            let mut whole = Vec::new();
            let mut inbpf = Vec::new();
            let mut insns = Vec::new();
            for t in [Tool::Ustrace, Tool::Bpftrace] {
                let script = match (&bpftrace_script, t) {
                    (Some(theirs), Tool::Bpftrace) => theirs,
                    _ => &script,
                };
                let script = format!("{script} BEGIN {{ printf(\"ready\\n\"); }}");
                let r = traced(self.tool(t), &script, &out, || run_hits(&bin, n, fire));
                whole.push(r.as_ref().and_then(|r| r.result));
                inbpf.push(r.as_ref().and_then(|r| r.bpf_ns));
                insns.push(r.as_ref().map(|r| r.xlated_insns as f64));
            }
            self.push(
                "cost per hit",
                &format!("{label}: whole"),
                "ns/hit",
                whole[0],
                whole[1],
            );
            self.push(
                "cost per hit",
                &format!("{label}: in BPF (run_time_ns/run_cnt)"),
                "ns/run",
                inbpf[0],
                inbpf[1],
            );
            self.push(
                "cost per hit",
                &format!("{label}: translated BPF instructions"),
                "insns",
                insns[0],
                insns[1],
            );
        }
        let _ = std::fs::remove_file(&out);
    }

    /// 4. Throughput: 1,000,000 printf events to a file.
    fn throughput(&mut self) {
        let n: u64 = 1_000_000;
        let bin = self.work.join("hits");
        let b = bin.display().to_string();
        let out = self.work.join("throughput.out");
        let mut rate = Vec::new();
        let mut received = Vec::new();
        let mut lost = Vec::new();
        for t in [Tool::Ustrace, Tool::Bpftrace] {
            let script = format!(
                "usdt:{b}:bench:hit {{ printf(\"%d %d\\n\", arg0, arg1); }} BEGIN {{ printf(\"ready\\n\"); }}"
            );
            let start = Instant::now();
            let r = traced(self.tool(t), &script, &out, || {
                run_hits(&bin, n, Fire::Hit).map(|_| 0.0)
            });
            let wall = start.elapsed().as_secs_f64();
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let lines = text
                .lines()
                .filter(|l| {
                    l.split(' ').count() == 2 && l.chars().all(|c| c.is_ascii_digit() || c == ' ')
                })
                .count();
            let lost_n: u64 = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Lost ")
                        .and_then(|r| r.split_whitespace().next())
                        .and_then(|v| v.parse().ok())
                })
                .unwrap_or(0);
            rate.push(r.map(|_| lines as f64 / wall));
            received.push(Some(lines as f64));
            lost.push(Some(lost_n as f64));
        }
        self.push(
            "throughput",
            "events received of 1,000,000",
            "events",
            received[0],
            received[1],
        );
        self.push(
            "throughput",
            "events reported lost",
            "events",
            lost[0],
            lost[1],
        );
        self.push(
            "throughput",
            "received per second of wall time (incl. start-up)",
            "events/s",
            rate[0],
            rate[1],
        );
        let _ = std::fs::remove_file(&out);
    }

    /// Overload: see [`overload`].
    fn overload(&mut self) {
        let per_producer: u64 = if self.quick { 1_000_000 } else { 5_000_000 };
        let hits = self.work.join("hits");
        let out = self.work.join("overload.out");
        let runs: Vec<_> = [Tool::Ustrace, Tool::Bpftrace]
            .into_iter()
            .map(|t| overload::run(self.tool(t), &hits, &out, 2, per_producer))
            .collect();
        let pick = |f: &dyn Fn(&overload::Overload) -> f64| -> Vec<Option<f64>> {
            runs.iter().map(|r| r.as_ref().map(f)).collect()
        };
        let section = "overload (2 producers, printf to a file)";
        let name = format!(
            "events unaccounted for (sent - received - lost) of {}",
            2 * per_producer
        );
        let v = pick(&|r| r.sent as f64 - r.received as f64 - r.lost as f64);
        self.push(section, &name, "events", v[0], v[1]);
        let v = pick(&|r| r.lost as f64);
        self.push(section, "events reported lost", "events", v[0], v[1]);
        let v = pick(&|r| r.received_per_s);
        self.push(section, "received per second", "events/s", v[0], v[1]);
        let v = pick(&|r| r.peak_rss_kb as f64 / 1024.0);
        self.push(section, "peak RSS of the tracer", "MiB", v[0], v[1]);
    }

    /// 5. Footprint: binary and shared libraries.
    fn footprint(&mut self) {
        let mut size = Vec::new();
        let mut libs = Vec::new();
        for t in [Tool::Ustrace, Tool::Bpftrace] {
            let p = self.tool(t).to_path_buf();
            size.push(
                std::fs::metadata(&p)
                    .ok()
                    .map(|m| m.len() as f64 / 1048576.0),
            );
            libs.push(ldd_total(&p).map(|b| b as f64 / 1048576.0));
        }
        self.push("footprint", "binary size", "MiB", size[0], size[1]);
        self.push(
            "footprint",
            "shared libraries needed (ldd, total)",
            "MiB",
            libs[0],
            libs[1],
        );
    }

    fn report(&self, root: &Path, file: &str) {
        let machine = machine_description();
        println!("ustrace vs bpftrace, {machine}\n");
        println!("| measure | ustrace | bpftrace | ustrace/bpftrace |");
        println!("|---|---:|---:|---:|");
        let mut section = "";
        for r in &self.rows {
            if r.section != section {
                section = r.section;
                println!("| **{section}** | | | |");
            }
            let f = |v: Option<f64>| {
                v.map_or("n/a".to_string(), |v| format!("{} {}", fmt_num(v), r.unit))
            };
            let ratio = match (r.ustrace, r.bpftrace) {
                (Some(u), Some(b)) if b != 0.0 => format!("{:.3}", u / b),
                _ => "n/a".into(),
            };
            println!(
                "| {} | {} | {} | {} |",
                r.name,
                f(r.ustrace),
                f(r.bpftrace),
                ratio
            );
        }
        let mut json = String::from("{\n");
        json.push_str(&format!("  \"machine\": {},\n", json_str(&machine)));
        json.push_str(&format!("  \"quick\": {},\n  \"rows\": [\n", self.quick));
        for (i, r) in self.rows.iter().enumerate() {
            let v = |x: Option<f64>| x.map_or("null".to_string(), |v| format!("{v}"));
            json.push_str(&format!(
                "    {{\"section\": {}, \"name\": {}, \"unit\": {}, \"ustrace\": {}, \"bpftrace\": {}}}{}\n",
                json_str(r.section),
                json_str(&r.name),
                json_str(r.unit),
                v(r.ustrace),
                v(r.bpftrace),
                if i + 1 < self.rows.len() { "," } else { "" }
            ));
        }
        json.push_str("  ]\n}\n");
        let dir = root.join("bench/results");
        let _ = std::fs::create_dir_all(&dir);
        if let Err(e) = std::fs::write(dir.join(file), json) {
            eprintln!("ustrace-bench: cannot write results: {e}");
        }
    }
}
