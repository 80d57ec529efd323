//! Fuzzing the DWARF reader with mutated and truncated real files: every
//! outcome is a value or an error, never a panic, and every query on what
//! was read (functions, parameters, types, their names, sizes, members)
//! stays total.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use object::{Object, ObjectSection};
use proptest::prelude::*;
use ustrace_dwarf::{DebugInfo, Type, TypeId, TypeTable};

/// A file's path, bytes, and the file ranges of its debug sections.
type Sample = (PathBuf, Vec<u8>, Vec<(usize, usize)>);

/// Real programs with DWARF 5 (uncompressed, so byte flips land in the
/// entries themselves): the C types program and the C++ methods program.
fn samples() -> &'static [Sample] {
    static S: OnceLock<Vec<Sample>> = OnceLock::new();
    S.get_or_init(|| {
        [
            ("gcc", "fuzz-types", "tests/c/dwarf_types.c"),
            ("g++", "fuzz-methods", "tests/c/dwarf_methods.cpp"),
        ]
        .iter()
        .map(|(compiler, name, src)| {
            let path = common::build(compiler, name, src, &["-g", "-O1"]);
            let data = std::fs::read(&path).expect("reading the sample");
            let file = object::File::parse(&*data).expect("parsing the sample");
            // The file ranges of the sections the reader interprets.
            let ranges = [
                ".debug_info",
                ".debug_abbrev",
                ".debug_str",
                ".debug_line_str",
            ]
            .iter()
            .filter_map(|name| file.section_by_name(name)?.file_range())
            .map(|(start, len)| (start as usize, len as usize))
            .collect();
            (path, data, ranges)
        })
        .collect()
    })
}

/// Asks everything of `info`; only checks that nothing panics.
fn exercise(info: &DebugInfo) {
    let mut table = TypeTable::new();
    let names: Vec<String> = info
        .function_names()
        .into_iter()
        .take(40)
        .map(str::to_string)
        .collect();
    for name in names {
        if let Ok(functions) = info.function_named(&name, &mut table) {
            for f in functions {
                let _ = table.name(f.return_type);
                for p in &f.params {
                    let _ = p.location.arg_spec(&table, p.ty);
                    walk(&table, p.ty);
                }
            }
        }
    }
    for ty in [
        "struct req",
        "struct hdr",
        "union value",
        "enum color",
        "req_t",
        "int",
    ] {
        if let Ok(id) = info.type_named(ty, &mut table) {
            walk(&table, id);
        }
    }
    let _ = info.function_at(0x1139, &mut table);
}

fn walk(table: &TypeTable, id: TypeId) {
    let _ = table.name(id);
    let _ = table.format_value(id, &[0xa5; 96]);
    let _ = table.format_value(id, &[]);
    let _ = table.size_of(id);
    for member in table.member_names(id) {
        let _ = table.member(id, &member);
    }
    if let Type::Pointer { pointee } = table.get(table.resolve(id)) {
        let _ = table.name(*pointee);
        let _ = table.member_names(*pointee);
    }
    let _ = table.enumerator_name(id, 5);
}

fn read(data: &[u8]) {
    let path = Path::new("fuzzed");
    if let Ok(info) = DebugInfo::from_bytes(path, path, data) {
        exercise(&info);
    }
}

#[test]
fn the_unmodified_samples_read() {
    for (path, data, ranges) in samples() {
        assert_eq!(ranges.len(), 4, "{} has its debug sections", path.display());
        let info = DebugInfo::from_bytes(path, path, data).expect("reading the sample");
        exercise(&info);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn flipped_bytes_in_debug_sections(
        which in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()), 1..24)
    ) {
        let (_, data, ranges) = &samples()[which.index(samples().len())];
        let mut data = data.clone();
        for (section, at, value) in flips {
            let (start, len) = ranges[section.index(ranges.len())];
            if len > 0 {
                data[start + at.index(len)] = value;
            }
        }
        read(&data);
    }

    #[test]
    fn truncated_files(which in any::<prop::sample::Index>(), keep in 0usize..200_000) {
        let (_, data, _) = &samples()[which.index(samples().len())];
        read(&data[..keep.min(data.len())]);
    }

    #[test]
    fn truncated_debug_info(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
    ) {
        // Zeroes the tail of .debug_info from a random point.
        let (_, data, ranges) = &samples()[which.index(samples().len())];
        let mut data = data.clone();
        let (start, len) = ranges[0];
        for b in &mut data[start + cut.index(len)..start + len] {
            *b = 0;
        }
        read(&data);
    }

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        read(&bytes);
        let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
        elf.extend(bytes);
        read(&elf);
    }
}
