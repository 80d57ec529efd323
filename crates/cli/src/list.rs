//! `ustrace -l [PATTERN]`: print the probes a pattern names.

use std::io::Write;

use anyhow::Result;

/// Writes one line per matching probe (more with `verbose`); without a
/// pattern but with a pid, every probe of that process.
pub fn list(
    out: &mut dyn Write,
    pattern: Option<&str>,
    pid: Option<u32>,
    verbose: bool,
) -> Result<()> {
    let lines = match (pattern, pid) {
        // `-l -p PID`: every function and USDT probe of the process.
        (None, Some(pid)) => ustrace::list_process_probes(pid, verbose)?,
        (pattern, pid) => ustrace::list_probes(pattern.unwrap_or("usdt:*:*:*"), pid, verbose)?,
    };
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
