//! Turning decoded fields into printable values: probe ids become names,
//! stacks and addresses become symbols, `buf()` bytes are escaped and
//! `strftime()` times formatted.

use std::cell::RefCell;
use std::collections::BTreeSet;

use ustrace_abi::{Decoder, FieldValue, UserMap};
use ustrace_output::{MapEntry, MapValue, Value};
use ustrace_runtime::{MapAccess, RuntimeError, Session};

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

/// Where the frames of a stack id are read: the session, or a
/// [`MapAccess`] on another thread.
pub(crate) trait StackSource {
    /// The return addresses of stack `id` (see `Session::read_stack`).
    fn read_stack(&self, id: i64) -> Result<Vec<u64>, RuntimeError>;
}

impl StackSource for Session {
    fn read_stack(&self, id: i64) -> Result<Vec<u64>, RuntimeError> {
        Session::read_stack(self, id)
    }
}

impl StackSource for MapAccess {
    fn read_stack(&self, id: i64) -> Result<Vec<u64>, RuntimeError> {
        MapAccess::read_stack(self, id)
    }
}

/// Names what the decoder left as numbers, for one script's maps.
pub(crate) struct Namer<'a> {
    pub(crate) script: &'a Script,
    pub(crate) stacks: &'a StackFormatter,
    pub(crate) source: &'a dyn StackSource,
    /// Where the processes seen in stacks are noted (their unwind tables
    /// get loaded); `None` off the event loop.
    pub(crate) seen_pids: Option<&'a RefCell<BTreeSet<u32>>>,
}

impl Namer<'_> {
    /// The decoder for this script's layouts.
    pub(crate) fn decoder(&self) -> Decoder<'_> {
        let c = &self.script.compiled;
        Decoder::new(&c.printfs, c.probe_names.len())
    }

    /// The raw `(key, per-CPU values)` pairs of `map`, decoded and named.
    pub(crate) fn entries(
        &self,
        map: &UserMap,
        raw: &[(Vec<u8>, Vec<Vec<u8>>)],
    ) -> Result<Vec<MapEntry>, Error> {
        let mut entries = Vec::new();
        // Time series are shown on this host's wall clock.
        let clock = matches!(map.value, ustrace_abi::ValueKind::Tseries { .. })
            .then(crate::host::wall_clock);
        for e in self.decoder().map(map, raw)? {
            let key = e
                .key
                .into_iter()
                .map(|f| self.value(f, Place::MapKey))
                .collect::<Result<_, _>>()?;
            // A stored stack, symbol or probe prints as bpftrace prints
            // one (`print(ustack)`'s lines, `usym`'s name, the probe's
            // full name) after the key.
            let mut value = match e.named {
                Some(f) => match self.value(f, Place::Record)? {
                    Value::Str(text) => MapValue::Str(text),
                    _ => return Err(Error::Internal("a named map value is not text".into())),
                },
                None => e.value,
            };
            if let (MapValue::Tseries(t), Some(clock)) = (&mut value, clock) {
                t.clock = clock;
            }
            entries.push(MapEntry { key, value });
        }
        Ok(entries)
    }

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
            FieldValue::Bool(b) => Value::Bool(b),
            FieldValue::Tuple(items) => Value::Tuple(
                items
                    .into_iter()
                    .map(|f| self.value(f, place))
                    .collect::<Result<_, _>>()?,
            ),
            FieldValue::Probe(id) => {
                // The decoder checked the id against the probe count.
                let name = self.script.compiled.probe_names.get(id).ok_or_else(|| {
                    Error::Internal(format!("probe id {id} out of range after decoding"))
                })?;
                Value::Str(name.clone().into_bytes())
            }
            FieldValue::Buffer(b) => Value::Str(escape_bytes(&b).into_bytes()),
            FieldValue::Username(uid) => Value::Str(crate::host::user_name(uid).into_bytes()),
            FieldValue::Strerror(errno) => Value::Str(crate::host::error_text(errno).into_bytes()),
            FieldValue::SyscallName(nr) => {
                Value::Str(crate::syscalls::syscall_name(nr).into_bytes())
            }
            FieldValue::Inet(addr) => Value::Str(addr.to_string().into_bytes()),
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
            FieldValue::Record { index, bytes } => {
                let ty = self
                    .script
                    .compiled
                    .record_types
                    .get(index)
                    .ok_or_else(|| Error::Internal(format!("no record type {index}")))?;
                Value::Str(ty.format(&bytes).into_bytes())
            }
            FieldValue::UStack { id, pid, mode } => {
                if let Some(seen) = self.seen_pids {
                    seen.borrow_mut().insert(pid);
                }
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
        match self.source.read_stack(id) {
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
