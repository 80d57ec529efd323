//! Stack walks: in-BPF cost of `@[ustack] = count()` on a 30-frame stack,
//! built with and without frame pointers, ustrace (unwind tables) beside
//! bpftrace (frame pointers); and the time and memory of building unwind
//! tables for python3.11 + libc.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{prog_ids, prog_stats, Bench, Tool};

/// Frames between main and the probe.
const DEPTH: &str = "30";

impl Bench {
    /// The stack-walk rows (`--only unwind` runs just these).
    pub(crate) fn stack_walks(&mut self) {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/c/unwind_deep.c");
        let builds = [
            (
                "no frame pointers (-O2 -fomit-frame-pointer)",
                "deep_nofp",
                "-fomit-frame-pointer",
            ),
            (
                "frame pointers (-O2 -fno-omit-frame-pointer)",
                "deep_fp",
                "-fno-omit-frame-pointer",
            ),
        ];
        let _ = std::fs::write("/proc/sys/kernel/bpf_stats_enabled", "1");
        for (label, out, flag) in builds {
            let bin = self.work.join(out);
            let ok = Command::new("gcc")
                .args(["-O2", "-g", flag])
                .arg(&src)
                .arg("-o")
                .arg(&bin)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("  cannot build {}", src.display());
                return;
            }
            let mut ns = Vec::new();
            for t in [Tool::Ustrace, Tool::Bpftrace] {
                ns.push(walk_cost(self.tool(t), &bin));
            }
            self.push(
                "stack walk",
                &format!("@[ustack] = count(), 30 frames, {label}: in BPF"),
                "ns/run",
                ns[0],
                ns[1],
            );
        }
        let files = ["/usr/bin/python3.11", "/usr/lib/x86_64-linux-gnu/libc.so.6"];
        let t0 = Instant::now();
        let mut bytes = 0usize;
        for f in files {
            match ustrace_unwind::table_for_file(Path::new(f)) {
                Ok(t) => bytes += t.table.encoded_size(),
                Err(e) => {
                    eprintln!("  {e}");
                    return;
                }
            }
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        self.push(
            "stack walk",
            "unwind tables python3.11 + libc: build",
            "ms",
            Some(ms),
            None,
        );
        self.push(
            "stack walk",
            "unwind tables python3.11 + libc: size in the rows map",
            "KiB",
            Some(bytes as f64 / 1024.0),
            None,
        );
    }
}

/// Mean in-BPF ns per run of `@[ustack] = count()` at deep:bottom while
/// `bin` recurses 30 deep in a loop, traced by pid.
fn walk_cost(tool: &Path, bin: &Path) -> Option<f64> {
    let mut target = Command::new(bin)
        .args(["0", "4000", DEPTH])
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    let pid = target.id().to_string();
    let before = prog_ids();
    let script = format!(
        "usdt:{}:deep:bottom {{ @[ustack] = count(); }}",
        bin.display()
    );
    let mut tracer = Command::new(tool)
        .args(["-p", &pid, "-e", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // Attach, load tables, then measure one second of hits.
    std::thread::sleep(Duration::from_millis(1500));
    let stats = |ids: &std::collections::BTreeSet<u32>| {
        ids.iter()
            .filter_map(|id| prog_stats(*id))
            .fold((0u64, 0u64), |a, (c, n, _)| (a.0 + c, a.1 + n))
    };
    let ids: std::collections::BTreeSet<u32> = prog_ids().difference(&before).copied().collect();
    let (c0, n0) = stats(&ids);
    std::thread::sleep(Duration::from_secs(1));
    let (c1, n1) = stats(&ids);
    // SAFETY: signalling our own children.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    let _ = tracer.wait();
    let _ = target.kill();
    let _ = target.wait();
    (c1 > c0).then(|| (n1 - n0) as f64 / (c1 - c0) as f64)
}
