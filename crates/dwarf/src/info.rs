//! [`DebugInfo`]: the DWARF of one ELF file (or of its separate debug
//! file), its compile units, and the index of functions and named types.

use std::path::{Path, PathBuf};

use crate::error::DwarfError;
use crate::index::Index;
use crate::sections::{alt_link, has_debug_info, load_dwarf, load_supplementary, Reader};
use crate::types::Language;

/// Where `.debug_types` units start in the one offset space of
/// [`DieRef`] keys (past any real `.debug_info` offset).
const TYPES_SECTION_BASE: u64 = 1 << 48;

/// Where the supplementary (dwz) file's `.debug_info` starts in that space.
const SUPPLEMENTARY_BASE: u64 = 2 << 48;

/// One compile unit.
pub(crate) struct UnitEntry {
    pub(crate) unit: gimli::Unit<Reader>,
    /// The `.debug_info` offset of its header.
    pub(crate) start: u64,
    pub(crate) language: Language,
    /// True for units of the supplementary (dwz) file.
    pub(crate) supplementary: bool,
}

/// A debugging information entry: its unit (an index into
/// [`DebugInfo::units`]) and its offset in that unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DieRef {
    pub(crate) unit: usize,
    pub(crate) offset: gimli::UnitOffset<usize>,
}

/// The debug information of an ELF file, read once and then queried for
/// functions ([`DebugInfo::function_at`], [`DebugInfo::function_named`])
/// and types ([`DebugInfo::type_named`]).
pub struct DebugInfo {
    path: PathBuf,
    dwarf_path: PathBuf,
    pub(crate) dwarf: gimli::Dwarf<Reader>,
    pub(crate) units: Vec<UnitEntry>,
    /// DWARF 5 type units (`-fdebug-types-section`): the type each
    /// signature names.
    type_units: std::collections::HashMap<u64, DieRef>,
    pub(crate) index: Index,
}

impl std::fmt::Debug for DebugInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebugInfo")
            .field("path", &self.path)
            .field("dwarf_path", &self.dwarf_path)
            .field("units", &self.units.len())
            .finish()
    }
}

impl DebugInfo {
    /// Reads the DWARF of the ELF file `path`: from the file itself when it
    /// has `.debug_info`, otherwise from its separate debug file (found by
    /// build id or `.gnu_debuglink` under `/usr/lib/debug`, as the symbol
    /// lookup finds it). Neither: [`DwarfError::NoDebugInfo`].
    pub fn open(path: &Path) -> Result<DebugInfo, DwarfError> {
        // Regular files only, read no further than their size (the
        // symbol lookup's reader: a FIFO or a device never blocks us).
        let data = ustrace_probes::read_file(path)?;
        if has_debug_info(path, &data)? {
            return DebugInfo::from_bytes(path, path, &data);
        }
        let Some(debug) = ustrace_probes::separate_debug_file(path, &data) else {
            return Err(DwarfError::NoDebugInfo {
                path: path.to_path_buf(),
            });
        };
        let debug_data = ustrace_probes::read_file(&debug)?;
        if !has_debug_info(&debug, &debug_data)? {
            return Err(DwarfError::NoDebugInfo {
                path: path.to_path_buf(),
            });
        }
        DebugInfo::from_bytes(path, &debug, &debug_data)
    }

    /// Reads the DWARF in `data`, the bytes of `dwarf_path`, on behalf of
    /// `path` (the file that will be probed; they differ for a separate
    /// debug file). A file without DWARF gives [`DwarfError::NoDebugInfo`].
    pub fn from_bytes(
        path: &Path,
        dwarf_path: &Path,
        data: &[u8],
    ) -> Result<DebugInfo, DwarfError> {
        if !has_debug_info(dwarf_path, data)? {
            return Err(DwarfError::NoDebugInfo {
                path: path.to_path_buf(),
            });
        }
        let mut dwarf = load_dwarf(dwarf_path, data)?;
        if let Some((name, build_id)) = alt_link(dwarf_path, data)? {
            let Some(sup_path) = find_supplementary(dwarf_path, &name, &build_id) else {
                return Err(DwarfError::MissingSupplementary {
                    path: dwarf_path.to_path_buf(),
                    supplementary: name,
                });
            };
            let sup_data = ustrace_probes::read_file(&sup_path)?;
            load_supplementary(&mut dwarf, &sup_path, &sup_data)?;
        }
        let mut info = DebugInfo {
            path: path.to_path_buf(),
            dwarf_path: dwarf_path.to_path_buf(),
            dwarf,
            units: Vec::new(),
            type_units: std::collections::HashMap::new(),
            index: Index::default(),
        };
        info.read_units()?;
        info.index = Index::build(&info)?;
        Ok(info)
    }

    /// The file this debug information describes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file the DWARF was read from (`path` itself, or its separate
    /// debug file).
    pub fn dwarf_path(&self) -> &Path {
        &self.dwarf_path
    }

    fn read_units(&mut self) -> Result<(), DwarfError> {
        let mut headers = self.dwarf.units();
        loop {
            match headers.next() {
                Ok(Some(h)) => self.add_unit(h, 0)?,
                Ok(None) => break,
                Err(e) => return Err(self.corrupt(e)),
            }
        }
        // DWARF 4 type units (`.debug_types`), keyed past every
        // `.debug_info` offset so the two never collide.
        let mut headers = self.dwarf.type_units();
        loop {
            match headers.next() {
                Ok(Some(h)) => self.add_unit(h, TYPES_SECTION_BASE)?,
                Ok(None) => break,
                Err(e) => return Err(self.corrupt(e)),
            }
        }
        // The units a dwz supplementary file holds (shared types).
        if let Some(sup) = self.dwarf.sup.clone() {
            let mut headers = sup.units();
            loop {
                match headers.next() {
                    Ok(Some(h)) => self.add_unit(h, SUPPLEMENTARY_BASE)?,
                    Ok(None) => break,
                    Err(e) => return Err(self.corrupt(e)),
                }
            }
        }
        Ok(())
    }

    /// The gimli DWARF unit `unit` belongs to (the file's, or its
    /// supplementary file's).
    pub(crate) fn dwarf_of(&self, unit: usize) -> &gimli::Dwarf<Reader> {
        match (self.units.get(unit), self.dwarf.sup()) {
            (Some(u), Some(sup)) if u.supplementary => sup,
            _ => &self.dwarf,
        }
    }

    /// Parses one unit whose header is at `base` + its section offset.
    fn add_unit(&mut self, header: gimli::UnitHeader<Reader>, base: u64) -> Result<(), DwarfError> {
        let start = base + header.offset().0 as u64;
        if let gimli::UnitType::Type {
            type_signature,
            type_offset,
        } = header.type_()
        {
            self.type_units.insert(
                type_signature.0,
                DieRef {
                    unit: self.units.len(),
                    offset: type_offset,
                },
            );
        }
        let supplementary = base == SUPPLEMENTARY_BASE;
        let dwarf = match self.dwarf.sup() {
            Some(sup) if supplementary => sup,
            _ => &self.dwarf,
        };
        let unit = dwarf.unit(header).map_err(|e| self.corrupt(e))?;
        let language = unit_language(&unit);
        self.units.push(UnitEntry {
            unit,
            start,
            language,
            supplementary,
        });
        Ok(())
    }

    /// A [`DwarfError::Corrupt`] naming the DWARF file.
    pub(crate) fn corrupt(&self, e: impl std::fmt::Display) -> DwarfError {
        DwarfError::Corrupt {
            path: self.dwarf_path.clone(),
            what: e.to_string(),
        }
    }

    /// The entry at `.debug_info` offset `global` (a `DW_FORM_ref_addr`).
    pub(crate) fn die_at_global(&self, global: u64) -> Option<DieRef> {
        let i = self.units.partition_point(|u| u.start <= global);
        let unit = i.checked_sub(1)?;
        let local = global - self.units[unit].start;
        Some(DieRef {
            unit,
            offset: gimli::UnitOffset(usize::try_from(local).ok()?),
        })
    }

    /// The `.debug_info` offset of `die` (the key types are memoized by).
    pub(crate) fn global_offset(&self, die: DieRef) -> u64 {
        self.units[die.unit].start + die.offset.0 as u64
    }

    /// The entry `die` points to.
    pub(crate) fn entry(
        &self,
        die: DieRef,
    ) -> Result<gimli::DebuggingInformationEntry<Reader>, DwarfError> {
        let unit = &self
            .units
            .get(die.unit)
            .ok_or_else(|| self.corrupt("reference to a missing unit"))?
            .unit;
        unit.entry(die.offset).map_err(|e| self.corrupt(e))
    }

    /// The entry a reference attribute of an entry in unit `unit` names.
    pub(crate) fn reference(
        &self,
        unit: usize,
        value: &gimli::AttributeValue<Reader>,
    ) -> Option<DieRef> {
        match value {
            gimli::AttributeValue::UnitRef(offset) => Some(DieRef {
                unit,
                offset: *offset,
            }),
            gimli::AttributeValue::DebugInfoRef(offset) => {
                // Within a file: the supplementary file's references stay in it.
                let base = match self.units.get(unit) {
                    Some(u) if u.supplementary => SUPPLEMENTARY_BASE,
                    _ => 0,
                };
                self.die_at_global(base + offset.0 as u64)
            }
            gimli::AttributeValue::DebugInfoRefSup(offset) => {
                self.die_at_global(SUPPLEMENTARY_BASE + offset.0 as u64)
            }
            gimli::AttributeValue::DebugTypesRef(signature) => {
                self.type_units.get(&signature.0).copied()
            }
            _ => None,
        }
    }

    /// The string value of attribute `name` of `entry` (in unit `unit`).
    pub(crate) fn string_attr(
        &self,
        unit: usize,
        entry: &gimli::DebuggingInformationEntry<Reader>,
        name: gimli::DwAt,
    ) -> Option<String> {
        use gimli::Reader as _;
        let value = entry.attr_value(name)?;
        let dwarf = self.dwarf_of(unit);
        let unit = &self.units.get(unit)?.unit;
        let raw = dwarf.attr_string(unit, value).ok()?;
        let text = raw.to_string_lossy().ok()?.into_owned();
        Some(text)
    }

    /// The language of unit `unit`.
    pub(crate) fn language(&self, unit: usize) -> Language {
        self.units
            .get(unit)
            .map(|u| u.language)
            .unwrap_or(Language::C)
    }
}

/// The supplementary file `.gnu_debugaltlink` names: the path itself
/// (relative to the debug file's directory when not absolute), else by its
/// build id under `/usr/lib/debug/.build-id`.
fn find_supplementary(dwarf_path: &Path, name: &str, build_id: &[u8]) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if !name.is_empty() {
        let named = Path::new(name);
        candidates.push(match named.is_absolute() {
            true => named.to_path_buf(),
            false => dwarf_path.parent().unwrap_or(Path::new(".")).join(named),
        });
    }
    let id: String = build_id.iter().map(|b| format!("{b:02x}")).collect();
    if id.len() > 2 {
        candidates.push(PathBuf::from(format!(
            "/usr/lib/debug/.build-id/{}/{}.debug",
            &id[..2],
            &id[2..]
        )));
    }
    candidates.into_iter().find(|c| c.is_file())
}

fn unit_language(unit: &gimli::Unit<Reader>) -> Language {
    let mut cursor = unit.entries();
    let Ok(Some(root)) = cursor.next_dfs() else {
        return Language::C;
    };
    match root.attr_value(gimli::DW_AT_language) {
        Some(gimli::AttributeValue::Language(lang)) => match lang {
            gimli::DW_LANG_C_plus_plus
            | gimli::DW_LANG_C_plus_plus_03
            | gimli::DW_LANG_C_plus_plus_11
            | gimli::DW_LANG_C_plus_plus_14 => Language::Cpp,
            gimli::DW_LANG_Rust => Language::Rust,
            _ => Language::C,
        },
        _ => Language::C,
    }
}
