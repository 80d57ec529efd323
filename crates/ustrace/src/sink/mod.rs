//! Where a trace's output goes: the [`Sink`] trait and its text, JSON and
//! folded implementations.
//!
//! A [`Tracer`](crate::Tracer) *produces* [`Record`]s; a sink *writes* them.
//! Keeping the two apart means a new output format is one new type that
//! implements [`Sink`], without touching the tracer or the other formats.
//!
//! The caller drives a sink in this order:
//!
//! 1. [`Sink::begin`] once, before the probes are attached;
//! 2. [`Sink::record`] for every record from [`Tracer::poll`](crate::Tracer::poll)
//!    and [`Tracer::end`](crate::Tracer::end), then [`Sink::flush`] after
//!    each batch;
//! 3. [`Sink::trace_ended`] once the probes are detached, then
//!    [`Sink::record`] for each map of [`Tracer::final_maps`](crate::Tracer::final_maps);
//! 4. for a sink that [`Sink::wants_profiles`], [`Sink::profile`] for each
//!    map keyed by `ustack` ([`Tracer::stack_profiles`](crate::Tracer::stack_profiles));
//! 5. [`Sink::lost_events`] if the ring buffer overflowed, and a last
//!    [`Sink::flush`].
//!
//! [`Sink::text`] may come at any point (the `-d` debug dump).
//!
//! ```
//! use ustrace::sink::{Sink, TextSink};
//! use ustrace::Record;
//!
//! let mut out = Vec::new();
//! let mut sink = TextSink::new(&mut out);
//! sink.begin(1)?;
//! sink.record(&Record::Exit { code: 0 })?;
//! sink.lost_events(2)?;
//! sink.flush()?;
//! drop(sink);
//! assert_eq!(out, b"Attaching 1 probe...\nLost 2 events\n");
//! # Ok::<(), std::io::Error>(())
//! ```

mod folded;
mod json;
mod picture;
mod text;

use std::io;

pub use folded::FoldedSink;
pub use json::JsonSink;
pub use picture::{Picture, PictureSink};
pub use text::TextSink;

use crate::{Record, StackProfile};

/// A consumer of a trace's output. Every method returns the error of the
/// underlying writer (a closed pipe, a full disk), which ends the trace.
///
/// Implement it for a new output format; the methods without a default
/// are the ones every format has to decide about.
pub trait Sink {
    /// Called once before the probes are attached, with the number of
    /// probes as bpftrace counts them (`Attaching N probes...`).
    fn begin(&mut self, attached_probes: usize) -> io::Result<()>;

    /// One record: printf text, a map (from `print()` or at exit), or the
    /// script's `exit()`.
    fn record(&mut self, record: &Record) -> io::Result<()>;

    /// The probes are detached and END has run; the maps printed at exit
    /// follow as [`Sink::record`] calls. (bpftrace's text and JSON output
    /// put two newlines here.) The default does nothing.
    fn trace_ended(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Events the kernel dropped because the ring buffer was full; called
    /// at most once, at the end, and only when `count > 0`.
    fn lost_events(&mut self, count: u64) -> io::Result<()>;

    /// Free-form text that is not a record, e.g. the `-d` dump of the AST,
    /// instructions and verifier logs. The default drops it.
    fn text(&mut self, text: &str) -> io::Result<()> {
        let _ = text;
        Ok(())
    }

    /// True for sinks that draw stack-keyed maps from their frames
    /// ([`Sink::profile`]) rather than from the text of map records. The
    /// default is false.
    fn wants_profiles(&self) -> bool {
        false
    }

    /// One stack-keyed map with its frames (files, file offsets, build
    /// ids), at the end of the trace; called only when
    /// [`Sink::wants_profiles`]. The default drops it.
    fn profile(&mut self, profile: &StackProfile) -> io::Result<()> {
        let _ = profile;
        Ok(())
    }

    /// Writes out what is buffered. Called after each batch of records, so
    /// a user watching the output sees each event as it happens.
    fn flush(&mut self) -> io::Result<()>;
}

/// `Attaching N probes...` with bpftrace's singular for one probe.
fn attaching_line(n: usize) -> String {
    format!(
        "Attaching {} probe{}...\n",
        n,
        if n == 1 { "" } else { "s" }
    )
}
