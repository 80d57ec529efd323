//! `ustrace --info`: the system, the build, and what the kernel offers,
//! in sections as bpftrace prints them.

use std::io::Write;

use anyhow::Result;

/// Writes the report. Every kernel feature is tried for real by the
/// library (programs loaded, maps created, a uprobe attached and detached).
pub fn print(out: &mut dyn Write) -> Result<()> {
    let (release, machine) = ustrace::kernel_release();
    writeln!(out, "System")?;
    writeln!(out, "  OS: Linux {release}")?;
    writeln!(out, "  Arch: {machine}")?;
    writeln!(out)?;
    writeln!(out, "Build")?;
    writeln!(out, "  version: ustrace {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(
        out,
        "  code generation: built in (no LLVM, no clang, no kernel headers)"
    )?;
    let mut section = "";
    for f in ustrace::probe_features() {
        if f.section != section {
            section = f.section;
            writeln!(out)?;
            writeln!(out, "{section}")?;
        }
        let answer = if f.available { "yes" } else { "no" };
        if f.detail.is_empty() {
            writeln!(out, "  {}: {answer}", f.name)?;
        } else {
            writeln!(out, "  {}: {answer} ({})", f.name, f.detail)?;
        }
    }
    Ok(())
}
