//! bpftrace's text output.

use std::io::{self, Write};

use super::{attaching_line, Sink};
use crate::Record;

/// Writes records as bpftrace 0.17 prints them, byte for byte.
pub struct TextSink<W: Write> {
    out: W,
}

impl<W: Write> TextSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> TextSink<W> {
        TextSink { out }
    }
}

impl<W: Write> Sink for TextSink<W> {
    fn begin(&mut self, attached_probes: usize) -> io::Result<()> {
        self.out
            .write_all(attaching_line(attached_probes).as_bytes())
    }

    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Printf { text, .. } | Record::Map { text, .. } => {
                self.out.write_all(text.as_bytes())
            }
            Record::Exit { .. } => Ok(()),
            // errorf()/warnf(): standard error, as bpftrace prints them.
            Record::Message { text, .. } => io::stderr().write_all(text.as_bytes()),
        }
    }

    fn trace_ended(&mut self) -> io::Result<()> {
        self.out.write_all(b"\n\n")
    }

    fn lost_events(&mut self, count: u64) -> io::Result<()> {
        writeln!(self.out, "Lost {count} events")
    }

    fn text(&mut self, text: &str) -> io::Result<()> {
        self.out.write_all(text.as_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
