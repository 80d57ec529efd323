//! A running script: events in, formatted records out.

use std::time::{Duration, Instant};

use ustrace_output::Value;
use ustrace_runtime::{Arg, Event, Session};

use crate::{Error, Script};

/// One thing a running script produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A `printf`: the formatted text and the raw arguments.
    Printf {
        /// The text, formatted as bpftrace would.
        text: String,
        /// The format string.
        format: String,
        /// The arguments.
        args: Vec<Value>,
    },
    /// The script called `exit(code)`.
    Exit {
        /// The code.
        code: i64,
    },
}

/// Attached programs of a [`Script`]. Dropping it detaches everything.
pub struct Tracer<'s> {
    script: &'s Script,
    session: Session,
    next_interval: Vec<(u64, Duration, Instant)>,
    exited: Option<i64>,
}

impl<'s> Tracer<'s> {
    pub(crate) fn new(script: &'s Script, session: Session) -> Tracer<'s> {
        let now = Instant::now();
        let next_interval = session
            .intervals()
            .iter()
            .map(|&(id, ns)| {
                let d = Duration::from_nanos(ns.max(1));
                (id, d, now + d)
            })
            .collect();
        Tracer { script, session, next_interval, exited: None }
    }

    /// Runs the BEGIN blocks.
    pub fn begin(&mut self) {
        self.session.run_begin();
    }

    /// Waits up to `timeout_ms` for events (also running due `interval`
    /// probes) and returns what arrived. After an `exit()` record, later
    /// records are dropped, as bpftrace does.
    pub fn poll(&mut self, timeout_ms: i32) -> Result<Vec<Record>, Error> {
        let mut timeout = timeout_ms;
        if let Some(next) = self.next_interval.iter().map(|i| i.2).min() {
            let left = next.saturating_duration_since(Instant::now()).as_millis() as i32;
            timeout = timeout.min(left.max(0));
        }
        let raw = self
            .session
            .poll(timeout)
            .map_err(|e| Error::Kernel { message: e.to_string(), details: String::new() })?;
        let mut out = self.decode(raw);
        let now = Instant::now();
        let mut fired = false;
        for i in 0..self.next_interval.len() {
            let (id, period, due) = self.next_interval[i];
            if now >= due {
                self.session.run_interval(id);
                self.next_interval[i].2 = due + period;
                fired = true;
            }
        }
        if fired {
            let raw = self
                .session
                .drain()
                .map_err(|e| Error::Kernel { message: e.to_string(), details: String::new() })?;
            out.extend(self.decode(raw));
        }
        Ok(out)
    }

    /// Detaches the probes, runs END, and returns what is left in the
    /// buffer (END's output included).
    pub fn end(&mut self) -> Result<Vec<Record>, Error> {
        self.session.detach();
        let raw = self
            .session
            .drain()
            .map_err(|e| Error::Kernel { message: e.to_string(), details: String::new() })?;
        let mut out = self.decode(raw);
        self.exited = None;
        self.session.run_end();
        let raw = self
            .session
            .drain()
            .map_err(|e| Error::Kernel { message: e.to_string(), details: String::new() })?;
        out.extend(self.decode(raw));
        Ok(out)
    }

    /// Events dropped so far because the ring buffer was full.
    pub fn lost_events(&self) -> u64 {
        self.session.lost_events()
    }

    /// The exit code passed to `exit()`, once it has been called.
    pub fn exit_code(&self) -> Option<i64> {
        self.exited
    }

    /// Verifier logs of the loaded programs (with `verifier_log`).
    pub fn verifier_logs(&self) -> Vec<String> {
        self.session.verifier_logs().map(str::to_string).collect()
    }

    fn decode(&mut self, raw: Vec<Vec<u8>>) -> Vec<Record> {
        let mut out = Vec::new();
        for rec in raw {
            if self.exited.is_some() {
                break;
            }
            match ustrace_runtime::decode(&self.script.compiled, &rec) {
                Some(Event::Printf { id, args }) => {
                    let values: Vec<Value> = args.into_iter().map(to_value).collect();
                    let Some(format) = self.script.formats.get(id) else { continue };
                    let text = ustrace_output::render_printf(format, &values);
                    let fmt = self.script.compiled.printfs.get(id).map(|p| p.format.clone()).unwrap_or_default();
                    out.push(Record::Printf { text, format: fmt, args: values });
                }
                Some(Event::Exit { code }) => {
                    self.exited = Some(code);
                    out.push(Record::Exit { code });
                }
                None => {}
            }
        }
        out
    }
}

fn to_value(a: Arg) -> Value {
    match a {
        Arg::Int(v, true) => Value::Int(v),
        Arg::Int(v, false) => Value::UInt(v as u64),
        Arg::Str(s) => Value::Str(s),
        Arg::Probe(p) => Value::Str(p.into_bytes()),
    }
}
