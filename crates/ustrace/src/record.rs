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
}
