//! Reading a running ustrace's output as it comes, with arrival times
//! (for tests that act while it traces: start programs, then stop it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::Guard;

/// A ustrace process whose stdout lines are collected by a thread.
pub struct Live {
    guard: Guard,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Live {
    /// Starts `cmd` with stdout read line by line.
    pub fn start(mut cmd: Command) -> Live {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning ustrace");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().expect("lines").push((Instant::now(), line));
            }
        });
        Live {
            guard: Guard(child),
            lines,
            reader: Some(reader),
        }
    }

    /// The lines so far, with their arrival times.
    pub fn lines(&self) -> Vec<(Instant, String)> {
        self.lines.lock().expect("lines").clone()
    }

    /// Waits (up to 10 s) until `count` lines satisfy `pred`.
    pub fn wait_for(&mut self, pred: impl Fn(&str) -> bool, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.lines().iter().filter(|(_, l)| pred(l)).count() >= count {
                return;
            }
            if let Ok(Some(status)) = self.guard.0.try_wait() {
                panic!("ustrace exited early ({status}): {:?}", self.lines());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for output; got {:?}", self.lines());
    }

    /// Sends SIGINT and returns all of stdout and stderr.
    pub fn stop(mut self) -> (String, String) {
        self.interrupt();
        let (lines, err) = self.finish();
        let text: String = lines.into_iter().map(|(_, l)| l + "\n").collect();
        (text, err)
    }

    /// Sends SIGINT.
    pub fn interrupt(&self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.guard.0.id() as i32, libc::SIGINT) };
    }

    /// Waits for the exit (killing after 10 s); every line and stderr.
    pub fn finish(&mut self) -> (Vec<(Instant, String)>, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.guard.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.guard.0.kill();
        let _ = self.guard.0.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let mut err = String::new();
        if let Some(mut e) = self.guard.0.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (self.lines(), err)
    }
}
