//! Reading a script's maps back from the kernel while it runs: decoded by
//! the ABI crate's decoder, named by [`Namer`], rendered the way bpftrace
//! prints them.

use ustrace_abi::{Bytes, FieldKind, FieldValue, UserMap, ValueKind};
use ustrace_codegen::program::MapRole;
use ustrace_output::MapValue;

use crate::error::from_session;
use crate::{Error, Record, Tracer};

impl Tracer {
    /// The layout of map `index` when it is a script map.
    pub(crate) fn user_map(&self, index: usize) -> Option<&UserMap> {
        match &self.script.compiled.maps.get(index)?.role {
            MapRole::User(map) => Some(map),
            _ => None,
        }
    }

    /// Reads map `index` and renders it; `top` keeps the N largest
    /// entries, `div` divides integer values; `take` deletes each entry as
    /// it is read (a print() followed by clear()). `None` for a map that is
    /// not a script map.
    pub(crate) fn map_record(
        &self,
        index: usize,
        top: u64,
        div: u64,
        take: bool,
    ) -> Result<Option<Record>, Error> {
        let Some(map) = self.user_map(index) else {
            return Ok(None);
        };
        let raw = if take {
            self.session.take_map(index)
        } else {
            self.session.read_map(index)
        };
        let mut entries = self.namer().entries(map, &raw)?;
        if entries.is_empty() && map.key.is_empty() && map.value == ValueKind::Count {
            // bpftrace 0.17 prints a scalar count() map that holds nothing
            // (never counted, cleared, deleted) as `@c: 0`; every other
            // empty map as an empty line.
            entries.push(ustrace_output::MapEntry {
                key: Vec::new(),
                value: MapValue::Count(0),
            });
        }
        if div > 1 {
            for e in &mut entries {
                divide(&mut e.value, div);
            }
        }
        if top > 0 && (top as usize) < entries.len() {
            entries.sort_by_key(|e| ustrace_output::rank(&e.value));
            entries.drain(..entries.len() - top as usize);
        }
        let style = map.value.style();
        let text = ustrace_output::render_map_with_kind(&map.name, style, &entries);
        Ok(Some(Record::Map {
            name: map.name.clone(),
            entries,
            style,
            text,
        }))
    }

    /// Every script map, in name order, as bpftrace prints them at exit
    /// (call after [`Tracer::end`]); none with `config = {
    /// print_maps_on_exit = false }`.
    pub fn final_maps(&self) -> Result<Vec<Record>, Error> {
        if self.script.ast().config.print_maps_on_exit == Some(false) {
            return Ok(Vec::new());
        }
        let mut indices: Vec<(usize, &str)> = (0..self.script.compiled.maps.len())
            .filter_map(|i| self.user_map(i).map(|m| (i, m.name.as_str())))
            .collect();
        indices.sort_by(|a, b| a.1.cmp(b.1));
        let mut out = Vec::new();
        for (i, _) in indices {
            out.extend(self.map_record(i, 0, 0, false)?);
        }
        Ok(out)
    }

    /// The script's maps, in name order (as [`crate::Script::maps`] lists
    /// them).
    pub fn maps(&self) -> Vec<crate::MapInfo> {
        self.script.maps()
    }

    /// Reads map `name` (with `@`) now, while tracing or after
    /// [`Tracer::end`]: a [`Record::Map`], or `None` for an unknown name.
    pub fn read_map(&self, name: &str) -> Result<Option<Record>, Error> {
        match self.map_index(name) {
            Some(i) => self.map_record(i, 0, 0, false),
            None => Ok(None),
        }
    }

    /// Deletes every entry of map `name` (with `@`), as `clear(@name)`
    /// does; false for an unknown name.
    pub fn clear_map(&self, name: &str) -> bool {
        match self.map_index(name) {
            Some(i) => {
                self.session.clear_map(i);
                true
            }
            None => false,
        }
    }

    fn map_index(&self, name: &str) -> Option<usize> {
        (0..self.script.compiled.maps.len())
            .find(|&i| self.user_map(i).is_some_and(|m| m.name == name))
    }

    /// Names the user stacks and symbols found in map keys and values now, while their
    /// processes are alive (a map is printed at exit, maybe after they are
    /// gone).
    pub(crate) fn remember_stacks(&self) -> Result<(), Error> {
        let namer = self.namer();
        for index in 0..self.script.compiled.maps.len() {
            let Some(map) = self.user_map(index) else {
                continue;
            };
            let named_value = match map.value {
                ValueKind::Named(kind) => Some(kind),
                _ => None,
            };
            let has_names = named_value.is_some()
                || map
                    .key
                    .iter()
                    .any(|f| matches!(f, FieldKind::UStack(_) | FieldKind::USym));
            if !has_names {
                continue;
            }
            let name = format!("map {} key", map.name);
            let value_name = format!("map {} value", map.name);
            for (key, values) in self.session.read_map(index) {
                let mut fields = namer.decoder().fields(&map.key, Bytes::new(&key, &name))?;
                if let (Some(kind), Some(first)) = (named_value, values.first()) {
                    fields.extend(
                        namer
                            .decoder()
                            .fields(&[kind], Bytes::new(first, &value_name))?,
                    );
                }
                for field in fields {
                    match field {
                        FieldValue::UStack { id, pid, .. } => {
                            self.stack_pids.borrow_mut().insert(pid);
                            let failed = std::cell::RefCell::new(None);
                            self.stacks
                                .remember(pid, id, || namer.stack_addrs(id, &failed));
                            if let Some(e) = failed.into_inner() {
                                return Err(from_session(e));
                            }
                        }
                        FieldValue::USym { addr, pid } => {
                            self.stacks.symbol(pid, addr);
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

/// `print(@m, top, div)`: divides the value shown.
fn divide(v: &mut MapValue, div: u64) {
    let d = div as i64;
    match v {
        MapValue::Int(x) | MapValue::Sum(x) | MapValue::Min(x) | MapValue::Max(x) => *x /= d,
        MapValue::UInt(x) | MapValue::Count(x) => *x /= div,
        MapValue::Avg { sum, .. } | MapValue::Stats { sum, .. } => *sum /= d,
        MapValue::Hist(_)
        | MapValue::FineHist { .. }
        | MapValue::Lhist { .. }
        | MapValue::Tseries(_)
        | MapValue::Str(_)
        | MapValue::Bool(_)
        | MapValue::Tuple(_) => {}
    }
}
