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

/// Loads the supplementary file `sup_data` (`sup_path`; a dwz common
/// file) into `dwarf`, for the entries and strings it shares.
pub(crate) fn load_supplementary(
    dwarf: &mut gimli::Dwarf<Reader>,
    sup_path: &Path,
    sup_data: &[u8],
) -> Result<(), DwarfError> {
    let file = parse(sup_path, sup_data)?;
    dwarf.load_sup(|id: gimli::SectionId| -> Result<Reader, DwarfError> {
        let bytes = section_bytes(sup_path, &file, id.name())?;
        Ok(Reader::new(Arc::from(bytes), gimli::LittleEndian))
    })
}

/// The file `.gnu_debugaltlink` names (dwz moves what several debug files
/// share into one), with its build id: `None` when the section is absent.
pub(crate) fn alt_link(path: &Path, data: &[u8]) -> Result<Option<(String, Vec<u8>)>, DwarfError> {
    let file = parse(path, data)?;
    let Some(section) = file.section_by_name(".gnu_debugaltlink") else {
        return Ok(None);
    };
    let bytes = section.data().map_err(|e| DwarfError::Corrupt {
        path: path.to_path_buf(),
        what: format!("section .gnu_debugaltlink: {e}"),
    })?;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let name = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let build_id = bytes.get(end + 1..).unwrap_or_default().to_vec();
    Ok(Some((name, build_id)))
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
            let mut out = Vec::with_capacity(
                size.min((compressed.data.len() as u64).saturating_mul(8)) as usize,
            );
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
