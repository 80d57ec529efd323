//! Functions: their parameters (name, type, location at entry) and return
//! type, looked up by address or name.

use crate::abi::{assign, ParamLocation};
use crate::error::{closest_names, DwarfError};
use crate::info::{DebugInfo, DieRef};
use crate::types::{Language, TypeId, TypeTable};

/// One parameter of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Its name (`this` for a C++ method's object); `argN` when the
    /// compiler did not name it.
    pub name: String,
    /// Its type.
    pub ty: TypeId,
    /// True for parameters the compiler added (`this`).
    pub artificial: bool,
    /// Where it is when a uprobe on the function's first instruction fires.
    pub location: ParamLocation,
}

/// A function with debug information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its name (`add`, `process_order`).
    pub name: String,
    /// Its name with namespaces and classes (`shop::Cart::add`).
    pub qualified_name: String,
    /// Its symbol name, when it differs (`_ZN4shop4Cart3addERKNS_4ItemEi`).
    pub linkage_name: Option<String>,
    /// Its entry address (link time).
    pub address: Option<u64>,
    /// The language of its compile unit.
    pub language: Language,
    /// Its parameters in order (`this` first for C++ methods).
    pub params: Vec<Parameter>,
    /// True when it also takes `...`.
    pub variadic: bool,
    /// Its return type (`void` when none).
    pub return_type: TypeId,
    /// Where the return value is when a uretprobe fires.
    pub return_location: ParamLocation,
}

impl Function {
    /// The parameter called `name`.
    pub fn param(&self, name: &str) -> Option<&Parameter> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The parameter `name`, if a uprobe can read it: an unknown name is
    /// an error with the closest names, an unreadable one (an `%xmm`
    /// register, a type not modelled) an error naming its type and why.
    pub fn readable_param(&self, name: &str, table: &TypeTable) -> Result<&Parameter, DwarfError> {
        let Some(p) = self.param(name) else {
            return Err(DwarfError::UnknownParameter {
                function: self.qualified_name.clone(),
                name: name.to_string(),
                suggestions: self.suggest_param(name),
            });
        };
        let unsupported_type = match table.get(table.resolve(p.ty)) {
            crate::types::Type::Unsupported { name } => {
                Some(format!("type `{name}` is not supported"))
            }
            _ => None,
        };
        let reason = match (&p.location, unsupported_type) {
            (_, Some(why)) => why,
            (ParamLocation::Unsupported(why), None) => why.clone(),
            _ => return Ok(p),
        };
        Err(DwarfError::UnreadableParameter {
            function: self.qualified_name.clone(),
            name: name.to_string(),
            type_name: table.name(p.ty),
            reason,
        })
    }

    /// The parameter names closest to `name` (for "did you mean").
    pub fn suggest_param(&self, name: &str) -> Vec<String> {
        closest_names(name, self.params.iter().map(|p| p.name.as_str()))
    }
}

impl DebugInfo {
    /// The function whose code starts at link-time `address` (a symbol's
    /// value), its types added to `table`.
    pub fn function_at(&self, address: u64, table: &mut TypeTable) -> Result<Function, DwarfError> {
        let die = self
            .index
            .functions_by_address
            .get(&address)
            .copied()
            .ok_or_else(|| DwarfError::NoFunctionAt {
                path: self.path().to_path_buf(),
                address,
            })?;
        self.read_function(die, table)
    }

    /// The functions called `name`: its plain name (`add`), its qualified
    /// name (`shop::Cart::add`) or its symbol name. Several for C++
    /// overloads and template instances; none is an error with suggestions.
    pub fn function_named(
        &self,
        name: &str,
        table: &mut TypeTable,
    ) -> Result<Vec<Function>, DwarfError> {
        let Some(dies) = self.index.functions_by_name.get(name) else {
            return Err(DwarfError::UnknownFunction {
                path: self.path().to_path_buf(),
                name: name.to_string(),
                suggestions: closest_names(
                    name,
                    self.index.functions_by_name.keys().map(String::as_str),
                ),
            });
        };
        dies.iter().map(|d| self.read_function(*d, table)).collect()
    }

    /// The names of every function with debug information (qualified and
    /// symbol names included), sorted.
    pub fn function_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .index
            .functions_by_name
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names
    }

    fn read_function(&self, die: DieRef, table: &mut TypeTable) -> Result<Function, DwarfError> {
        let entry = self.entry(die)?;
        // The definition, then what it refines: the declaration inside a
        // class (`DW_AT_specification`) or the abstract instance of an
        // inlined function (`DW_AT_abstract_origin`).
        let mut chain = vec![(die, entry)];
        while chain.len() < 4 {
            let (last_die, last) = chain.last().expect("chain starts non-empty");
            let next = [gimli::DW_AT_specification, gimli::DW_AT_abstract_origin]
                .into_iter()
                .find_map(|a| {
                    last.attr_value(a)
                        .and_then(|v| self.reference(last_die.unit, &v))
                });
            let Some(next) = next else { break };
            let Ok(next_entry) = self.entry(next) else {
                break;
            };
            chain.push((next, next_entry));
        }
        let find_string = |attr| {
            chain
                .iter()
                .find_map(|(d, e)| self.string_attr(d.unit, e, attr))
        };
        let name = find_string(gimli::DW_AT_name).unwrap_or_else(|| "<unnamed>".to_string());
        let linkage_name = find_string(gimli::DW_AT_linkage_name);
        let qualified_name = chain
            .iter()
            .find_map(|(d, _)| self.index.scoped_names.get(&self.global_offset(*d)))
            .cloned()
            .unwrap_or_else(|| name.clone());
        let language = self.language(die.unit);
        let return_type = match chain
            .iter()
            .find(|(_, e)| e.attr_value(gimli::DW_AT_type).is_some())
        {
            Some((d, e)) => self.type_attr(d.unit, e, table, 0),
            None => table.add(crate::types::Type::Void, language),
        };
        let nocall = chain.iter().any(|(_, e)| {
            matches!(
                e.attr_value(gimli::DW_AT_calling_convention),
                Some(gimli::AttributeValue::CallingConvention(
                    gimli::DW_CC_nocall
                ))
            )
        });
        let address = chain[0].1.attr_value(gimli::DW_AT_low_pc).and_then(|v| {
            self.dwarf
                .attr_address(&self.units[die.unit].unit, v)
                .ok()
                .flatten()
        });

        // Parameters: the definition's own, or (when it lists none) those
        // of what it refines.
        let mut params = Vec::new();
        // What the compiler's own location lists say at the entry address.
        let mut entry_registers: Vec<Option<ustrace_probes::Register>> = Vec::new();
        let mut specialized = false;
        let mut variadic = false;
        for (holder, _) in &chain {
            let children = self.children(*holder);
            let has_params = children
                .iter()
                .any(|(_, e)| e.tag() == gimli::DW_TAG_formal_parameter);
            for (child_die, child) in &children {
                match child.tag() {
                    gimli::DW_TAG_formal_parameter => {
                        params.push(self.read_parameter(*child_die, child, params.len(), table));
                        entry_registers.push(
                            address.and_then(|pc| self.entry_register(*child_die, child, pc)),
                        );
                        // A constant parameter is not passed at all: gcc
                        // specialized this copy (`.constprop`, `.isra`).
                        specialized |= child.attr_value(gimli::DW_AT_const_value).is_some();
                    }
                    gimli::DW_TAG_unspecified_parameters => variadic = true,
                    _ => {}
                }
            }
            if has_params || variadic {
                break;
            }
        }
        let types: Vec<TypeId> = params.iter().map(|p: &Parameter| p.ty).collect();
        let (locations, mut return_location) = assign(table, &types, return_type, language);
        let nocall = nocall || specialized;
        for ((p, loc), from_dwarf) in params.iter_mut().zip(locations).zip(entry_registers) {
            p.location = match (from_dwarf, nocall) {
                // The compiler's word wins where it gives one: it is right
                // for clones whose convention it changed too.
                (Some(reg), _) if matches!(loc, ParamLocation::Register(_)) || nocall => {
                    ParamLocation::Register(reg)
                }
                (_, true) => ParamLocation::Unsupported(
                    "the compiler changed this function's calling convention".into(),
                ),
                (_, false) => loc,
            };
        }
        if nocall {
            return_location = ParamLocation::Unsupported(
                "the compiler changed this function's calling convention".into(),
            );
        }
        Ok(Function {
            name,
            qualified_name,
            linkage_name,
            address,
            language,
            params,
            variadic,
            return_type,
            return_location,
        })
    }

    fn read_parameter(
        &self,
        die: DieRef,
        entry: &gimli::DebuggingInformationEntry<crate::sections::Reader>,
        position: usize,
        table: &mut TypeTable,
    ) -> Parameter {
        let origin = entry
            .attr_value(gimli::DW_AT_abstract_origin)
            .and_then(|v| self.reference(die.unit, &v))
            .and_then(|d| Some((d, self.entry(d).ok()?)));
        let name = self
            .string_attr(die.unit, entry, gimli::DW_AT_name)
            .or_else(|| {
                origin
                    .as_ref()
                    .and_then(|(d, e)| self.string_attr(d.unit, e, gimli::DW_AT_name))
            })
            .unwrap_or_else(|| format!("arg{position}"));
        let ty = match (&origin, entry.attr_value(gimli::DW_AT_type)) {
            (Some((d, e)), None) => self.type_attr(d.unit, e, table, 0),
            _ => self.type_attr(die.unit, entry, table, 0),
        };
        let artificial = [Some(entry), origin.as_ref().map(|(_, e)| e)]
            .into_iter()
            .flatten()
            .any(|e| {
                matches!(
                    e.attr_value(gimli::DW_AT_artificial),
                    Some(gimli::AttributeValue::Flag(true))
                )
            });
        Parameter {
            name,
            ty,
            artificial,
            location: ParamLocation::Unsupported("not yet assigned".into()),
        }
    }

    /// The type called `name`: `struct req`, `union value`, `enum color`,
    /// a typedef (`req_t`), a base type (`int`), or in C++ and Rust a
    /// record's plain or qualified name (`Item`, `shop::Item`). Added to
    /// `table`; unknown names are an error with suggestions.
    pub fn type_named(&self, name: &str, table: &mut TypeTable) -> Result<TypeId, DwarfError> {
        let wanted = normalize_type_name(name);
        match self.index.types_by_name.get(&wanted) {
            Some(found) => Ok(self.convert(found.die, table, 0)),
            None => Err(DwarfError::UnknownType {
                path: self.path().to_path_buf(),
                name: name.to_string(),
                suggestions: closest_names(
                    &wanted,
                    self.index.types_by_name.keys().map(String::as_str),
                ),
            }),
        }
    }
}

/// `struct   req` -> `struct req`.
fn normalize_type_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}
