//! Reading a running ustrace's output as it comes, with arrival times
//! (for tests that act while it traces: start programs, then stop it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{ustrace, wait_for_file, Guard};

/// Lines of one output stream with their arrival times.
type Lines = Arc<Mutex<Vec<(Instant, String)>>>;

/// A ustrace process whose stdout and stderr lines are collected by two
/// threads as they arrive.
pub struct Live {
    guard: Guard,
    lines: Lines,
    err_lines: Lines,
    readers: Vec<JoinHandle<()>>,
    /// The exit status, once [`Live::finish`] has waited for it.
    status: Option<ExitStatus>,
}

/// A thread that appends each line of `stream` to `sink` when it arrives.
fn read_lines(stream: impl Read + Send + 'static, sink: Lines) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().expect("lines").push((Instant::now(), line));
        }
    })
}

impl Live {
    /// Starts `cmd` with stdout and stderr read line by line.
    pub fn start(mut cmd: Command) -> Live {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning ustrace");
        let lines = Lines::default();
        let err_lines = Lines::default();
        let readers = vec![
            read_lines(child.stdout.take().expect("stdout"), lines.clone()),
            read_lines(child.stderr.take().expect("stderr"), err_lines.clone()),
        ];
        Live {
            guard: Guard(child),
            lines,
            err_lines,
            readers,
            status: None,
        }
    }

    /// The stdout lines so far, with their arrival times.
    pub fn lines(&self) -> Vec<(Instant, String)> {
        self.lines.lock().expect("lines").clone()
    }

    /// Waits until `count` stdout lines satisfy `pred` (a readiness
    /// handshake: 60 s at most, a backstop for a machine too loaded to
    /// attach).
    pub fn wait_for(&mut self, pred: impl Fn(&str) -> bool, count: usize) {
        let lines = self.lines.clone();
        self.wait_on(&lines, pred, count);
    }

    /// [`Live::wait_for`] on stderr lines (output that `-B` does not
    /// buffer, such as `warnf`).
    pub fn wait_for_stderr(&mut self, pred: impl Fn(&str) -> bool, count: usize) {
        let lines = self.err_lines.clone();
        self.wait_on(&lines, pred, count);
    }

    fn wait_on(&mut self, lines: &Lines, pred: impl Fn(&str) -> bool, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let seen = lines
                .lock()
                .expect("lines")
                .iter()
                .filter(|(_, l)| pred(l))
                .count();
            if seen >= count {
                return;
            }
            if let Ok(Some(status)) = self.guard.0.try_wait() {
                panic!(
                    "ustrace exited early ({status}): {:?}\nstderr: {:?}",
                    self.lines(),
                    self.err_lines.lock().expect("lines")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for output; got {:?}\nstderr: {:?}",
            self.lines(),
            self.err_lines.lock().expect("lines")
        );
    }

    /// Sends SIGINT and returns all of stdout and stderr.
    pub fn stop(mut self) -> (String, String) {
        self.interrupt();
        let (lines, err) = self.finish();
        let text: String = lines.into_iter().map(|(_, l)| l + "\n").collect();
        (text, err)
    }

    /// Sends SIGINT and returns ustrace's output (stdout, stderr and exit
    /// status).
    pub fn stop_output(self) -> Output {
        self.interrupt();
        self.output()
    }

    /// Waits for ustrace to exit (by itself, or after [`Live::interrupt`];
    /// killed after 10 s) and returns its output.
    pub fn output(mut self) -> Output {
        let (lines, err) = self.finish();
        let text: String = lines.into_iter().map(|(_, l)| l + "\n").collect();
        Output {
            status: self.status.expect("the exit status"),
            stdout: text.into_bytes(),
            stderr: err.into_bytes(),
        }
    }

    /// Closes ustrace's stdin (started with `Stdio::piped()`), which a `-c`
    /// program reading it sees as end of input.
    pub fn close_stdin(&mut self) {
        drop(self.guard.0.stdin.take().expect("ustrace's stdin is piped"));
    }

    /// Sends SIGINT.
    pub fn interrupt(&self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.guard.0.id() as i32, libc::SIGINT) };
    }

    /// Waits for the exit (killing after 10 s); every stdout line and
    /// stderr.
    pub fn finish(&mut self) -> (Vec<(Instant, String)>, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.guard.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.guard.0.kill();
        self.status = self.guard.0.wait().ok();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let err: String = self
            .err_lines
            .lock()
            .expect("lines")
            .iter()
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        (self.lines(), err)
    }
}

/// Runs `ustrace tool ustat INTERVAL` over test programs that take the file
/// name `go`: each creates `GO.PID.ready` once it runs, waits for `GO`
/// before its known work, creates `GO.PID.done` after it and then lingers
/// (until its stdin closes). Waits for the programs `pids` to be ready
/// (however long a loaded machine takes), starts ustat, creates `go` once
/// ustat says it traces, waits until every program is done and ustat has
/// printed two more tables (the first may have been read before the last
/// of the work), and interrupts it: (ustat's lines after its first, its
/// output).
pub fn ustat_with_go(interval: &str, go: &Path, pids: &[u32]) -> (String, Output) {
    let marker = |pid: &u32, what: &str| PathBuf::from(format!("{}.{pid}.{what}", go.display()));
    for pid in pids {
        wait_for_file(&marker(pid, "ready"), Duration::from_secs(60));
        let _ = std::fs::remove_file(marker(pid, "ready"));
    }
    let mut cmd = ustrace();
    cmd.args(["tool", "ustat", interval]);
    let mut live = Live::start(cmd);
    live.wait_for(|_| true, 1);
    let first = live.lines()[0].1.clone();
    assert!(first.starts_with("Tracing... Output every "), "{first}");
    std::fs::write(go, b"").expect("creating the go file");
    for pid in pids {
        wait_for_file(&marker(pid, "done"), Duration::from_secs(120));
        let _ = std::fs::remove_file(marker(pid, "done"));
    }
    let table = |l: &str| l.starts_with("PID ");
    let tables = live.lines().iter().filter(|(_, l)| table(l)).count();
    live.wait_for(table, tables + 2);
    let _ = std::fs::remove_file(go);
    let out = live.stop_output();
    let text = String::from_utf8_lossy(&out.stdout);
    let rest: Vec<&str> = text.lines().skip(1).collect();
    (rest.join("\n"), out)
}
