//! Tables of real files on this machine, and the builder under mutated input.

use std::path::Path;
use std::time::Instant;

use proptest::prelude::*;
use ustrace_unwind::{table_for_file, table_from_elf, CfaRule, RbpRule};

const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";
const PYTHON: &str = "/usr/bin/python3.11";

#[test]
fn libc_and_python_tables_are_sorted_and_cover_code() {
    for path in [LIBC, PYTHON] {
        if !Path::new(path).exists() {
            ustrace_testkit::unavailable(
                "libc_and_python_tables_are_sorted_and_cover_code",
                &format!("{path} is not installed"),
            );
            continue;
        }
        let t0 = Instant::now();
        let ft = table_for_file(Path::new(path)).expect("table");
        let rows = &ft.table.rows;
        eprintln!(
            "{path}: {} rows, {} KiB, built in {:?}",
            rows.len(),
            ft.table.encoded_size() / 1024,
            t0.elapsed()
        );
        assert!(rows.len() > 1000, "{path}: only {} rows", rows.len());
        assert!(
            rows.windows(2).all(|w| w[0].pc < w[1].pc),
            "{path}: unsorted"
        );
        let rsp = rows
            .iter()
            .filter(|r| matches!(r.cfa, CfaRule::Rsp(_)))
            .count();
        assert!(rsp * 2 > rows.len(), "{path}: few rsp rows");
        // Every table has PLT stubs described by the binutils expression.
        assert!(
            rows.iter().any(|r| matches!(r.cfa, CfaRule::Plt { .. })),
            "{path}: no PLT row"
        );
        // A function that pushes rbp says where.
        assert!(rows.iter().any(|r| r.rbp == RbpRule::AtCfa(-16)));
    }
}

#[test]
fn not_elf_is_an_error_naming_the_file() {
    let err = table_from_elf(b"hello", "/tmp/x").unwrap_err().to_string();
    assert!(err.contains("/tmp/x"), "{err}");
}

fn sample() -> Vec<u8> {
    std::fs::read("/usr/bin/true").unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Mutated and truncated real files: an error or a table, never a panic.
    #[test]
    fn mutated_files_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..64),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut data = sample();
        prop_assume!(!data.is_empty());
        // Aim most flips at the frame information, where the parser works.
        let eh = eh_frame_offset(&data);
        for (at, byte) in flips {
            let i = at.index(data.len());
            data[i] ^= byte;
            let j = (eh + at.index(4096)) % data.len();
            data[j] = byte;
        }
        if truncate {
            data.truncate(cut.index(data.len()));
        }
        let _ = table_from_elf(&data, "mutated");
    }
}

/// File offset of `.eh_frame` in `data` (0 when not found).
fn eh_frame_offset(data: &[u8]) -> usize {
    use object::{Object, ObjectSection};
    object::File::parse(data)
        .ok()
        .and_then(|f| f.section_by_name(".eh_frame")?.file_range())
        .map_or(0, |(off, _)| off as usize)
}
