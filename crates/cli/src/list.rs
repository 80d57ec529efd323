//! `ustrace -l [PATTERN]`: print the probes a pattern names.

use std::io::Write;

use anyhow::Result;

use crate::flags::RunFlags;

/// Writes one line per matching probe (more with `verbose`); warnings go
/// to standard error (unless --no-warnings). Without a pattern but with a
/// pid, every probe of that process. With a script (`-e PROGRAM`, or a
/// pattern that is a script file), the probes its attach points name.
pub fn list(
    out: &mut dyn Write,
    program: Option<&str>,
    pattern: Option<&str>,
    pid: Option<u32>,
    verbose: bool,
    run: &RunFlags,
) -> Result<()> {
    let listing = if let Some(source) = program {
        ustrace::list_script_probes(source, "stdin", pid, verbose)?
    } else if let Some(file) = pattern.filter(|p| is_script_file(p)) {
        let source = std::fs::read_to_string(file)?;
        ustrace::list_script_probes(&source, file, pid, verbose)?
    } else {
        match (pattern, pid) {
            // `-l -p PID`: every function and USDT probe of the process.
            (None, Some(pid)) => ustrace::list_process_probes(pid, verbose)?,
            (pattern, pid) => {
                ustrace::list_probes_with_warnings(pattern.unwrap_or("usdt:*:*:*"), pid, verbose)?
            }
        }
    };
    for warning in &listing.warnings {
        run.warn(warning);
    }
    for line in listing.lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// True when `path` is a readable text file, not an ELF file (whose probes
/// a bare path lists): bpftrace's `-l script.bt`.
fn is_script_file(path: &str) -> bool {
    let mut head = [0u8; 4];
    match std::fs::File::open(path) {
        Ok(mut f) => {
            use std::io::Read;
            let n = f.read(&mut head).unwrap_or(0);
            std::path::Path::new(path).is_file() && !(n == 4 && &head == b"\x7fELF")
        }
        Err(_) => false,
    }
}
