//! `ustrace -l [PATTERN]`: print the probes a pattern names.

use std::io::Write;

use anyhow::Result;

/// Writes one line per matching probe (more with `verbose`); warnings go
/// to standard error.
pub fn list(
    out: &mut dyn Write,
    pattern: Option<&str>,
    pid: Option<u32>,
    verbose: bool,
) -> Result<()> {
    let listing =
        ustrace::list_probes_with_warnings(pattern.unwrap_or("usdt:*:*:*"), pid, verbose)?;
    for warning in &listing.warnings {
        eprintln!("WARNING: {warning}");
    }
    for line in listing.lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
