//! Stack-keyed maps as profile samples (for `-f svg` and `-f pprof`):
//! each entry's stack as frames with their files, file offsets and build
//! ids, named while the traced process lived.

use std::cell::RefCell;

use ustrace_abi::{FieldKind, FieldValue};
use ustrace_codegen::program::{MapRole, ValueKind};
use ustrace_output::profile::{SampleType, StackSample};
use ustrace_output::MapValue;

use crate::error::from_session;
use crate::values::Place;
use crate::{Error, MapInfo, Tracer};

/// One stack-keyed map as a profile: what `-f svg` and `-f pprof` draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackProfile {
    /// The map's name, with `@`.
    pub map: String,
    /// Its entries with their stacks.
    pub samples: Vec<StackSample>,
    /// What the values count (pprof's sample type and unit).
    pub sample_type: SampleType,
}

impl Tracer {
    /// Every map keyed by `ustack`, in name order, as a profile.
    pub fn stack_profiles(&self) -> Result<Vec<StackProfile>, Error> {
        let mut out = Vec::new();
        for m in self.script.maps().iter().filter(|m| m.stack_keyed) {
            out.push(StackProfile {
                map: m.name.clone(),
                samples: self.stack_samples(m)?,
                sample_type: self.sample_type(m),
            });
        }
        Ok(out)
    }

    /// The entries of stack-keyed map `map` as profile samples: the first
    /// `ustack` key field gives the frames, other fields become labels
    /// (`key0`, `key1`, ... by position). Entries without a count or sum
    /// (histograms, strings) and maps without a stack key give nothing.
    pub fn stack_samples(&self, map: &MapInfo) -> Result<Vec<StackSample>, Error> {
        let Some(user) = self.user_map(map.index) else {
            return Ok(Vec::new());
        };
        let Some(stack_field) = user
            .key
            .iter()
            .position(|f| matches!(f, FieldKind::UStack(_)))
        else {
            return Ok(Vec::new());
        };
        if user.value.is_histogram() {
            return Ok(Vec::new());
        }
        let raw = self.session.read_map(map.index);
        let namer = self.namer();
        let mut out = Vec::new();
        for entry in namer.decoder().map(user, &raw)? {
            let Some(value) = number(&entry.value) else {
                continue;
            };
            let mut frames = Vec::new();
            let mut labels = Vec::new();
            for (i, field) in entry.key.into_iter().enumerate() {
                match field {
                    FieldValue::UStack { id, pid, mode } if i == stack_field => {
                        let failed = RefCell::new(None);
                        frames = self.stacks.profile_frames(
                            pid,
                            id,
                            || namer.stack_addrs(id, &failed),
                            usize::from(mode.depth),
                        );
                        if let Some(e) = failed.into_inner() {
                            return Err(from_session(e));
                        }
                    }
                    other => {
                        let text = namer.value(other, Place::MapKey)?.to_text();
                        labels.push((format!("key{i}"), text));
                    }
                }
            }
            out.push(StackSample {
                frames,
                labels,
                value,
            });
        }
        Ok(out)
    }

    /// The pprof sample type of `map`'s values.
    pub fn sample_type(&self, map: &MapInfo) -> SampleType {
        let counted = matches!(
            self.script.compiled.maps.get(map.index).map(|m| &m.role),
            Some(MapRole::User(u)) if u.value == ValueKind::Count
        );
        SampleType::of_map(&map.name, counted)
    }
}

fn number(v: &MapValue) -> Option<i64> {
    match *v {
        MapValue::Count(c) | MapValue::UInt(c) => Some(i64::try_from(c).unwrap_or(i64::MAX)),
        MapValue::Sum(s) | MapValue::Int(s) => Some(s),
        _ => None,
    }
}
