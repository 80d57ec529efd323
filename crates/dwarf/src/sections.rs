//! Reading the DWARF sections of an ELF file into gimli, decompressing
//! `SHF_COMPRESSED` (zlib) sections as Debian's debug files have them.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use object::{CompressionFormat, Object, ObjectSection};

use crate::error::DwarfError;

/// The gimli reader over owned, shared section bytes.
pub(crate) type Reader = gimli::EndianArcSlice<gimli::LittleEndian>;

/// A decompressed section larger than this is refused as corrupt (the
/// biggest debug files seen here are a few hundred MiB).
const MAX_SECTION: u64 = 2 << 30;

/// True when the ELF file `data` has a non-empty `.debug_info`.
pub(crate) fn has_debug_info(path: &Path, data: &[u8]) -> Result<bool, DwarfError> {
    let file = parse(path, data)?;
    Ok(file
        .section_by_name(".debug_info")
        .is_some_and(|s| s.size() > 0))
}

/// The DWARF of the ELF file `data` (`path` names it in errors).
pub(crate) fn load_dwarf(path: &Path, data: &[u8]) -> Result<gimli::Dwarf<Reader>, DwarfError> {
    let file = parse(path, data)?;
    let mut dwarf = gimli::Dwarf::load(|id: gimli::SectionId| -> Result<Reader, DwarfError> {
        let bytes = section_bytes(path, &file, id.name())?;
        Ok(Reader::new(Arc::from(bytes), gimli::LittleEndian))
    })?;
    // Abbreviation tables shared by many units are parsed once.
    dwarf.populate_abbreviations_cache(gimli::AbbreviationsCacheStrategy::Duplicates);
    Ok(dwarf)
}

fn parse<'d>(path: &Path, data: &'d [u8]) -> Result<object::File<'d>, DwarfError> {
    object::File::parse(data).map_err(|e| DwarfError::Corrupt {
        path: path.to_path_buf(),
        what: format!("bad ELF file ({e})"),
    })
}

/// The bytes of section `name`, decompressed; empty when absent.
fn section_bytes(path: &Path, file: &object::File<'_>, name: &str) -> Result<Vec<u8>, DwarfError> {
    let Some(section) = file.section_by_name(name) else {
        return Ok(Vec::new());
    };
    let corrupt = |what: String| DwarfError::Corrupt {
        path: path.to_path_buf(),
        what,
    };
    let compressed = section
        .compressed_data()
        .map_err(|e| corrupt(format!("section {name}: {e}")))?;
    match compressed.format {
        CompressionFormat::None => Ok(compressed.data.to_vec()),
        CompressionFormat::Zlib => {
            let size = compressed.uncompressed_size;
            if size > MAX_SECTION {
                return Err(corrupt(format!(
                    "section {name} claims {size} bytes uncompressed"
                )));
            }
            // Never trust the claimed size for the allocation up front.
            let mut out = Vec::with_capacity(size.min(compressed.data.len() as u64 * 8) as usize);
            flate2::read::ZlibDecoder::new(compressed.data)
                .take(size)
                .read_to_end(&mut out)
                .map_err(|e| corrupt(format!("section {name} does not decompress ({e})")))?;
            if out.len() as u64 != size {
                return Err(corrupt(format!(
                    "section {name} decompresses to {} bytes, not {size}",
                    out.len()
                )));
            }
            Ok(out)
        }
        other => Err(DwarfError::UnsupportedCompression {
            path: path.to_path_buf(),
            section: name.to_string(),
            format: match other {
                CompressionFormat::Zstandard => "zstd".to_string(),
                f => format!("{f:?}"),
            },
        }),
    }
}
