//! Stack-keyed maps as profile samples (for `-f svg` and `-f pprof`):
//! each entry's stack as frames with their files, file offsets and build
//! ids, named while the traced process lived.

use ustrace_codegen::program::{FieldKind, MapRole, ValueKind};
use ustrace_output::profile::{SampleType, StackSample};
use ustrace_output::MapValue;

use crate::stacks::StackPlace;
use crate::{MapInfo, Tracer};

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
    pub fn stack_profiles(&self) -> Vec<StackProfile> {
        self.script
            .maps()
            .iter()
            .filter(|m| m.stack_keyed)
            .map(|m| StackProfile {
                map: m.name.clone(),
                samples: self.stack_samples(m),
                sample_type: self.sample_type(m),
            })
            .collect()
    }

    /// The entries of stack-keyed map `map` as profile samples: the first
    /// `ustack` key field gives the frames, other fields become labels
    /// (`key0`, `key1`, ... by position). Entries without a count or sum
    /// (histograms, strings) and maps without a stack key give nothing.
    pub fn stack_samples(&self, map: &MapInfo) -> Vec<StackSample> {
        let Some(MapRole::User(user)) = self.script.compiled.maps.get(map.index).map(|m| &m.role)
        else {
            return Vec::new();
        };
        let Some(stack_field) = user
            .key
            .iter()
            .position(|f| matches!(f, FieldKind::UStack(_)))
        else {
            return Vec::new();
        };
        if user.value.is_histogram() {
            return Vec::new();
        }
        let raw = self.session.read_map(map.index);
        let stack_text = |id: i64, pid: u32, mode| {
            self.stacks.render_id(
                pid,
                id,
                || self.session.read_stack(id),
                mode,
                StackPlace::MapKey,
            )
        };
        let entries = crate::maps::decode_entries(
            user,
            &raw,
            &self.script.compiled.probe_names,
            &stack_text,
            &|addr, pid| self.stacks.symbol(pid, addr),
        );
        let mut out = Vec::new();
        // Non-histogram maps decode one entry per raw key, in order.
        for ((key, _), entry) in raw.iter().zip(&entries) {
            let Some(value) = number(&entry.value) else {
                continue;
            };
            let mut at = 0;
            let mut frames = Vec::new();
            for (i, f) in user.key.iter().enumerate() {
                if let (true, FieldKind::UStack(mode)) = (i == stack_field, f) {
                    let id = read_u64(key, at) as i64;
                    let pid = read_u64(key, at + 8) as u32;
                    frames = self.stacks.profile_frames(
                        pid,
                        id,
                        || self.session.read_stack(id),
                        usize::from(mode.depth),
                    );
                }
                at += f.size();
            }
            let labels = entry
                .key
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != stack_field)
                .map(|(i, v)| (format!("key{i}"), v.to_text()))
                .collect();
            out.push(StackSample {
                frames,
                labels,
                value,
            });
        }
        out
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

fn read_u64(bytes: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = bytes.get(off..off + 8) {
        b.copy_from_slice(s);
    }
    u64::from_ne_bytes(b)
}
