//! bpftrace's run-control flags: `-q`, `-B`, `--dry-run`, `--info`,
//! `--no-warnings`, `-k` and `--usdt-file-activation`, with their meaning
//! as bpftrace's manual gives it. Grouped here (flattened into the main
//! flag table) so the rest of the CLI only asks questions of them.

use std::io::Write;

use clap::{Args, ValueEnum};

/// Flags that change how a run reports and ends, not what it traces.
#[derive(Args, Debug, Clone, Default)]
pub struct RunFlags {
    /// Quiet: do not print the `Attaching N probes...` line.
    #[arg(short = 'q')]
    pub quiet: bool,

    /// Output buffering: none (every write at once), line (complete lines,
    /// the default) or full (when 64 KiB are pending, and at exit).
    #[arg(short = 'B', value_name = "MODE", value_enum, default_value_t = BufferMode::Line)]
    pub buffering: BufferMode,

    /// Compile, resolve, load and attach every probe, then exit at once
    /// (BEGIN does not run): checks that a script would work.
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Print what this kernel offers (uprobe_multi, cookies, ring buffer,
    /// BTF, uprobe nop optimizations, map types), each tried for real.
    #[arg(long = "info")]
    pub info: bool,

    /// Suppress warning messages.
    #[arg(long = "no-warnings")]
    pub no_warnings: bool,

    /// Emit a warning when a probe read helper returns an error (a read
    /// of user memory that failed and gave zeros), with the script
    /// location; without it, failed reads are only counted at exit.
    #[arg(short = 'k')]
    pub helper_errors: bool,

    /// Accepted for bpftrace compatibility: the kernel counts USDT
    /// semaphores (ref_ctr_offset) in every process that maps the file,
    /// those started later included, so they are always activated by file.
    #[arg(long = "usdt-file-activation")]
    pub usdt_file_activation: bool,
}

impl RunFlags {
    /// Prints `WARNING: message` on stderr unless `--no-warnings`.
    pub fn warn(&self, message: &str) {
        if !self.no_warnings {
            crate::signals::report(&format!("WARNING: {message}"));
        }
    }
}

/// When output reaches its destination (bpftrace's `-B`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BufferMode {
    /// Each write goes out at once.
    None,
    /// Complete lines go out when the tracer has handled a batch of
    /// events (and whenever 64 KiB are pending).
    #[default]
    Line,
    /// Output goes out in 64 KiB blocks, and at exit.
    Full,
}

/// How much `full` (and `line`, without a newline) keeps before writing.
const BLOCK: usize = 64 * 1024;

/// A writer that hands data to `inner` as a [`BufferMode`] says. The
/// tracer calls `flush` after each batch of events; what that writes
/// depends on the mode. Everything pending is written when it is dropped.
pub struct Buffered<W: Write> {
    inner: W,
    mode: BufferMode,
    pending: Vec<u8>,
}

impl<W: Write> Buffered<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, mode: BufferMode) -> Buffered<W> {
        Buffered {
            inner,
            mode,
            pending: Vec::new(),
        }
    }

    /// Writes the first `n` pending bytes to `inner` and flushes it.
    fn write_out(&mut self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.inner.write_all(&self.pending[..n])?;
            self.pending.drain(..n);
        }
        self.inner.flush()
    }
}

impl<W: Write> Write for Buffered<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.mode == BufferMode::None {
            self.inner.write_all(buf)?;
            self.inner.flush()?;
            return Ok(buf.len());
        }
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= BLOCK {
            self.write_out(self.pending.len())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.mode {
            BufferMode::None => self.inner.flush(),
            BufferMode::Line => {
                let complete = self
                    .pending
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                self.write_out(complete)
            }
            BufferMode::Full => Ok(()),
        }
    }
}

impl<W: Write> Drop for Buffered<W> {
    fn drop(&mut self) {
        let n = self.pending.len();
        let _ = self.write_out(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A sink that records what reached it.
    #[derive(Clone, Default)]
    struct Sink(Rc<RefCell<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn seen(s: &Sink) -> String {
        String::from_utf8_lossy(&s.0.borrow()).into_owned()
    }

    proptest::proptest! {
        /// Whatever the writes and flushes, every byte arrives once and in
        /// order; `none` is never behind, `line` stops at line ends.
        #[test]
        fn every_byte_arrives_in_order(
            ops in proptest::collection::vec(
                proptest::option::of(proptest::collection::vec(
                    proptest::sample::select(vec![b'a', b'\n']), 0..200)),
                0..40),
            mode in proptest::sample::select(vec![BufferMode::None, BufferMode::Line, BufferMode::Full]),
        ) {
            let sink = Sink::default();
            let mut b = Buffered::new(sink.clone(), mode);
            let mut written = Vec::new();
            for op in ops {
                match op {
                    Some(chunk) => {
                        b.write_all(&chunk).unwrap();
                        written.extend(chunk);
                    }
                    None => b.flush().unwrap(),
                }
                let got = sink.0.borrow().clone();
                proptest::prop_assert!(written.starts_with(&got));
                if mode == BufferMode::None {
                    proptest::prop_assert_eq!(&got, &written);
                }
            }
            drop(b);
            proptest::prop_assert_eq!(sink.0.borrow().clone(), written);
        }
    }

    #[test]
    fn none_writes_at_once() {
        let sink = Sink::default();
        let mut b = Buffered::new(sink.clone(), BufferMode::None);
        b.write_all(b"par").unwrap();
        assert_eq!(seen(&sink), "par");
    }

    #[test]
    fn line_writes_complete_lines_on_flush() {
        let sink = Sink::default();
        let mut b = Buffered::new(sink.clone(), BufferMode::Line);
        b.write_all(b"one\ntw").unwrap();
        assert_eq!(seen(&sink), "");
        b.flush().unwrap();
        assert_eq!(seen(&sink), "one\n");
        b.write_all(b"o\n").unwrap();
        b.flush().unwrap();
        assert_eq!(seen(&sink), "one\ntwo\n");
        b.write_all(b"tail").unwrap();
        drop(b);
        assert_eq!(seen(&sink), "one\ntwo\ntail");
    }

    #[test]
    fn full_waits_for_a_block_or_the_end() {
        let sink = Sink::default();
        let mut b = Buffered::new(sink.clone(), BufferMode::Full);
        b.write_all(b"line\n").unwrap();
        b.flush().unwrap();
        assert_eq!(seen(&sink), "");
        b.write_all(&vec![b'x'; BLOCK]).unwrap();
        assert_eq!(sink.0.borrow().len(), BLOCK + 5);
        b.write_all(b"end\n").unwrap();
        drop(b);
        assert!(seen(&sink).ends_with("xend\n"));
    }
}
