//! Reliability (issue 16): the cleanup matrix. ustrace runs in each mode
//! (all processes, `-p`, `-c`) and is stopped by SIGINT, SIGTERM or
//! SIGKILL; afterwards the BPF programs, maps and links of THAT ustrace
//! process (read from its /proc/PID/fdinfo while it ran: other engineers'
//! tools load BPF at the same time) must be gone, the traced process's
//! probed instruction must be back to what it was and its USDT semaphore
//! back to 0, and a `-c` child must not outlive ustrace.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use common::{bpf_available, build_c, ustrace, Guard};

#[derive(Clone, Copy, Debug)]
enum Mode {
    All,
    Pid,
    Child,
}

/// Lines of a child's stdout, read on a thread.
fn lines(out: ChildStdout) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line starting with `prefix`.
fn wait_line(rx: &Receiver<String>, prefix: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.starts_with(prefix) => return Some(l),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Asks the target for its semaphore and first byte of rel_work.
fn target_state(pid: u32, rx: &Receiver<String>) -> (u32, String) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGUSR1) };
    let line = wait_line(rx, "sem=", Duration::from_secs(5)).expect("the target answers");
    let mut sem = 0;
    let mut byte = String::new();
    for part in line.split_whitespace() {
        if let Some(v) = part.strip_prefix("sem=") {
            sem = v.parse().expect("a number");
        } else if let Some(v) = part.strip_prefix("byte=") {
            byte = v.to_string();
        }
    }
    (sem, byte)
}

/// (kind, id) of every BPF program, map and link process `pid` holds.
fn bpf_objects(pid: u32) -> Vec<(&'static str, u32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let is_link = text.lines().any(|l| l.starts_with("link_id:"));
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let kind = match key {
                "link_id" => "link",
                "map_id" => "map",
                // A link's fdinfo names its program too.
                "prog_id" if !is_link => "prog",
                _ => continue,
            };
            if let Ok(id) = value.trim().parse() {
                out.push((kind, id));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// True while the kernel still has BPF object `id` of `kind`.
fn bpf_object_exists(kind: &str, id: u32) -> bool {
    let cmd: libc::c_long = match kind {
        "prog" => 13, // BPF_PROG_GET_FD_BY_ID
        "map" => 14,  // BPF_MAP_GET_FD_BY_ID
        _ => 30,      // BPF_LINK_GET_FD_BY_ID
    };
    let attr: [u32; 4] = [id, 0, 0, 0];
    // SAFETY: the bpf syscall reads the 16-byte attribute union we pass.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd >= 0 {
        // SAFETY: closing the descriptor just returned to us.
        unsafe { libc::close(fd as i32) };
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT)
}

/// Pids of live (non-zombie) processes running `exe`.
fn processes_of(exe: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .as_deref()
            != Some(exe)
        {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.trim_start().chars().next());
        if !matches!(state, Some('Z') | Some('X') | None) {
            out.push(pid);
        }
    }
    out
}

fn poll_until(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_case(mode: Mode, signal: i32) {
    let name = format!("rel-target-{mode:?}-{signal}").to_lowercase();
    let target: PathBuf = build_c(&name, "tests/c/reliability_target.c", &["-O0", "-g"]);
    let t = target.display();
    let script =
        format!("usdt:{t}:rel:tick {{ @t = count(); }} uprobe:{t}:rel_work {{ @w = count(); }}");

    // The traced process (all-process and -p modes).
    let mut traced = None;
    if !matches!(mode, Mode::Child) {
        let mut g = Guard(
            Command::new(&target)
                .stdout(Stdio::piped())
                .spawn()
                .expect("starting the target"),
        );
        let rx = lines(g.0.stdout.take().expect("stdout"));
        wait_line(&rx, "ready", Duration::from_secs(5)).expect("the target starts");
        traced = Some((g, rx));
    }
    let before = traced.as_ref().map(|(g, rx)| target_state(g.0.id(), rx));

    let mut cmd = ustrace();
    cmd.args(["-e", &script]);
    match (mode, &traced) {
        (Mode::Pid, Some((g, _))) => {
            cmd.args(["-p", &g.0.id().to_string()]);
        }
        (Mode::Child, _) => {
            cmd.args(["-c", &target.display().to_string()]);
        }
        _ => {}
    }
    let mut tracer = Guard(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting ustrace"),
    );
    let out = lines(tracer.0.stdout.take().expect("stdout"));
    wait_line(&out, "Attaching", Duration::from_secs(60)).expect("ustrace attaches");
    let tracer_pid = tracer.0.id();

    // Attached: the probe is armed in the traced process.
    if let Some((g, rx)) = &traced {
        let armed = poll_until(Duration::from_secs(30), || {
            let (sem, byte) = target_state(g.0.id(), rx);
            sem >= 1 && byte == "cc"
        });
        assert!(armed, "{mode:?}: the probes never armed in the target");
    } else {
        let started = poll_until(Duration::from_secs(30), || {
            !processes_of(&target).is_empty()
        });
        assert!(started, "the -c child never started");
    }
    let objects = bpf_objects(tracer_pid);
    for kind in ["prog", "map", "link"] {
        assert!(
            objects.iter().any(|o| o.0 == kind),
            "{mode:?}: no BPF {kind} found in ustrace's fdinfo: {objects:?}"
        );
    }

    // SAFETY: signalling our own child.
    unsafe { libc::kill(tracer_pid as i32, signal) };
    let exited = poll_until(Duration::from_secs(10), || {
        matches!(tracer.0.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "{mode:?}/{signal}: ustrace did not exit");

    let gone = poll_until(Duration::from_secs(30), || {
        objects.iter().all(|&(k, id)| !bpf_object_exists(k, id))
    });
    let left: Vec<_> = objects
        .iter()
        .filter(|&&(k, id)| bpf_object_exists(k, id))
        .collect();
    assert!(
        gone,
        "{mode:?}/{signal}: BPF objects of ustrace left behind: {left:?}"
    );

    if let Some((g, rx)) = &traced {
        let (sem, byte) = target_state(g.0.id(), rx);
        let (_, original) = before.expect("state before");
        assert_eq!(sem, 0, "{mode:?}/{signal}: semaphore left raised");
        assert_eq!(byte, original, "{mode:?}/{signal}: probe byte not restored");
    } else {
        let orphans = poll_until(Duration::from_secs(30), || processes_of(&target).is_empty());
        assert!(
            orphans,
            "{mode:?}/{signal}: the -c child outlived ustrace: {:?}",
            processes_of(&target)
        );
    }
}

macro_rules! matrix {
    ($($name:ident: $mode:expr, $sig:expr;)*) => {$(
        #[test]
        fn $name() {
            if !bpf_available(stringify!($name)) {
                return;
            }
            run_case($mode, $sig);
        }
    )*};
}

matrix! {
    all_processes_sigint: Mode::All, libc::SIGINT;
    all_processes_sigterm: Mode::All, libc::SIGTERM;
    all_processes_sigkill: Mode::All, libc::SIGKILL;
    pid_sigint: Mode::Pid, libc::SIGINT;
    pid_sigterm: Mode::Pid, libc::SIGTERM;
    pid_sigkill: Mode::Pid, libc::SIGKILL;
    child_sigint: Mode::Child, libc::SIGINT;
    child_sigterm: Mode::Child, libc::SIGTERM;
    child_sigkill: Mode::Child, libc::SIGKILL;
    child_sighup: Mode::Child, libc::SIGHUP;
}
