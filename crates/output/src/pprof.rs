//! `-f pprof`: a stack-keyed map as a gzipped profile.proto, the format of
//! `go tool pprof`, Grafana Pyroscope and Parca.
//!
//! Each sample is one map entry: its stack as locations (innermost first)
//! and its count as the value; other key fields become labels. A location
//! is an address in a mapping; a mapping is one file at one load bias
//! (address - file offset), so `address - memory_start + file_offset` is
//! the frame's file offset, and it carries the file's path and build id.
//! Named frames carry their function (`has_functions`), so tools do not
//! need the binaries to show names.

use std::collections::HashMap;
use std::io::Write as _;

use prost::Message as _;

use crate::pprof_proto as pb;
use crate::profile::{Frame, SampleType, StackSample};

/// The gzipped profile of `samples`; `comment` (the script) is stored as
/// the profile's comment, `time_nanos` as its time.
pub fn encode(
    samples: &[StackSample],
    sample_type: &SampleType,
    comment: &str,
    time_nanos: i64,
) -> std::io::Result<Vec<u8>> {
    let profile = build(samples, sample_type, comment, time_nanos);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&profile.encode_to_vec())?;
    gz.finish()
}

/// The profile message (before encoding and compression).
pub(crate) fn build(
    samples: &[StackSample],
    sample_type: &SampleType,
    comment: &str,
    time_nanos: i64,
) -> pb::Profile {
    let mut b = Builder::default();
    b.strings.index("");
    let value_type = pb::ValueType {
        r#type: b.strings.index(&sample_type.kind),
        unit: b.strings.index(&sample_type.unit),
    };
    let mut out_samples = Vec::new();
    for s in samples {
        let location_id = s.frames.iter().map(|f| b.location(f)).collect();
        let label = s
            .labels
            .iter()
            .map(|(k, v)| pb::Label {
                key: b.strings.index(k),
                str: b.strings.index(v),
            })
            .collect();
        out_samples.push(pb::Sample {
            location_id,
            value: vec![s.value],
            label,
        });
    }
    let comment = vec![b.strings.index(comment)];
    pb::Profile {
        sample_type: vec![value_type],
        sample: out_samples,
        mapping: b.mappings.into_iter().map(|(_, m)| m).collect(),
        location: b.locations,
        function: b.functions,
        string_table: b.strings.table,
        time_nanos,
        comment,
    }
}

#[derive(Default)]
struct Strings {
    table: Vec<String>,
    ids: HashMap<String, i64>,
}

impl Strings {
    fn index(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.ids.insert(s.to_string(), i);
        i
    }
}

/// What makes a mapping: file, build id, load bias.
type MappingKey = (String, Option<Vec<u8>>, u64);

#[derive(Default)]
struct Builder {
    strings: Strings,
    mappings: Vec<(MappingKey, pb::Mapping)>,
    locations: Vec<pb::Location>,
    location_ids: HashMap<(u64, u64, Option<String>), u64>,
    functions: Vec<pb::Function>,
    function_ids: HashMap<(String, String), u64>,
}

impl Builder {
    /// The id of the location of `f`, added on first use.
    fn location(&mut self, f: &Frame) -> u64 {
        let mapping_id = self.mapping(f);
        let key = (mapping_id, f.address, f.function.clone());
        if let Some(&id) = self.location_ids.get(&key) {
            return id;
        }
        let line = match &f.function {
            Some(name) => vec![pb::Line {
                function_id: self.function(name, f.file.as_deref().unwrap_or("")),
                line: 0,
            }],
            None => Vec::new(),
        };
        let id = self.locations.len() as u64 + 1;
        self.locations.push(pb::Location {
            id,
            mapping_id,
            address: f.address,
            line,
        });
        self.location_ids.insert(key, id);
        id
    }

    /// The id of the mapping holding `f` (0 when its file is unknown),
    /// widened to cover `f`'s address.
    fn mapping(&mut self, f: &Frame) -> u64 {
        let (Some(file), Some(offset)) = (&f.file, f.file_offset) else {
            return 0;
        };
        let bias = f.address.wrapping_sub(offset);
        let key = (file.clone(), f.build_id.clone(), bias);
        if let Some(i) = self.mappings.iter().position(|(k, _)| *k == key) {
            let m = &mut self.mappings[i].1;
            if f.address < m.memory_start {
                m.memory_start = f.address;
                m.file_offset = offset;
            }
            m.memory_limit = m.memory_limit.max(f.address.saturating_add(1));
            m.has_functions &= f.function.is_some();
            return m.id;
        }
        let id = self.mappings.len() as u64 + 1;
        let filename = self.strings.index(file);
        let build_id = match &f.build_id {
            Some(b) => self.strings.index(&hex(b)),
            None => 0,
        };
        self.mappings.push((
            key,
            pb::Mapping {
                id,
                memory_start: f.address,
                memory_limit: f.address.saturating_add(1),
                file_offset: offset,
                filename,
                build_id,
                has_functions: f.function.is_some(),
            },
        ));
        id
    }

    fn function(&mut self, name: &str, file: &str) -> u64 {
        let key = (name.to_string(), file.to_string());
        if let Some(&id) = self.function_ids.get(&key) {
            return id;
        }
        let id = self.functions.len() as u64 + 1;
        let name_index = self.strings.index(name);
        let filename = self.strings.index(file);
        self.functions.push(pb::Function {
            id,
            name: name_index,
            system_name: name_index,
            filename,
        });
        self.function_ids.insert(key, id);
        id
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn frame(addr: u64, name: Option<&str>, off: u64) -> Frame {
        Frame {
            address: addr,
            function: name.map(str::to_string),
            file: Some("/usr/bin/python3.11".into()),
            file_offset: Some(off),
            build_id: Some(vec![0xab, 0x01]),
        }
    }

    #[test]
    fn round_trips_with_mappings_locations_and_functions() {
        let samples = [
            StackSample {
                frames: vec![
                    frame(0x5000_1010, Some("inner"), 0x1010),
                    frame(0x5000_2020, Some("main"), 0x2020),
                ],
                labels: vec![("key0".into(), "python3.11".into())],
                value: 5,
            },
            StackSample {
                frames: vec![
                    frame(0x5000_1010, Some("inner"), 0x1010),
                    Frame {
                        address: 0x77,
                        ..Frame::default()
                    },
                ],
                labels: vec![],
                value: 2,
            },
        ];
        let st = SampleType::of_map("@", true);
        let gz =
            encode(&samples, &st, "profile:hz:99 { @[ustack] = count(); }", 1).expect("encodes");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .expect("gzip");
        let p = pb::Profile::decode(&raw[..]).expect("decodes");
        let s = |i: i64| p.string_table[i as usize].as_str();
        assert_eq!(p.string_table[0], "");
        assert_eq!(s(p.sample_type[0].r#type), "samples");
        assert_eq!(s(p.sample_type[0].unit), "count");
        assert_eq!(p.sample.len(), 2);
        assert_eq!(p.sample[0].value, [5]);
        assert_eq!(p.sample[0].location_id.len(), 2);
        // The shared leaf is one location; the unknown frame has no mapping.
        assert_eq!(p.sample[0].location_id[0], p.sample[1].location_id[0]);
        assert_eq!(p.location.len(), 3);
        assert_eq!(p.mapping.len(), 1);
        let m = &p.mapping[0];
        assert_eq!(s(m.filename), "/usr/bin/python3.11");
        assert_eq!(s(m.build_id), "ab01");
        assert_eq!(
            (m.memory_start, m.memory_limit, m.file_offset),
            (0x5000_1010, 0x5000_2021, 0x1010)
        );
        let leaf = &p.location[0];
        assert_eq!(leaf.address - m.memory_start + m.file_offset, 0x1010);
        assert_eq!(
            s(p.function[leaf.line[0].function_id as usize - 1].name),
            "inner"
        );
        assert_eq!(p.location[2].mapping_id, 0);
        assert!(p.location[2].line.is_empty());
        assert_eq!(s(p.sample[0].label[0].str), "python3.11");
        assert_eq!(s(p.comment[0]), "profile:hz:99 { @[ustack] = count(); }");
    }
}
