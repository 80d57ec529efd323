//! Stack-keyed maps as profiles: the samples that `-f svg` draws as a
//! flame graph ([`crate::svg`]) and `-f pprof` encodes as profile.proto
//! ([`crate::pprof`]).

/// One frame of a sampled stack, as found while the process lived.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// The instruction address in the process.
    pub address: u64,
    /// The function's name, when symbolized.
    pub function: Option<String>,
    /// The file (executable or library) the address is in.
    pub file: Option<String>,
    /// The address's offset in that file.
    pub file_offset: Option<u64>,
    /// The file's GNU build id.
    pub build_id: Option<Vec<u8>>,
}

impl Frame {
    /// The name a flame graph shows: the function, or the address in hex.
    pub fn display_name(&self) -> String {
        match &self.function {
            Some(f) => f.clone(),
            None => format!("0x{:x}", self.address),
        }
    }
}

/// One entry of a stack-keyed map.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackSample {
    /// The stack, innermost frame first.
    pub frames: Vec<Frame>,
    /// The other key fields, as `(label, text)` (`key0`, `key1`, ... by
    /// their position in the key).
    pub labels: Vec<(String, String)>,
    /// The entry's count (or sum).
    pub value: i64,
}

/// What a profile's values are: pprof's sample type and unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleType {
    /// What is counted (`samples`, or the map's name).
    pub kind: String,
    /// Its unit (`count`, `nanoseconds`, `bytes`, ...).
    pub unit: String,
}

impl SampleType {
    /// The sample type of map `map_name` holding `count()` values
    /// (`counted`) or `sum()`s: the anonymous map counts `samples`; others
    /// are named after the map. The unit is `count` for counts; for sums,
    /// guessed from the map name's suffix (`_ns`, `_us`, `_ms`, `_bytes`)
    /// and `count` otherwise.
    pub fn of_map(map_name: &str, counted: bool) -> SampleType {
        let bare = map_name.trim_start_matches('@');
        let kind = if bare.is_empty() { "samples" } else { bare };
        let unit = if counted {
            "count"
        } else if bare.ends_with("_ns") {
            "nanoseconds"
        } else if bare.ends_with("_us") {
            "microseconds"
        } else if bare.ends_with("_ms") {
            "milliseconds"
        } else if bare.ends_with("_bytes") {
            "bytes"
        } else {
            "count"
        };
        SampleType {
            kind: kind.to_string(),
            unit: unit.to_string(),
        }
    }
}

/// The samples as folded-stack lines (`label;outer;...;inner N`), equal
/// stacks summed, in first-seen order; samples with no frames and no
/// labels fold to `[no stack]`.
pub fn folded_lines(samples: &[StackSample]) -> Vec<String> {
    let mut lines: Vec<(String, i128)> = Vec::new();
    for s in samples {
        let mut frames: Vec<String> = s.labels.iter().map(|(_, t)| clean(t)).collect();
        frames.extend(s.frames.iter().rev().map(|f| clean(&f.display_name())));
        if frames.is_empty() {
            frames.push("[no stack]".to_string());
        }
        let folded = frames.join(";");
        match lines.iter_mut().find(|(f, _)| *f == folded) {
            Some((_, n)) => *n += i128::from(s.value),
            None => lines.push((folded, i128::from(s.value))),
        }
    }
    lines
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(f, n)| format!("{f} {n}"))
        .collect()
}

/// A frame name safe in a folded line: no `;`, no line breaks.
fn clean(name: &str) -> String {
    name.replace(';', ":").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str) -> Frame {
        Frame {
            function: Some(name.to_string()),
            ..Frame::default()
        }
    }

    #[test]
    fn folds_outermost_first_with_labels_at_the_root() {
        let samples = [
            StackSample {
                frames: vec![frame("leaf"), frame("main")],
                labels: vec![("key0".into(), "app".into())],
                value: 3,
            },
            StackSample {
                frames: vec![frame("leaf"), frame("main")],
                labels: vec![("key0".into(), "app".into())],
                value: 2,
            },
            StackSample {
                frames: vec![Frame {
                    address: 0x10,
                    ..Frame::default()
                }],
                labels: vec![],
                value: 1,
            },
        ];
        assert_eq!(folded_lines(&samples), ["app;main;leaf 5", "0x10 1"]);
    }

    #[test]
    fn sample_types() {
        assert_eq!(SampleType::of_map("@", true).kind, "samples");
        assert_eq!(SampleType::of_map("@lat_ns", false).unit, "nanoseconds");
        assert_eq!(SampleType::of_map("@x", false).unit, "count");
    }
}
