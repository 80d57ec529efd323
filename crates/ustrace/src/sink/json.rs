//! bpftrace's `-f json` output: one JSON object per line.

use std::io::{self, Write};

use super::Sink;
use crate::output::json;
use crate::Record;

/// Writes records as bpftrace 0.17's NDJSON (`-f json`).
pub struct JsonSink<W: Write> {
    out: W,
}

impl<W: Write> JsonSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> JsonSink<W> {
        JsonSink { out }
    }
}

impl<W: Write> Sink for JsonSink<W> {
    fn begin(&mut self, attached_probes: usize) -> io::Result<()> {
        self.out
            .write_all(json::attached_probes(attached_probes).as_bytes())
    }

    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Printf { text, .. } => self.out.write_all(json::printf(text).as_bytes()),
            Record::Map {
                name,
                entries,
                style,
                ..
            } => self
                .out
                .write_all(json::map(name, *style, entries).as_bytes()),
            Record::Exit { .. } => Ok(()),
            // errorf()/warnf(): standard error, as bpftrace prints them.
            Record::Message { text, .. } => io::stderr().write_all(text.as_bytes()),
        }
    }

    fn trace_ended(&mut self) -> io::Result<()> {
        // bpftrace prints these two newlines in its JSON mode too.
        self.out.write_all(b"\n\n")
    }

    fn lost_events(&mut self, count: u64) -> io::Result<()> {
        self.out.write_all(json::lost_events(count).as_bytes())
    }

    fn text(&mut self, text: &str) -> io::Result<()> {
        self.out.write_all(text.as_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
