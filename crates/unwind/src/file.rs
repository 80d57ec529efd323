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
    /// `(file offset, link-time address, size in the file)` of each
    /// `PT_LOAD` of the file itself: what a mapping's load bias is
    /// computed from.
    pub segments: Vec<(u64, u64, u64)>,
}

/// Builds the table of the ELF file at `path`. When the file has neither
/// `.eh_frame` nor `.debug_frame` (or they are empty), its separate debug
/// file (build id or `.gnu_debuglink`) is tried.
pub fn table_for_file(path: &Path) -> Result<FileTable, UnwindError> {
    let data = read(path)?;
    let name = path.display().to_string();
    let table = table_from_elf(&data, &name)?;
    let segments = load_segments(&data);
    if !table.rows.is_empty() {
        return Ok(FileTable {
            table,
            source: path.to_path_buf(),
            segments,
        });
    }
    if let Some(debug) = ustrace_probes::symbols::separate_debug_file(path, &data) {
        let data = read(&debug)?;
        let table = table_from_elf(&data, &debug.display().to_string())?;
        return Ok(FileTable {
            table,
            source: debug,
            segments,
        });
    }
    Ok(FileTable {
        table,
        source: path.to_path_buf(),
        segments,
    })
}

/// `(file offset, link-time address, size in the file)` of each `PT_LOAD`
/// of a 64-bit ELF file (empty when it has none or is not one).
pub fn load_segments(data: &[u8]) -> Vec<(u64, u64, u64)> {
    use object::read::elf::{FileHeader, ProgramHeader};
    let Ok(header) = object::elf::FileHeader64::<object::Endianness>::parse(data) else {
        return Vec::new();
    };
    let Ok(endian) = header.endian() else {
        return Vec::new();
    };
    let Ok(phdrs) = header.program_headers(endian, data) else {
        return Vec::new();
    };
    phdrs
        .iter()
        .filter(|p| p.p_type(endian) == object::elf::PT_LOAD)
        .map(|p| (p.p_offset(endian), p.p_vaddr(endian), p.p_filesz(endian)))
        .collect()
}

fn read(path: &Path) -> Result<Vec<u8>, UnwindError> {
    std::fs::read(path).map_err(|source| UnwindError::Read {
        path: path.display().to_string(),
        source,
    })
}
