//! Where output goes: stdout, or the `-o FILE` given. The file is checked
//! early (no symlink of another user, not the script itself) but created
//! and truncated only once the script has compiled and attached, so a run
//! that fails leaves it as it was. Until then, output is held in memory.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{bail, Context, Result};

/// The output of a run: stdout, or a file opened on [`Output::commit`].
/// Clones share one destination (the sink writes through one, `main`
/// commits through another).
#[derive(Clone)]
pub struct Output {
    state: Rc<RefCell<State>>,
}

enum State {
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
        let state = match path {
            None => State::Stdout(BufWriter::new(std::io::stdout())),
            Some(path) => State::Pending {
                path: path.to_path_buf(),
                follow: check(path, script)?,
                held: Vec::new(),
            },
        };
        Ok(Output {
            state: Rc::new(RefCell::new(state)),
        })
    }

    /// Creates (truncates) the output file and writes what was held. Call
    /// once the script is attached; a no-op for stdout or when done.
    pub fn commit(&self) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let State::Pending { path, follow, held } = &mut *state else {
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
        *state = State::File(writer);
        Ok(())
    }
}

/// Checks `-o path`; returns whether it is a symlink to follow.
fn check(path: &Path, script: Option<&Path>) -> Result<bool> {
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
    Ok(follow)
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut *self.state.borrow_mut() {
            State::Stdout(w) => w.write(buf),
            State::Pending { held, .. } => {
                held.extend_from_slice(buf);
                Ok(buf.len())
            }
            State::File(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut *self.state.borrow_mut() {
            State::Stdout(w) => w.flush(),
            State::Pending { .. } => Ok(()),
            State::File(w) => w.flush(),
        }
    }
}
