//! `ustrace -l [PATTERN]`: print the probes a pattern names.

use std::io::Write;

use anyhow::Result;

/// Writes one line per matching probe (more with `verbose`); without a
/// pattern but with a pid, every probe of that process. With a script
/// (`-e PROGRAM`, or a pattern that is a script file), the probes its
/// attach points name.
pub fn list(
    out: &mut dyn Write,
    program: Option<&str>,
    pattern: Option<&str>,
    pid: Option<u32>,
    verbose: bool,
) -> Result<()> {
    if let Some(source) = program {
        return write_lines(
            out,
            ustrace::list_script_probes(source, "stdin", pid, verbose)?,
        );
    }
    if let Some(file) = pattern.filter(|p| is_script_file(p)) {
        let source = std::fs::read_to_string(file)?;
        return write_lines(
            out,
            ustrace::list_script_probes(&source, file, pid, verbose)?,
        );
    }
    let lines = match (pattern, pid) {
        // `-l -p PID`: every function and USDT probe of the process.
        (None, Some(pid)) => ustrace::list_process_probes(pid, verbose)?,
        (pattern, pid) => ustrace::list_probes(pattern.unwrap_or("usdt:*:*:*"), pid, verbose)?,
    };
    write_lines(out, lines)
}

fn write_lines(out: &mut dyn Write, lines: Vec<String>) -> Result<()> {
    for line in lines {
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
