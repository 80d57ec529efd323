//! Reading the script file: it must be a regular file. It is opened
//! without blocking (a FIFO with no writer would block `open` forever) and
//! read no further than the size it had when opened.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ustrace::probes::file_kind;

/// The text of the script file `path`.
pub fn read_script(path: &Path) -> Result<String> {
    let what = || format!("cannot read script {}", path.display());
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(what)?;
    let meta = file.metadata().with_context(what)?;
    if !meta.is_file() {
        bail!(
            "cannot read script {}: not a regular file ({})",
            path.display(),
            file_kind(&meta)
        );
    }
    let mut bytes = Vec::new();
    file.take(meta.len())
        .read_to_end(&mut bytes)
        .with_context(what)?;
    String::from_utf8(bytes).with_context(|| format!("script {} is not UTF-8", path.display()))
}
