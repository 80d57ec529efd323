//! Tables for files on disk, with the separate debug file as a fallback.

use std::path::{Path, PathBuf};

use crate::{build::table_from_elf, UnwindError, UnwindTable};

/// The table of one file and where it came from.
#[derive(Debug, Clone, Default)]
pub struct FileTable {
    /// The rows (link-time addresses of the file).
    pub table: UnwindTable,
    /// The file the rows were read from: the file itself, or its separate
    /// debug file when the file has no frame information.
    pub source: PathBuf,
}

/// Builds the table of the ELF file at `path`. When the file has neither
/// `.eh_frame` nor `.debug_frame` (or they are empty), its separate debug
/// file (build id or `.gnu_debuglink`) is tried.
pub fn table_for_file(path: &Path) -> Result<FileTable, UnwindError> {
    let data = read(path)?;
    let name = path.display().to_string();
    let table = table_from_elf(&data, &name)?;
    if !table.rows.is_empty() {
        return Ok(FileTable {
            table,
            source: path.to_path_buf(),
        });
    }
    if let Some(debug) = ustrace_probes::symbols::separate_debug_file(path, &data) {
        let data = read(&debug)?;
        let table = table_from_elf(&data, &debug.display().to_string())?;
        return Ok(FileTable {
            table,
            source: debug,
        });
    }
    Ok(FileTable {
        table,
        source: path.to_path_buf(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, UnwindError> {
    std::fs::read(path).map_err(|source| UnwindError::Read {
        path: path.display().to_string(),
        source,
    })
}
