//! Folded stacks for flame graphs (`-f folded`).

use std::io::{self, Write};

use super::{attaching_line, Sink};
use crate::output::folded;
use crate::Record;

/// Writes maps as folded stacks (`frame;frame;... N`, see
/// [`ustrace_output::folded`]); printf text passes through unchanged.
/// `Attaching N probes...` goes to stderr, so that the output holds
/// nothing but what the flame-graph tool reads.
pub struct FoldedSink<W: Write> {
    out: W,
}

impl<W: Write> FoldedSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> FoldedSink<W> {
        FoldedSink { out }
    }
}

impl<W: Write> Sink for FoldedSink<W> {
    fn begin(&mut self, attached_probes: usize) -> io::Result<()> {
        io::stderr().write_all(attaching_line(attached_probes).as_bytes())
    }

    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Printf { text, .. } => self.out.write_all(text.as_bytes()),
            Record::Map { entries, .. } => self.out.write_all(folded::map(entries).as_bytes()),
            Record::Exit { .. } => Ok(()),
            // errorf()/warnf(): standard error, as bpftrace prints them.
            Record::Message { text, .. } => io::stderr().write_all(text.as_bytes()),
        }
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
