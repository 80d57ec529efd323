//! `ustrace -l [PATTERN]`: print the probes a pattern names.

use std::io::Write;

use anyhow::Result;

/// Writes one line per matching probe (more with `verbose`).
pub fn list(
    out: &mut dyn Write,
    pattern: Option<&str>,
    pid: Option<u32>,
    verbose: bool,
) -> Result<()> {
    let lines = ustrace::list_probes(pattern.unwrap_or("usdt:*:*:*"), pid, verbose)?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
