//! Measuring helpers shared by the sections: running a tool and timing it,
//! reading BPF program statistics, footprint and machine description.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libbpf_sys as sys;
pub(crate) fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

pub(crate) fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

pub(crate) fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Some(v[v.len() / 2])
}

/// Runs a command to completion; returns wall seconds and peak RSS in KiB.
pub(crate) fn run_measured(bin: &Path, args: &[&str]) -> Option<(f64, i64)> {
    let start = Instant::now();
    let child = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; we wait for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed().as_secs_f64();
    std::mem::forget(child);
    // A failed run is no measurement (a tool that errors out is fast).
    if r != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        eprintln!("  {} {:?} failed (status {status:#x})", bin.display(), args);
        return None;
    }
    Some((wall, ru.ru_maxrss))
}

/// Starts `tool` with `script` writing to `out`, waits until it has
/// attached (its "Attaching" line, then its BPF programs loaded and one
/// more second), and returns the milliseconds from SIGINT to its exit.
pub(crate) fn time_detach(tool: &Path, script: &str, out: &Path) -> Option<f64> {
    let before = prog_ids();
    let _ = std::fs::remove_file(out);
    let mut child = Command::new(tool)
        .args(["-e", script, "-o"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let attaching = std::fs::read_to_string(out)
            .unwrap_or_default()
            .contains("Attaching");
        if attaching && prog_ids().difference(&before).count() > 0 {
            break;
        }
        if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // bpftrace loads and attaches probe by probe: wait until no program has
    // appeared for 3 s.
    let mut last = prog_ids().difference(&before).count();
    loop {
        std::thread::sleep(Duration::from_secs(3));
        let now = prog_ids().difference(&before).count();
        if now == last {
            break;
        }
        last = now;
    }
    let start = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let _ = child.wait();
    let _ = std::fs::remove_file(out);
    Some(start.elapsed().as_secs_f64() * 1000.0)
}

/// What the hit loop (bench/c/hits.c) fires on each iteration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fire {
    /// `bench:hit(i, i * 3)`.
    Hit,
    /// `bench:start(i)`, then `bench:done(i)`.
    Latency,
    /// `bench:named(i, "bench-name")`: a string argument.
    Named,
}

/// Runs the hit loop; returns its reported ns per iteration.
pub(crate) fn run_hits(bin: &Path, n: u64, fire: Fire) -> Option<f64> {
    let mut cmd = Command::new(bin);
    cmd.arg(n.to_string());
    match fire {
        Fire::Hit => {}
        Fire::Latency => {
            cmd.arg("latency");
        }
        Fire::Named => {
            cmd.arg("string");
        }
    }
    let out = cmd.output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

pub(crate) struct Traced {
    pub(crate) result: Option<f64>,
    pub(crate) bpf_ns: Option<f64>,
    pub(crate) xlated_insns: u64,
}

/// Starts `tool -e script -o out` and waits until it is ready: BEGIN's
/// "ready" line is in `out`, or, for bpftrace (which buffers its -o output
/// until exit), one quiet second after "Attaching" (attachment is done
/// before BEGIN runs). A tracer that exits or takes more than 30 s is
/// stopped; with `stderr` piped its last error line is printed.
pub(crate) fn start_until_ready(
    tool: &Path,
    script: &str,
    out: &Path,
    stderr: Stdio,
) -> Option<Child> {
    let mut child: Child = Command::new(tool)
        .args(["-e", script, "-o"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut attaching_since: Option<Instant> = None;
    loop {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        if text.contains("ready") {
            return Some(child);
        }
        if text.contains("Attaching")
            && attaching_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(1)
        {
            return Some(child);
        }
        if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
            // Stop it before reading stderr, or the read never ends.
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
                eprintln!(
                    "  tracer {} did not start: {}",
                    tool.display(),
                    err.lines().last().unwrap_or("")
                );
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a tracer writing to `out`, waits for its BEGIN's "ready", runs
/// `work`, reads the BPF stats of the programs it loaded, and stops it.
pub(crate) fn traced(
    tool: &Path,
    script: &str,
    out: &Path,
    work: impl FnOnce() -> Option<f64>,
) -> Option<Traced> {
    let before = prog_ids();
    let _ = std::fs::remove_file(out);
    let mut child = start_until_ready(tool, script, out, Stdio::piped())?;
    let result = work();
    // Only the programs this tracer holds: others may load BPF meanwhile.
    let held = prog_ids_held_by(child.id());
    let (mut cnt, mut ns, mut insns) = (0u64, 0u64, 0u64);
    for id in prog_ids()
        .difference(&before)
        .filter(|id| held.contains(id))
    {
        if let Some((c, n, i)) = prog_stats(*id) {
            cnt += c;
            ns += n;
            insns += i;
        }
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let stderr = child.stderr.take();
    let _ = child.wait();
    if let Some(e) = stderr {
        for l in BufReader::new(e).lines().map_while(Result::ok) {
            if l.contains("ERROR") {
                eprintln!("  {}: {l}", tool.display());
            }
        }
    }
    Some(Traced {
        result,
        bpf_ns: if cnt > 0 {
            Some(ns as f64 / cnt as f64)
        } else {
            None
        },
        xlated_insns: insns,
    })
}

/// Ids of every BPF program loaded in the kernel.
pub(crate) fn prog_ids() -> BTreeSet<u32> {
    let mut ids = BTreeSet::new();
    let mut id = 0u32;
    loop {
        let mut next = 0u32;
        // SAFETY: libbpf writes one u32.
        if unsafe { sys::bpf_prog_get_next_id(id, &mut next) } != 0 {
            break;
        }
        ids.insert(next);
        id = next;
    }
    ids
}

/// Ids of the BPF programs process `pid` holds open (`prog_id:` lines of
/// /proc/PID/fdinfo).
pub(crate) fn prog_ids_held_by(pid: u32) -> BTreeSet<u32> {
    let mut ids = BTreeSet::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return ids;
    };
    for entry in dir.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            if let Some(id) = line.strip_prefix("prog_id:") {
                if let Ok(id) = id.trim().parse() {
                    ids.insert(id);
                }
            }
        }
    }
    ids
}

/// (run_cnt, run_time_ns, translated instructions) of a program.
pub(crate) fn prog_stats(id: u32) -> Option<(u64, u64, u64)> {
    // SAFETY: plain libbpf calls with a zeroed info struct of the right size.
    unsafe {
        let fd = sys::bpf_prog_get_fd_by_id(id);
        if fd < 0 {
            return None;
        }
        let mut info: sys::bpf_prog_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<sys::bpf_prog_info>() as u32;
        let r = sys::bpf_obj_get_info_by_fd(fd, &mut info as *mut _ as *mut _, &mut len);
        libc::close(fd);
        if r != 0 {
            return None;
        }
        Some((
            info.run_cnt,
            info.run_time_ns,
            info.xlated_prog_len as u64 / 8,
        ))
    }
}

/// Total bytes of the shared libraries `ldd` lists for a binary.
pub(crate) fn ldd_total(bin: &Path) -> Option<u64> {
    let out = Command::new("ldd").arg(bin).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut total = 0;
    for l in text.lines() {
        let path = l
            .split("=>")
            .nth(1)
            .unwrap_or(l)
            .split_whitespace()
            .next()
            .unwrap_or("");
        if path.starts_with('/') {
            if let Ok(real) = std::fs::canonicalize(path) {
                total += std::fs::metadata(real).map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    Some(total)
}

pub(crate) fn machine_description() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    let bpftrace = Command::new("bpftrace")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{cores} cores ({cpu}), kernel {}, {bpftrace}",
        kernel.trim()
    )
}
