//! One pass over every entry of every unit, remembering where functions
//! (by address and by name) and named types are, and the qualified names
//! (`shop::Cart::add`) of entries inside C++ and Rust scopes.

use std::collections::HashMap;

use crate::error::DwarfError;
use crate::info::{DebugInfo, DieRef};
use crate::types::Language;

/// Where to find functions and types without scanning again.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Concrete (code-bearing) functions by their entry address.
    pub(crate) functions_by_address: HashMap<u64, DieRef>,
    /// Concrete functions by short, qualified and linkage name.
    pub(crate) functions_by_name: HashMap<String, Vec<DieRef>>,
    /// Named types: `struct req`, `union value`, `enum color`, `req_t`,
    /// `int`; in C++ and Rust also the bare and qualified names.
    pub(crate) types_by_name: HashMap<String, TypeEntry>,
    /// The qualified name of entries inside namespaces, classes or Rust
    /// modules, by `.debug_info` offset.
    pub(crate) scoped_names: HashMap<u64, String>,
}

/// An indexed named type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TypeEntry {
    pub(crate) die: DieRef,
    /// False for a declaration (`struct req;`) without members.
    pub(crate) defined: bool,
}

/// The entries the index looks at (names are read for these only).
const INDEXED_TAGS: [gimli::DwTag; 8] = [
    gimli::DW_TAG_subprogram,
    gimli::DW_TAG_structure_type,
    gimli::DW_TAG_class_type,
    gimli::DW_TAG_union_type,
    gimli::DW_TAG_enumeration_type,
    gimli::DW_TAG_typedef,
    gimli::DW_TAG_base_type,
    gimli::DW_TAG_namespace,
];

/// A function definition whose name comes from another entry.
struct Pending {
    die: DieRef,
    origin: DieRef,
}

impl Index {
    pub(crate) fn build(info: &DebugInfo) -> Result<Index, DwarfError> {
        let mut index = Index::default();
        let mut pending = Vec::new();
        for unit_index in 0..info.units.len() {
            index.scan_unit(info, unit_index, &mut pending)?;
        }
        // Definitions of C++ methods and of inlined functions' out-of-line
        // copies name their declaration (`DW_AT_specification`) or abstract
        // instance (`DW_AT_abstract_origin`), possibly in a later unit.
        for p in pending {
            let Ok(origin) = info.entry(p.origin) else {
                continue;
            };
            let mut names = Vec::new();
            if let Some(q) = index.scoped_names.get(&info.global_offset(p.origin)) {
                names.push(q.clone());
            }
            names.extend(info.string_attr(p.origin.unit, &origin, gimli::DW_AT_name));
            names.extend(info.string_attr(p.origin.unit, &origin, gimli::DW_AT_linkage_name));
            for name in names {
                index.add_function_name(name, p.die);
            }
        }
        Ok(index)
    }

    fn add_function_name(&mut self, name: String, die: DieRef) {
        let list = self.functions_by_name.entry(name).or_default();
        if !list.contains(&die) {
            list.push(die);
        }
    }

    fn add_type(&mut self, name: String, die: DieRef, defined: bool) {
        match self.types_by_name.get(&name) {
            Some(existing) if existing.defined || !defined => {}
            _ => {
                self.types_by_name.insert(name, TypeEntry { die, defined });
            }
        }
    }

    fn scan_unit(
        &mut self,
        info: &DebugInfo,
        unit_index: usize,
        pending: &mut Vec<Pending>,
    ) -> Result<(), DwarfError> {
        let entry = &info.units[unit_index];
        let language = entry.language;
        let scoped_language = language != Language::C;
        let mut cursor = entry.unit.entries();
        // (depth, name) of the enclosing namespaces and records.
        let mut scopes: Vec<(isize, String)> = Vec::new();
        loop {
            let die = match cursor.next_dfs() {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) => return Err(info.corrupt(e)),
            };
            let depth = die.depth();
            while scopes.last().is_some_and(|(d, _)| *d >= depth) {
                scopes.pop();
            }
            let here = DieRef {
                unit: unit_index,
                offset: die.offset(),
            };
            let tag = die.tag();
            if !INDEXED_TAGS.contains(&tag) {
                continue;
            }
            let name = info.string_attr(unit_index, die, gimli::DW_AT_name);
            let qualified = match (&name, scopes.is_empty() || !scoped_language) {
                (Some(n), false) => {
                    let mut q: Vec<&str> = scopes.iter().map(|(_, s)| s.as_str()).collect();
                    q.push(n);
                    let q = q.join("::");
                    self.scoped_names
                        .insert(info.global_offset(here), q.clone());
                    Some(q)
                }
                (Some(n), true) => Some(n.clone()),
                (None, _) => None,
            };
            let declaration = matches!(
                die.attr_value(gimli::DW_AT_declaration),
                Some(gimli::AttributeValue::Flag(true))
            );
            match tag {
                gimli::DW_TAG_subprogram => {
                    let low_pc = die.attr_value(gimli::DW_AT_low_pc).and_then(|v| {
                        info.dwarf_of(unit_index)
                            .attr_address(&entry.unit, v)
                            .ok()
                            .flatten()
                    });
                    if let Some(address) = low_pc.filter(|a| *a != 0) {
                        self.functions_by_address.entry(address).or_insert(here);
                        if let Some(n) = &name {
                            self.add_function_name(n.clone(), here);
                        }
                        if let Some(q) = qualified.filter(|q| Some(q) != name.as_ref()) {
                            self.add_function_name(q, here);
                        }
                        if let Some(l) =
                            info.string_attr(unit_index, die, gimli::DW_AT_linkage_name)
                        {
                            self.add_function_name(l, here);
                        }
                        for attr in [gimli::DW_AT_specification, gimli::DW_AT_abstract_origin] {
                            if let Some(origin) = die
                                .attr_value(attr)
                                .and_then(|v| info.reference(unit_index, &v))
                            {
                                pending.push(Pending { die: here, origin });
                            }
                        }
                    }
                }
                gimli::DW_TAG_structure_type
                | gimli::DW_TAG_class_type
                | gimli::DW_TAG_union_type
                | gimli::DW_TAG_enumeration_type => {
                    if let Some(n) = &name {
                        let keyword = match tag {
                            gimli::DW_TAG_union_type => "union",
                            gimli::DW_TAG_enumeration_type => "enum",
                            gimli::DW_TAG_class_type => "class",
                            _ => "struct",
                        };
                        self.add_type(format!("{keyword} {n}"), here, !declaration);
                        if scoped_language {
                            if keyword == "class" {
                                self.add_type(format!("struct {n}"), here, !declaration);
                            }
                            self.add_type(n.clone(), here, !declaration);
                            if let Some(q) = qualified.as_ref().filter(|q| *q != n) {
                                self.add_type(q.clone(), here, !declaration);
                                self.add_type(format!("{keyword} {q}"), here, !declaration);
                            }
                        }
                        if tag != gimli::DW_TAG_enumeration_type || scoped_language {
                            scopes.push((depth, n.clone()));
                        }
                    }
                }
                gimli::DW_TAG_typedef | gimli::DW_TAG_base_type => {
                    if let Some(n) = &name {
                        self.add_type(n.clone(), here, true);
                        if let Some(q) = qualified.as_ref().filter(|q| *q != n) {
                            self.add_type(q.clone(), here, true);
                        }
                    }
                }
                gimli::DW_TAG_namespace => {
                    let n = name.unwrap_or_else(|| "(anonymous namespace)".to_string());
                    scopes.push((depth, n));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
