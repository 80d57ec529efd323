//! Where output goes: stdout, or the `-o FILE` given. The file is checked
//! early (no symlink of another user, not the script itself) but created
//! and truncated only once the script has compiled and attached, so a run
//! that fails leaves it as it was. Until then, output is held in memory.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The output of a run: stdout, or a file opened on [`Output::commit`].
pub enum Output {
    /// Standard output.
    Stdout(BufWriter<std::io::Stdout>),
    /// `-o FILE`, not yet opened: what was written so far.
    Pending {
        /// The file.
        path: PathBuf,
        /// Whether the path is a symlink (of ours) to follow.
        follow: bool,
        /// Output written before the file was opened.
        held: Vec<u8>,
    },
    /// `-o FILE`, opened.
    File(BufWriter<File>),
}

impl Output {
    /// Stdout, or `path` checked: a symlink must belong to us (or root),
    /// and the file must not be `script` (the script file read).
    pub fn new(path: Option<&Path>, script: Option<&Path>) -> Result<Output> {
        let Some(path) = path else {
            return Ok(Output::Stdout(BufWriter::new(std::io::stdout())));
        };
        let mut follow = false;
        if let Ok(link) = std::fs::symlink_metadata(path) {
            if link.file_type().is_symlink() {
                // SAFETY: geteuid has no preconditions.
                let me = unsafe { libc::geteuid() };
                if link.uid() != me && link.uid() != 0 {
                    bail!(
                        "refusing to write output through {}: a symlink owned by another user (uid {})",
                        path.display(),
                        link.uid()
                    );
                }
                follow = true;
            }
        }
        if let (Some(script), Ok(target)) = (script, std::fs::metadata(path)) {
            if let Ok(script_meta) = std::fs::metadata(script) {
                if (script_meta.dev(), script_meta.ino()) == (target.dev(), target.ino()) {
                    bail!(
                        "refusing to write output into the script file {}",
                        path.display()
                    );
                }
            }
        }
        Ok(Output::Pending {
            path: path.to_path_buf(),
            follow,
            held: Vec::new(),
        })
    }

    /// Creates (truncates) the output file and writes what was held. Call
    /// once the script is attached; a no-op for stdout or when done.
    pub fn commit(&mut self) -> Result<()> {
        let Output::Pending { path, follow, held } = self else {
            return Ok(());
        };
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true).mode(0o644);
        if !*follow {
            // A symlink planted since the check is refused, not followed.
            options.custom_flags(libc::O_NOFOLLOW);
        }
        let file = options
            .open(&*path)
            .with_context(|| format!("cannot create output file {}", path.display()))?;
        let mut writer = BufWriter::new(file);
        writer.write_all(held)?;
        *self = Output::File(writer);
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::Pending { held, .. } => {
                held.extend_from_slice(buf);
                Ok(buf.len())
            }
            Output::File(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::Pending { .. } => Ok(()),
            Output::File(w) => w.flush(),
        }
    }
}
