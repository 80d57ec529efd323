//! Turning decoded fields into printable values: probe ids become names,
//! stacks and addresses become symbols, `buf()` bytes are escaped and
//! `strftime()` times formatted.

use std::cell::RefCell;

use ustrace_abi::FieldValue;
use ustrace_output::Value;
use ustrace_runtime::{RuntimeError, Session};

use crate::host::wall_time;
use crate::stacks::{StackFormatter, StackPlace};
use crate::{Error, Script};

/// Where a value appears: a few fields print differently in map keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// A printf argument or `print(value)`.
    Record,
    /// A map key field.
    MapKey,
}

/// Names what the decoder left as numbers, for one script's session.
pub(crate) struct Namer<'a> {
    pub(crate) script: &'a Script,
    pub(crate) session: &'a Session,
    pub(crate) stacks: &'a StackFormatter,
}

impl Namer<'_> {
    /// The printable form of `field`.
    pub(crate) fn value(&self, field: FieldValue, place: Place) -> Result<Value, Error> {
        Ok(match field {
            FieldValue::Int {
                value,
                signed: true,
            } => Value::Int(value),
            FieldValue::Int {
                value,
                signed: false,
            } => Value::UInt(value as u64),
            FieldValue::Str(s) => Value::Str(s),
            FieldValue::Probe(id) => {
                // The decoder checked the id against the probe count.
                let name = self.script.compiled.probe_names.get(id).ok_or_else(|| {
                    Error::Internal(format!("probe id {id} out of range after decoding"))
                })?;
                Value::Str(name.clone().into_bytes())
            }
            FieldValue::Buffer(b) => Value::Str(escape_bytes(&b).into_bytes()),
            FieldValue::USym { addr, pid } => {
                Value::Str(self.stacks.symbol(pid, addr).into_bytes())
            }
            FieldValue::Strftime { ns, .. } if place == Place::MapKey => Value::UInt(ns),
            FieldValue::Strftime { format, ns } => {
                let fmt = self
                    .script
                    .compiled
                    .strftime_formats
                    .get(format)
                    .ok_or_else(|| Error::Internal(format!("no strftime format {format}")))?;
                Value::Str(wall_time(fmt, ns).into_bytes())
            }
            FieldValue::UStack { id, pid, mode } => {
                let failed = RefCell::new(None);
                let text = self.stacks.render_id(
                    pid,
                    id,
                    || self.stack_addrs(id, &failed),
                    mode,
                    match place {
                        Place::Record => StackPlace::Printf,
                        Place::MapKey => StackPlace::MapKey,
                    },
                );
                if let Some(e) = failed.into_inner() {
                    return Err(crate::error::from_session(e));
                }
                Value::Str(text.into_bytes())
            }
        })
    }

    /// Stack `id`'s addresses; an error is kept in `failed` for the caller
    /// (the stack formatter wants plain addresses).
    pub(crate) fn stack_addrs(&self, id: i64, failed: &RefCell<Option<RuntimeError>>) -> Vec<u64> {
        match self.session.read_stack(id) {
            Ok(addrs) => addrs,
            Err(e) => {
                *failed.borrow_mut() = Some(e);
                Vec::new()
            }
        }
    }
}

/// `buf()` as bpftrace prints it: printable ASCII as is, other bytes as
/// `\xNN`.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}
