//! What a running script produces.

use ustrace_output::{MapEntry, MapStyle, Value};

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
        /// Who printed it, where and when (with
        /// [`crate::ScriptOptions::event_context`]).
        context: Option<crate::EventContext>,
    },
    /// A map to show: from `print(@m)`, or each non-empty map at the end.
    Map {
        /// The map's name, with `@`.
        name: String,
        /// Its entries (unsorted; `text` has bpftrace's order).
        entries: Vec<MapEntry>,
        /// How it prints (plain, avg/stats, histogram), from its layout.
        style: MapStyle,
        /// The map as bpftrace prints it.
        text: String,
    },
    /// The script called `exit(code)`.
    Exit {
        /// The code.
        code: i64,
    },
    /// A message for standard error: `errorf()`, `warnf()`, a failed
    /// `assert()`, a file `cat()` could not read.
    Message {
        /// Error or warning.
        level: MessageLevel,
        /// The whole line as bpftrace prints it, with its newline, e.g.
        /// `stdin:1:9-62: ERROR: Something bad with args: 10, arg2\n`.
        text: String,
    },
}

/// How serious a [`Record::Message`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageLevel {
    /// `errorf()`, a failed `assert()`, a failed `cat()`.
    Error,
    /// `warnf()` (silenced by the CLI's `--no-warnings`).
    Warning,
}
